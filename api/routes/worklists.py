"""GET /v1/worklists (the caller's survey work list, paged) and GET /v1/changes (new targets since a run, art. 29).

Work lists page the live graph (statuses the API changed count at once) and shape each page
with resolver.worklist.build_worklist, the function behind `canbao worklist`; changes come
from resolver.runs.changes_since, the function behind `canbao changes`.
"""
from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from functools import lru_cache
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

from api.deps import AuditDep, CallerDep, ServicesDep
from api.errors import ApiError
from api.masking import community_address, mask_name
from api.models import DATE_PATTERN, ChangeRowOut, ChangesOut, ErrorOut, WorklistOut, WorklistRowOut
from api.present import place_out
from api.security import Caller
from resolver.changes import CHANGE_LABELS, changes_in_district
from resolver.dispatch import place_persons
from resolver.pipeline import StoreLayout
from resolver.runs import RunChanges, RunEntry, changes_since, read_run_index
from resolver.worklist import Area, build_worklist

router = APIRouter(prefix="/v1", tags=["worklists 调查名单"])
# The change kinds of resolver.changes, as an enum so the schema lists them.
ChangeKind = Enum("ChangeKind", {kind: kind for kind in CHANGE_LABELS}, type=str)
DISTRICT = r"^12[0-9]{4}$"
PLACE_TEXT = r"^[^\x00-\x1f\x7f]*$"


def _area(caller: Caller, district: str | None, street: str | None) -> tuple[str, str]:
    """The district (and street) asked for, defaulting to the caller's own; 403 outside it."""
    district = district or caller.district or ""
    if caller.district and district != caller.district:
        raise ApiError(403, f"只能查看本区 {caller.district} 的名单 (district roles see their own district only); "
                            f"requested {district}")
    if caller.street and street and street != caller.street:
        raise ApiError(403, f"只能查看本街道 {caller.street} 的名单 (street reviewers see their own street only)")
    return district, street or caller.street or ""


@router.get("/worklists", response_model=WorklistOut, responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
            summary="入户调查名单（未参保人员，分页） the survey work list of an area, paged")
def worklist(caller: CallerDep, services: ServicesDep, note: AuditDep,
             district: Annotated[str | None, Query(pattern=DISTRICT, description=(
                 "区代码 district code; default: your own district. Roles without one (steward, analyst, admin) have "
                 "no own work list: without a district they get 404"))] = None,
             street: Annotated[str | None, Query(max_length=40, pattern=PLACE_TEXT, description="街道/镇")] = None,
             community: Annotated[str | None, Query(max_length=40, pattern=PLACE_TEXT, description="社区/村")] = None,
             skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 50) -> WorklistOut:
    """UNENROLLED persons of the area (arts. 15, 29), ordered street → community; ID numbers and phones masked
    as in `canbao worklist`; the dispatch address in full only within the caller's own area."""
    limit = min(limit, services.settings.max_page)
    district_code, street_name = _area(caller, district, street)
    if not district_code:
        raise ApiError(404, "您没有所属区，因而没有自己的名单：请给出区代码 (your role has no district, so no work list of "
                            "its own: give one), e.g. ?district=120104")
    engine = services.engine
    page = engine.work_list(district_code, street_name, community or "", skip, limit)
    ids = [p.person_id for p in page.items]
    records = engine.records_of(ids)
    persons = pd.DataFrame([{
        "person_id": p.person_id, "status": p.status, "name": p.name, "gender": p.gender, "id_number": p.id_number,
        "flags": "|".join(p.flags), "district_code": p.district_code, "street": p.street, "community": p.community,
    } for p in page.items], columns=["person_id", "status", "name", "gender", "id_number", "flags", "district_code",
                                     "street", "community"])
    places = place_persons(records) if len(records) else pd.DataFrame(columns=["address_record"])
    persons["address_record"] = persons["person_id"].map(places["address_record"]).astype(object)
    rows = build_worklist(persons, records, Area(district_code), services.labels, services.district_names)
    note.saw(ids)
    items = []
    for row in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        if not caller.may_unmask(row["district_code"], row["street"]):
            row["address"] = community_address(row["district_code"], row["street"], row["community"])
            row["name"] = mask_name(row["name"])
        items.append(WorklistRowOut(**{k: row[k] for k in WorklistRowOut.model_fields}))
    return WorklistOut(items=items, total=page.total, skip=skip, limit=limit,
                       area=place_out(district_code, street_name or None, community))


@lru_cache(maxsize=8)
def _changes(layout: StoreLayout, since_run: str, until_run: str) -> RunChanges:
    """Comparing two runs reads two person snapshots: cached per pair of runs."""
    return changes_since(layout, since_run, until_run)


def _since_run(entries: list[RunEntry], since: str) -> str:
    """A run id, or a date: the latest run whose reference date is on or before it; 404 when there is none."""
    known = "、".join(e.label for e in entries) or "无 (none)"
    day = dt.date.fromisoformat(since) if re.fullmatch(DATE_PATTERN, since) else None
    if day is None:
        if since not in {e.run_id for e in entries}:
            raise ApiError(404, f"没有运行 (no run) {since}; 已有 (runs): {known}")
        return since
    before = [e for e in entries if e.as_of <= day]
    if not before:
        raise ApiError(404, f"since={since}: 该日期前没有运行 (no run with as_of on or before it); 已有 (runs): {known}")
    return max(before, key=lambda e: (e.as_of, e.started_at)).run_id


@router.get("/changes", response_model=ChangesOut,
            responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            summary="自某次运行以来的变化：新增调查对象等 changes since a run: new survey targets (art. 29)")
def changes(caller: CallerDep, services: ServicesDep, note: AuditDep,
            since: Annotated[str, Query(min_length=1, max_length=80, pattern=r"^[0-9A-Za-z_.:\-]+$",
                                        description="运行编号或日期 YYYY-MM-DD a run id, or a date "
                                                    "(the latest run on or before it); 404 when there is no such run")],
            kind: Annotated[list[ChangeKind] | None, Query(description="变化类别 kinds (repeat to give several)")] = None,
            district: Annotated[str | None, Query(pattern=DISTRICT)] = None,
            skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
            limit: Annotated[int, Query(ge=1, le=5000)] = 100) -> ChangesOut:
    """Run-to-run changes of the area (district roles: their own district, moves in and out included)."""
    limit = min(limit, services.settings.max_page)
    district_code, _ = _area(caller, district, None)
    layout = services.settings.layout
    entries = read_run_index(layout)
    if not entries:
        raise ApiError(404, "没有运行记录 (no recorded run) — run `canbao run` first")
    result = _changes(layout, _since_run(entries, since), entries[-1].run_id)
    table = changes_in_district(result.changes, district_code) if district_code else result.changes
    if kind:
        table = table[table["change"].isin([k.value for k in kind])]
    counts = {k: int((table["change"] == k).sum()) for k in CHANGE_LABELS}
    page = table.iloc[skip:skip + limit]
    note.saw(page["person_id"])
    note.detail.update(since=result.since_run_id, until=result.until_run_id)
    rows = page.astype(object).where(page.notna(), None).to_dict("records")
    return ChangesOut(since_run_id=result.since_run_id, since_as_of=result.since_as_of,
                      until_run_id=result.until_run_id, until_as_of=result.until_as_of, counts=counts,
                      items=[ChangeRowOut(**r) for r in rows], total=len(table), skip=skip, limit=limit)
