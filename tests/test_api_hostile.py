"""Hostile values at the API: invisible and pictographic characters in a name, and no server folder in any answer.

The store is the committed sample resolved by the real pipeline (test_api.sample_store), copied per module.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_api import pick_target, sample_store_copy

from api import create_app, load_settings
from api.database import Database
from api.errors import hide_store_paths
from api.security import Users


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    store = sample_store_copy(tmp_path_factory, "hostile")
    target = pick_target(store)
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    users = Users(Database(settings.database_file))
    token = users.add("surveyor", "surveyor", target.district)
    steward = users.add("steward", "steward")
    with TestClient(create_app(settings)) as client:
        yield client, {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {steward}"}, target, store


def _best(client: TestClient, headers: dict, name: str, birth_date: str) -> str | None:
    response = client.post("/v1/resolve", json={"name": name, "birth_date": birth_date}, headers=headers)
    assert response.status_code == 200, response.text
    candidates = response.json()["candidates"]
    return candidates[0]["person_id"] if candidates else None


@pytest.mark.parametrize("dressed", [
    "{0}\u200b{1}",                 # zero-width space inside
    "\u202e{0}{1}\u202c",           # right-to-left override … pop
    "\ufeff{0}{1}",                 # byte-order mark in front
    "{0}{1}\U0001f600",             # emoji
    "{0}\u2066{1}\u2069\U0001f44d\U0001f3fd\u200d",   # isolate, thumbs-up with a skin tone, joiner
])
def test_resolve_finds_the_person_whatever_invisible_or_emoji_characters_dress_the_name(served, dressed: str):
    client, surveyor, _, target, _ = served
    plain = _best(client, surveyor, target.name, target.birth_date)
    assert plain == target.person_id
    name = dressed.format(target.name[0], target.name[1:])
    assert _best(client, surveyor, name, target.birth_date) == target.person_id


def test_health_names_no_folder_of_the_server(served):
    client, _, _, _, store = served
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["store"] == "embedded"
    text = response.text
    assert str(store) not in text and str(store.resolve()) not in text and str(store.parent) not in text


def test_error_answers_name_no_folder_of_the_store(served):
    client, surveyor, steward, _, store = served
    answers = [
        client.get("/v1/changes", params={"since": "no-such-run"}, headers=steward),   # InputError naming work_dir
        client.get("/v1/changes", params={"since": "1990-01-01"}, headers=steward),
        client.get("/v1/stats", params={"month": "1990-01"}, headers=steward),
        client.post("/v1/resolve", json={"name": "张伟", "id_number": "12010419850302123"}, headers=surveyor),
        client.get("/v1/persons/P-nobody", headers=steward),
        client.get("/v1/queries/nonesuch", headers=steward),
    ]
    assert {a.status_code for a in answers} <= {404, 422}
    assert any(a.status_code == 422 for a in answers)
    for answer in answers:
        text = json.dumps(answer.json(), ensure_ascii=False)
        assert str(store) not in text and str(store.resolve()) not in text and str(store.parent) not in text, text


def test_store_paths_are_hidden_in_every_form_they_take(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store").mkdir()
    hide = hide_store_paths(["store", tmp_path / "work"])
    assert hide("嵌入式图库 embedded store store/graph: open 失败") == "嵌入式图库 embedded store <store>/graph: open 失败"
    assert hide(f"{tmp_path / 'store'}/graph is locked") == "<store>/graph is locked"
    assert hide(f"{tmp_path / 'work'}: 没有运行 (no run) 'x'") == "<store>: 没有运行 (no run) 'x'"
    assert hide("13800000000/022-12345678 不是号码") == "13800000000/022-12345678 不是号码"
