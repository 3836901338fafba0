"""The append-only, hash-chained audit log (art. 33): who read or changed whose personal data, when, how.

Every /v1 request but the health check leaves one row, also those refused before
authentication (401, 413, a 422 for an unreadable body: user unknown): time, request id,
user, role, district, method, endpoint template, path and query string, HTTP status, the
person ids the answer showed or the change touched, and a small detail. Rows are chained by
hash and the database refuses to update, delete or replace them (api/audit_store.py,
api/database.py); `canbao audit --verify` checks the chain.

Reads: the middleware hands each row to one writer thread (``AuditLog.append`` does not wait
for the disk): the thread commits whatever has queued up, a batch per transaction, in the
order the requests finished, chaining each batch to the last row in the file. Reading
(``AuditLog.since``, `canbao audit` and GET /v1/audit in this process) first waits until
every row appended before it is committed; another process sees a row about BATCH_SECONDS
after its request ended. ``close`` (the app's shutdown) commits what is left. A batch that
cannot be written is logged as an error with its rows; a killed process loses the rows of its
last BATCH_SECONDS — of reads only:

Writes are never only queued. A change kept in the API's SQLite file (a survey upload or
review) commits its row inside its own transaction (``commit_in``): no row, no change. A
change kept elsewhere (a steward's decision in the graph) first commits an 'intended' row
synchronously (``record_intent``) and the outcome row follows as for a read, so a crash can
leave an intention without its outcome but never a change without a row.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_store import AuditEntry, Row, append_chained, entry_of, make_row, now
from api.database import Database

__all__ = ["AuditEntry", "AuditLog", "AuditMiddleware", "AuditNote", "note_of"]

log = logging.getLogger("canbao.api")
SCOPE_KEY = "canbao.audit"
UNAUDITED_PATHS = ("/v1/health",)
# How long the writer lets rows gather after the first one arrives: under load one transaction (and one wake-up
# of the thread) then carries many rows; a reader never waits for it (it hurries the writer).
BATCH_SECONDS = 0.01
RETRIES = 3
INTENDED = 0   # the status of a row written before the outcome is known (an intended change)


@dataclass
class AuditNote:
    """What a request did, filled in by the auth dependency and the route."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    user: str | None = None
    role: str | None = None
    district: str | None = None
    persons: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    scope: Scope | None = field(default=None, repr=False, compare=False)   # the request's, for its method and path
    committed_seq: int | None = None   # the row appended with the request's change (``AuditLog.commit_in``)

    def saw(self, person_ids: Iterable[str | None]) -> None:
        """Record persons whose data the answer shows (or the change touched)."""
        for person in person_ids:
            if person and person not in self.persons:
                self.persons.append(person)


def request_fields(scope: Scope) -> dict[str, Any]:
    """Method, endpoint template, path, query string and client address of a request."""
    route = scope.get("route")
    client = scope.get("client")
    query = (scope.get("query_string") or b"").decode("utf-8", "replace")
    return {"method": scope.get("method", "?"), "endpoint": getattr(route, "path", scope.get("path", "?")),
            "path": scope.get("path", "?"), "query": query or None, "client": client[0] if client else None}


def note_row(note: AuditNote, status: int, *, method: str, endpoint: str, path: str, query: str | None,
             client: str | None, detail: dict[str, Any] | None = None) -> Row:
    """The stored values of a request's row (its time is now)."""
    return make_row(at=now(), request_id=note.request_id, user=note.user, role=note.role, district=note.district,
                    method=method, endpoint=endpoint, path=path, query=query, status=status, persons=note.persons,
                    detail=note.detail if detail is None else detail, client=client)


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

    def append(self, note: AuditNote, method: str, endpoint: str, path: str, status: int, client: str | None,
               query: str | None = None) -> None:
        """Queue one row (its time is now); the writer thread commits it."""
        row = note_row(note, status, method=method, endpoint=endpoint, path=path, query=query, client=client)
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

    def commit_in(self, conn: sqlite3.Connection, note: AuditNote, status: int) -> int:
        """Append the request's row inside the caller's write transaction (the change it records commits with
        it or not at all); once that transaction has committed, the middleware adds no row of its own."""
        fields = request_fields(note.scope or {})
        note.committed_seq = append_chained(conn, [note_row(note, status, **fields)])[0]
        return note.committed_seq

    def holds(self, note: AuditNote) -> bool:
        """Whether the row ``commit_in`` appended for the request was committed (not rolled back with its change)."""
        if note.committed_seq is None:
            return False
        return bool(self.database.query("SELECT 1 FROM audit WHERE seq = ? AND request_id = ?",
                                        (note.committed_seq, note.request_id)))

    def record_intent(self, note: AuditNote, action: dict[str, Any]) -> int:
        """Commit, now and synchronously, a row saying the request is about to make a change kept outside this
        file (status 0, detail.phase 'intended'); the outcome row follows when the answer is known."""
        fields = request_fields(note.scope or {})
        row = note_row(note, INTENDED, **fields, detail={**note.detail, **action, "phase": "intended"})
        with self.database.transaction() as conn:
            return append_chained(conn, [row])[0]

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
        """One transaction for the batch, chained to the file's last row, retried; rows that still cannot be
        written go to the error log whole."""
        for attempt in range(1, RETRIES + 1):
            try:
                with self.database.transaction() as conn:
                    append_chained(conn, rows)
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
        appended in this process before the call is among them. Forged or damaged rows are returned as stored,
        their bad fields named in ``malformed`` (a time that is not a time sorts after every real one)."""
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
        return [entry_of(r) for r in self.database.query(sql, tuple(params))]


# Every AuditLog of this process, so that a reader flushes the writer of the same file (the server's log and a
# `canbao audit` run in-process are two AuditLog objects).
_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def note_of(scope: Scope) -> AuditNote:
    """The request's note (a fresh one when the middleware is not installed, e.g. in unit tests)."""
    note = scope.get(SCOPE_KEY)
    if note is None:
        note = scope[SCOPE_KEY] = AuditNote(scope=scope)
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
        note = scope[SCOPE_KEY] = AuditNote(scope=scope)
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
            # Every request leaves a row, also one refused before authentication (user unknown): a probe with
            # bad tokens or oversized bodies is what an administrator needs to see. A write that committed its
            # row with its change leaves no second one.
            audit = self.log_of(scope)
            if not audit.holds(note):
                audit.append(note, status=status, **request_fields(scope))
