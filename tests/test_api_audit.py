"""The audit log's writer thread: rows are queued by the request and committed in batches, yet a reader sees every
row appended before it asked, shutdown commits what is queued, and a batch that cannot be written is logged whole."""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading

import pytest

from fastapi.testclient import TestClient

import api.audit
from api import create_app, load_settings
from api.audit import AuditLog, AuditNote
from api.database import Database
from api.security import Users
from test_api import sample_store_copy

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
    store = sample_store_copy(tmp_path_factory, "audit")
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



# --- what the rows say, and writes that commit their row with the change --------------------------------------

from test_api import assert_error, survey_of, world  # noqa: E402,F401 — the module's service with its users


def rows_of(world, request_id: str) -> list:
    return [e for e in world.client.app.state.services.audit.since(EPOCH, limit=100_000) if e.request_id == request_id]


def test_a_row_keeps_the_query_string_so_a_search_by_id_number_says_which(world):
    number = world.target.id_number
    response = world.client.get("/v1/persons", params={"id_number": number}, headers=world.as_("steward"))
    assert response.status_code == 200
    (row,) = rows_of(world, response.headers["x-request-id"])
    assert (row.user, row.path, row.query) == ("steward", "/v1/persons", f"id_number={number}")


def test_requests_refused_before_authentication_are_logged_with_the_user_unknown(world):
    client = world.client
    refused = [client.get("/v1/persons/P000000000000"),                                        # no token
               client.get("/v1/worklists", headers={"Authorization": "Bearer cbk_guessed"}),  # a wrong one
               client.post("/v1/surveys", content=b"x" * (65 * 1024),
                           headers={"content-type": "application/json"}),                     # too large
               client.post("/v1/surveys", content=b"{not json", headers={"content-type": "application/json"})]
    assert [r.status_code for r in refused] == [401, 401, 413, 422]
    for response in refused:
        (row,) = rows_of(world, response.json()["error"]["request_id"])
        assert (row.user, row.role, row.status) == (None, None, response.status_code)


def test_a_survey_upload_commits_its_audit_row_in_the_same_transaction(world, monkeypatch):
    monkeypatch.setattr(api.audit.time, "sleep", lambda seconds: None)   # the failing outcome row's retries
    client, database = world.client, world.client.app.state.services.database
    with database.transaction() as conn:   # the audit log cannot take this upload's row
        conn.execute("CREATE TRIGGER audit_down BEFORE INSERT ON audit WHEN NEW.path = '/v1/surveys' "
                     "AND NEW.method = 'POST' BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="audit log unavailable"):   # a 500 to the client
            client.post("/v1/surveys", json=survey_of(world.target, "DC-AUDIT-01"), headers=world.as_("surveyor"))
    finally:
        with database.transaction() as conn:
            conn.execute("DROP TRIGGER audit_down")
    assert_error(client.get("/v1/surveys/DC-AUDIT-01", headers=world.as_("surveyor")), 404)   # no row, no survey
    stored = client.post("/v1/surveys", json=survey_of(world.target, "DC-AUDIT-01"), headers=world.as_("surveyor"))
    assert stored.status_code == 201
    (row,) = rows_of(world, stored.headers["x-request-id"])   # one row: the middleware adds none after it
    assert (row.status, row.user, row.detail["survey_id"]) == (201, "surveyor", "DC-AUDIT-01")


def test_a_decision_commits_an_intended_row_before_it_touches_the_graph(world, monkeypatch):
    client, engine = world.client, world.client.app.state.services.engine
    item = client.get("/v1/review/queue", params={"kind": "pair"}, headers=world.as_("steward")).json()["items"][-1]
    decided = client.post(f"/v1/review/{item['item_id']}/decision", json={"decision": "unsure", "note": "待核实"},
                          headers=world.as_("steward"))
    assert decided.status_code == 200
    intended, outcome = rows_of(world, decided.headers["x-request-id"])
    assert (intended.status, intended.detail["phase"], outcome.status) == (0, "intended", 200)
    assert intended.seq < outcome.seq and intended.detail["decision"] == "unsure"

    def crash(*args, **kwargs):
        raise RuntimeError("the process dies while writing the graph")

    monkeypatch.setattr(engine, "decide", crash)
    with pytest.raises(RuntimeError, match="dies"):   # a 500 to the client
        client.post(f"/v1/review/{item['item_id']}/decision", json={"decision": "unsure", "note": "待核实"},
                    headers=world.as_("steward"))
    *_, intended, outcome = world.client.app.state.services.audit.since(EPOCH, limit=100_000)
    assert (intended.request_id, intended.status, outcome.status) == (outcome.request_id, 0, 500)
