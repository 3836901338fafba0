"""Every GraphStore operation on the embedded LadybugDB store, on the synthetic sample run.

The store-agnostic tests take the ``store`` / ``loaded`` fixtures; tests/test_graph_neo4j.py
runs the same bodies against a live Neo4j by overriding those fixtures.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pandas as pd
import pytest

from graph import (
    EmbeddedStore, RecordUpsert, RunDataError, StatusUpdate, StewardDecision, StoreError, StoreSpecError,
    StoreUnavailable, open_store,
)
from graph.embedded import CURRENT, SNAPSHOTS
from test_graph_sample import sample_run


@pytest.fixture
def store(tmp_path):
    s = EmbeddedStore(tmp_path / "graph", buffer_pool_mb=256)
    yield s
    s.close()


@pytest.fixture
def loaded(store):
    store.write_run(sample_run())
    return store


def _second_run():
    """The sample a month later: 李测乙 has enrolled, everything else as before."""
    run = sample_run("run-test-2")
    persons = run.persons.copy()
    persons.loc[persons["person_id"] == "P2", ["status", "flags"]] = ["ENROLLED", "TAXPAYER|EMPLOYED"]
    return replace(run, persons=persons, decisions=run.decisions.iloc[0:0],
                   run=replace(run.run, run_id="run-test-2"))


# --- store-agnostic: these bodies also run on Neo4j ---------------------------------------

def test_a_run_lands_with_every_label_counted(loaded):
    counts = loaded.counts()
    assert counts["Person"] == 6 and counts["Record"] == 11
    assert counts["Household"] == 1 and counts["Employer"] == 1 and counts["Run"] == 1


def test_person_shows_status_flags_and_the_run_that_set_them(loaded):
    person = loaded.person("P2")
    assert (person.name, person.status, person.flags) == ("李测乙", "UNENROLLED", ("TAXPAYER", "EMPLOYED"))
    assert person.run_id == "run-test-1"


def test_unknown_person_is_none(loaded):
    assert loaded.person("P-NOBODY") is None
    assert loaded.person_360("P-NOBODY") is None


def test_persons_are_found_by_id_number(loaded):
    assert [p.person_id for p in loaded.persons_by_id_number("120104000000000015")] == ["P5"]


def test_person_360_groups_records_by_source_and_explains_the_status(loaded):
    view = loaded.person_360("P1")
    assert sorted(view.records_by_source) == ["police_resident", "si_enrolment"]
    assert [r.record_key for r in view.status_evidence] == ["si_enrolment:E1"]
    assert view.records_by_source["si_enrolment"][0].fields["enrolment_status"] == "正常参保"
    assert view.run.run_id == "run-test-1" and view.run.model_version == "test-model-1"
    assert [m["person_id"] for m in view.household] == ["P2"]
    assert view.employers[0]["credit_code"] == "91120000TESTONLY01"


def test_work_list_pages_the_unenrolled_of_a_district(loaded):
    first = loaded.unenrolled_work_list(district_code="120104", limit=1)
    second = loaded.unenrolled_work_list(district_code="120104", skip=1, limit=1)
    assert first.total == 2
    assert {first.items[0].person_id, second.items[0].person_id} == {"P2", "P5"}


def test_work_list_filters_by_street_and_community(loaded):
    page = loaded.unenrolled_work_list(district_code="120104", street="华苑街道", community="日华里社区")
    assert [p.name for p in page.items] == ["李测乙"]


def test_review_queue_leaves_out_pairs_a_steward_has_decided(loaded):
    queue = loaded.review_queue()
    assert queue.total == 1
    item = queue.items[0]
    assert (item.record_key_l, item.record_key_r) == ("police_resident:R4", "survey:S6")
    assert item.explanation["name"] == 0.7 and (item.person_id_l, item.person_id_r) == ("P4", "P6")


def test_a_steward_decision_takes_the_pair_off_the_queue(loaded):
    loaded.record_decision(StewardDecision("police_resident:R4", "survey:S6", "match", "steward-test-02",
                                           datetime(2026, 10, 1, 9, 0), "同一人 (same person)"))
    assert loaded.review_queue().total == 0
    decided = loaded.decisions()
    assert set(decided["steward"]) == {"steward-test-01", "steward-test-02"}


def test_an_unsure_decision_keeps_the_pair_on_the_queue(loaded):
    loaded.record_decision(StewardDecision("police_resident:R4", "survey:S6", "unsure", "steward-test-02",
                                           datetime(2026, 10, 1, 9, 0)))
    assert loaded.review_queue().total == 1


def test_a_decision_on_an_unknown_record_is_refused(loaded):
    with pytest.raises(RunDataError, match="survey:NOPE"):
        loaded.record_decision(StewardDecision("police_resident:R4", "survey:NOPE", "match", "steward-test-02",
                                               datetime(2026, 10, 1, 9, 0)))


def test_upserting_a_survey_record_links_it_to_the_person(loaded):
    loaded.upsert_record(RecordUpsert(
        record={"source": "survey", "record_id": "S9", "name": "李测乙", "id_number": "120104000000000012",
                "unenrolled_reason": "经济困难", "survey_date": datetime(2026, 10, 2)},
        person_id="P2", match_probability=1.0, method="id_number"))
    view = loaded.person_360("P2")
    survey = view.records_by_source["survey"][0]
    assert survey.fields["unenrolled_reason"] == "经济困难" and survey.method == "id_number"


def test_upserting_an_existing_record_moves_it_to_another_person(loaded):
    loaded.upsert_record(RecordUpsert(record={"source": "survey", "record_id": "S6", "name": "孙测己"},
                                      person_id="P4", match_probability=0.97, method="steward"))
    assert "survey" not in (loaded.person_360("P6").records_by_source)
    moved = loaded.person_360("P4").records_by_source["survey"][0]
    assert (moved.method, moved.match_probability) == ("steward", 0.97)


def test_a_status_update_changes_status_flags_and_provenance(loaded):
    loaded.update_person_status(StatusUpdate("P2", "ENROLLED", ("TAXPAYER",), "enrolled",
                                             ("si_enrolment:E1",), "steward-fix-1"))
    person = loaded.person("P2")
    assert (person.status, person.flags, person.status_records) == ("ENROLLED", ("TAXPAYER",), ("si_enrolment:E1",))


def test_a_status_update_for_an_unknown_person_is_refused(loaded):
    with pytest.raises(RunDataError, match="P-NOBODY"):
        loaded.update_person_status(StatusUpdate("P-NOBODY", "ENROLLED"))


def test_a_new_run_replaces_the_graph_and_keeps_run_history_and_decisions(loaded):
    loaded.record_decision(StewardDecision("police_resident:R4", "survey:S6", "not_match", "steward-test-02",
                                           datetime(2026, 10, 1, 9, 0)))
    loaded.write_run(_second_run())
    assert loaded.person("P2").status == "ENROLLED" and loaded.person("P2").run_id == "run-test-2"
    assert [r.run_id for r in loaded.runs()] == ["run-test-1", "run-test-2"]
    assert set(loaded.decisions()["steward"]) == {"steward-test-01", "steward-test-02"}
    assert loaded.counts()["Person"] == 6


def test_a_failed_run_leaves_the_previous_graph_readable_and_can_be_repeated(loaded):
    broken = _second_run()
    duplicated = pd.concat([broken.records, broken.records.iloc[[0]]], ignore_index=True)
    with pytest.raises(StoreError):
        loaded.write_run(replace(broken, records=duplicated))
    assert loaded.person("P2").status == "UNENROLLED"
    assert [r.run_id for r in loaded.runs()] == ["run-test-1"]
    loaded.write_run(_second_run())
    assert loaded.person("P2").status == "ENROLLED"


def test_writing_the_same_run_again_gives_the_same_graph(loaded):
    before = loaded.counts()
    loaded.write_run(sample_run())
    assert loaded.counts() == before
    assert [r.run_id for r in loaded.runs()] == ["run-test-1"]


def test_schema_setup_can_run_again(loaded):
    loaded.setup_schema()
    loaded.setup_schema()
    assert loaded.counts()["Person"] == 6


def test_run_data_without_needed_columns_is_refused_naming_them(store):
    run = sample_run()
    with pytest.raises(RunDataError, match="status_rule"):
        store.write_run(replace(run, persons=run.persons.drop(columns=["status_rule"])))


def test_an_empty_store_answers_with_nothing(store):
    assert store.person("P1") is None
    assert store.unenrolled_work_list().total == 0
    assert store.runs() == []


# --- embedded only ------------------------------------------------------------------------

def test_a_reader_sees_a_run_landed_through_another_handle(tmp_path):
    folder = tmp_path / "graph"
    with EmbeddedStore(folder, buffer_pool_mb=128) as writer:
        writer.write_run(sample_run())
        with EmbeddedStore(folder, buffer_pool_mb=128, must_exist=True) as reader:
            assert reader.person("P2").status == "UNENROLLED"
            writer.write_run(_second_run())
            assert reader.person("P2").status == "ENROLLED"


def test_a_failed_write_leaves_a_partial_snapshot_the_next_write_removes(loaded):
    broken = _second_run()
    with pytest.raises(StoreError):
        loaded.write_run(replace(broken, records=pd.concat([broken.records, broken.records.iloc[[0]]])))
    snapshots = loaded.folder / SNAPSHOTS
    assert any(p.name.endswith(".partial") for p in snapshots.iterdir())
    loaded.write_run(_second_run())
    assert not any(p.name.endswith(".partial") for p in snapshots.iterdir())
    assert (snapshots / (loaded.folder / CURRENT).read_text().strip()).is_dir()


def test_open_store_chooses_the_backend_from_the_spec(tmp_path):
    with open_store(str(tmp_path / "g")) as s:
        assert isinstance(s, EmbeddedStore)
    with pytest.raises(StoreSpecError, match="ftp://"):
        open_store("ftp://example.invalid/graph")
    with pytest.raises(StoreUnavailable, match="canbao run"):
        open_store(str(tmp_path / "never-written"), must_exist=True)


def test_the_api_runs_each_embedded_query_on_one_thread(loaded):
    # The survey app's point lookups: one thread per query is twice as fast as LadybugDB's all-core default.
    with open_store(str(loaded.folder), must_exist=True, query_threads=1) as one_thread:
        assert one_thread.threads == 1
        assert one_thread.person("P1") is not None and one_thread.person("P1") == loaded.person("P1")
