"""Dependencies declared once as ``Annotated`` aliases, so route signatures stay short.

    ServicesDep   the app's services (engine, users, audit log, survey book, labels)
    CallerDep     the authenticated caller (401 without a valid bearer token)
    AuditDep      the request's audit note (routes add the persons they show or change)
    SurveyorDep, ReviewerDep, StewardDep, AnalystDep, AdminDep, ReaderDep, ResolverDep: role gates (403)
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.audit import AuditLog, AuditNote, note_of
from api.database import Database
from api.engine import Engine
from api.errors import STATUS_CODES, ApiError
from api.security import ROLE_LABELS, Caller, Role, Users
from api.settings import ApiSettings
from api.surveys import SurveyBook


@dataclass(frozen=True)
class Services:
    """Everything the routes use, created once by the app's lifespan."""

    settings: ApiSettings
    engine: Engine
    database: Database
    users: Users
    audit: AuditLog
    surveys: SurveyBook
    labels: dict[str, str]           # status and flag code → Chinese label
    district_names: dict[str, str]


# The dependencies below are `async def` although they never await: FastAPI runs a plain `def` dependency in
# the threadpool, and that hop cost more than the dependency itself on every request.
async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="`canbao user add` 发放的令牌 the token `canbao user add` printed")


async def get_note(request: Request) -> AuditNote:
    return note_of(request.scope)


AuditDep = Annotated[AuditNote, Depends(get_note)]


async def current_caller(services: ServicesDep, note: AuditDep,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The caller a bearer token names; 401 (with WWW-Authenticate) otherwise.

    The lookup is one indexed row of a WAL-mode SQLite file, which readers never wait for, so it runs on the
    event loop."""
    caller = services.users.authenticate(credentials.credentials) if credentials else None
    if caller is None:
        raise ApiError(401, STATUS_CODES[401][1], headers={"WWW-Authenticate": "Bearer"})
    note.user, note.role, note.district = caller.name, caller.role.value, caller.district
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def allow(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting only ``roles`` (403 names the roles that may)."""

    async def gate(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            allowed = "、".join(f"{r.value} {ROLE_LABELS[r]}" for r in roles)
            raise ApiError(403, f"角色 {caller.role.value} 无权访问此接口 (role may not use this endpoint); "
                                f"可用角色 (allowed roles): {allowed}")
        return caller

    return gate


SurveyorDep = Annotated[Caller, Depends(allow(Role.surveyor, Role.admin))]
ReviewerDep = Annotated[Caller, Depends(allow(Role.street_reviewer, Role.district_reviewer, Role.admin))]
SurveyReaderDep = Annotated[Caller, Depends(allow(Role.surveyor, Role.street_reviewer, Role.district_reviewer,
                                                  Role.steward, Role.admin))]
ResolverDep = Annotated[Caller, Depends(allow(Role.surveyor, Role.street_reviewer, Role.district_reviewer,
                                              Role.steward, Role.admin))]
StewardDep = Annotated[Caller, Depends(allow(Role.steward, Role.admin))]
AnalystDep = Annotated[Caller, Depends(allow(Role.analyst, Role.steward, Role.admin))]
AdminDep = Annotated[Caller, Depends(allow(Role.admin))]
