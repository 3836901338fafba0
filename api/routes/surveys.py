"""Surveys (arts. 19-20): upload (idempotent on 调查编号, validated like a file row), list, read, review.

Only a confirmation by the district social-insurance centre attaches a survey to the
person graph (resolver.attach through the engine) and so changes statuses. The router is
built per app from its survey mapping, so the schema's code lists are the mapping's. (No
``from __future__ import annotations`` here: FastAPI must see the body model built in the closure.)
"""

import hashlib
import json
import sqlite3
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query, Response

from api.deps import AuditDep, ReviewerDep, ServicesDep, SurveyorDep, SurveyReaderDep
from api.errors import ApiError
from api.models import (
    IDENTIFIES, SURVEY_ID, ErrorOut, SurveyInBase, SurveyOut, SurveyPageOut, SurveyReviewIn, survey_in_model,
)
from api.present import survey_out
from api.security import Caller, Role
from api.surveys import TRANSITIONS, Candidate, ReviewAction, Survey, SurveyState, may_see
from resolver.attach import SURVEY_SOURCE, canonical_frame, json_safe, survey_record
from resolver.mapping import SourceMapping

CONFIRMERS = TRANSITIONS[ReviewAction.confirm][1]
UNPLACEABLE = ("常住地无法定位到天津的区，又无公民身份号码：无法确定被调查人 (the address places nobody and there is no ID "
               "number: the survey identifies nobody) — " + IDENTIFIES)


def code_lists(mapping: SourceMapping) -> dict[str, list[str]]:
    """Fields of the survey upload whose codes the mapping lists (field → allowed values)."""
    return {spec.field: list(spec.values) for spec in mapping.columns.values()
            if spec.values and spec.field in SurveyInBase.model_fields}


def _period(body: SurveyInBase) -> str:
    return body.survey_date.strftime("%Y%m")


def _best(services, record: pd.DataFrame) -> Candidate | None:
    """The best candidate person with its district (None when the person is not placed in one)."""
    ranked = services.engine.candidates(record, limit=1)
    if not ranked:
        return None
    person = ranked[0].person
    return ranked[0].person_id, ranked[0].match_probability, person.district_code if person else None


def _visible(survey: Survey | None, survey_id: str, caller: Caller) -> Survey:
    if survey is None:
        raise ApiError(404, f"没有调查编号 {survey_id} (no such survey)")
    if not may_see(caller, survey):
        raise ApiError(403, f"调查 {survey_id} 不在您的辖区 (survey outside your area)")
    return survey


def build_router(mapping: SourceMapping) -> APIRouter:
    """The /v1/surveys endpoints, their upload schema carrying the code lists of ``mapping`` (survey.yaml)."""
    survey_in = survey_in_model(code_lists(mapping))
    router = APIRouter(prefix="/v1", tags=["surveys 入户调查"])

    @router.post("/surveys", response_model=SurveyOut, status_code=201,
                 responses={200: {"model": SurveyOut, "description": "重复提交，未做更改 repeated upload, nothing changed"},
                            403: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
                 summary="提交入户调查记录 upload a survey (art. 19)")
    def submit_survey(body: survey_in, caller: SurveyorDep, services: ServicesDep, note: AuditDep,  # type: ignore[valid-type]
                      response: Response) -> SurveyOut:
        """Validated like a row of survey_<YYYYMM>.csv (same mapping and standardisers) and stricter: a wrong ID
        check digit, a code not in the spec, an unreadable value or a gender against the ID is a 422 per field.
        The surveyor of record is the signed-in user (the body has no surveyor_id). A survey id belongs to the user and district that first
        submitted it. Resolved at once (the best candidate is kept); a candidate of another district sends the
        survey to that district's centre first (awaiting_other_district); statuses change only after the district
        confirms."""
        payload = {**body.model_dump(mode="json"), "surveyor_id": caller.name}
        payload_hash = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        record_key = f"{SURVEY_SOURCE}:{body.survey_id}"
        note.detail["survey_id"] = body.survey_id
        existing = services.surveys.get(body.survey_id)
        if existing is not None and existing.payload_hash == payload_hash:
            if not may_see(caller, existing):
                raise ApiError(403, f"调查 {body.survey_id} 不在您的辖区 (survey outside your district)")
            response.status_code = 200
            note.saw([existing.person_id or existing.candidate_person])
            return survey_out(existing, caller, replayed=True)
        if existing is None and services.engine.live.knows(record_key):
            raise ApiError(409, f"调查编号 {body.survey_id} 已随部门数据报送 (already delivered in a survey file) — "
                                "请使用新的调查编号 (use a new survey id)")
        fields = {k: v for k, v in payload.items() if k != "survey_id"}
        record = survey_record({**fields, "record_id": body.survey_id}, mapping, _period(body))
        district = record["residence_district_code"].iat[0] or record["household_district_code"].iat[0]
        street = record["residence_street"].iat[0] if district == record["residence_district_code"].iat[0] else \
            record["household_street"].iat[0]
        if not district and not body.id_number:
            raise ApiError(422, UNPLACEABLE, fields=[{"field": "id_number", "message": UNPLACEABLE},
                                                     {"field": "residence_address", "message": UNPLACEABLE}])
        if caller.district and not district:
            district, street = caller.district, None   # an address the parser cannot place: the surveyor's district
        if not caller.covers(district, street):
            raise ApiError(403, f"调查地址在 {district}，不在您的辖区 {caller.district} (the survey address is outside "
                                "your district) — 由所在区调查员提交 (the surveyor of that district submits it)")
        candidate = _best(services, record)
        note.saw([candidate[0] if candidate else None])
        survey, created = services.surveys.submit(
            survey_id=body.survey_id, record_key=record_key, payload=payload, payload_hash=payload_hash,
            record=json_safe(record.iloc[0].to_dict()), district_code=district, street=street, caller=caller,
            candidate=candidate, audit=lambda conn: services.audit.commit_in(conn, note, 201))
        response.status_code = 201 if created else 200
        note.saw([survey.candidate_person])
        return survey_out(survey, caller, replayed=not created)

    @router.get("/surveys", response_model=SurveyPageOut,
                summary="调查记录列表（审核用） surveys of your area, for review")
    def list_surveys(caller: SurveyReaderDep, services: ServicesDep, note: AuditDep,
                     state: Annotated[SurveyState | None, Query(
                         description="submitted/awaiting_other_district/approved/confirmed/returned")] = None,
                     skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                     limit: Annotated[int, Query(ge=1, le=5000)] = 50) -> SurveyPageOut:
        """A district centre's list also holds other districts' surveys whose matched person lives in its
        district (the queue it agrees from)."""
        limit = min(limit, services.settings.max_page)
        matched_in = caller.district if caller.role is Role.district_reviewer else None
        surveys, total = services.surveys.list(state=state, district_code=caller.district, street=caller.street,
                                               skip=skip, limit=limit, matched_in=matched_in)
        note.saw(s.person_id or s.candidate_person for s in surveys)
        return SurveyPageOut(items=[survey_out(s, caller) for s in surveys], total=total, skip=skip, limit=limit)

    @router.get("/surveys/{survey_id}", response_model=SurveyOut,
                responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
                summary="一条调查及其审核记录 one survey")
    def get_survey(survey_id: Annotated[str, Path(pattern=SURVEY_ID)], caller: SurveyReaderDep,
                   services: ServicesDep, note: AuditDep) -> SurveyOut:
        survey = _visible(services.surveys.get(survey_id), survey_id, caller)
        note.saw([survey.person_id or survey.candidate_person])
        return survey_out(survey, caller)

    @router.post("/surveys/{survey_id}/review", response_model=SurveyOut,
                 responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
                            422: {"model": ErrorOut}},
                 summary="审核：街道审核、区确认、他区同意或退回 review: approve (street), confirm (district), agree "
                         "(the matched person's district) or return with a reason (art. 20)")
    def review_survey(survey_id: Annotated[str, Path(pattern=SURVEY_ID)], body: SurveyReviewIn, caller: ReviewerDep,
                      services: ServicesDep, note: AuditDep) -> SurveyOut:
        """Four eyes: whoever submitted a survey may not approve, agree to or confirm it; whoever approved it may
        not confirm it. A confirmation attaches the survey to its person at once (re-resolving only that person's
        component) and re-derives the statuses; the answer lists the status changes. If the survey's best
        candidate is now a person of another district whose centre has not agreed, it is sent to that centre
        instead (409)."""
        action = ReviewAction(body.action)
        note.detail.update(survey_id=survey_id, action=body.action)
        outcome = {}
        if action is ReviewAction.confirm:
            _refer_if_foreign(survey_id, caller, services)

        def attach(survey: Survey) -> str:
            result = services.engine.attach_survey(canonical_frame([survey.record]))
            outcome["changes"] = result.statuses
            note.saw([result.person_id, *(c.person_id for c in result.statuses)])
            return result.person_id or ""

        # The audit row commits with the review (and a confirmation's attachment) or not at all.
        def audit(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT person_id, candidate_person FROM surveys WHERE survey_id = ?",
                               (survey_id,)).fetchone()
            note.saw([row["person_id"] or row["candidate_person"]])
            services.audit.commit_in(conn, note, 200)

        if action is ReviewAction.confirm:
            services.audit.record_intent(note, {})   # the attachment changes the graph, outside this transaction
        survey = services.surveys.review(survey_id, action, caller, getattr(body, "reason", None), attach=attach,
                                         audit=audit)
        note.saw([survey.person_id or survey.candidate_person])
        return survey_out(survey, caller, changes=outcome.get("changes", ()))

    return router


def _refer_if_foreign(survey_id: str, caller: Caller, services) -> None:
    """Before a confirmation: the person the survey would join now, if of another district that has not agreed,
    sends the survey to that district's centre (409), so no survey joins another district's person unagreed."""
    survey = services.surveys.get(survey_id)
    if (survey is None or survey.state is not SurveyState.approved or caller.role not in CONFIRMERS
            or not caller.covers(survey.district_code, survey.street)):
        return   # the review answers 404/403/409 as usual
    best = _best(services, canonical_frame([survey.record]))
    other = best[2] if best else None
    if other and other != survey.district_code and other != survey.agreed_district:
        services.surveys.refer(survey_id, best, caller)
        raise ApiError(409, f"调查 {survey_id} 现匹配 {other} 区的人员，已转该区社会保险中心同意后再确认 (the survey now "
                            f"matches a person of district {other}; sent to that district's centre to agree first)")
