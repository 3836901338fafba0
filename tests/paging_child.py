"""The child process of tests/test_paging.py: hostile paging parameters against a real embedded store.

    python tests/paging_child.py STORE PROGRESS_FILE [named|api|worklist-past-end]

Run in a child because a LadybugDB crash (SIGSEGV) ends the whole process: the parent tells a
crash (negative exit code) from a failed assertion (exit 1) and reads the last parameters tried
from PROGRESS_FILE, which gets one line per case, flushed before the case runs.

    named              every named query through GraphStore.run_query, as the CLI and notebooks call it
    api                every paged endpoint and /v1/queries/{name} through the API (TestClient)
    worklist-past-end  one request: GET /v1/worklists?skip=5000 as a surveyor (the issue's crash)
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

# Offsets either side of where LadybugDB's ORDER BY … SKIP … LIMIT starts to crash, the ranges' edges,
# int64's edges and beyond.
EDGES = [0, 1, 2, 49, 50, 253, 254, 4095, 4096, 5000, 50_000, 1_000_000, 10_000_000, 10_000_001,
         2**31, 2**63 - 1, 2**63, 10**20, 99999999999999999999999, -1, -99999999999999999999]
RAW = ["+100000", "+5", " 7 ", "1e3", "1.5", "nan", "inf", "-0", "0x10", "1_000", "١٢", "", "many",
       "9" * 400, "-" + "9" * 30]
NUMBER = st.one_of(st.sampled_from(EDGES), st.integers(min_value=-(2**70), max_value=2**70),
                   st.integers(min_value=0, max_value=20_000))
TEXT = st.one_of(st.sampled_from(RAW), NUMBER.map(str), st.floats(allow_nan=True).map(repr))
VALUE = st.one_of(NUMBER, TEXT)
SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=40,
                    suppress_health_check=list(HealthCheck))


class Progress:
    """One JSON line per case, flushed and fsynced before the case runs (the crash leaves no other trace)."""

    def __init__(self, path: str):
        self.file = open(path, "a", encoding="utf-8")

    def case(self, **what: Any) -> None:
        self.file.write(json.dumps(what, ensure_ascii=False, default=repr) + "\n")
        self.file.flush()


def _named_case(store: Any, progress: Progress, query: Any) -> Any:
    """A hypothesis test of one named query: its numeric parameters hostile; only QueryError may come out."""
    from graph import QueryError

    numeric = [p.name for p in query.params if p.kind != "text"]
    extra = {"person_id": "P000000000000"} if query.name == "person_360" else {}

    @SETTINGS
    @given(params=st.fixed_dictionaries({}, optional={n: VALUE for n in numeric}))
    def run(params: dict[str, Any]) -> None:
        progress.case(kind="named", query=query.name, params=params)
        try:
            store.run_query(query.name, {**extra, **params})
        except QueryError as error:
            assert error.param in params, (query.name, params, str(error))

    return run


def named_queries(store_dir: str, progress: Progress) -> None:
    """Every named query, as the CLI and notebooks call it, with the API's one thread per query."""
    from graph import CATALOGUE, EmbeddedStore
    from resolver.pipeline import StoreLayout

    store = EmbeddedStore(StoreLayout.for_store(store_dir).graph_spec, must_exist=True, threads=1)
    for query in CATALOGUE.values():
        _named_case(store, progress, query)()
    store.close()


def _client(store_dir: str):
    from fastapi.testclient import TestClient

    from api import create_app, load_settings
    from api.database import Database
    from api.security import Users

    config = load_settings({"store": store_dir, "flush_seconds": 0}, env={})
    users = Users(Database(config.database_file))
    tokens = {role: users.add(f"paging-{role}-{os.getpid()}", role, "120104" if role == "surveyor" else None)
              for role in ("surveyor", "steward", "analyst", "admin")}
    return TestClient(create_app(config)), {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def paged_endpoints(store_dir: str, progress: Progress) -> None:
    """Every paged endpoint and every named query over HTTP: only 200 or a 422 naming the parameter."""
    from graph import CATALOGUE

    client, headers = _client(store_dir)
    with client:
        run_id = client.get("/v1/health").json().get("run_id") or ""
        endpoints = [("/v1/worklists", "surveyor", {"district": "120104"}),
                     ("/v1/review/queue", "steward", {}),
                     ("/v1/surveys", "steward", {}),
                     ("/v1/changes", "surveyor", {"since": run_id or "2026-11-28"}),
                     ("/v1/audit", "admin", {"since": "2026-01-01T00:00:00+08:00"})]
        endpoints += [(f"/v1/queries/{q.name}", "analyst", {"person_id": "P000000000000"} if q.name == "person_360"
                       else {}) for q in CATALOGUE.values()]
        for path, role, fixed in endpoints:
            if path.startswith("/v1/queries/"):
                names = [p.name for p in CATALOGUE[path.rsplit("/", 1)[1]].params if p.kind != "text"]
            else:
                names = ["limit"] if path == "/v1/audit" else ["skip", "limit"]
            if names:
                _endpoint_case(client, headers[role], progress, path, fixed, names)()


def _endpoint_case(client: Any, headers: dict[str, str], progress: Progress, path: str, fixed: dict[str, str],
                   names: list[str]) -> Any:
    """A hypothesis test of one endpoint: its numeric parameters hostile (as query-string text)."""

    @SETTINGS
    @given(params=st.fixed_dictionaries({}, optional={n: VALUE for n in names}))
    def call(params: dict[str, Any]) -> None:
        query = {**fixed, **{k: str(v) for k, v in params.items()}}
        progress.case(kind="api", path=path, params=query)
        response = client.get(path, params=query, headers=headers)
        assert response.status_code in (200, 422), (path, query, response.status_code, response.text)
        if response.status_code == 422:
            named = {f["field"] for f in response.json()["error"]["fields"]}
            assert named & set(params), (path, query, response.text)

    return call


def worklist_past_end(store_dir: str, progress: Progress) -> None:
    """The issue's request: a surveyor's work list at skip=5000; prints the answer as JSON."""
    client, headers = _client(store_dir)
    with client:
        progress.case(kind="api", path="/v1/worklists", params={"district": "120104", "skip": 5000})
        response = client.get("/v1/worklists", params={"district": "120104", "skip": 5000},
                              headers=headers["surveyor"])
        print(json.dumps({"status": response.status_code, "body": response.json()}, ensure_ascii=False))


if __name__ == "__main__":
    store_arg, progress_arg, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    {"named": named_queries, "api": paged_endpoints, "worklist-past-end": worklist_past_end}[mode](
        store_arg, Progress(progress_arg))
