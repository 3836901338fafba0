"""The audit table as a hash chain (art. 33): append chained rows, verify the chain, read rows however damaged.

Each row stores ``prev_hash`` (the previous row's ``row_hash``; the first row's is GENESIS) and
``row_hash = sha256(prev_hash "\\n" canonical(seq and every field))``. Appending reads the last
row inside the caller's write transaction (BEGIN IMMEDIATE), so the API's writer thread, a
survey transaction and a `canbao` command in another process extend one chain and never fork
it. The triggers (api/database.py) refuse UPDATE, DELETE and re-using a seq; someone who drops
them can still rewrite the file, and ``verify`` then names the first row that no longer fits.
An unkeyed chain cannot tell a truncated tail or a wholly recomputed log: compare the head
``verify`` prints with one noted earlier (kept outside the store).

No web framework here: the CLI audits its own reads with ``append_cli_read``.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import shlex
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = hashlib.sha256(b"canbao audit log genesis").hexdigest()
# The hashed fields, in hash order (seq comes first; prev_hash and row_hash are the chain itself).
FIELDS: tuple[str, ...] = ("at", "request_id", "user", "role", "district", "method", "endpoint", "path", "query",
                           "status", "persons", "detail", "client")
INSERT = (f"INSERT INTO audit (seq, {', '.join(FIELDS)}, prev_hash, row_hash) "
          f"VALUES ({', '.join('?' * (len(FIELDS) + 3))})")
SELECT_CHAIN = f"SELECT seq, {', '.join(FIELDS)}, prev_hash, row_hash FROM audit ORDER BY seq"
MAX_QUERY_CHARS = 4096
# Person ids listed in one CLI row; a bigger read (a city-wide export) records its count instead.
MAX_LISTED_PERSONS = 100_000
Row = tuple[Any, ...]   # the FIELDS' values, as stored


def now() -> str:
    """The time of a row: UTC, ISO 8601 with milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def make_row(*, at: str, request_id: str, user: str | None, role: str | None, district: str | None, method: str,
             endpoint: str, path: str, query: str | None, status: int, persons: Sequence[str],
             detail: dict[str, Any], client: str | None) -> Row:
    """The FIELDS' values as SQLite keeps them (text stays text, status an integer), so the hash computed
    before the insert is the hash of what is read back."""
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    if query is not None and len(query) > MAX_QUERY_CHARS:
        query = query[:MAX_QUERY_CHARS] + f"…(+{len(query) - MAX_QUERY_CHARS} chars)"
    return (str(at), str(request_id), text(user), text(role), text(district), str(method), str(endpoint), str(path),
            text(query), int(status), json.dumps(list(persons), ensure_ascii=False),
            json.dumps(detail, ensure_ascii=False, default=str), text(client))


# One encoder for every row: json.dumps with options builds a new encoder per call, a third of a 1M-row check.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _canonical(seq: Any, values: Sequence[Any]) -> bytes:
    return _CANONICAL([seq, *values]).encode("utf-8")


def row_hash(prev_hash: str, seq: Any, values: Sequence[Any]) -> str:
    """sha256 over the previous hash and the row's canonical form (a JSON array of seq and FIELDS)."""
    return hashlib.sha256(prev_hash.encode("ascii", "replace") + b"\n" + _canonical(seq, values)).hexdigest()


def append_chained(conn: sqlite3.Connection, rows: Iterable[Row]) -> list[int]:
    """Insert ``rows`` at the end of the chain; the caller holds the write transaction (BEGIN IMMEDIATE), so
    the last row read here is still the last at the insert. Returns the rows' seq numbers."""
    last = conn.execute("SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (int(last[0]), last[1] or GENESIS) if last else (0, GENESIS)
    chained, seqs = [], []
    for values in rows:
        seq += 1
        digest = row_hash(prev, seq, values)
        chained.append((seq, *values, prev, digest))
        seqs.append(seq)
        prev = digest
    conn.executemany(INSERT, chained)
    return seqs


def chain_legacy_rows(conn: sqlite3.Connection) -> int:
    """Chain the rows of a log written before the chain existed (migration; the caller has dropped the
    no-update trigger inside its transaction). Returns the number of rows chained."""
    prev, updates = GENESIS, []
    for seq, *values in conn.execute(f"SELECT seq, {', '.join(FIELDS)} FROM audit ORDER BY seq").fetchall():
        digest = row_hash(prev, seq, values)
        updates.append((prev, digest, seq))
        prev = digest
    conn.executemany("UPDATE audit SET prev_hash = ?, row_hash = ? WHERE seq = ?", updates)
    return len(updates)


# --- verification -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainBreak:
    """A row that does not fit the chain, and why."""

    seq: Any
    at: Any
    reason: str


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the whole log."""

    rows: int
    head_seq: int | None
    head_hash: str | None
    breaks: list[ChainBreak]       # at most MAX_BREAKS_KEPT, in seq order
    broken_rows: int

    @property
    def ok(self) -> bool:
        return self.broken_rows == 0


MAX_BREAKS_KEPT = 100


def malformed_fields(values: Sequence[Any]) -> list[str]:
    """Fields of a stored row canbao could not have written (a forged or damaged row)."""
    fields = dict(zip(FIELDS, values))
    bad = [] if _is_time(fields["at"]) else ["at"]
    if not isinstance(fields["status"], int):
        bad.append("status")
    for name, kind in (("persons", list), ("detail", dict)):
        try:
            if not isinstance(json.loads(fields[name]), kind):
                bad.append(name)
        except (TypeError, ValueError):
            bad.append(name)
    return bad


def _is_time(at: Any) -> bool:
    try:
        return dt.datetime.fromisoformat(at).tzinfo is not None
    except (TypeError, ValueError):
        return False


def verify(conn: sqlite3.Connection) -> Verification:
    """Recompute the chain from the first row: a gap in seq, a link that is not the previous row's hash, a
    hash that does not match the row, a missing hash or a malformed field each mark the row broken. After a
    break the row's stored hash links the next row, so one changed row is one break.

    Every row's time is checked; its other fields are parsed only when its hash fails (a row whose hash holds
    is as canbao wrote it) — half the time of a 1M-row check."""
    breaks: list[ChainBreak] = []
    broken = rows = 0
    expected_prev, expected_seq = GENESIS, None
    head_seq: int | None = None
    cursor = conn.cursor()
    cursor.row_factory = None
    for seq, *rest in cursor.execute(SELECT_CHAIN):
        values, prev, digest = rest[:-2], rest[-2], rest[-1]
        rows += 1
        reasons = []
        if expected_seq is not None and seq != expected_seq:
            reasons.append(f"gap: seq {seq} follows {expected_seq - 1} (rows removed)")
        if digest is None or prev is None:
            reasons.append("missing hash (not written by canbao)")
        else:
            if prev != expected_prev:
                reasons.append("broken link: prev_hash is not the previous row's hash (a row before it was "
                               "removed, replaced or rewritten)")
            if row_hash(prev, seq, values) != digest:
                reasons.append("hash mismatch (the row was changed after it was written)")
        bad = malformed_fields(values) if reasons or not _is_time(values[0]) else []
        if bad:
            reasons.append(f"malformed: {', '.join(bad)}")
        if reasons:
            broken += 1
            if len(breaks) < MAX_BREAKS_KEPT:
                breaks.append(ChainBreak(seq=seq, at=values[0], reason="; ".join(reasons)))
        expected_prev = digest or row_hash(prev or expected_prev, seq, values)
        expected_seq = (seq + 1) if isinstance(seq, int) else None
        head_seq = seq
    return Verification(rows=rows, head_seq=head_seq, head_hash=expected_prev if rows else None, breaks=breaks,
                        broken_rows=broken)


# --- reading ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log; ``malformed`` names fields a forged or damaged row holds in a form canbao never
    writes (those are shown as stored)."""

    seq: int
    at: str
    request_id: str
    user: str | None
    role: str | None
    district: str | None
    method: str
    endpoint: str
    path: str
    query: str | None
    status: int
    persons: list[str]
    detail: dict[str, Any]
    client: str | None
    malformed: list[str]


def entry_of(row: sqlite3.Row) -> AuditEntry:
    """An entry from a stored row, whatever it holds (never raises on a forged value)."""
    values = [row[name] for name in FIELDS]
    bad = malformed_fields(values)
    fields = dict(zip(FIELDS, values))

    def parsed(name: str, empty: Any) -> Any:
        return empty if name in bad else json.loads(fields[name])

    return AuditEntry(seq=row["seq"], at=str(fields["at"]), request_id=str(fields["request_id"]),
                      user=fields["user"], role=fields["role"], district=fields["district"],
                      method=str(fields["method"]), endpoint=str(fields["endpoint"]), path=str(fields["path"]),
                      query=fields["query"], status=fields["status"] if "status" not in bad else -1,
                      persons=[str(p) for p in parsed("persons", [])], detail=parsed("detail", {}),
                      client=fields["client"], malformed=bad)


# --- the command line's own reads (art. 31) -----------------------------------------------------------------

def os_user() -> tuple[str, int | None]:
    """The operating-system user running the command, and its uid (None where the platform has none)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        name = getpass.getuser()
    except (KeyError, OSError):   # no login name in the environment and no passwd entry for the uid
        name = f"uid-{uid}"
    return name, uid


def append_cli_read(conn_factory, command: str, argv: Sequence[str], persons: Sequence[str],
                    detail: dict[str, Any]) -> int:
    """Append one row for a `canbao` command that shows personal data, before it is shown: the OS user, role
    'cli', the command and its arguments (in ``query``), the persons (or their count, for a very large read).
    ``conn_factory`` is a Database's ``transaction``. Returns the row's seq."""
    name, uid = os_user()
    listed = list(dict.fromkeys(p for p in persons if p))
    detail = {**detail, "uid": uid, "persons_count": len(listed)}
    if len(listed) > MAX_LISTED_PERSONS:
        listed = []
    row = make_row(at=now(), request_id=os.urandom(8).hex(), user=name, role="cli", district=None, method="CLI",
                   endpoint=f"canbao {command}", path=f"canbao {command}", query=shlex.join(argv), status=0,
                   persons=listed, detail=detail, client=socket.gethostname())
    with conn_factory() as conn:
        return append_chained(conn, [row])[0]
