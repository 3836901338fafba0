"""The audit log's writer thread: rows are queued by the request and committed in batches, yet a reader sees every
row appended before it asked, shutdown commits what is queued, and a batch that cannot be written is logged whole."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
import threading

from fastapi.testclient import TestClient

import api.audit
from api import create_app, load_settings
from api.audit import AuditLog, AuditNote
from api.database import Database
from api.security import Users
from test_api import sample_store

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def stored_request_ids(path) -> list[str]:
    """The rows in the file, read with a connection of its own (what another process would see)."""
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT request_id FROM audit ORDER BY seq")]


def append(log: AuditLog, request_id: str, user: str = "u", status: int = 200) -> None:
    log.append(AuditNote(request_id=request_id, user=user, persons=["P1"]), "GET", "/v1/x", "/v1/x", status, None)


def test_rows_from_many_threads_are_all_visible_to_the_next_reader_in_the_order_appended(tmp_path):
    log = AuditLog(Database(tmp_path / "api.sqlite"))

    def worker(number: int) -> None:
        for i in range(200):
            append(log, f"t{number}-{i:03d}", user=f"user{number}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = log.since(EPOCH, limit=10_000)   # no sleep: the reader waits for the queued rows
    assert len(entries) == 800
    for n in range(4):
        mine = [e.request_id for e in entries if e.user == f"user{n}"]
        assert mine == [f"t{n}-{i:03d}" for i in range(200)]   # each request's row after the ones before it
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    # `canbao audit` opens its own AuditLog on the same file: it sees the server's rows too.
    append(log, "late")
    assert AuditLog(Database(tmp_path / "api.sqlite")).since(EPOCH, limit=10_000)[-1].request_id == "late"
    log.close()


def test_close_commits_the_queue_and_later_rows_are_written_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(api.audit, "BATCH_SECONDS", 60.0)   # the writer would hold the rows for a minute
    path = tmp_path / "api.sqlite"
    log = AuditLog(Database(path))
    for i in range(50):
        append(log, f"r{i}")
    assert stored_request_ids(path) == []            # queued, not yet committed
    log.close()                                      # does not wait out the minute
    assert stored_request_ids(path) == [f"r{i}" for i in range(50)]
    append(log, "after-close")                       # a request finishing during shutdown
    assert stored_request_ids(path)[-1] == "after-close"


def test_a_batch_that_cannot_be_written_is_logged_with_its_rows(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(api.audit.time, "sleep", lambda seconds: None)   # the retries' pauses
    path = tmp_path / "api.sqlite"
    log = AuditLog(Database(path))
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE audit RENAME TO audit_elsewhere")     # every insert now fails
    with caplog.at_level(logging.WARNING, logger="canbao.api"):
        append(log, "lost-row-7f3a")
        log.flush()                                  # returns: the failure is settled by logging it
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "AUDIT LOG WRITE FAILED" in errors[0].getMessage() and "lost-row-7f3a" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == api.audit.RETRIES - 1
    log.close()


def test_the_service_commits_every_request_row_by_shutdown_and_shows_them_to_an_admin_before(tmp_path_factory,
                                                                                             monkeypatch):
    monkeypatch.setattr(api.audit, "BATCH_SECONDS", 60.0)
    store = tmp_path_factory.mktemp("audit") / "store"
    shutil.copytree(sample_store(tmp_path_factory), store)
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    admin = {"Authorization": f"Bearer {users.add('admin', 'admin')}"}
    analyst = {"Authorization": f"Bearer {users.add('analyst', 'analyst')}"}
    ids = []
    with TestClient(create_app(settings)) as client:
        for headers, status in ((admin, 200), (analyst, 403), ({"Authorization": "Bearer cbk_nobody"}, 401)):
            for _ in range(5):
                response = client.post("/v1/resolve", json={"name": "张伟"}, headers=headers)
                assert response.status_code == status
                ids.append(response.headers["x-request-id"])
        assert stored_request_ids(settings.database_file) == []   # all still queued (a minute's gathering)
        seen = client.get("/v1/audit", params={"since": "2000-01-01T00:00:00"}, headers=admin).json()
        assert [e["request_id"] for e in seen] == ids
        assert [e["status"] for e in seen] == [200] * 5 + [403] * 5 + [401] * 5
        last = client.get("/v1/health")   # not audited
        ids.append(client.get("/v1/stats", headers=analyst).headers["x-request-id"])
        assert last.status_code == 200
    # The audit read itself is a row (appended after its answer), then the stats read: shutdown committed both.
    stored = stored_request_ids(settings.database_file)
    assert stored[:15] == ids[:15] and len(stored) == 17 and stored[-1] == ids[-1]

