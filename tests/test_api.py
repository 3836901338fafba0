"""The REST API end to end on the committed sample: every endpoint, every role, masking, audit, one error shape.

The store is built from data/samples by the real pipeline; survey uploads use persons of
that synthetic sample (or ID numbers computed with check_digit), never real-looking data.
"""
from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api import create_app, load_settings
from api.database import Database
from api.security import Users
from graph.errors import StoreBusy
from resolver.errors import ConfigError
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.runs import load_linked_records, load_persons
from resolver.standardise.id_number import check_digit

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
AS_OF = dt.date(2026, 11, 28)
MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
ERROR_KEYS = {"status", "code", "message", "fields", "request_id"}


def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample resolved once per test session by the real pipeline (other API test modules share it)."""
    base = tmp_path_factory.getbasetemp() / "api-sample-store"
    if not (base / "ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        run_pipeline(SAMPLES, str(base), AS_OF)
        (base / "ready").touch()
    return base


def sample_store_copy(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A copy of the resolved sample of one's own (a served store's graph worker holds its database file)."""
    store = tmp_path_factory.mktemp(name) / "store"
    shutil.copytree(sample_store(tmp_path_factory), store)
    return store


@dataclass
class Subject:
    """A survey target of the sample: an UNENROLLED person placed in a district, with a valid ID."""

    person_id: str
    name: str
    id_number: str
    gender: str
    birth_date: str
    district: str
    street: str
    address: str


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    target: Subject
    other_district: str
    store: Path

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def pick_target(store: Path) -> Subject:
    layout = StoreLayout.for_store(str(store))
    persons, records = load_persons(layout), load_linked_records(layout)
    unenrolled = persons[(persons["status"] == "UNENROLLED") & persons["district_code"].notna()
                         & persons["id_number"].notna()].sort_values("person_id")
    for person in unenrolled.itertuples(index=False):
        own = records[(records["person_id"] == person.person_id) & (records["source"] == "police_resident")
                      & (records["residence_district_code"] == person.district_code)]
        if len(own) and person.street:
            return Subject(person.person_id, person.name, person.id_number,
                           "男" if person.gender == "M" else "女", str(pd.Timestamp(person.birth_date).date()),
                           person.district_code, person.street, own["residence_address_raw"].iloc[0])
    raise AssertionError("the sample has no placed UNENROLLED person with a police residence address")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    store = sample_store_copy(tmp_path_factory, "api")
    target = pick_target(store)
    other = "120101" if target.district != "120101" else "120102"
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    tokens = {
        "surveyor": users.add("surveyor", "surveyor", target.district),
        "surveyor_elsewhere": users.add("surveyor_elsewhere", "surveyor", other),
        "street": users.add("street", "street_reviewer", target.district),
        "district": users.add("district", "district_reviewer", target.district),
        "district_elsewhere": users.add("district_elsewhere", "district_reviewer", other),
        "steward": users.add("steward", "steward"),
        "analyst": users.add("analyst", "analyst"),
        "admin": users.add("admin", "admin"),
    }
    with TestClient(create_app(settings)) as client:
        yield World(client, tokens, target, other, store)


def assert_error(response, status: int) -> dict:
    """The one error shape, and its request id in the X-Request-ID header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status and body["error"]["message"]
    if "x-request-id" in response.headers:
        assert response.headers["x-request-id"] == body["error"]["request_id"]
    return body["error"]


def survey_of(subject: Subject, survey_id: str, **changes: str) -> dict:
    return {"survey_id": survey_id, "name": subject.name, "gender": subject.gender, "id_number": subject.id_number,
            "hukou_type": "非农业", "residence_address": subject.address, "unenrolled_reason": "灵活就业未参保",
            "survey_date": "2026-11-20", **changes}


# --- health and authentication ----------------------------------------------------------------

def test_health_needs_no_token_and_names_the_run(world):
    response = world.client.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["as_of"] == AS_OF.isoformat()


def test_a_request_without_a_token_is_refused_with_the_error_shape(world):
    response = world.client.post("/v1/resolve", json={"name": world.target.name})
    error = assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "canbao user add" in error["message"]
    assert_error(world.client.get("/v1/stats", headers={"Authorization": "Bearer cbk_not-a-token"}), 401)


def test_openapi_documents_every_endpoint_under_v1(world):
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/resolve", "/v1/persons/{person_id}", "/v1/persons", "/v1/worklists", "/v1/changes",
                 "/v1/surveys", "/v1/surveys/{survey_id}/review", "/v1/review/queue", "/v1/review/{item_id}",
                 "/v1/review/pair-{pair_key}/decision", "/v1/review/conflict-{person_id}/decision", "/v1/stats",
                 "/v1/queries", "/v1/queries/{name}", "/v1/queries/person_360", "/v1/health"):
        assert path in paths


# --- resolve --------------------------------------------------------------------------------

def test_a_surveyor_finds_the_person_at_the_door_by_name_and_birth_date(world):
    target = world.target
    response = world.client.post("/v1/resolve", json={"name": target.name, "birth_date": target.birth_date},
                                 headers=world.as_("surveyor"))
    assert response.status_code == 200, response.text
    body = response.json()
    best = body["candidates"][0]
    assert best["person_id"] == target.person_id
    assert body["decision"] in ("match", "review")
    assert best["person"]["status"]["status"] == "UNENROLLED"
    assert best["person"]["id_number"] == target.id_number and not best["person"]["masked"]
    steps = {step["field"]: step["level"] for step in best["explanation"]["fields"]}
    assert steps["name"] == "same_characters" and steps["birth_date"] == "exact"


def test_the_id_number_alone_is_a_certain_match(world):
    response = world.client.post("/v1/resolve", json={"id_number": world.target.id_number},
                                 headers=world.as_("surveyor"))
    best = response.json()["candidates"][0]
    assert (best["person_id"], best["method"], best["match_probability"]) == (world.target.person_id, "id_number", 1.0)
    assert response.json()["decision"] == "match"


@pytest.mark.parametrize("lock, thread_path", [("_state_lock", "candidates"), ("_graph_lock", "_with_persons_locked")])
def test_a_lookup_waits_for_a_writer_in_a_worker_thread_not_on_the_event_loop(world, monkeypatch, lock, thread_path):
    # Lookups run on the event loop while no writer holds the resolver state or the graph. While one does, the
    # lookup must wait in a worker thread: the loop keeps answering, and the answer is the same once it is free.
    body, headers = {"id_number": world.target.id_number}, world.as_("surveyor")
    free = world.client.post("/v1/resolve", json=body, headers=headers).json()
    engine = world.client.app.state.services.engine
    held, in_thread, original = getattr(engine, lock), threading.Event(), getattr(engine, thread_path)

    def entered(*args):
        in_thread.set()
        return original(*args)

    monkeypatch.setattr(engine, thread_path, entered)
    answers: list = []
    held.acquire()   # what attach_survey or a graph write holds for up to a second
    try:
        waiting = threading.Thread(target=lambda: answers.append(world.client.post("/v1/resolve", json=body,
                                                                                    headers=headers)))
        waiting.start()
        assert in_thread.wait(timeout=30), "the lookup did not move to a worker thread"
        health = []
        meanwhile = threading.Thread(target=lambda: health.append(world.client.get("/v1/health").status_code))
        meanwhile.start()
        meanwhile.join(timeout=10)
        assert health == [200], "the event loop stalled behind the writer's lock"
        assert waiting.is_alive() and not answers
    finally:
        held.release()
    waiting.join(timeout=30)
    assert answers and answers[0].status_code == 200
    assert answers[0].json() == free


def test_a_candidate_outside_the_surveyors_district_is_masked(world):
    response = world.client.post("/v1/resolve", json={"id_number": world.target.id_number},
                                 headers=world.as_("surveyor_elsewhere"))
    person = response.json()["candidates"][0]["person"]
    assert person["masked"] and MASKED_ID.match(person["id_number"])
    assert person["name"].startswith(world.target.name[0]) and "*" in person["name"]


def test_resolve_leaves_out_a_wrong_check_digit_and_says_so(world):
    """A mistyped ID number is a question the schema admits (its shape is right): the answer still ranks the
    person by the other fields and names the number in ``warnings``."""
    wrong = world.target.id_number[:17] + ("0" if world.target.id_number[17] != "0" else "1")
    alone = world.client.post("/v1/resolve", json={"id_number": wrong}, headers=world.as_("surveyor")).json()
    assert alone["decision"] == "no_match" and alone["candidates"] == []
    assert alone["warnings"][0]["field"] == "id_number" and "校验位" in alone["warnings"][0]["message"]
    body = {"id_number": wrong, "name": world.target.name, "birth_date": world.target.birth_date}
    found = world.client.post("/v1/resolve", json=body, headers=world.as_("surveyor")).json()
    assert found["candidates"][0]["person_id"] == world.target.person_id and found["warnings"]
    for blank in ({}, {"name": "  ", "address": ""}):
        error = assert_error(world.client.post("/v1/resolve", json=blank, headers=world.as_("surveyor")), 422)
        assert "至少" in error["fields"][0]["message"]
    for field, value in (("birth_date", "1980-02-30"), ("id_number", "12010119800101"), ("phone", "12345"),
                         ("gender", "X")):
        error = assert_error(world.client.post("/v1/resolve", json={"name": world.target.name, field: value},
                                               headers=world.as_("surveyor")), 422)
        assert error["fields"][0]["field"] == field
    error = assert_error(world.client.post("/v1/resolve", json={"name": "x", "limit": 99},
                                           headers=world.as_("surveyor")), 422)
    assert error["fields"] == [{"field": "limit", "message": "不能大于 20 (must be ≤ 20)"}]


def test_analysts_may_not_resolve_identities(world):
    assert_error(world.client.post("/v1/resolve", json={"name": "张伟"}, headers=world.as_("analyst")), 403)


# --- persons --------------------------------------------------------------------------------

def test_a_surveyor_reads_a_person_of_their_district_in_full(world):
    response = world.client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("surveyor"))
    assert response.status_code == 200
    body = response.json()
    assert body["person"]["id_number"] == world.target.id_number and not body["person"]["masked"]
    assert "police_resident" in body["records_by_source"]
    assert body["person"]["status"]["rule"].startswith("UNENROLLED")
    assert body["run"]["as_of"] == AS_OF.isoformat()


def test_a_surveyor_asking_for_another_district_is_refused(world):
    error = assert_error(world.client.get(f"/v1/persons/{world.target.person_id}",
                                          headers=world.as_("surveyor_elsewhere")), 403)
    assert "辖区" in error["message"]


def test_an_analyst_sees_masked_rows(world):
    body = world.client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("analyst")).json()
    assert body["person"]["masked"] and MASKED_ID.match(body["person"]["id_number"])
    assert len(body["person"]["birth_date"]) == 4
    for records in body["records_by_source"].values():
        for record in records:
            fields = record["fields"]
            assert "residence_address_raw" not in fields and "residence_room" not in fields
            if "phones" in fields:
                assert "****" in fields["phones"]
            if "id_number" in fields:
                assert "*" in fields["id_number"]


def test_a_steward_sees_any_person_in_full(world):
    body = world.client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("steward")).json()
    assert body["person"]["id_number"] == world.target.id_number


def test_an_unknown_or_malformed_person_id(world):
    assert_error(world.client.get("/v1/persons/P000000000000", headers=world.as_("steward")), 404)
    error = assert_error(world.client.get("/v1/persons/nobody", headers=world.as_("steward")), 422)
    assert error["fields"][0]["field"] == "person_id"


def test_persons_by_id_number_hide_other_districts(world):
    own = world.client.get("/v1/persons", params={"id_number": world.target.id_number},
                           headers=world.as_("surveyor")).json()
    assert [p["person_id"] for p in own["items"]] == [world.target.person_id] and own["hidden"] == 0
    elsewhere = world.client.get("/v1/persons", params={"id_number": world.target.id_number},
                                 headers=world.as_("surveyor_elsewhere")).json()
    assert elsewhere == {"items": [], "hidden": 1, "id_number_status": "valid"}


def test_a_number_failing_its_check_digit_is_held_by_nobody(world):
    """A well-shaped number with a wrong check digit is a question with an empty answer (the schema cannot state
    the check digit, so refusing it would refuse a request the schema admits); the verdict says why."""
    wrong = world.target.id_number[:17] + ("0" if world.target.id_number[17] != "0" else "1")
    answer = world.client.get("/v1/persons", params={"id_number": wrong}, headers=world.as_("steward")).json()
    assert answer == {"items": [], "hidden": 0, "id_number_status": "bad_check_digit"}
    no_such_day = world.target.id_number[:10] + "0230" + world.target.id_number[14:]
    answer = world.client.get("/v1/persons", params={"id_number": no_such_day}, headers=world.as_("steward")).json()
    assert answer["items"] == [] and answer["id_number_status"] == "malformed"
    for shape in ("1201011980010", "12010119800101123Y", "1201-0119-8001-0112-3X"):
        error = assert_error(world.client.get("/v1/persons", params={"id_number": shape},
                                              headers=world.as_("steward")), 422)
        assert error["fields"][0]["field"] == "id_number"


# --- work lists and changes -----------------------------------------------------------------

def test_the_surveyors_work_list_is_their_districts_unenrolled_persons(world):
    layout = StoreLayout.for_store(str(world.store))
    persons = load_persons(layout)
    expected = int(((persons["status"] == "UNENROLLED") & (persons["district_code"] == world.target.district)).sum())
    page = world.client.get("/v1/worklists", params={"limit": 200}, headers=world.as_("surveyor")).json()
    assert page["total"] == expected and page["area"]["district_code"] == world.target.district
    row = next(r for r in page["items"] if r["person_id"] == world.target.person_id)
    assert MASKED_ID.match(row["id_number"]) and row["address"]
    second = world.client.get("/v1/worklists", params={"skip": 1, "limit": 1}, headers=world.as_("surveyor")).json()
    assert len(second["items"]) == 1 and second["skip"] == 1


def test_a_surveyor_asking_for_another_districts_work_list_is_refused(world):
    assert_error(world.client.get("/v1/worklists", params={"district": world.other_district},
                                  headers=world.as_("surveyor")), 403)


def test_an_analyst_work_list_has_masked_names_and_community_level_addresses(world):
    page = world.client.get("/v1/worklists", params={"district": world.target.district, "limit": 5},
                            headers=world.as_("analyst")).json()
    for row in page["items"]:
        assert "*" in row["name"] or len(row["name"]) == 1
        assert row["address"] is None or not re.search(r"\d", row["address"])


def test_changes_since_the_run_itself_are_empty_and_need_a_known_run(world):
    run_id = world.client.get("/v1/health").json()["run_id"]
    body = world.client.get("/v1/changes", params={"since": run_id}, headers=world.as_("surveyor")).json()
    assert body["total"] == 0 and set(body["counts"]) >= {"NEWLY_UNENROLLED", "ENROLLED"}
    assert_error(world.client.get("/v1/changes", params={"since": "no-such-run"}, headers=world.as_("surveyor")), 404)
    assert_error(world.client.get("/v1/changes", params={"since": "1999-01-01"}, headers=world.as_("surveyor")), 404)
    assert_error(world.client.get("/v1/changes", params={"since": run_id, "district": world.other_district},
                                  headers=world.as_("surveyor")), 403)
    error = assert_error(world.client.get("/v1/changes", params={"since": run_id, "kind": "SOMETHING"},
                                          headers=world.as_("analyst")), 422)
    assert error["fields"][0]["field"].startswith("kind") and "NEWLY_UNENROLLED" in error["fields"][0]["message"]


# --- surveys (arts. 19-20) -------------------------------------------------------------------

def test_a_survey_goes_from_upload_to_confirmation_and_changes_the_persons_status(world):
    client, target = world.client, world.target
    upload = survey_of(target, "DC-API-0001")
    created = client.post("/v1/surveys", json=upload, headers=world.as_("surveyor"))
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "submitted" and created.json()["candidate_person"] == target.person_id

    again = client.post("/v1/surveys", json=upload, headers=world.as_("surveyor"))
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["updated_at"] == created.json()["updated_at"] and len(again.json()["history"]) == 1

    assert_error(client.post("/v1/surveys/DC-API-0001/review", json={"action": "confirm"},
                             headers=world.as_("district")), 409)          # the street centre approves first
    approved = client.post("/v1/surveys/DC-API-0001/review", json={"action": "approve"}, headers=world.as_("street"))
    assert approved.json()["state"] == "approved"
    assert_error(client.post("/v1/surveys/DC-API-0001/review", json={"action": "confirm"},
                             headers=world.as_("district_elsewhere")), 403)
    before = client.get(f"/v1/persons/{target.person_id}", headers=world.as_("surveyor")).json()
    assert "survey:DC-API-0001" not in {r["record_key"] for rs in before["records_by_source"].values() for r in rs}

    confirmed = client.post("/v1/surveys/DC-API-0001/review", json={"action": "confirm"}, headers=world.as_("district"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed" and confirmed.json()["person_id"] == target.person_id
    assert [c["person_id"] for c in confirmed.json()["status_changes"]] == [target.person_id]

    after = client.get(f"/v1/persons/{target.person_id}", headers=world.as_("surveyor")).json()
    surveys = after["records_by_source"]["survey"]
    assert "survey:DC-API-0001" in {r["record_key"] for r in surveys}
    assert "SURVEYED" in after["person"]["status"]["flags"]
    assert [e["action"] for e in confirmed.json()["history"]] == ["submit", "approve", "confirm"]


def test_a_repeated_upload_with_other_content_is_refused_until_returned(world):
    client = world.client
    upload = survey_of(world.target, "DC-API-0002")
    assert client.post("/v1/surveys", json=upload, headers=world.as_("surveyor")).status_code == 201
    changed = {**upload, "unenrolled_reason": "经济困难"}
    assert_error(client.post("/v1/surveys", json=changed, headers=world.as_("surveyor")), 409)
    error = assert_error(client.post("/v1/surveys/DC-API-0002/review", json={"action": "return"},
                                     headers=world.as_("street")), 422)
    assert error["fields"][0]["field"] == "reason"
    returned = client.post("/v1/surveys/DC-API-0002/review", json={"action": "return", "reason": "原因请再核实"},
                           headers=world.as_("street")).json()
    assert returned["state"] == "returned" and returned["return_reason"] == "原因请再核实"
    resubmitted = client.post("/v1/surveys", json=changed, headers=world.as_("surveyor"))
    assert resubmitted.status_code == 201 and resubmitted.json()["state"] == "submitted"
    assert resubmitted.json()["survey"]["unenrolled_reason"] == "经济困难"


def test_a_survey_with_errors_is_refused_field_by_field_and_nothing_is_stored(world):
    target = world.target
    wrong_digit = target.id_number[:17] + ("0" if target.id_number[17] != "0" else "1")
    upload = survey_of(target, "DC-API-0003", id_number=wrong_digit, unenrolled_reason="不想交")
    error = assert_error(world.client.post("/v1/surveys", json=upload, headers=world.as_("surveyor")), 422)
    fields = {f["field"]: f["message"] for f in error["fields"]}
    assert "校验位" in fields["id_number"] and "灵活就业未参保" in fields["unenrolled_reason"]
    error = assert_error(world.client.post("/v1/surveys", json={**survey_of(target, "DC-API-0003"),
                                                                "survey_date": "2026-13-01", "colour": "red"},
                                           headers=world.as_("surveyor")), 422)
    fields = {f["field"]: f["message"] for f in error["fields"]}
    assert fields["survey_date"].startswith("日期应为") and fields["colour"].startswith("不认识的字段")
    assert_error(world.client.get("/v1/surveys/DC-API-0003", headers=world.as_("surveyor")), 404)


def test_a_surveyor_may_not_upload_a_survey_of_another_district(world):
    assert_error(world.client.post("/v1/surveys", json=survey_of(world.target, "DC-API-0004"),
                                   headers=world.as_("surveyor_elsewhere")), 403)


def test_a_confirmed_survey_of_someone_unknown_creates_a_person(world):
    body17 = "1201041990010100" + "7"
    newcomer = Subject("", "欧阳新来", body17 + check_digit(body17), "男", "1990-01-01", world.target.district,
                       world.target.street, world.target.address)
    upload = survey_of(newcomer, "DC-API-0005", unenrolled_reason="不了解政策")
    assert world.client.post("/v1/surveys", json=upload, headers=world.as_("surveyor")).json()["candidate_person"] is None
    world.client.post("/v1/surveys/DC-API-0005/review", json={"action": "approve"}, headers=world.as_("street"))
    confirmed = world.client.post("/v1/surveys/DC-API-0005/review", json={"action": "confirm"},
                                  headers=world.as_("district")).json()
    person_id = confirmed["person_id"]
    # A survey alone proves no Tianjin household registration nor a residence permit (art. 4).
    assert person_id and confirmed["status_changes"][0]["after"] == "OUT_OF_SCOPE"
    person = world.client.get(f"/v1/persons/{person_id}", headers=world.as_("surveyor")).json()["person"]
    assert (person["name"], person["id_number"]) == ("欧阳新来", newcomer.id_number)
    assert person["place"]["district_code"] == world.target.district


def test_a_failed_confirmation_leaves_nothing_half_written(world, monkeypatch):
    client = world.client
    client.post("/v1/surveys", json=survey_of(world.target, "DC-API-0006", unenrolled_reason="经济困难"),
                headers=world.as_("surveyor"))
    client.post("/v1/surveys/DC-API-0006/review", json={"action": "approve"}, headers=world.as_("street"))
    engine = client.app.state.services.engine

    def busy(steps, operation):
        raise StoreBusy(engine.graph.describe, operation, "another process is writing", retryable=True)

    monkeypatch.setattr(engine.graph, "_write", busy)
    response = client.post("/v1/surveys/DC-API-0006/review", json={"action": "confirm"}, headers=world.as_("district"))
    assert_error(response, 503)
    assert response.headers["retry-after"]
    monkeypatch.undo()
    assert client.get("/v1/surveys/DC-API-0006", headers=world.as_("district")).json()["state"] == "approved"
    assert not engine.live.knows("survey:DC-API-0006")
    records = client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("steward")).json()
    assert "survey:DC-API-0006" not in {r["record_key"] for rs in records["records_by_source"].values() for r in rs}
    retried = client.post("/v1/surveys/DC-API-0006/review", json={"action": "confirm"}, headers=world.as_("district"))
    assert retried.json()["state"] == "confirmed"


def test_reviewers_list_the_surveys_of_their_district(world):
    page = world.client.get("/v1/surveys", params={"state": "submitted"}, headers=world.as_("street")).json()
    assert all(s["state"] == "submitted" and s["district_code"] == world.target.district for s in page["items"])
    elsewhere = world.client.get("/v1/surveys", headers=world.as_("district_elsewhere")).json()
    assert elsewhere["total"] == 0
    assert_error(world.client.get("/v1/surveys", headers=world.as_("analyst")), 403)


# --- stats, queries, audit ------------------------------------------------------------------

def test_the_monthly_figures_are_aggregates_for_every_role(world):
    body = world.client.get("/v1/stats", headers=world.as_("analyst")).json()
    assert body["month"] == "2026-11" and body["ranking"]
    total = next(d for d in body["districts"] if d["district_name"] == "全市合计")
    assert total["unenrolled"] > 0
    assert world.client.get("/v1/stats", headers=world.as_("surveyor")).status_code == 200
    assert_error(world.client.get("/v1/stats", params={"month": "2020-01"}, headers=world.as_("analyst")), 404)
    for month in ("0000-00", "2026-13", "2026-1"):
        error = assert_error(world.client.get("/v1/stats", params={"month": month}, headers=world.as_("analyst")), 422)
        assert error["fields"][0]["field"] == "month"


def test_analysts_run_named_queries_with_identities_masked(world):
    catalogue = world.client.get("/v1/queries", headers=world.as_("analyst")).json()
    assert "unenrolled_counts" in {q["name"] for q in catalogue}
    rows = world.client.get("/v1/queries/unenrolled_persons", params={"limit": 3},
                            headers=world.as_("analyst")).json()["rows"]
    assert rows and all(MASKED_ID.match(r["id_number"]) for r in rows if r["id_number"])
    counts = world.client.get("/v1/queries/unenrolled_counts", params={"district_code": world.target.district},
                              headers=world.as_("steward")).json()
    assert not counts["masked"] and counts["rows"]
    assert_error(world.client.get("/v1/queries/unenrolled_counts", headers=world.as_("surveyor")), 403)
    assert_error(world.client.get("/v1/queries/no_such_query", headers=world.as_("analyst")), 422)
    assert_error(world.client.get("/v1/queries/person_360", headers=world.as_("analyst")), 404)
    person = world.client.get("/v1/queries/person_360", params={"person_id": world.target.person_id},
                              headers=world.as_("analyst")).json()
    assert person["rows"] and person["masked"]
    assert_error(world.client.get("/v1/queries/unenrolled_persons", params={"limit": "many"},
                                  headers=world.as_("analyst")), 422)
    assert_error(world.client.get("/v1/queries/unenrolled_persons", params={"limit": 5000},
                                  headers=world.as_("analyst")), 422)


def test_every_read_of_personal_data_is_in_the_append_only_audit_log(world):
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    world.client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("steward"))
    world.client.get(f"/v1/persons/{world.target.person_id}", headers=world.as_("surveyor_elsewhere"))
    entries = world.client.get("/v1/audit", params={"since": since.isoformat(), "person": world.target.person_id},
                               headers=world.as_("admin")).json()
    read = next(e for e in entries if e["user"] == "steward")
    assert (read["endpoint"], read["status"], read["persons"]) == ("/v1/persons/{person_id}", 200,
                                                                   [world.target.person_id])
    refused = world.client.get("/v1/audit", params={"since": since.isoformat(), "user": "surveyor_elsewhere"},
                               headers=world.as_("admin")).json()
    assert refused[-1]["status"] == 403
    assert_error(world.client.get("/v1/audit", params={"since": since.isoformat()}, headers=world.as_("steward")), 403)
    database = world.client.app.state.services.database
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with database.transaction() as conn:
            conn.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with database.transaction() as conn:
            conn.execute("UPDATE audit SET user = 'nobody'")


# --- who may call what ------------------------------------------------------------------------

ROLES = ("surveyor", "street", "district", "steward", "analyst", "admin")
ALLOWED = {
    ("POST", "/v1/resolve"): {"surveyor", "street", "district", "steward", "admin"},
    ("GET", "/v1/surveys"): {"surveyor", "street", "district", "steward", "admin"},
    ("GET", "/v1/review/queue"): {"steward", "admin"},
    ("GET", "/v1/queries"): {"analyst", "steward", "admin"},
    ("GET", "/v1/stats"): set(ROLES),
    ("GET", "/v1/audit?since=2026-01-01T00:00:00"): {"admin"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path", list(ALLOWED))
def test_each_role_reaches_exactly_its_endpoints(world, method, path, role):
    response = world.client.request(method, path, headers=world.as_(role),
                                    json={"id_number": world.target.id_number} if method == "POST" else None)
    if role in ALLOWED[(method, path)]:
        assert response.status_code == 200, response.text
    else:
        assert "可用角色" in assert_error(response, 403)["message"]


# --- one error shape --------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body, user, status", [
    ("GET", "/v1/no-such-endpoint", None, "steward", 404),
    ("DELETE", "/v1/resolve", None, "steward", 405),
    ("POST", "/v1/resolve", "not json", "surveyor", 422),
    ("POST", "/v1/resolve", ["a", "list"], "surveyor", 422),
    ("GET", "/v1/review/queue", None, "surveyor", 403),
    ("GET", "/v1/review/pair-bm90aGluZw", None, "steward", 404),
    ("GET", "/v1/worklists", None, "steward", 404),
])
def test_every_failure_has_the_one_error_shape(world, method, path, body, user, status):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body} if body is not None else {}
    assert_error(world.client.request(method, path, headers=world.as_(user), **kwargs), status)


def test_a_body_over_the_limit_is_refused_before_it_is_read(world):
    error = assert_error(world.client.post("/v1/resolve", content=b"{" + b" " * 70_000 + b"}",
                                           headers={**world.as_("surveyor"), "content-type": "application/json"}), 413)
    assert "KB" in error["message"]


def test_an_unexpected_error_is_a_500_without_internals(world, monkeypatch):
    engine = world.client.app.state.services.engine

    def broken(fragment, config):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine.live, "candidates", broken)   # the resolver fails under the lookup
    client = TestClient(world.client.app, raise_server_exceptions=False)   # no `with`: the running app, no new lifespan
    response = client.post("/v1/resolve", json={"name": "张伟"}, headers=world.as_("surveyor"))
    error = assert_error(response, 500)
    assert "secret" not in error["message"]


# --- settings and the command line ------------------------------------------------------------

def test_settings_refuse_a_store_without_a_run(tmp_path):
    with pytest.raises(ConfigError, match="canbao run"):
        load_settings({"store": str(tmp_path)}, env={})
    with pytest.raises(ConfigError, match="port"):
        load_settings({"store": str(tmp_path), "port": 0}, env={})


def test_user_add_prints_the_token_once_on_its_last_line_and_audit_lists_requests(world, capsys):
    from canbao.cli import main

    assert main(["user", "add", "--store", str(world.store), "--name", "cli_reviewer", "--role",
                 "district_reviewer", "--district", world.target.district]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("cbk_")
    response = world.client.get("/v1/surveys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert main(["user", "list", "--store", str(world.store)]) == 0
    listing = capsys.readouterr().out
    assert "cli_reviewer" in listing and token not in listing
    assert main(["user", "add", "--store", str(world.store), "--name", "nodistrict", "--role", "surveyor"]) == 2
    assert "--district" in capsys.readouterr().err
    assert main(["audit", "--store", str(world.store), "--since", "2000-01-01", "--user", "cli_reviewer"]) == 0
    assert "/v1/surveys" in capsys.readouterr().out
