"""The append-only audit log (art. 33): who read or changed whose personal data, when, through which endpoint.

Every authenticated /v1 request (and every refused one) leaves one row: time, request
id, user, role, district, method, endpoint template and path, HTTP status, the person
ids the answer showed or the change touched, and a small detail (query name, survey id).
Rows are written by ``AuditMiddleware`` after the response is known, so failures and
refusals are logged too; the database refuses to update or delete them (api/database.py).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.database import Database

SCOPE_KEY = "canbao.audit"
UNAUDITED_PATHS = ("/v1/health",)


@dataclass
class AuditNote:
    """What a request did, filled in by the auth dependency and the route."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    user: str | None = None
    role: str | None = None
    district: str | None = None
    persons: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def saw(self, person_ids: Iterable[str | None]) -> None:
        """Record persons whose data the answer shows (or the change touched)."""
        for person in person_ids:
            if person and person not in self.persons:
                self.persons.append(person)


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    seq: int
    at: str
    request_id: str
    user: str | None
    role: str | None
    district: str | None
    method: str
    endpoint: str
    path: str
    status: int
    persons: list[str]
    detail: dict[str, Any]
    client: str | None


class AuditLog:
    """Appends and reads audit rows."""

    def __init__(self, database: Database):
        self.database = database

    def append(self, note: AuditNote, method: str, endpoint: str, path: str, status: int, client: str | None) -> None:
        with self.database.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (at, request_id, user, role, district, method, endpoint, path, status, persons, "
                "detail, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), note.request_id, note.user,
                 note.role, note.district, method, endpoint, path, status,
                 json.dumps(note.persons, ensure_ascii=False), json.dumps(note.detail, ensure_ascii=False, default=str),
                 client))

    def since(self, since: dt.datetime, user: str | None = None, person: str | None = None,
              limit: int = 1000) -> list[AuditEntry]:
        """Rows at or after ``since`` (UTC), oldest first, optionally for one user or one person."""
        sql = "SELECT * FROM audit WHERE at >= ?"
        params: list[Any] = [since.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")]
        if user:
            sql += " AND user = ?"
            params.append(user)
        if person:
            sql += " AND persons LIKE ?"
            params.append(f'%"{person}"%')
        sql += " ORDER BY seq LIMIT ?"
        params.append(int(limit))
        return [AuditEntry(seq=r["seq"], at=r["at"], request_id=r["request_id"], user=r["user"], role=r["role"],
                           district=r["district"], method=r["method"], endpoint=r["endpoint"], path=r["path"],
                           status=r["status"], persons=json.loads(r["persons"]), detail=json.loads(r["detail"]),
                           client=r["client"])
                for r in self.database.query(sql, tuple(params))]


def note_of(scope: Scope) -> AuditNote:
    """The request's note (a fresh one when the middleware is not installed, e.g. in unit tests)."""
    note = scope.get(SCOPE_KEY)
    if note is None:
        note = scope[SCOPE_KEY] = AuditNote()
    return note


class AuditMiddleware:
    """Pure ASGI: gives each /v1 request a note and request id, then appends its audit row.

    ``log_of(scope)`` finds the log (it is opened by the app's lifespan, after the middleware is built).
    """

    def __init__(self, app: ASGIApp, log_of: Callable[[Scope], AuditLog]):
        self.app = app
        self.log_of = log_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/") or scope["path"] in UNAUDITED_PATHS:
            await self.app(scope, receive, send)
            return
        note = scope[SCOPE_KEY] = AuditNote()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", note.request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Authenticated requests and refusals (401/403) are logged; anonymous noise (404 on an unknown
            # path, 413 before authentication) is not personal-data access.
            if note.user is not None or status in (401, 403):
                route = scope.get("route")
                endpoint = getattr(route, "path", scope["path"])
                client = scope.get("client")
                await anyio.to_thread.run_sync(self.log_of(scope).append, note, scope["method"], endpoint, scope["path"],
                                               status, client[0] if client else None)
