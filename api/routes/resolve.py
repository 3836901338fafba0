"""POST /v1/resolve: identity fragments from the field → ranked candidate persons with the evidence (writes nothing)."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuditDep, ResolverDep, ServicesDep
from api.errors import ApiError
from api.models import ErrorOut, FieldErrorOut, ResolveIn, ResolveOut
from api.present import candidate_out
from resolver.attach import fragment_record
from resolver.schema import TRUSTED_ID_STATUSES
from resolver.standardise.id_number import standardise_id_number

router = APIRouter(prefix="/v1", tags=["resolve 身份匹配"])
ID_WARNINGS = {
    "bad_check_digit": "公民身份号码校验位错误，未用于匹配 (ID check digit wrong, GB 11643: not used for matching) — "
                       "请核对证件 (check the card)",
    "malformed": "公民身份号码不成立（如出生日期不存在），未用于匹配 (ID number malformed, e.g. no such birth date: not "
                 "used for matching) — 请核对证件 (check the card)",
}


@router.post("/resolve", response_model=ResolveOut, responses={422: {"model": ErrorOut}, 403: {"model": ErrorOut}},
             summary="按身份信息查找候选人员 rank the persons field fragments may be")
async def resolve(body: ResolveIn, caller: ResolverDep, services: ServicesDep, note: AuditDep) -> ResolveOut:
    """Any of name, ID number, phone, address, birth date, gender → candidates with match probability, the
    explanation waterfall and status. Candidates outside the caller's district are masked. An ID number that
    fails GB 11643 is left out of the matching and named in ``warnings`` (a mistyped digit on the doorstep
    should still find the person by the other fields)."""
    if not body.has_identity():
        raise ApiError(422, "请求数据有误 (invalid request data)", fields=[{
            "field": "body", "message": "至少给出一项身份信息 (give at least one of name, id_number, phone, address, "
                                        "birth_date, gender)"}])
    fields = body.model_dump(exclude={"limit"})
    warnings = []
    id_status = standardise_id_number(body.id_number).status if body.id_number is not None else None
    if id_status is not None and id_status not in TRUSTED_ID_STATUSES:
        warnings.append(FieldErrorOut(field="id_number", message=ID_WARNINGS.get(id_status, ID_WARNINGS["malformed"])))
        fields["id_number"] = None
    thresholds = services.engine.config.thresholds
    if all(value is None or not str(value).strip() for value in fields.values()):
        return ResolveOut(decision="no_match", accept_threshold=thresholds.accept,
                          review_threshold=thresholds.review, candidates=[], warnings=warnings)
    # On the event loop: the survey app's hot path is CPU-bound and short, and the engine moves to a worker
    # thread itself whenever it would have to wait for a writer.
    fragment = fragment_record(fields)
    candidates = await services.engine.candidates_async(fragment, body.limit)
    note.saw(c.person_id for c in candidates)
    best = candidates[0].match_probability if candidates else None
    decision = "no_match" if best is None else ("match" if best >= thresholds.accept else "review")
    return ResolveOut(decision=decision, accept_threshold=thresholds.accept, review_threshold=thresholds.review,
                      candidates=[candidate_out(c, caller, services.labels) for c in candidates], warnings=warnings)
