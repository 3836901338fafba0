"""Aggregates and analyst queries: GET /v1/stats (the monthly figures), GET /v1/queries[/{name}], GET /v1/audit.

/v1/stats is resolver.report.load_monthly_report, the function behind `canbao report`;
queries are the graph's named analyst queries (`canbao query`), with identity columns
masked for analysts; the audit log is for admins (`canbao audit` reads the same rows).
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request

from api.deps import AdminDep, AnalystDep, AuditDep, CallerDep, ServicesDep
from api.errors import ApiError
from api.masking import iso, mask_value
from api.models import AuditEntryOut, ErrorOut, QueryInfoOut, QueryParamOut, QueryResultOut, StatsOut
from api.security import Role
from graph import CATALOGUE, QueryError
from graph.queries import QueryParam, bind_params
from resolver.report import DEFINITIONS, load_monthly_report
from resolver.runs import read_run_index

router = APIRouter(prefix="/v1", tags=["stats 统计与查询"])
MAX_QUERY_LIMIT = 1000   # rows per answer of /v1/queries/{name}: the API caps a named query's `limit` lower


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
          month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: the latest run's")]
          = None) -> StatsOut:
    """Aggregates only (no personal data): from the run snapshots, as `canbao report` prints them (arts. 34-36)."""
    layout = services.settings.layout
    entries = read_run_index(layout)
    if not entries:
        raise ApiError(404, "没有运行记录 (no recorded run) — run `canbao run` first")
    month = month or entries[-1].as_of.strftime("%Y-%m")
    report = load_monthly_report(layout, month, services.district_names)
    return StatsOut(month=report.month, run_id=report.run.run_id, as_of=report.run.as_of,
                    previous_run_id=report.previous_run.run_id if report.previous_run else None,
                    definitions=list(DEFINITIONS), districts=_records(report.tables.districts),
                    streets=_records(report.tables.streets), ranking=_records(report.tables.ranking))


@router.get("/queries", response_model=list[QueryInfoOut], summary="分析查询目录 the named analyst queries")
def queries(caller: AnalystDep) -> list[QueryInfoOut]:
    return [QueryInfoOut(name=q.name, title=q.title, description=q.description, params=[_param_out(p) for p in q.params])
            for q in CATALOGUE.values()]


@router.get("/queries/{name}", response_model=QueryResultOut,
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            summary="运行一个分析查询（参数放在查询串中） run a named query; its parameters go in the query string")
def run_query(name: Annotated[str, Path(pattern=r"^[a-z_0-9]{1,60}$")], request: Request, caller: AnalystDep,
              services: ServicesDep, note: AuditDep) -> QueryResultOut:
    """E.g. /v1/queries/unenrolled_counts?district_code=120104. Every parameter is typed and range-checked (GET
    /v1/queries lists the ranges; out of range is a 422 naming it). Analysts get ID numbers, names and phones masked."""
    if name not in CATALOGUE:
        raise ApiError(404, f"未知查询 (unknown query) {name!r}; 可用 (available): {', '.join(CATALOGUE)}")
    # Typed first, so the cap below sees the number the query would run with (`+100000` is 100000).
    bound = bind_params(CATALOGUE[name], dict(request.query_params))
    if int(bound.get("limit", 0)) > MAX_QUERY_LIMIT:
        raise QueryError(f"参数 limit 不能大于 {MAX_QUERY_LIMIT} (must be ≤ {MAX_QUERY_LIMIT}); 用 skip 分页 (page with skip): "
                         f"{bound['limit']}", param="limit")
    result = services.engine.run_query(name, bound)
    masked = caller.role is Role.analyst
    rows = [{c: (mask_value(c, v) if masked else iso(v)) for c, v in row.items()} for row in result.rows]
    note.detail["query"] = name
    note.saw(p for row in result.rows for p in ([row.get("person_id")] + list(row.get("members") or [])))
    return QueryResultOut(name=name, columns=result.columns, rows=rows, masked=masked)


@router.get("/audit", response_model=list[AuditEntryOut], summary="审计日志（管理员） the audit log (admins)")
def audit(caller: AdminDep, services: ServicesDep,
          since: Annotated[dt.datetime, Query(description="起始时间 ISO 8601, e.g. 2026-11-28T00:00:00+08:00")],
          user: Annotated[str | None, Query(max_length=64)] = None,
          person: Annotated[str | None, Query(max_length=40)] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[AuditEntryOut]:
    since = since if since.tzinfo else since.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Beijing time
    try:
        since = since.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ApiError(422, "请求数据有误 (invalid request data)", fields=[{
            "field": "since", "message": "时间超出范围 (date-time out of range)"}]) from None
    return [AuditEntryOut(**{k: v for k, v in vars(e).items() if k != "client"})
            for e in services.audit.since(since, user=user, person=person, limit=limit)]
