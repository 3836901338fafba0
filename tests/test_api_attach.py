"""resolver.attach, the library under the API's write path: one survey row validated like a file row, and
a component re-resolved in memory exactly as an incremental run over the whole state would."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_resolution_fixtures import resident_id

from resolver.attach import (
    FieldProblem, LiveState, RowRejected, fragment_record, recluster, restatus, steward_constraints, survey_record,
)
from resolver.ingest import ingest_folder
from resolver.mapping import load_mappings
from resolver.matching_config import load_matching_config
from resolver.pipeline import StoreLayout
from resolver.resolve import resolve_incremental
from resolver.runs import load_linked_records
from resolver.standardise.id_number import check_digit
from resolver.state import load_state
from test_api import pick_target, sample_store

CONFIG = load_matching_config()
SURVEY = load_mappings()["survey"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return sample_store(tmp_path_factory)


def row(**fields: str) -> dict:
    body17 = "1201031985061200" + "2"
    return {"record_id": "DC-T-1", "name": "司马测试", "gender": "女", "id_number": body17 + check_digit(body17),
            "residence_address": "天津市河西区马场街道南京大街134号", "unenrolled_reason": "经济困难",
            "surveyor_id": "DY0001", "survey_date": "2026-11-02", **fields}


def test_a_survey_row_becomes_the_record_a_file_row_would(tmp_path):
    record = survey_record(row(), SURVEY, "202611")
    headers = {spec.field: header for header, spec in SURVEY.columns.items()}
    file = tmp_path / "survey_202611.csv"
    values = row()
    cells = {header: "" for header in SURVEY.columns} | {headers[k]: v for k, v in values.items() if k != "record_id"}
    pd.DataFrame([{SURVEY.record_id_header: values["record_id"], **cells}]).to_csv(file, index=False)
    from_file = ingest_folder(tmp_path, {"survey": SURVEY}).records.iloc[0]
    ours = record.iloc[0]
    for column in ("record_key", "name", "name_pinyin", "id_number", "id_status", "id_gender", "gender",
                   "residence_district_code", "residence_street", "unenrolled_reason", "survey_date"):
        assert ours[column] == from_file[column], column


def test_a_survey_row_is_refused_field_by_field():
    bad_digit = row()["id_number"][:17] + ("0" if row()["id_number"][17] != "0" else "1")
    with pytest.raises(RowRejected) as refused:
        survey_record(row(id_number=bad_digit, unenrolled_reason="不想说", gender="男", survey_date="昨天"),
                      SURVEY, "202611")
    fields = {p.field for p in refused.value.problems}
    assert fields == {"id_number", "unenrolled_reason", "survey_date", "gender"}
    with pytest.raises(RowRejected) as refused:
        survey_record(row(gender="男"), SURVEY, "202611")
    assert refused.value.problems == [FieldProblem("gender", refused.value.problems[0].message)]
    assert "性别与身份证号不符" in refused.value.problems[0].message


def test_fragments_need_one_readable_field():
    with pytest.raises(RowRejected, match="至少"):
        fragment_record({})
    with pytest.raises(RowRejected) as refused:
        fragment_record({"name": "张伟", "birth_date": "1980-02-30", "phone": "12"})
    assert {p.field for p in refused.value.problems} == {"birth_date", "phone"}
    fragment = fragment_record({"name": " 張偉 ", "address": "河西区马场街道"})
    assert fragment["name"] == "张伟" and fragment["residence_district_code"] == "120103"


def test_the_latest_steward_decision_on_a_pair_wins():
    decisions = pd.DataFrame({
        "record_key_l": ["a", "b", "c"], "record_key_r": ["b", "a", "d"],
        "decision": ["match", "not_match", "unsure"], "steward": "s", "note": "",
        "decided_at": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03"]),
    })
    constraints = steward_constraints(decisions)
    assert constraints.to_dict("records") == [{"record_key_l": "b", "record_key_r": "a", "decision": "cannot_link"}]


def test_a_survey_with_a_known_id_number_joins_that_person(store):
    target = pick_target(store)
    live = LiveState(load_state(StoreLayout.for_store(str(store)).state_dir))
    record = survey_record(row(name=target.name, id_number=target.id_number, gender=target.gender,
                               residence_address=target.address), SURVEY, "202611")
    change = recluster(live, CONFIG, steward_constraints(pd.DataFrame(columns=["record_key_l", "record_key_r",
                                                                               "decision", "decided_at"])),
                       new_record=record)
    link = change.links.set_index("record_key").loc["survey:DC-T-1"]
    assert (link["person_id"], link["method"]) == (target.person_id, "id_number")
    assert change.persons_after == change.persons_before == {target.person_id} and not change.vanished
    live.apply(change)
    assert live.persons_of(["survey:DC-T-1"]) == {"survey:DC-T-1": target.person_id}
    saved = live.materialise()
    assert len(saved.records) == len(live.base.records) + 1
    assert saved.links.set_index("record_key").loc["survey:DC-T-1", "person_id"] == target.person_id
    records = load_linked_records(StoreLayout.for_store(str(store)))
    component = pd.concat([records[records["person_id"] == target.person_id], record], ignore_index=True)
    persons = restatus(component, change, dt.date(2026, 11, 28))
    assert "SURVEYED" in persons.loc[target.person_id, "flags"]


def test_a_must_link_reclusters_the_component_as_a_full_incremental_run_would(store):
    state = load_state(StoreLayout.for_store(str(store)).state_dir)
    review = state.edges[state.edges["match_probability"] < CONFIG.thresholds.accept].iloc[0]
    persons = state.links.set_index("record_key")["person_id"]
    assert persons[review["record_key_l"]] != persons[review["record_key_r"]]
    decision = pd.DataFrame([{"record_key_l": review["record_key_l"], "record_key_r": review["record_key_r"],
                              "decision": "match", "decided_at": pd.Timestamp("2026-11-28")}])
    constraints = steward_constraints(decision)

    change = recluster(LiveState(state), CONFIG, constraints, seed_keys=[review["record_key_l"]])
    empty = state.records.iloc[:0]
    full, _ = resolve_incremental(empty, load_state(StoreLayout.for_store(str(store)).state_dir), CONFIG, constraints)
    expected = full.links.set_index("record_key")["person_id"]
    ours = change.links.set_index("record_key")["person_id"]
    assert (ours == expected.reindex(ours.index)).all()
    assert ours[review["record_key_l"]] == ours[review["record_key_r"]]
    assert len(change.vanished) == 1


# A valid number typed on a phone keyboard in full-width digits, with a lower-case check character.
FULL_WIDTH_ID = resident_id("120104", "1985-03-02", "123").lower().translate(
    {ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


@pytest.mark.parametrize("fields", [
    {"name": " 張偉 ", "id_number": FULL_WIDTH_ID, "phone": "13800000001/022-23456789"},
    {"name": "欧阳 娜娜", "id_number": "120104850302123", "address": "天津市塘沽区解放路5号", "gender": "女"},
    {"name": "john SMITH", "birth_date": "1985.3.2", "address": "河西区马场街道友谊路3号楼2门401", "gender": "1"},
    {"name": "单雪", "birth_date": "19850302", "phone": "022 2345 6789"},
])
def test_a_fragment_is_standardised_as_ingestion_standardises_a_column(fields):
    # fragment_record runs the one-value standardisers; ingestion runs the column forms.
    from resolver.schema import address_columns
    from resolver.standardise.address import parse_addresses
    from resolver.standardise.dates import parse_dates
    from resolver.standardise.gender import standardise_genders
    from resolver.standardise.id_number import standardise_id_numbers
    from resolver.standardise.names import standardise_names
    from resolver.standardise.phones import standardise_phones

    def column(name):
        return pd.Series([fields.get(name)], dtype=object).str.strip()

    expected = {**standardise_id_numbers(column("id_number")).iloc[0].to_dict(),
                **standardise_names(column("name")).iloc[0].to_dict(),
                **parse_addresses(column("address"), "residence").iloc[0].to_dict(),
                "phones": standardise_phones(column("phone"))[0].iat[0],
                "birth_date": parse_dates(column("birth_date"))[0].iat[0],
                "gender": standardise_genders(column("gender"))[0].iat[0]}
    fragment = fragment_record(fields)
    for name, value in expected.items():
        assert (pd.isna(value) and pd.isna(fragment[name])) or fragment[name] == value, name
    assert set(address_columns("residence")) <= set(expected)
