"""The append-only audit log (art. 33): who read or changed whose personal data, when, through which endpoint.

Every authenticated /v1 request (and every refused one) leaves one row: time, request
id, user, role, district, method, endpoint template and path, HTTP status, the person
ids the answer showed or the change touched, and a small detail (query name, survey id).
Rows are written by ``AuditMiddleware`` after the response is known, so failures and
refusals are logged too; the database refuses to update or delete them (api/database.py).

The middleware hands each row to one writer thread (``AuditLog.append`` does not wait for
the disk): the thread commits whatever has queued up, a batch per transaction, in the order
the requests finished. Reading (``AuditLog.since``, `canbao audit` and GET /v1/audit in this
process) first waits until every row appended before it is committed; another process (a
`canbao audit` beside the running server) sees a row about BATCH_SECONDS after its request
ended. ``close`` (the app's shutdown) commits what is left. A batch that cannot be written is
logged as an error with its rows, so nothing is dropped silently; a killed process loses the
rows of its last BATCH_SECONDS.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.database import Database

log = logging.getLogger("canbao.api")
SCOPE_KEY = "canbao.audit"
UNAUDITED_PATHS = ("/v1/health",)
INSERT = ("INSERT INTO audit (at, request_id, user, role, district, method, endpoint, path, status, persons, detail, "
          "client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# How long the writer lets rows gather after the first one arrives: under load one transaction (and one wake-up
# of the thread) then carries many rows; a reader never waits for it (it hurries the writer).
BATCH_SECONDS = 0.01
RETRIES = 3
Row = tuple[Any, ...]


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
    """Appends audit rows through its writer thread (started on the first append) and reads them."""

    def __init__(self, database: Database):
        self.database = database
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)    # the writer waits here for rows
        self._done = threading.Condition(self._lock)    # readers and close wait here for commits
        self._rows: list[Row] = []
        self._appended = 0          # rows handed to append, ever
        self._settled = 0           # of those, rows committed or given up on (and logged)
        self._idle = False          # the writer is waiting for rows (an append must wake it)
        self._hurry = False         # a reader or close waits: write now, no gathering
        self._closed = False
        self._thread: threading.Thread | None = None
        _LOGS.add(self)

    def append(self, note: AuditNote, method: str, endpoint: str, path: str, status: int, client: str | None) -> None:
        """Queue one row (its time is now); the writer thread commits it."""
        row = (dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), note.request_id, note.user,
               note.role, note.district, method, endpoint, path, status,
               json.dumps(note.persons, ensure_ascii=False), json.dumps(note.detail, ensure_ascii=False, default=str),
               client)
        with self._lock:
            if not self._closed:
                self._rows.append(row)
                self._appended += 1
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="canbao-audit-writer", daemon=True)
                    self._thread.start()
                elif self._idle:
                    self._idle = False
                    self._work.notify()
                return
        self._write([row])   # after close (a request outliving shutdown): write it here and now

    def flush(self) -> None:
        """Return once every row appended before this call is committed (or logged as lost)."""
        with self._lock:
            target = self._appended
            if self._settled >= target:
                return
            self._hurry = True
            self._work.notify()
            self._done.wait_for(lambda: self._settled >= target)

    def close(self) -> None:
        """Commit what is queued and stop the writer; later appends are written by their caller."""
        with self._lock:
            self._closed = self._hurry = True
            self._work.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._rows and not self._closed:
                    self._idle = True
                    self._work.wait()
                self._idle = False
                if not self._rows:
                    return   # closed and drained
                if not self._hurry:
                    self._work.wait_for(lambda: self._hurry, timeout=BATCH_SECONDS)
                rows, self._rows = self._rows, []
                self._hurry = self._closed
            self._write(rows)
            with self._lock:
                self._settled += len(rows)
                self._done.notify_all()

    def _write(self, rows: list[Row]) -> None:
        """One transaction for the batch, retried; rows that still cannot be written go to the error log whole."""
        for attempt in range(1, RETRIES + 1):
            try:
                with self.database.transaction() as conn:
                    conn.executemany(INSERT, rows)
                return
            except Exception:  # noqa: BLE001 — the rows must reach the log file at least, whatever failed
                if attempt == RETRIES:
                    log.exception("审计日志写入失败 AUDIT LOG WRITE FAILED: %d row(s) of %s not stored, here they are: %s",
                                  len(rows), self.database.path, json.dumps(rows, ensure_ascii=False))
                    return
                log.warning("audit log write failed (attempt %d of %d), retrying", attempt, RETRIES, exc_info=True)
                time.sleep(0.2 * attempt)

    def since(self, since: dt.datetime, user: str | None = None, person: str | None = None,
              limit: int = 1000) -> list[AuditEntry]:
        """Rows at or after ``since`` (UTC), oldest first, optionally for one user or one person; every row
        appended in this process before the call is among them."""
        for other in list(_LOGS):
            if other.database.path == self.database.path:
                other.flush()
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


# Every AuditLog of this process, so that a reader flushes the writer of the same file (the server's log and a
# `canbao audit` run in-process are two AuditLog objects).
_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


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
                self.log_of(scope).append(note, scope["method"], endpoint, scope["path"], status,
                                          client[0] if client else None)
