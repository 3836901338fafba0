"""Aggregates and analyst queries: GET /v1/stats (the monthly figures), GET /v1/queries[/{name}], GET /v1/audit.

/v1/stats is resolver.report.load_monthly_report, the function behind `canbao report`;
queries are the graph's named analyst queries (`canbao query`), with identity columns
masked for analysts; the audit log is for admins (`canbao audit` reads the same rows).
"""
from __future__ import annotations

import datetime as dt
import math
from enum import Enum
from collections.abc import Mapping
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request

from api.deps import AdminDep, AnalystDep, AuditDep, CallerDep, ServicesDep
from api.errors import ApiError
from api.masking import iso, mask_value
from api.models import (
    DATE_TIME_PATTERN, MONTH_PATTERN, AuditEntryOut, ErrorOut, QueryInfoOut, QueryParamOut, QueryResultOut, StatsOut,
)
from api.routes.persons import PERSON_ID
from api.security import Role
from graph import CATALOGUE, QueryError
from graph.queries import QueryParam, bind_params
from resolver.report import DEFINITIONS, load_monthly_report
from resolver.runs import latest_run_in_month, read_run_index

router = APIRouter(prefix="/v1", tags=["stats 统计与查询"])
MAX_QUERY_LIMIT = 1000   # rows per answer of /v1/queries/{name}: the API caps a named query's `limit` lower
BEIJING = dt.timezone(dt.timedelta(hours=8))
# The catalogued queries run through /queries/{name}; person_360 has its own operation (its parameter is required).
QueryName = Enum("QueryName", {name: name for name in CATALOGUE if name != "person_360"}, type=str)


def _param_out(param: QueryParam) -> QueryParamOut:
    """A parameter as GET /v1/queries shows it, with the range this API accepts (limit capped lower)."""
    maximum = min(param.maximum, MAX_QUERY_LIMIT) if param.name == "limit" else param.maximum
    return QueryParamOut(name=param.name, kind=param.kind, default=param.default, description=param.description,
                         minimum=param.minimum, maximum=maximum)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows with NaN as null (JSON has no NaN)."""
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]


@router.get("/stats", response_model=StatsOut, responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            summary="月度统计：各区、街道参保情况及排名 the monthly figures per district and street, with the ranking")
def stats(caller: CallerDep, services: ServicesDep,
          month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description=(
              "YYYY-MM (1900-01 to 2099-12); default: the latest run's month; 404 for a month without a run"))]
          = None) -> StatsOut:
    """Aggregates only (no personal data): from the run snapshots, as `canbao report` prints them (arts. 34-36)."""
    layout = services.settings.layout
    entries = read_run_index(layout)
    if not entries:
        raise ApiError(404, "没有运行记录 (no recorded run) — run `canbao run` first")
    month = month or entries[-1].as_of.strftime("%Y-%m")
    if latest_run_in_month(entries, int(month[:4]), int(month[5:])) is None:
        months = sorted({e.as_of.strftime("%Y-%m") for e in entries})
        raise ApiError(404, f"{month} 没有基准日在该月的运行 (no run with as_of in {month}); "
                            f"有运行的月份 (months with runs): {'、'.join(months)}")
    report = load_monthly_report(layout, month, services.district_names)
    return StatsOut(month=report.month, run_id=report.run.run_id, as_of=report.run.as_of,
                    previous_run_id=report.previous_run.run_id if report.previous_run else None,
                    definitions=list(DEFINITIONS), districts=_records(report.tables.districts),
                    streets=_records(report.tables.streets), ranking=_records(report.tables.ranking))


@router.get("/queries", response_model=list[QueryInfoOut], summary="分析查询目录 the named analyst queries")
def queries(caller: AnalystDep) -> list[QueryInfoOut]:
    return [QueryInfoOut(name=q.name, title=q.title, description=q.description, params=[_param_out(p) for p in q.params])
            for q in CATALOGUE.values()]


def _query_result(name: str, params: Mapping[str, object], caller, services, note) -> QueryResultOut:
    result = services.engine.run_query(name, params)
    masked = caller.role is Role.analyst
    rows = [{c: (mask_value(c, v) if masked else iso(v)) for c, v in row.items()} for row in result.rows]
    note.detail["query"] = name
    note.saw(p for row in result.rows for p in ([row.get("person_id")] + list(row.get("members") or [])))
    return QueryResultOut(name=name, columns=result.columns, rows=rows, masked=masked)


# Declared before /queries/{name}, whose names exclude it: its parameter names the person, and a generated
# client should see it typed. Without one there is no person to show (404), as for GET /v1/persons/{person_id}.
@router.get("/queries/person_360", response_model=QueryResultOut,
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            summary="运行查询 person_360：一个人员的全景 the named query person_360")
def run_person_360(caller: AnalystDep, services: ServicesDep, note: AuditDep,
                   person_id: Annotated[str | None, Query(pattern=PERSON_ID, description=(
                       "人员编号 the person; without one there is no person to show: 404"))] = None) -> QueryResultOut:
    if person_id is None:
        raise ApiError(404, "查询 person_360 需要人员编号 (person_360 shows one person: give ?person_id=P…)")
    return _query_result("person_360", {"person_id": person_id}, caller, services, note)


@router.get("/queries/{name}", response_model=QueryResultOut,
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            summary="运行一个分析查询（参数放在查询串中） run a named query; its parameters go in the query string")
def run_query(name: Annotated[QueryName, Path(description="查询名称 the query's name (GET /v1/queries lists them)")],
              request: Request, caller: AnalystDep,
              services: ServicesDep, note: AuditDep) -> QueryResultOut:
    """E.g. /v1/queries/unenrolled_counts?district_code=120104. Every parameter is typed and range-checked (GET
    /v1/queries lists the ranges; out of range is a 422 naming it). Analysts get ID numbers, names and phones masked."""
    name = name.value
    # Typed first, so the cap below sees the number the query would run with (`+100000` is 100000).
    bound = bind_params(CATALOGUE[name], dict(request.query_params))
    if int(bound.get("limit", 0)) > MAX_QUERY_LIMIT:
        raise QueryError(f"参数 limit 不能大于 {MAX_QUERY_LIMIT} (must be ≤ {MAX_QUERY_LIMIT}); 用 skip 分页 (page with skip): "
                         f"{bound['limit']}", param="limit")
    return _query_result(name, bound, caller, services, note)


@router.get("/audit", response_model=list[AuditEntryOut], summary="审计日志（管理员） the audit log (admins)")
def audit(caller: AdminDep, services: ServicesDep,
          since: Annotated[str, Query(pattern=DATE_TIME_PATTERN, description=(
              "起始时间 a date YYYY-MM-DD or a date-time YYYY-MM-DDThh:mm[:ss[.ffffff]] with an optional offset "
              "(Z, +08:00); without one, Beijing time. E.g. 2026-11-28T00:00:00+08:00"))],
          user: Annotated[str | None, Query(max_length=64)] = None,
          person: Annotated[str | None, Query(max_length=40)] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[AuditEntryOut]:
    start = dt.datetime.fromisoformat(since)   # the pattern admits only real dates and times
    start = (start if start.tzinfo else start.replace(tzinfo=BEIJING)).astimezone(dt.timezone.utc)
    return [AuditEntryOut(**{k: v for k, v in vars(e).items() if k != "client"})
            for e in services.audit.since(start, user=user, person=person, limit=limit)]
