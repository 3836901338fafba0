"""POST /v1/resolve: identity fragments from the field → ranked candidate persons with the evidence (writes nothing)."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuditDep, ResolverDep, ServicesDep
from api.models import ErrorOut, ResolveIn, ResolveOut
from api.present import candidate_out
from resolver.attach import fragment_record

router = APIRouter(prefix="/v1", tags=["resolve 身份匹配"])


@router.post("/resolve", response_model=ResolveOut, responses={422: {"model": ErrorOut}, 403: {"model": ErrorOut}},
             summary="按身份信息查找候选人员 rank the persons field fragments may be")
async def resolve(body: ResolveIn, caller: ResolverDep, services: ServicesDep, note: AuditDep) -> ResolveOut:
    """Any of name, ID number, phone, address, birth date, gender → candidates with match probability, the
    explanation waterfall and status. Candidates outside the caller's district are masked."""
    # On the event loop: the survey app's hot path is CPU-bound and short, and the engine moves to a worker
    # thread itself whenever it would have to wait for a writer.
    fragment = fragment_record(body.model_dump(exclude={"limit"}))
    candidates = await services.engine.candidates_async(fragment, body.limit)
    note.saw(c.person_id for c in candidates)
    thresholds = services.engine.config.thresholds
    best = candidates[0].match_probability if candidates else None
    decision = "no_match" if best is None else ("match" if best >= thresholds.accept else "review")
    return ResolveOut(decision=decision, accept_threshold=thresholds.accept, review_threshold=thresholds.review,
                      candidates=[candidate_out(c, caller, services.labels) for c in candidates])


