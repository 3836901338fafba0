"""The graph as the real pipeline fills it: generator → ingest → resolve → status → graph, then every query."""
from __future__ import annotations

import datetime as dt

import pytest

from graph import CATALOGUE, open_store
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.synth.generate import generate

AS_OF = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate(300, seed=4, as_of=AS_OF, out_dir=root / "extracts")
    outcome = run_pipeline(root / "extracts", str(root / "store"), AS_OF)
    store = open_store(StoreLayout.for_store(str(root / "store")).graph_spec, must_exist=True)
    yield outcome, store
    store.close()


def test_every_record_and_person_of_the_run_is_in_the_graph(landed):
    outcome, store = landed
    counts = store.counts()
    assert counts["Record"] == len(outcome.records) and counts["Person"] == len(outcome.persons)
    assert [r.run_id for r in store.runs()] == [outcome.run_id]


def test_the_work_list_holds_every_unenrolled_person_of_a_district(landed):
    outcome, store = landed
    unenrolled = outcome.persons[outcome.persons["status"] == "UNENROLLED"]
    district = unenrolled["district_code"].dropna().value_counts().index[0]
    page = store.unenrolled_work_list(district_code=district, limit=1000)
    assert page.total == int((unenrolled["district_code"] == district).sum())


def test_person_360_shows_all_linked_records(landed):
    outcome, store = landed
    busiest = outcome.records["person_id"].value_counts().index[0]
    view = store.person_360(busiest)
    shown = sum(len(v) for v in view.records_by_source.values())
    assert shown == int((outcome.records["person_id"] == busiest).sum())


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_named_query_runs_on_the_pipeline_graph(landed, name):
    outcome, store = landed
    params = {"person_id": outcome.persons["person_id"].iloc[0]} if name == "person_360" else {}
    result = store.run_query(name, params)
    assert result.columns
    if name == "unenrolled_counts":
        assert sum(r["unenrolled"] for r in result.rows) == int((outcome.persons["status"] == "UNENROLLED").sum())
