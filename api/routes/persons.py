"""GET /v1/persons/{person_id} and GET /v1/persons?id_number=…: profile, records by source, status with provenance."""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import AuditDep, CallerDep, ServicesDep, SurveyReaderDep
from api.errors import ApiError
from api.models import ID_NUMBER, ArrearsOut, ErrorOut, PersonDetailOut, PersonSearchOut, SchemeArrearsOut
from api.present import detail_out, person_out, person_place, person_schemes, schemes_out
from resolver.arrears import ContributionPolicy, estimate_arrears, load_contribution_policy
from resolver.schema import TRUSTED_ID_STATUSES
from resolver.standardise.id_number import standardise_id_number

router = APIRouter(prefix="/v1", tags=["persons 人员"])
PERSON_ID = r"^P[0-9a-f]{12}(-[0-9]+)?$"


@router.get("/persons/{person_id}", response_model=PersonDetailOut,
            responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
            summary="人员全景：档案、各部门记录、参保状态及依据 a person's profile, records and status")
def get_person(person_id: Annotated[str, Path(pattern=PERSON_ID, description="人员编号, e.g. P0027f3185588")],
               caller: CallerDep, services: ServicesDep, note: AuditDep) -> PersonDetailOut:
    view = services.engine.person_360(person_id)
    if view is None:
        raise ApiError(404, f"没有人员 {person_id} (no such person) — 用 POST /v1/resolve 或 "
                            "GET /v1/persons?id_number= 查找 (find persons by resolve or ID number)")
    derived = services.engine.derived_profile(view) if not view.person.name else None
    district, street = person_place(view, derived)
    if not caller.covers(district, street):
        raise ApiError(403, f"人员 {person_id} 不在您的辖区 (person outside your district {caller.district}); "
                            "如需跨区核查，请联系数据管理员 (ask a steward for cross-district checks)")
    note.saw([person_id])
    return detail_out(view, caller, services.labels, derived)


@lru_cache(maxsize=1)
def contribution_policy() -> ContributionPolicy:
    """resolver/config/contributions.yaml, read once per process (validated on load)."""
    return load_contribution_policy()


@router.get("/persons/{person_id}/arrears", response_model=ArrearsOut,
            responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
            summary="补缴测算：中断/终止缴费的险种、欠缴月数及测算区间 back-payment estimate at the door (art. 26)")
def get_arrears(person_id: Annotated[str, Path(pattern=PERSON_ID, description="人员编号, e.g. P0027f3185588")],
                caller: SurveyReaderDep, services: ServicesDep, note: AuditDep) -> ArrearsOut:
    """For the surveyor (own district), the street and district centres and the stewards; the numbers are
    resolver.arrears.estimate_arrears', as in `canbao explain` and `canbao arrears`."""
    view = services.engine.person_360(person_id)
    if view is None:
        raise ApiError(404, f"没有人员 {person_id} (no such person)")
    derived = services.engine.derived_profile(view) if not view.person.name else None
    district, street = person_place(view, derived)
    if not caller.covers(district, street):
        raise ApiError(403, f"人员 {person_id} 不在您的辖区 (person outside your district {caller.district})")
    note.saw([person_id])
    schemes = person_schemes(view)
    as_of = services.engine.as_of
    estimate = estimate_arrears(schemes, as_of, contribution_policy())
    return ArrearsOut(
        person_id=person_id, as_of=as_of, as_of_month=estimate.as_of_month, schemes=schemes_out(schemes),
        owed=[SchemeArrearsOut.model_validate(part, from_attributes=True) for part in estimate.schemes],
        total_low=estimate.total_low, total_high=estimate.total_high, complete_low=estimate.complete_low,
        complete_high=estimate.complete_high, missing=estimate.missing,
    )


@router.get("/persons", response_model=PersonSearchOut, responses={422: {"model": ErrorOut}},
            summary="按身份证号查找人员 persons holding an ID number")
def find_persons(id_number: Annotated[str, Query(pattern=ID_NUMBER, description=(
                     "公民身份号码 ID number: 18 characters (last a digit or X) or a legacy 15-digit number"))],
                 caller: CallerDep, services: ServicesDep, note: AuditDep) -> PersonSearchOut:
    """More than one person for a number means a split a steward should look at. Persons outside a
    district role's area are counted in ``hidden``, not shown. A number that fails GB 11643 (check digit,
    embedded birth date) is held by nobody: the answer is empty and ``id_number_status`` says why — a
    question with an empty answer, not a malformed request."""
    parsed = standardise_id_number(id_number)
    trusted = parsed.status in TRUSTED_ID_STATUSES
    views = services.engine.persons_by_id_number(parsed.number or "") if trusted else []
    shown = [v for v in views if caller.covers(v.district_code, v.street)]
    note.saw(v.person_id for v in shown)
    note.detail["hidden"] = len(views) - len(shown)
    return PersonSearchOut(items=[person_out(v, caller, services.labels) for v in shown],
                           hidden=len(views) - len(shown), id_number_status=parsed.status)
