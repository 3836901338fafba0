"""The API's own SQLite file: users and token hashes, the append-only audit log, survey review states.

Stdlib sqlite3 in WAL mode, one short-lived connection per unit of work, so the
threads of the server never share a connection. ``transaction`` is all or nothing:
a failed request leaves no half-written row (arts. 31-33).
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.audit_store import chain_legacy_rows

DATABASE_FILE = "api.sqlite"   # in the store's work dir (StoreLayout.work_dir)
SCHEMA_VERSION = 2
APPEND_ONLY = "审计日志只可追加，不可修改或删除 (the audit log is append-only)"
NO_REPLACE = "审计日志序号已存在，不可替换 (an audit row with this seq exists; rows are never replaced)"
# Columns version 2 added to the audit table (the chain and the query string); a version-1 file gets them on open.
AUDIT_V2_COLUMNS = (("query", "TEXT"), ("prev_hash", "TEXT"), ("row_hash", "TEXT"))
NO_UPDATE_TRIGGER = f"""CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"""

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        district TEXT,
        street TEXT,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        request_id TEXT NOT NULL,
        user TEXT,
        role TEXT,
        district TEXT,
        method TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        persons TEXT NOT NULL,
        detail TEXT NOT NULL,
        client TEXT,
        query TEXT,
        prev_hash TEXT,
        row_hash TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit(at)",
    # Append-only (art. 33): the database itself refuses to change or delete an audit row, and to replace one:
    # INSERT OR REPLACE deletes the old row without firing the delete trigger (recursive_triggers is off), so
    # an insert naming an existing seq is refused before SQLite gets to its conflict handling.
    NO_UPDATE_TRIGGER,
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
        WHEN EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)
        BEGIN SELECT RAISE(ABORT, '{NO_REPLACE}'); END""",
    """CREATE TABLE IF NOT EXISTS surveys (
        survey_id TEXT PRIMARY KEY,
        record_key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        record TEXT NOT NULL,
        district_code TEXT,
        street TEXT,
        submitted_by TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        candidate_person TEXT,
        candidate_probability REAL,
        person_id TEXT,
        return_reason TEXT,
        candidate_district TEXT,
        agreed_district TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS surveys_state ON surveys(state, district_code)",
    """CREATE TABLE IF NOT EXISTS survey_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        survey_id TEXT NOT NULL REFERENCES surveys(survey_id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        state_after TEXT NOT NULL,
        reason TEXT
    )""",
)


# Columns added since a table was first created: (table, column, declaration), added to older files on open.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("surveys", "candidate_district", "TEXT"),   # the district of the best candidate (cross-district queue)
    ("surveys", "agreed_district", "TEXT"),      # the district whose centre agreed to the attachment
)


class Database:
    """One SQLite file; the schema is created on first use."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: schema version {version} is newer than this canbao "
                                   f"({SCHEMA_VERSION}) — upgrade canbao")
            if version < SCHEMA_VERSION:
                self._migrate(conn)
            for statement in SCHEMA:
                conn.execute(statement)
            for table, column, declaration in ADDED_COLUMNS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Version 1 → 2: the audit table gains the query string and the chain, and its rows are chained once,
        in seq order, in one transaction (a second process opening the file meanwhile waits, then finds it done)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(audit)")}
            if columns and "row_hash" not in columns:
                for name, kind in AUDIT_V2_COLUMNS:
                    if name not in columns:
                        conn.execute(f"ALTER TABLE audit ADD COLUMN {name} {kind}")
                conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
                chain_legacy_rows(conn)
                conn.execute(NO_UPDATE_TRIGGER)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened once: every API request reads a token and appends to the
        audit log, and opening a connection costs more than either statement."""
        conn = getattr(self._local, "connection", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = conn
        yield conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE … COMMIT), rolled back whole on any error."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of one read statement."""
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()
