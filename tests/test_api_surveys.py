"""Surveys through the API (issue 13 §4, issue 20): who owns a survey id, the surveyor of record, the queue of
surveys whose person lives in another district, four eyes, and an upload schema that states its real rules.

The store is the committed sample resolved by the real pipeline (shared with test_api.py); the persons are
that synthetic sample's, never real-looking data.
"""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings

from api import create_app, load_settings
from api.contract import schemathesis_hooks
from api.database import Database
from api.models import ADDRESS_FORMAT, ID_FORMAT
from api.security import Users
from resolver.ledger import survey_summary
from resolver.mapping import load_mappings
from resolver.schema import TRUSTED_ID_STATUSES
from resolver.standardise.address import parse_address
from resolver.standardise.id_number import standardise_id_number
from test_api import World as ApiWorld
from test_api import assert_error, pick_target, sample_store_copy, survey_of

UNPLACEABLE = "某某地方"   # an address the parser places in no district


class World(ApiWorld):
    """The API world with the survey steps as calls."""

    def post(self, user: str, reviewed: str | None = None, /, **body):
        """An upload, or with ``reviewed`` (a survey id) a review step."""
        path = f"/v1/surveys/{reviewed}/review" if reviewed else "/v1/surveys"
        return self.client.post(path, json=body, headers=self.as_(user))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    store = sample_store_copy(tmp_path_factory, "surveys")
    target = pick_target(store)
    other = "120101" if target.district != "120101" else "120102"
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    here, there = target.district, other
    tokens = {
        "surveyor": users.add("surveyor", "surveyor", here),
        "surveyor_colleague": users.add("surveyor_colleague", "surveyor", here),
        "surveyor_elsewhere": users.add("surveyor_elsewhere", "surveyor", there),
        "street": users.add("street", "street_reviewer", here),
        "street_elsewhere": users.add("street_elsewhere", "street_reviewer", there),
        "district": users.add("district", "district_reviewer", here),
        "district_elsewhere": users.add("district_elsewhere", "district_reviewer", there),
        "steward": users.add("steward", "steward"),
        **{name: users.add(name, "admin") for name in ("admin", "admin_two", "admin_three")},
    }
    with TestClient(create_app(settings)) as client:
        yield World(client, tokens, target, other, store)


# --- ownership of a survey id (issue 13 §4, first bullet) --------------------------------------

def test_a_returned_survey_cannot_be_taken_over_by_a_surveyor_of_another_district(world):
    upload = survey_of(world.target, "DC-OWN-1")
    assert world.post("surveyor", **upload).status_code == 201
    world.post("street", "DC-OWN-1", action="return", reason="地址不全")
    takeover = {**upload, "residence_address": UNPLACEABLE}
    error = assert_error(world.post("surveyor_elsewhere", **takeover), 403)
    assert "原调查员" in error["message"] and "first submitted" in error["message"]
    survey = world.client.get("/v1/surveys/DC-OWN-1", headers=world.as_("surveyor")).json()
    assert (survey["state"], survey["district_code"], survey["submitted_by"]) == ("returned", world.target.district,
                                                                                "surveyor")


def test_only_the_first_submitter_corrects_a_returned_survey(world):
    upload = survey_of(world.target, "DC-OWN-2")
    world.post("surveyor", **upload)
    world.post("street", "DC-OWN-2", action="return", reason="原因请再核实")
    corrected = {**upload, "unenrolled_reason": "经济困难"}
    assert_error(world.post("surveyor_colleague", **corrected), 403)
    again = world.post("surveyor", **corrected)
    assert again.status_code == 201 and again.json()["state"] == "submitted"
    assert [e["actor"] for e in again.json()["history"]] == ["surveyor", "street", "surveyor"]


def test_a_correction_stays_in_the_district_that_first_submitted_it(world):
    upload = survey_of(world.target, "DC-OWN-3")
    assert world.post("admin", **upload).status_code == 201
    world.post("admin_two", "DC-OWN-3", action="return", reason="请补充")
    error = assert_error(world.post("admin", **{**upload, "residence_address": UNPLACEABLE}), 409)
    assert world.target.district in error["message"]


# --- the surveyor of record (second bullet) ----------------------------------------------------

@pytest.mark.parametrize("surveyor_id", ["DY9001", "surveyor"])
def test_an_upload_names_no_surveyor_the_signed_in_user_is_it(world, surveyor_id):
    """The body has no surveyor_id (the schema lists none): another user's name or the caller's own is refused."""
    error = assert_error(world.post("surveyor", **survey_of(world.target, "DC-WHO-1", surveyor_id=surveyor_id)), 422)
    assert [f["field"] for f in error["fields"]] == ["surveyor_id"]
    assert "signed-in user" in error["fields"][0]["message"]
    assert_error(world.client.get("/v1/surveys/DC-WHO-1", headers=world.as_("surveyor")), 404)
    assert "surveyor_id" not in world.client.get("/openapi.json").json()["components"]["schemas"]["SurveyIn"][
        "properties"]


def test_the_ledger_credits_the_signed_in_surveyor(world):
    created = world.post("surveyor", **survey_of(world.target, "DC-WHO-2"))   # no surveyor_id: the caller's name
    assert created.status_code == 201 and created.json()["survey"]["surveyor_id"] == "surveyor"
    world.post("street", "DC-WHO-2", action="approve")
    confirmed = world.post("district", "DC-WHO-2", action="confirm").json()
    view = world.client.get(f"/v1/persons/{confirmed['person_id']}", headers=world.as_("steward")).json()
    record = next(r for r in view["records_by_source"]["survey"] if r["record_key"] == "survey:DC-WHO-2")
    assert record["fields"]["surveyor_id"] == "surveyor"
    frame = pd.DataFrame([{**record["fields"], "person_id": confirmed["person_id"], "record_key": record["record_key"],
                           "source": "survey"}])
    assert "（调查员 surveyor）" in survey_summary(frame).loc[confirmed["person_id"], "survey_history"]


# --- a person of another district (third bullet) -----------------------------------------------

def test_a_survey_of_another_districts_resident_waits_for_that_districts_centre(world):
    target = world.target
    upload = survey_of(target, "DC-X-1", residence_address=UNPLACEABLE)
    created = world.post("surveyor_elsewhere", **upload)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["state"], body["district_code"], body["other_district"]) == ("awaiting_other_district", world.other_district,
                                                                             target.district)
    assert body["candidate_person"] is None and body["candidate_probability"] is None   # not this surveyor's person
    assert_error(world.post("street_elsewhere", "DC-X-1", action="approve"), 403)
    assert_error(world.post("district_elsewhere", "DC-X-1", action="agree"), 403)

    queue = world.client.get("/v1/surveys", params={"state": "awaiting_other_district"},
                             headers=world.as_("district")).json()
    waiting = next(s for s in queue["items"] if s["survey_id"] == "DC-X-1")
    assert waiting["candidate_person"] == target.person_id and waiting["survey"]["id_number"] == target.id_number
    assert_error(world.post("district", "DC-X-1", action="confirm"), 409)
    agreed = world.post("district", "DC-X-1", action="agree")
    assert agreed.status_code == 200 and agreed.json()["state"] == "submitted"

    world.post("street_elsewhere", "DC-X-1", action="approve")
    confirmed = world.post("district_elsewhere", "DC-X-1", action="confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    assert confirmed.json()["person_id"] is None and confirmed.json()["status_changes"] == []
    seen = world.client.get("/v1/surveys/DC-X-1", headers=world.as_("district")).json()
    assert seen["person_id"] == target.person_id
    assert [e["action"] for e in seen["history"]] == ["submit", "agree", "approve", "confirm"]


def test_the_other_districts_centre_may_return_it(world):
    world.post("surveyor_elsewhere", **survey_of(world.target, "DC-X-2", residence_address=UNPLACEABLE))
    assert_error(world.post("district", "DC-X-2", action="return", reason="  "), 422)
    returned = world.post("district", "DC-X-2", action="return", reason="本区无此人的居住记录")
    assert returned.json()["state"] == "returned"
    mine = world.client.get("/v1/surveys/DC-X-2", headers=world.as_("surveyor_elsewhere")).json()
    assert mine["return_reason"] == "本区无此人的居住记录" and mine["candidate_person"] is None


def test_a_survey_whose_person_moved_districts_is_referred_before_confirmation(world, monkeypatch):
    # Approved while its best candidate lived in its own district; at confirmation the candidate is another
    # district's person (a move or a merge since): it goes to that district's centre instead of attaching.
    world.post("surveyor", **survey_of(world.target, "DC-X-3"))
    world.post("street", "DC-X-3", action="approve")
    engine = world.client.app.state.services.engine
    real = engine.candidates

    def moved(record, limit):
        return [c.__class__(**{**vars(c), "person": c.person.__class__(**{**vars(c.person),
                                                                          "district_code": world.other_district})})
                for c in real(record, limit)]

    monkeypatch.setattr(engine, "candidates", moved)
    error = assert_error(world.post("district", "DC-X-3", action="confirm"), 409)
    assert world.other_district in error["message"]
    monkeypatch.undo()
    survey = world.client.get("/v1/surveys/DC-X-3", headers=world.as_("district_elsewhere")).json()
    assert survey["state"] == "awaiting_other_district" and survey["person_id"] is None
    assert not engine.live.knows("survey:DC-X-3")


# --- four eyes (fourth bullet) -----------------------------------------------------------------

def test_four_eyes_hold_for_admins_too(world):
    assert world.post("admin", **survey_of(world.target, "DC-4E-1")).status_code == 201
    error = assert_error(world.post("admin", "DC-4E-1", action="approve"), 403)
    assert "四眼" in error["message"] and "four eyes" in error["message"]
    assert world.post("admin_two", "DC-4E-1", action="approve").json()["state"] == "approved"
    assert "approved" in assert_error(world.post("admin_two", "DC-4E-1", action="confirm"), 403)["message"]
    assert "submitted" in assert_error(world.post("admin", "DC-4E-1", action="confirm"), 403)["message"]
    assert world.post("admin_three", "DC-4E-1", action="confirm").json()["state"] == "confirmed"


# --- the upload schema states the real rules (issue 20) ----------------------------------------

def test_a_survey_that_says_nothing_about_anybody_is_refused_naming_the_fields(world):
    body = {"survey_id": "DC-NIL-1", "name": "0", "id_number": "", "residence_address": "0", "survey_date": 0}
    error = assert_error(world.post("surveyor", **body), 422)
    assert {f["field"] for f in error["fields"]} == {"name", "id_number", "residence_address", "survey_date"}
    assert_error(world.client.get("/v1/surveys/DC-NIL-1", headers=world.as_("surveyor")), 404)


@pytest.mark.parametrize("date", [0, 20261120, "1899-12-31", "2101-01-01", "2026-02-30", "20.11.2026"])
def test_a_survey_date_is_text_within_1900_to_2100(world, date):
    error = assert_error(world.post("surveyor", **survey_of(world.target, "DC-DATE-1", survey_date=date)), 422)
    assert [f["field"] for f in error["fields"]] == ["survey_date"]


def test_a_survey_needs_an_id_number_or_an_address_that_places_the_person(world):
    upload = {k: v for k, v in survey_of(world.target, "DC-NIL-2").items() if k not in ("id_number",
                                                                                       "residence_address")}
    error = assert_error(world.post("surveyor", **upload), 422)
    assert {f["field"] for f in error["fields"]} == {"id_number", "residence_address"}
    error = assert_error(world.post("surveyor", **{**upload, "residence_address": UNPLACEABLE}), 422)
    assert {f["field"] for f in error["fields"]} == {"id_number", "residence_address"}
    placed = world.post("surveyor", **{**upload, "residence_address": world.target.address})
    assert placed.status_code == 201, placed.text


def test_a_review_states_its_action_and_a_return_its_reason(world):
    world.post("surveyor", **survey_of(world.target, "DC-REV-1"))
    error = assert_error(world.post("street", "DC-REV-1", action="reject"), 422)
    assert [f["field"] for f in error["fields"]] == ["action"]
    error = assert_error(world.post("street", "DC-REV-1", action="return", reason="   "), 422)
    assert [f["field"] for f in error["fields"]] == ["reason"]
    error = assert_error(world.post("street", "DC-REV-1", action="approve", reason="ok"), 422)
    assert [f["field"] for f in error["fields"]] == ["reason"]


def test_the_schema_states_codes_patterns_and_the_conditional_reason(world):
    schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
    upload = schemas["SurveyIn"]
    mapping = load_mappings()["survey"]
    reasons = next(spec.values for spec in mapping.columns.values() if spec.field == "unenrolled_reason")
    assert upload["properties"]["unenrolled_reason"]["anyOf"][0]["enum"] == reasons
    assert upload["properties"]["survey_date"]["pattern"].startswith("^(?:19")
    assert upload["properties"]["id_number"]["anyOf"][0]["pattern"] and upload["properties"]["phone"]["anyOf"][0]["pattern"]
    assert [branch["required"] for branch in upload["anyOf"]] == [["id_number"], ["residence_address"]]
    body = world.client.get("/openapi.json").json()["paths"]["/v1/surveys/{survey_id}/review"]["post"]["requestBody"]
    review = body["content"]["application/json"]["schema"]
    assert review["discriminator"]["propertyName"] == "action"
    assert set(review["discriminator"]["mapping"]) == {"approve", "confirm", "agree", "return"}
    returned = schemas["ReturnIn"]
    assert "reason" in returned["required"] and returned["properties"]["reason"]["minLength"] == 1


def test_the_code_lists_come_from_the_stores_survey_mapping(world, tmp_path):
    text = (Path(__file__).resolve().parents[1] / "resolver" / "sources" / "survey.yaml").read_text("utf-8")
    (tmp_path / "survey.yaml").write_text(text.replace("查无此人, 其他", "查无此人, 长期外出, 其他"), "utf-8")
    settings = load_settings({"store": str(world.store), "sources": str(tmp_path)}, env={})
    schema = create_app(settings).openapi()["components"]["schemas"]["SurveyIn"]
    assert "长期外出" in schema["properties"]["unenrolled_reason"]["anyOf"][0]["enum"]


# --- the rules a pattern cannot state are in the schema too (issue 20) ---------------------------

def _upload_schema(world) -> tuple[dict, jsonschema.FormatChecker]:
    """SurveyIn from /openapi.json, and a format checker that knows its custom formats as the service applies them."""
    schema = world.client.get("/openapi.json").json()["components"]["schemas"]["SurveyIn"]
    checker = jsonschema.FormatChecker(formats=())
    checker.checks(ID_FORMAT)(lambda v: not isinstance(v, str) or standardise_id_number(v).status in TRUSTED_ID_STATUSES)
    checker.checks(ADDRESS_FORMAT)(lambda v: not isinstance(v, str) or parse_address(v).district_code is not None)
    return schema, checker


def _admits(schema: dict, checker: jsonschema.FormatChecker, body: dict) -> bool:
    return jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(body)


def test_the_schema_states_the_id_numbers_format(world):
    schema, checker = _upload_schema(world)
    branch = next(b for b in schema["properties"]["id_number"]["anyOf"] if b["type"] == "string")
    assert branch["format"] == ID_FORMAT and ID_FORMAT in schema["properties"]["id_number"]["description"]
    body = survey_of(world.target, "DC-FMT-1")
    wrong_digit = body["id_number"][:17] + ("1" if body["id_number"][17] != "1" else "2")
    assert _admits(schema, checker, body) and not _admits(schema, checker, {**body, "id_number": wrong_digit})
    assert_error(world.post("surveyor", **{**body, "id_number": wrong_digit}), 422)


def test_the_schema_states_the_gender_the_id_number_gives(world):
    schema, checker = _upload_schema(world)
    body = survey_of(world.target, "DC-FMT-2")
    other = {"男": "女", "女": "男"}[body["gender"]]
    assert _admits(schema, checker, body) and _admits(schema, checker, {**body, "gender": None})
    assert not _admits(schema, checker, {**body, "gender": other})
    legacy = {**body, "id_number": "120104820101" + ("001" if other == "男" else "002")}   # odd last digit: 男
    assert _admits(schema, checker, {**legacy, "gender": other}) and not _admits(schema, checker, legacy)
    error = assert_error(world.post("surveyor", **{**body, "gender": other}), 422)
    assert [f["field"] for f in error["fields"]] == ["gender"]


def test_the_schema_states_that_without_an_id_number_the_address_must_place_the_person(world):
    schema, checker = _upload_schema(world)
    body = {k: v for k, v in survey_of(world.target, "DC-FMT-3").items() if k not in ("id_number", "gender")}
    assert _admits(schema, checker, body)
    assert not _admits(schema, checker, {**body, "residence_address": UNPLACEABLE})
    assert _admits(schema, checker, {**body, "residence_address": UNPLACEABLE, "id_number": world.target.id_number})
    clause = next(c for c in schema["allOf"] if "not" in c["if"])
    assert clause["then"]["properties"]["residence_address"]["format"] == ADDRESS_FORMAT
    assert_error(world.post("surveyor", **{**body, "residence_address": UNPLACEABLE}), 422)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(number=schemathesis_hooks.id_numbers(), address=schemathesis_hooks.tianjin_addresses())
def test_the_fuzzers_values_for_the_custom_formats_are_ones_the_service_accepts(number, address):
    """The hooks module's values: numbers the ID standardiser trusts, addresses the parser places."""
    assert standardise_id_number(number).status in TRUSTED_ID_STATUSES
    assert parse_address(address).district_code is not None


def test_every_street_of_the_fuzzers_addresses_is_placed_with_every_road():
    for district, _, prefix in schemathesis_hooks.placeable_streets():
        for road in schemathesis_hooks._ROADS:
            assert parse_address(f"{prefix}{road}9号").district_code == district, (prefix, road)
