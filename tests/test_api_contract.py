"""The OpenAPI schema is a promise (issue 20): answers validate against their declared models, requests the
schema admits are accepted and those it refuses are refused, 405/OPTIONS name every method of the path, and
schemathesis — a tool nobody here wrote — finds nothing when run from its command line against `canbao serve`.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api import create_app, load_settings
from api.database import Database
from api.models import DATE_PATTERN, DATE_TIME_PATTERN, MONTH_PATTERN
from api.security import Users
from test_api import assert_error, pick_target, sample_store_copy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOOKS = "api.contract.schemathesis_hooks"   # the custom formats' values (SCHEMATHESIS_HOOKS)
ROLES = {"admin": None, "steward": None, "analyst": None, "surveyor": "120104", "street_reviewer": "120104",
         "district_reviewer": "120104"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    store = sample_store_copy(tmp_path_factory, "contract")
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    headers = {role: {"Authorization": f"Bearer {users.add(f'c_{role}', role, district)}"}
               for role, district in ROLES.items()}
    with TestClient(create_app(settings)) as client:
        yield client, headers, pick_target(store)


def _validator(client: TestClient, path: str, method: str, status: int) -> jsonschema.protocols.Validator:
    """A validator for one operation's documented answer, with the schema's formats checked (date-time needs
    its offset, as RFC 3339 says)."""
    spec = client.get("/openapi.json").json()
    schema = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(spec, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator(_rebased(schema), registry=registry, format_checker=_formats())


def _rebased(node):
    """'#/components/…' refs of an operation's schema pointed at the whole document (urn:openapi)."""
    if isinstance(node, dict):
        return {k: ("urn:openapi" + v if k == "$ref" and v.startswith("#") else _rebased(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebased(v) for v in node]
    return node


def _formats() -> jsonschema.FormatChecker:
    """date and date-time as RFC 3339 states them (jsonschema checks date-time only with an optional package)."""
    checker = jsonschema.FormatChecker(formats=("date",))
    rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(rfc3339.match(value)))
    return checker


def test_answers_validate_against_their_declared_schemas(api):
    """Each answer against the OpenAPI schema the survey system is generated from (RunOut's landed_at lacked its
    offset: a naive time is not an RFC 3339 date-time)."""
    client, headers, target = api
    queue = client.get("/v1/review/queue", headers=headers["steward"]).json()["items"]
    run_id = client.get("/v1/health").json()["run_id"]
    calls = [
        ("/v1/persons/{person_id}", f"/v1/persons/{target.person_id}", {}),
        ("/v1/persons", "/v1/persons", {"id_number": target.id_number}),
        ("/v1/review/queue", "/v1/review/queue", {}),
        ("/v1/review/{item_id}", f"/v1/review/{queue[0]['item_id']}", {}),
        ("/v1/worklists", "/v1/worklists", {"district": target.district, "limit": 5}),
        ("/v1/changes", "/v1/changes", {"since": run_id}),
        ("/v1/stats", "/v1/stats", {}),
        ("/v1/queries", "/v1/queries", {}),
        ("/v1/queries/person_360", "/v1/queries/person_360", {"person_id": target.person_id}),
        ("/v1/audit", "/v1/audit", {"since": "2000-01-01"}),
        ("/v1/health", "/v1/health", {}),
    ]
    for template, path, params in calls:
        response = client.get(path, params=params, headers=headers["admin"])
        assert response.status_code == 200, (path, response.text)
        errors = [e.message for e in _validator(client, template, "get", 200).iter_errors(response.json())]
        assert not errors, (path, errors[:3])
    answer = client.get(f"/v1/persons/{target.person_id}", headers=headers["admin"]).json()
    assert re.search(r"([+-]\d{2}:\d{2}|Z)$", answer["run"]["landed_at"])


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/v1/surveys", "GET, POST, OPTIONS"),
    ("PUT", "/v1/surveys", "GET, POST, OPTIONS"),
    ("GET", "/v1/resolve", "POST, OPTIONS"),
    ("GET", "/v1/review/pair-abcd/decision", "POST, OPTIONS"),
    ("POST", "/v1/persons/P0027f3185588", "GET, OPTIONS"),
])
def test_a_405_lists_every_method_of_the_path(api, method, path, allow):
    client, headers, _ = api
    response = client.request(method, path, headers=headers["admin"])
    assert_error(response, 405)
    assert response.headers["allow"] == allow


def test_options_answers_with_the_methods_of_the_path(api):
    client, _, _ = api
    response = client.options("/v1/surveys")
    assert (response.status_code, response.headers["allow"], response.content) == (204, "GET, POST, OPTIONS", b"")
    assert client.options("/v1/review/conflict-P0027f3185588/decision").headers["allow"] == "POST, OPTIONS"
    assert_error(client.options("/v1/no-such-path"), 404)


@pytest.mark.parametrize("since, status", [
    ("0.5", 422), ("1700000000", 422), ("2026-02-30", 422), ("2026-11-28T24:00", 422), ("2026-11-28T09:00+24:00", 422),
    ("2026-11-28", 200), ("2028-02-29", 200), ("2026-11-28T09:00", 200), ("2026-11-28T09:00:00.5Z", 200),
    ("2026-11-28 09:00:00+08:00", 200),
])
def test_the_audit_log_takes_a_date_or_date_time_and_nothing_else(api, since, status):
    client, headers, _ = api
    response = client.get("/v1/audit", params={"since": since}, headers=headers["admin"])
    assert response.status_code == status, response.text
    if status == 422:
        assert assert_error(response, 422)["fields"][0]["field"] == "since"


def test_every_string_the_date_patterns_admit_is_a_real_date():
    """The patterns are the schema's promise: whatever matches must parse (exhaustively, over 1900-2099)."""
    import datetime as dt
    days = [f"{y:04d}-{m:02d}-{d:02d}" for y in range(1899, 2101) for m in range(0, 14) for d in range(0, 33)]
    admitted = {d for d in days if re.fullmatch(DATE_PATTERN, d)}
    real = set()
    for text in days:
        try:
            real.add(dt.date.fromisoformat(text).isoformat())
        except ValueError:
            pass
    assert admitted == {d for d in real if 1900 <= int(d[:4]) <= 2099}
    assert re.fullmatch(DATE_TIME_PATTERN, "2000-02-29T23:59:59.999999-23:59")
    assert not re.fullmatch(MONTH_PATTERN, "0000-00") and re.fullmatch(MONTH_PATTERN, "2026-11")


def test_a_conflict_decision_names_records_of_the_person(api):
    """Records that exist but are not the conflict's are a conflict with the item (409); a pair's own records
    come from its item id, so its body may not name any (422, unknown field)."""
    client, headers, target = api
    pair = client.get("/v1/review/queue", params={"kind": "pair"}, headers=headers["steward"]).json()["items"][0]
    body = {"decision": "not_match", "record_key_l": pair["record_key_l"], "record_key_r": pair["record_key_r"]}
    other = target.person_id if target.person_id not in (pair["person_id_l"], pair["person_id_r"]) else None
    assert other, "the target must not be one of the pair's persons"
    error = assert_error(client.post(f"/v1/review/conflict-{other}/decision", json=body, headers=headers["steward"]),
                         409)
    assert error["fields"][0]["field"] == "record_key_l"
    same = {**body, "record_key_r": body["record_key_l"]}
    assert_error(client.post(f"/v1/review/conflict-{other}/decision", json=same, headers=headers["steward"]), 409)
    missing = {**body, "record_key_r": "police_resident:NO-SUCH-RECORD"}
    assert_error(client.post(f"/v1/review/conflict-{other}/decision", json=missing, headers=headers["steward"]), 404)
    error = assert_error(client.post(f"/v1/review/{pair['item_id']}/decision", json=body, headers=headers["steward"]),
                         422)
    assert {f["field"] for f in error["fields"]} == {"record_key_l", "record_key_r"}


def test_a_citywide_role_without_a_district_has_no_own_work_list(api):
    client, headers, target = api
    assert "district" in assert_error(client.get("/v1/worklists", headers=headers["steward"]), 404)["message"]
    assert client.get("/v1/worklists", headers=headers["surveyor"]).status_code == 200


# --- schemathesis from its command line against `canbao serve` ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _token(store: Path, env: dict[str, str], role: str, district: str | None) -> str:
    command = [str(BIN / "canbao"), "user", "add", "--store", str(store), "--name", f"st_{role}", "--role", role]
    out = subprocess.run(command + (["--district", district] if district else []), env=env, check=True,
                         capture_output=True, text=True).stdout
    return re.search(r"cbk_[A-Za-z0-9_\-]+", out).group(0)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`canbao serve` on a copy of the sample store, on a free port of 127.0.0.1, and a token per role."""
    store = sample_store_copy(tmp_path_factory, "served")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tokens = {role: _token(store, env, role, district) for role, district in ROLES.items()}
    port = _free_port()
    server = subprocess.Popen([str(BIN / "canbao"), "serve", "--store", str(store), "--host", "127.0.0.1",
                               "--port", str(port), "--flush-seconds", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):              # the store opens in a few seconds; give up after ~60 s of polling
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            try:
                server.wait(timeout=0.1)  # returns only if the server died
                pytest.fail(f"canbao serve exited {server.returncode}: {server.stderr.read()[-2000:]}")
            except subprocess.TimeoutExpired:
                pass
        else:
            pytest.fail("canbao serve did not answer /v1/health")
        yield base, tokens
    finally:
        server.terminate()
        server.wait(timeout=30)


# Every operation, all checks, a fixed seed: the admin, who may call everything, through every phase; the other
# roles (mostly 403 answers, masking otherwise) with fewer examples and no coverage phase, to keep this under a
# minute on two cores.
RUNS = [("admin", ["--max-examples", "10"])] + [
    (role, ["--max-examples", "3", "--phases", "fuzzing,stateful"]) for role in ROLES if role != "admin"]


def test_a_work_list_page_past_the_end_is_empty_and_the_server_lives(served):
    """In the served child process: LadybugDB crashes on ORDER BY … SKIP past the last row."""
    base, tokens = served
    page = httpx.get(f"{base}/v1/worklists", params={"skip": 10_000_000},
                     headers={"Authorization": f"Bearer {tokens['surveyor']}"}, timeout=30).json()
    assert page["items"] == [] and page["total"] > 0
    assert httpx.get(f"{base}/v1/health", timeout=30).status_code == 200


def test_schemathesis_finds_nothing_for_any_role(served, tmp_path):
    """With the repository's hooks module, which gives schemathesis values for the schema's custom formats."""
    base, tokens = served
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": HOOKS}
    reports = {}
    for role, options in RUNS:
        run = subprocess.run([str(BIN / "st"), "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {tokens[role]}",
                              "--checks", "all", "--seed", "1", "--no-color", "--generation-database", "none",
                              *options], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
        if run.returncode != 0 or "failures" in run.stdout.splitlines()[-1]:
            reports[role] = run.stdout[-6000:] + run.stderr[-2000:]
    assert not reports, "\n\n".join(f"=== {role}\n{text}" for role, text in reports.items())
