"""The FastAPI application factory: ``create_app(settings)`` builds the service; nothing is opened before start-up.

The lifespan opens the store (graph, resolver state, match index), the API's SQLite file
and replays confirmed surveys the saved state lacks; on shutdown it saves the state and
commits the audit rows still queued.
"""
from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Scope

from api.audit import AuditLog, AuditMiddleware
from api.database import Database
from api.deps import Services
from api.engine import Engine
from api.errors import install
from api.limits import BodyLimitMiddleware
from api.models import ErrorOut
from api.routes import ROUTERS, review_page, surveys
from api.security import Users
from api.settings import ApiSettings
from api.surveys import SurveyBook
from graph.model import DISTRICT_NAMES
from resolver.attach import SURVEY_SOURCE
from resolver.mapping import load_mappings
from resolver.status import status_labels

DESCRIPTION = """\
全民参保登记实体解析引擎的服务接口（津人社局发〔2016〕103号）：入户调查 App、数据管理员与分析人员使用。
The survey app, the stewards and the analysts reach the canbao engine here.

* 认证 Authentication: `Authorization: Bearer <token>`; tokens come from `canbao user add` (shown once).
* 脱敏 Masking by default (art. 33): ID numbers 120101********123X, phones 138****5678, addresses to community
  level — in full only where role and district allow.
* 审计 Every read or change of personal data is in the append-only audit log (`canbao audit`).
* 错误 One error shape everywhere: `{"error": {"status", "code", "message", "fields", "request_id"}}`.
"""


def open_services(settings: ApiSettings) -> Services:
    """Open everything the routes use (slow for a city: the match index is built here)."""
    database = Database(settings.database_file)
    surveys = SurveyBook(database)
    engine = Engine.open(settings)
    engine.replay = lambda: [s.record for s in surveys.confirmed()]
    engine.replay_confirmed()
    return Services(settings=settings, engine=engine, database=database, users=Users(database),
                    audit=AuditLog(database), surveys=surveys, labels=status_labels(),
                    district_names=dict(DISTRICT_NAMES))


def create_app(settings: ApiSettings) -> FastAPI:
    """The service for one store (validated settings in, app out; the store opens at start-up)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = open_services(settings)
        # The store's tables hold millions of object references that live as long as the process; a full garbage
        # collection walks every one (45 ms at 100k persons, growing with the store) and stalls every request in
        # flight. Frozen, the collector leaves them out (8 ms at 100k); what requests make is collected as before.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            try:
                app.state.services.engine.close()
            finally:
                app.state.services.audit.close()   # commits the audit rows still queued

    app = FastAPI(
        title="canbao 参保 API", version="1", description=DESCRIPTION, lifespan=lifespan,
        responses={400: {"model": ErrorOut, "description": "请求体无法解析 body could not be parsed"},
                   401: {"model": ErrorOut, "description": "缺少或无效的令牌 missing or invalid token"},
                   403: {"model": ErrorOut, "description": "角色或辖区不允许 role or district does not allow"},
                   413: {"model": ErrorOut, "description": "请求体过大 body too large"},
                   422: {"model": ErrorOut, "description": "输入有误，逐字段说明 invalid input, per field"},
                   503: {"model": ErrorOut, "description": "图库忙，稍后重试 store busy, retry"}},
    )
    install(app, [settings.store, settings.layout.work_dir])
    for router in ROUTERS:
        app.include_router(router)
    # The upload schema's code lists come from the survey mapping the store uses (--sources overrides it).
    app.include_router(surveys.build_router(load_mappings(settings.sources)[SURVEY_SOURCE]))
    app.include_router(review_page.router)   # the stewards' page at /review (static files, not in /docs)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, log_of=_audit_log)
    return app


def _audit_log(scope: Scope) -> AuditLog:
    return scope["app"].state.services.audit
