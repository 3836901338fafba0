"""The service outlives a crash of the embedded database: the request that crashed it gets a 500, audited.

A named query's Cypher is swapped, in this (the server's) process, for one that segfaults
LadybugDB 0.22.0; the text goes to the graph worker, which dies. Without the worker the
same request kills the whole service (and this test run). A worker killed between requests
(SIGKILL) is found out by the next one the same way.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import threading

import pytest
from fastapi.testclient import TestClient

from api import create_app, load_settings
from api.database import Database
from api.security import Users
from graph import CATALOGUE, EmbeddedStore
from graph.supervised import SupervisedStore
from resolver.errors import ConfigError
from test_api import assert_error, pick_target, sample_store, sample_store_copy
from test_graph_supervised import CRASHING

QUERY = "unenrolled_counts"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = sample_store_copy(tmp_path_factory, "graph-worker")
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    target = pick_target(store)
    headers = {role: {"Authorization": f"Bearer {users.add(role, role, target.district if role == 'surveyor' else None)}"}
               for role in ("analyst", "admin", "surveyor")}
    with TestClient(create_app(settings)) as client:
        yield client, headers, target


def crash_on_next_query(monkeypatch):
    """The named query's text, as the server sends it, replaced by one that crashes the database."""
    monkeypatch.setitem(CATALOGUE, QUERY, dataclasses.replace(CATALOGUE[QUERY], params=(), embedded=CRASHING))


def test_the_api_serves_the_embedded_graph_from_a_worker_by_default(served):
    client, _, _ = served
    graph = client.app.state.services.engine.graph
    assert isinstance(graph, SupervisedStore) and graph.worker_pid is not None
    assert client.get("/v1/health").json()["graph_process"] == "worker"


def test_a_request_that_crashes_the_database_gets_a_500_is_audited_and_the_next_is_served(served, monkeypatch):
    client, headers, target = served
    engine = client.app.state.services.engine
    graph = engine.graph
    crashes = graph.crash_count
    # The worker dies between two requests (SIGKILL, e.g. the kernel's OOM killer): the next graph call finds out.
    os.kill(graph.worker_pid, signal.SIGKILL)
    died = client.get(f"/v1/queries/{QUERY}", headers=headers["analyst"])
    assert assert_error(died, 500)["code"] == "graph_crashed"
    # A request whose query crashes the database in the worker (the first statement of the fresh worker).
    crash_on_next_query(monkeypatch)
    response = client.get(f"/v1/queries/{QUERY}", headers=headers["analyst"])
    error = assert_error(response, 500)
    assert error["code"] == "graph_crashed" and "restarted" in error["message"] and "request id" in error["message"]
    assert graph.crash_count == crashes + 2 and not graph.ready
    assert client.get("/v1/health").json()["graph_crashes"] == crashes + 2
    monkeypatch.undo()

    # The next lookup waits for the new worker in a thread (half a second), not on the event loop.
    in_thread, original = threading.Event(), engine._with_persons_locked

    def entered(*args):
        in_thread.set()
        return original(*args)

    monkeypatch.setattr(engine, "_with_persons_locked", entered)
    lookup = client.post("/v1/resolve", json={"id_number": target.id_number}, headers=headers["surveyor"])
    assert lookup.status_code == 200, lookup.text
    best = lookup.json()["candidates"][0]
    assert best["person_id"] == target.person_id and best["person"]["status"]["status"] == "UNENROLLED"
    assert in_thread.is_set(), "the worker was restarted on the event loop"
    again = client.get(f"/v1/queries/{QUERY}", headers=headers["analyst"])
    assert again.status_code == 200 and again.json()["rows"], again.text

    audit = client.get("/v1/audit", params={"since": "2000-01-01T00:00:00"}, headers=headers["admin"]).json()
    rows = {row["request_id"]: row for row in audit}
    crashed = rows[error["request_id"]]
    assert (crashed["status"], crashed["user"], crashed["endpoint"], crashed["path"]) == (
        500, "analyst", "/v1/queries/{name}", f"/v1/queries/{QUERY}")
    assert rows[died.headers["x-request-id"]]["status"] == 500
    assert rows[lookup.headers["x-request-id"]]["status"] == 200 and rows[again.headers["x-request-id"]]["status"] == 200


def test_the_worker_can_be_turned_off_and_its_restart_limit_is_validated(tmp_path_factory):
    store = sample_store(tmp_path_factory)
    with pytest.raises(ConfigError, match="graph_worker_restarts"):
        load_settings({"store": str(store), "graph_worker_restarts": 0}, env={})
    with pytest.raises(ConfigError, match="graph_worker"):
        load_settings({"store": str(store)}, env={"CANBAO_API_GRAPH_WORKER": "perhaps"})
    settings = load_settings({"store": str(store)}, env={"CANBAO_API_GRAPH_WORKER": "false"})
    assert settings.graph_worker is False
    from api.engine import Engine

    engine = Engine.open(settings)
    try:
        assert isinstance(engine.graph, EmbeddedStore) and engine.graph.threads == 1
    finally:
        engine.graph.close()
