"""The consistency rule across restarts: a confirmed survey whose state flush never happened (a crash) is
replayed into the resolver state when the service starts again, and linked to the same person once."""
from __future__ import annotations


from fastapi.testclient import TestClient

from api import create_app, load_settings
from api.database import Database
from api.security import Users
from resolver.pipeline import StoreLayout
from resolver.state import load_state
from test_api import pick_target, sample_store_copy, survey_of


def test_a_survey_confirmed_before_a_crash_is_replayed_at_start_up(tmp_path_factory, monkeypatch):
    store = sample_store_copy(tmp_path_factory, "restart")
    target = pick_target(store)
    settings = load_settings({"store": str(store), "flush_seconds": 3600}, env={})
    users = Users(Database(settings.database_file))
    as_ = {role: {"Authorization": f"Bearer {users.add(role, role, target.district)}"}
           for role in ("surveyor", "street_reviewer", "district_reviewer")}
    steward = {"Authorization": f"Bearer {users.add('steward', 'steward')}"}

    app = create_app(settings)
    with TestClient(app) as client:
        client.post("/v1/surveys", json=survey_of(target, "DC-CRASH-1"), headers=as_["surveyor"])
        client.post("/v1/surveys/DC-CRASH-1/review", json={"action": "approve"}, headers=as_["street_reviewer"])
        confirmed = client.post("/v1/surveys/DC-CRASH-1/review", json={"action": "confirm"},
                                headers=as_["district_reviewer"]).json()
        assert client.get("/v1/health").json()["pending_changes"] == 1
        monkeypatch.setattr(app.state.services.engine, "flush", lambda: None)   # the process dies unsaved
    state_dir = StoreLayout.for_store(str(store)).state_dir
    assert "survey:DC-CRASH-1" not in set(load_state(state_dir).records["record_key"])
    monkeypatch.undo()

    with TestClient(create_app(settings)) as client:
        assert "survey:DC-CRASH-1" in set(load_state(state_dir).records["record_key"])
        view = client.get(f"/v1/persons/{confirmed['person_id']}", headers=steward).json()
        keys = [r["record_key"] for records in view["records_by_source"].values() for r in records]
        assert keys.count("survey:DC-CRASH-1") == 1
        assert client.get("/v1/health").json()["pending_changes"] == 0
