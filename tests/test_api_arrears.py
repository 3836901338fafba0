"""GET /v1/persons/{person_id}/arrears and the schemes of the person view (art. 26), on the sample."""
from __future__ import annotations


import pytest
from fastapi.testclient import TestClient

from api import create_app, load_settings
from api.database import Database
from api.security import Users
from resolver.arrears import estimate_arrears, load_contribution_policy, scheme_records
from resolver.pipeline import StoreLayout
from resolver.runs import load_linked_records, load_persons
from test_api import AS_OF, assert_error, sample_store_copy


@pytest.fixture(scope="module")
def door(tmp_path_factory):
    store = sample_store_copy(tmp_path_factory, "arrears")
    layout = StoreLayout.for_store(str(store))
    persons, records = load_persons(layout), load_linked_records(layout)
    interrupted = persons[persons["flags"].fillna("").str.contains("INTERRUPTED") & persons["district_code"].notna()]
    person = interrupted.sort_values("person_id").iloc[0]
    other = "120101" if person["district_code"] != "120101" else "120102"
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    tokens = {"surveyor": users.add("surveyor", "surveyor", person["district_code"]),
              "elsewhere": users.add("elsewhere", "surveyor", other),
              "steward": users.add("steward", "steward"), "analyst": users.add("analyst", "analyst")}
    own = records[records["person_id"] == person["person_id"]]
    with TestClient(create_app(settings)) as client:
        yield client, tokens, person["person_id"], own


def _as(tokens, user):
    return {"Authorization": f"Bearer {tokens[user]}"}


def test_the_surveyor_at_the_door_gets_the_same_estimate_as_the_library(door):
    client, tokens, person_id, own = door
    body = client.get(f"/v1/persons/{person_id}/arrears", headers=_as(tokens, "surveyor")).json()
    expected = estimate_arrears(scheme_records(own), AS_OF, load_contribution_policy())
    assert body["as_of_month"] == "202611" and expected.schemes
    assert [(p["scheme"], p["months_owed"], p["total_low"], p["total_high"]) for p in body["owed"]] == [
        (p.scheme, p.months_owed, p.total_low, p.total_high) for p in expected.schemes]
    assert body["missing"] == expected.missing
    assert {s["record_key"] for s in body["schemes"]} == set(own.loc[own["source"] == "si_enrolment", "record_key"])


def test_the_person_view_lists_the_schemes(door):
    client, tokens, person_id, own = door
    body = client.get(f"/v1/persons/{person_id}", headers=_as(tokens, "steward")).json()
    assert sorted(s["scheme"] for s in body["schemes"]) == sorted(
        own.loc[own["source"] == "si_enrolment", "insurance_type"].dropna())


def test_arrears_are_for_the_own_district_and_not_for_analysts(door):
    client, tokens, person_id, _ = door
    assert client.get(f"/v1/persons/{person_id}/arrears", headers=_as(tokens, "steward")).status_code == 200
    assert "辖区" in assert_error(client.get(f"/v1/persons/{person_id}/arrears",
                                             headers=_as(tokens, "elsewhere")), 403)["message"]
    assert "可用角色" in assert_error(client.get(f"/v1/persons/{person_id}/arrears",
                                               headers=_as(tokens, "analyst")), 403)["message"]
    assert_error(client.get("/v1/persons/P000000000000/arrears", headers=_as(tokens, "steward")), 404)
    assert_error(client.get("/v1/persons/not-an-id/arrears", headers=_as(tokens, "steward")), 422)


def test_stats_carry_the_payment_figures(door):
    client, tokens, _, _ = door
    body = client.get("/v1/stats", headers=_as(tokens, "analyst")).json()
    total = next(d for d in body["districts"] if d["district_name"] == "全市合计")
    assert total["interrupted"] > 0 and 0 < total["medical_coverage"] <= 1
    assert {"pension_coverage", "lapsed", "arrears_low", "interrupted_change"} <= set(body["streets"][0])
