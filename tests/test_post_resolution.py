"""The stages after resolution at any size: status text, record links, parquet and graph writes in slices.

These pin the column-wise implementations (issue 8) to what the straightforward ones gave.
"""
from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest

import graph.embedded
import resolver.state
from graph import EmbeddedStore
from resolver.pipeline import _linked_records
from resolver.state import write_parquet
from resolver.status import assign_statuses, status_table
from test_graph_sample import sample_run

AS_OF = dt.date(2026, 11, 28)
RULE_COLUMNS = ("household_in_tianjin", "permit_valid_until", "prison_entry_date", "prison_release_date",
                "enrolment_status", "national_status", "insured_province_code", "tax_period", "fund_status")


def _with_rule_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The fields the status rules read, null where a record lacks them."""
    for column in RULE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame


def _records() -> pd.DataFrame:
    rows = [
        {"person_id": "p1", "source": "tax_iit", "record_id": "t1", "tax_period": "202610"},
        {"person_id": "p1", "source": "hr_labour", "record_id": 'h"1'},
        {"person_id": "p2", "source": "edu_student", "record_id": "e\\1"},
        {"person_id": "p3", "source": "police_resident", "record_id": "r1", "household_in_tianjin": True},
        {"person_id": "p1", "source": "survey", "record_id": "s1"},
    ]
    frame = pd.DataFrame(rows)
    frame["record_key"] = frame["source"] + ":" + frame["record_id"]
    return _with_rule_columns(frame)


def test_flag_records_as_json_text_equal_json_dumps_of_the_dicts():
    conflicts = {"p1": 'split "two" IDs\nback\\slash', "p3": "同一聚类含两个有效身份证号"}
    dicts = assign_statuses(_records(), AS_OF, flagged_conflicts=conflicts)["flag_records"]
    text = status_table(_records(), AS_OF, flagged_conflicts=conflicts).flag_records_json()
    assert list(text) == [json.dumps(d, ensure_ascii=False) for d in dicts]
    assert json.loads(text[0])["CONFLICT"] == 'resolver:split "two" IDs\nback\\slash'


def test_records_get_their_links_whatever_order_the_links_come_in():
    records = _records()
    links = pd.DataFrame({"record_key": records["record_key"], "person_id": ["A", "B", "C", "D", "E"],
                          "match_probability": [1.0, 0.5, 0.9, 1.0, 0.7], "method": ["id"] * 5})
    in_order = _linked_records(records, SimpleNamespace(links=links))
    shuffled = _linked_records(records, SimpleNamespace(links=links.iloc[[3, 0, 4, 2, 1]]))
    pd.testing.assert_frame_equal(in_order, shuffled)
    assert list(in_order["person_id"]) == ["A", "B", "C", "D", "E"]
    assert "person_id" not in records.columns or records["person_id"].tolist() == _records()["person_id"].tolist()


def test_parquet_written_in_slices_equals_to_parquet(tmp_path, monkeypatch):
    monkeypatch.setattr(resolver.state, "PARQUET_CHUNK_ROWS", 2)
    frame = pd.DataFrame({"key": ["a", None, "c", "d", "e"], "n": [1, 2, 3, 4, 5],
                          "when": pd.to_datetime(["2026-01-01", None, "2026-03-01", None, None]),
                          "late": [None, None, None, None, "x"]}, index=[10, 11, 12, 13, 14])
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    write_parquet(frame, tmp_path / "slices.parquet")
    whole, slices = pq.read_table(tmp_path / "whole.parquet"), pq.read_table(tmp_path / "slices.parquet")
    assert slices.equals(whole) and slices.schema.equals(whole.schema, check_metadata=True)


def test_a_graph_copied_in_small_slices_equals_one_copied_whole(tmp_path, monkeypatch):
    with EmbeddedStore(tmp_path / "whole", buffer_pool_mb=128) as whole:
        whole.write_run(sample_run())
        expected = whole.counts(), whole.person_360("P2")
    monkeypatch.setattr(graph.embedded, "COPY_CHUNK_ROWS", 2)
    with EmbeddedStore(tmp_path / "slices", buffer_pool_mb=128) as slices:
        slices.write_run(sample_run())
        assert slices.counts() == expected[0]
        person = slices.person_360("P2")
        assert person.person == expected[1].person
        assert sorted(person.records_by_source) == sorted(expected[1].records_by_source)


@pytest.mark.parametrize("person_ids", [["b", "a", "b", "c"], [3, 1, 3, 2]])
def test_statuses_come_one_per_person_in_order_of_first_appearance(person_ids):
    records = _with_rule_columns(pd.DataFrame({
        "person_id": person_ids, "source": ["police_permit"] * 4, "record_key": [f"police_permit:{i}" for i in range(4)],
        "permit_valid_until": pd.to_datetime(["2020-01-01"] * 4)}))   # expired permits: out of scope
    statuses = assign_statuses(records, AS_OF)
    assert list(statuses.index) == list(dict.fromkeys(person_ids))
    assert statuses.loc[person_ids[0], "status"] == "OUT_OF_SCOPE"
    assert statuses.loc[person_ids[0], "status_records"] == "police_permit:0|police_permit:2"
