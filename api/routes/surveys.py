"""Surveys (arts. 19-20): upload (idempotent on 调查编号, validated like a file row), list, read, review.

Only a confirmation by the district social-insurance centre attaches a survey to the
person graph (resolver.attach through the engine) and so changes statuses.
"""
from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AuditDep, ReviewerDep, ServicesDep, SurveyorDep, SurveyReaderDep
from api.errors import ApiError
from api.models import ErrorOut, SurveyIn, SurveyOut, SurveyPageOut, SurveyReviewIn
from api.present import survey_out
from api.surveys import ReviewAction, Survey, SurveyState
from resolver.attach import SURVEY_SOURCE, canonical_frame, json_safe, survey_record

router = APIRouter(prefix="/v1", tags=["surveys 入户调查"])
SURVEY_ID = r"^[A-Za-z0-9_\-]{1,40}$"


def _period(body: SurveyIn) -> str:
    return body.survey_date.strftime("%Y%m")


@router.post("/surveys", response_model=SurveyOut, status_code=201,
             responses={200: {"model": SurveyOut, "description": "重复提交，未做更改 repeated upload, nothing changed"},
                        403: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
             summary="提交入户调查记录 upload a survey (art. 19)")
def submit_survey(body: SurveyIn, caller: SurveyorDep, services: ServicesDep, note: AuditDep,
                  response: Response) -> SurveyOut:
    """Validated like a row of survey_<YYYYMM>.csv (same mapping and standardisers) and stricter: a wrong ID
    check digit, a code not in the spec, an unreadable value or a gender against the ID is a 422 per field.
    Resolved at once (the best candidate is kept); statuses change only after the district confirms."""
    payload = body.model_dump(mode="json")
    payload_hash = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    record_key = f"{SURVEY_SOURCE}:{body.survey_id}"
    note.detail["survey_id"] = body.survey_id
    existing = services.surveys.get(body.survey_id)
    if existing is not None and existing.payload_hash == payload_hash:
        if not caller.covers(existing.district_code, existing.street):
            raise ApiError(403, f"调查 {body.survey_id} 不在您的辖区 (survey outside your district)")
        response.status_code = 200
        note.saw([existing.person_id or existing.candidate_person])
        return survey_out(existing, caller, replayed=True)
    if existing is None and services.engine.live.knows(record_key):
        raise ApiError(409, f"调查编号 {body.survey_id} 已随部门数据报送 (already delivered in a survey file) — "
                            "请使用新的调查编号 (use a new survey id)")
    fields = {k: v for k, v in payload.items() if k != "survey_id"}
    record = survey_record({**fields, "record_id": body.survey_id}, services.engine.mappings[SURVEY_SOURCE],
                           _period(body))
    district = record["residence_district_code"].iat[0] or record["household_district_code"].iat[0]
    street = record["residence_street"].iat[0] if district == record["residence_district_code"].iat[0] else \
        record["household_street"].iat[0]
    if caller.district and not district:
        district, street = caller.district, None   # an address the parser cannot place: the surveyor's district
    if not caller.covers(district, street):
        raise ApiError(403, f"调查地址在 {district}，不在您的辖区 {caller.district} (the survey address is outside "
                            "your district) — 由所在区调查员提交 (the surveyor of that district submits it)")
    ranked = services.engine.candidates(record, limit=1)
    candidate = (ranked[0].person_id, ranked[0].match_probability) if ranked else None
    note.saw([candidate[0] if candidate else None])
    survey, created = services.surveys.submit(
        survey_id=body.survey_id, record_key=record_key, payload=payload, payload_hash=payload_hash,
        record=json_safe(record.iloc[0].to_dict()), district_code=district, street=street, caller=caller,
        candidate=candidate, audit=lambda conn: services.audit.commit_in(conn, note, 201))
    response.status_code = 201 if created else 200
    note.saw([survey.candidate_person])
    return survey_out(survey, caller, replayed=not created)


@router.get("/surveys", response_model=SurveyPageOut, summary="调查记录列表（审核用） surveys of your area, for review")
def list_surveys(caller: SurveyReaderDep, services: ServicesDep, note: AuditDep,
                 state: Annotated[SurveyState | None, Query(description="submitted/approved/confirmed/returned")] = None,
                 skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                 limit: Annotated[int, Query(ge=1, le=5000)] = 50) -> SurveyPageOut:
    limit = min(limit, services.settings.max_page)
    surveys, total = services.surveys.list(state=state, district_code=caller.district, street=caller.street,
                                           skip=skip, limit=limit)
    note.saw(s.person_id or s.candidate_person for s in surveys)
    return SurveyPageOut(items=[survey_out(s, caller) for s in surveys], total=total, skip=skip, limit=limit)


def _visible(survey: Survey | None, survey_id: str, caller) -> Survey:
    if survey is None:
        raise ApiError(404, f"没有调查编号 {survey_id} (no such survey)")
    if not caller.covers(survey.district_code, survey.street):
        raise ApiError(403, f"调查 {survey_id} 不在您的辖区 (survey outside your area)")
    return survey


@router.get("/surveys/{survey_id}", response_model=SurveyOut,
            responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}}, summary="一条调查及其审核记录 one survey")
def get_survey(survey_id: Annotated[str, Path(pattern=SURVEY_ID)], caller: SurveyReaderDep, services: ServicesDep,
               note: AuditDep) -> SurveyOut:
    survey = _visible(services.surveys.get(survey_id), survey_id, caller)
    note.saw([survey.person_id or survey.candidate_person])
    return survey_out(survey, caller)


@router.post("/surveys/{survey_id}/review", response_model=SurveyOut,
             responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
                        422: {"model": ErrorOut}},
             summary="审核：街道审核、区确认或退回 review: approve (street), confirm (district) or return (art. 20)")
def review_survey(survey_id: Annotated[str, Path(pattern=SURVEY_ID)], body: SurveyReviewIn, caller: ReviewerDep,
                  services: ServicesDep, note: AuditDep) -> SurveyOut:
    """A confirmation attaches the survey to its person at once (re-resolving only that person's component) and
    re-derives the statuses; the answer lists the status changes."""
    note.detail.update(survey_id=survey_id, action=body.action)
    outcome = {}

    def attach(survey: Survey) -> str:
        result = services.engine.attach_survey(canonical_frame([survey.record]))
        outcome["changes"] = result.statuses
        note.saw([result.person_id, *(c.person_id for c in result.statuses)])
        return result.person_id or ""

    def audit(conn) -> None:   # the row commits with the review (and a confirmation's attachment) or not at all
        row = conn.execute("SELECT person_id, candidate_person FROM surveys WHERE survey_id = ?",
                           (survey_id,)).fetchone()
        note.saw([row["person_id"] or row["candidate_person"]])
        services.audit.commit_in(conn, note, 200)

    if body.action == ReviewAction.confirm.value:
        services.audit.record_intent(note, {})   # the attachment changes the graph, outside this transaction
    survey = services.surveys.review(survey_id, ReviewAction(body.action), caller, body.reason, attach=attach,
                                     audit=audit)
    note.saw([survey.person_id or survey.candidate_person])
    return survey_out(survey, caller, changes=outcome.get("changes", ()))
