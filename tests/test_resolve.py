"""End-to-end resolution on small synthetic households with a fixed, readable model."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_resolution_fixtures import frame, parsed, record, resident_id

from resolver.matching_config import load_matching_config
from resolver.resolve import LINK_COLUMNS, resolve, resolve_incremental, resolve_one, train_from_decisions
from resolver.scoring import FSModel
from resolver.state import load_state, save_state

CONFIG = load_matching_config()

# A plausible model written out by hand so the tests do not depend on EM over a few rows.
MODEL = FSModel(
    fields=("id_number", "name", "birth_date", "gender", "phone", "address"),
    m={"id_number": np.array([0.9, 0.04, 0.03, 0.01, 0.02]), "name": np.array([0.88, 0.07, 0.03, 0.01, 0.01]),
       "birth_date": np.array([0.95, 0.03, 0.01, 0.01]), "gender": np.array([0.99, 0.01]),
       "phone": np.array([0.6, 0.4]), "address": np.array([0.5, 0.15, 0.1, 0.1, 0.1, 0.05])},
    u={"id_number": np.array([1e-6, 1e-7, 1e-6, 1e-7, 0.999997]), "name": np.array([1e-4, 1e-4, 5e-4, 0.02, 0.9794]),
       "birth_date": np.array([3e-5, 1e-3, 1e-6, 0.99897]), "gender": np.array([0.5, 0.5]),
       "phone": np.array([1e-4, 0.9999]), "address": np.array([1e-5, 1e-4, 1e-3, 0.01, 0.06, 0.92889])},
    match_share=0.01,
)

WANG_LI = resident_id("120104", "1985-03-02", "124")
TWIN_A = resident_id("120102", "2012-07-07", "241")
TWIN_B = resident_id("120102", "2012-07-07", "263")
ZHAO = resident_id("120116", "1961-11-30", "315")
HOME = "天津市南开区华苑街道日华里3-2-401"
TWINS_HOME = "天津市河东区大王庄街道六纬路15-1-302"


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def city() -> list[dict]:
    """Three households: 王丽 seen by four departments, twins 李娜/李婷, and 赵建国."""
    return [
        record("police_resident", "R1", "王丽", WANG_LI, phones="13800000001", household=parsed(HOME)),
        record("tax_iit", "T1", "王丽", WANG_LI),
        record("hr_labour", "H1", "王莉", wrong_check(WANG_LI), phones="13800000001"),   # homophone + typo
        record("survey", "S1", "王莉", None, birth_date="1985-03-02", gender="F", phones="13800000001",
               residence=parsed(HOME)),
        record("police_resident", "R2", "李娜", TWIN_A, phones="02212345678", household=parsed(TWINS_HOME)),
        record("police_resident", "R3", "李婷", TWIN_B, phones="02212345678", household=parsed(TWINS_HOME)),
        record("edu_student", "E1", "李娜", None, birth_date="2012-07-07", gender="F", phones="02212345678",
               residence=parsed(TWINS_HOME)),
        record("edu_student", "E2", "李婷", None, birth_date="2012-07-07", gender="F", phones="02212345678",
               residence=parsed(TWINS_HOME)),
        record("police_resident", "R4", "赵建国", ZHAO, household=parsed("天津市塘沽区解放路5号")),
        record("civil_funeral", "F1", "趙建國", ZHAO[:6] + ZHAO[8:17]),     # traditional name, 15-digit number
    ]


def persons_of(links: pd.DataFrame) -> dict[str, str]:
    return dict(zip(links["record_key"], links["person_id"]))


def partition(links: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g) for g in links.groupby("person_id")["record_key"].apply(list)}


@pytest.fixture(scope="module")
def full():
    return resolve(frame(city()), CONFIG, model=MODEL)


def test_every_record_gets_one_link_row(full):
    assert list(full.links.columns) == list(LINK_COLUMNS)
    assert sorted(full.links["record_key"]) == sorted(r["record_key"] for r in city())


def test_homophone_with_typo_in_the_id_joins_the_person(full):
    person = persons_of(full.links)
    assert person["hr_labour:H1"] == person["police_resident:R1"] == person["survey:S1"] == person["tax_iit:T1"]


def test_legacy_number_and_traditional_name_join_deterministically(full):
    person = persons_of(full.links)
    assert person["civil_funeral:F1"] == person["police_resident:R4"]
    assert full.links.set_index("record_key").loc["civil_funeral:F1", "method"] == "id_number"


def test_twins_are_never_merged(full):
    person = persons_of(full.links)
    assert person["police_resident:R2"] != person["police_resident:R3"]
    assert person["edu_student:E1"] == person["police_resident:R2"]
    assert person["edu_student:E2"] == person["police_resident:R3"]


def test_probabilistic_links_carry_their_probability(full):
    survey = full.links.set_index("record_key").loc["survey:S1"]
    assert survey["method"] == "probabilistic"
    assert survey["match_probability"] >= CONFIG.thresholds.accept


def test_review_pairs_carry_a_waterfall_that_adds_up(full):
    assert len(full.review_pairs) > 0     # each twin's school record against the other twin
    explanation = json.loads(full.review_pairs["explanation"].iat[0])
    total = explanation["prior_weight"] + sum(step["weight"] for step in explanation["fields"])
    assert total == pytest.approx(explanation["match_weight"], abs=0.01)


def test_steward_cannot_link_overrides_the_model():
    decisions = pd.DataFrame({"record_key_l": ["survey:S1"], "record_key_r": ["police_resident:R1"],
                              "decision": ["cannot_link"]})
    person = persons_of(resolve(frame(city()), CONFIG, model=MODEL, decisions=decisions).links)
    assert person["survey:S1"] != person["police_resident:R1"]


def test_steward_must_link_joins_two_valid_numbers_without_conflict():
    decisions = pd.DataFrame({"record_key_l": ["police_resident:R2"], "record_key_r": ["police_resident:R3"],
                              "decision": ["must_link"]})
    result = resolve(frame(city()), CONFIG, model=MODEL, decisions=decisions)
    person = persons_of(result.links)
    assert person["police_resident:R2"] == person["police_resident:R3"]
    assert person["police_resident:R2"] not in set(result.conflicts["person_id"])


def test_a_record_between_two_id_numbers_is_split_off_and_reviewed():
    # A survey record with no ID agreeing with both twins' ID records on everything but the given name.
    records = city() + [record("survey", "S9", "李娜", None, birth_date="2012-07-07", gender="F",
                               phones="02212345678", residence=parsed(TWINS_HOME))]
    config = CONFIG.model_copy(update={"thresholds": CONFIG.thresholds.model_copy(
        update={"accept_requires_name_agreement": False})})
    result = resolve(frame(records), config, model=MODEL)
    person = persons_of(result.links)
    assert person["police_resident:R2"] != person["police_resident:R3"]
    # Each twin holds one number after the split: not a CONFLICT; the refused link goes to review.
    assert not {person["police_resident:R2"], person["police_resident:R3"]} & set(result.conflicts["person_id"])
    reviewed = {frozenset(p) for p in zip(result.review_pairs["person_id_l"], result.review_pairs["person_id_r"])}
    assert frozenset((person["police_resident:R2"], person["police_resident:R3"])) in reviewed


def test_incremental_run_gives_the_same_clusters_as_a_full_run():
    records = city()
    first_batch = [r for r in records if r["source"] != "survey" and r["source"] != "edu_student"]
    later = [r for r in records if r not in first_batch]
    first = resolve(frame(first_batch), CONFIG, model=MODEL)
    incremental, _ = resolve_incremental(frame(later), first.state(frame(first_batch)), CONFIG)
    full_run = resolve(frame(records), CONFIG, model=MODEL)
    assert partition(incremental.links) == partition(full_run.links)


def test_incremental_run_keeps_untouched_persons_and_their_ids():
    records = city()
    first = resolve(frame(records[:-1]), CONFIG, model=MODEL)
    later, _ = resolve_incremental(frame(records[-1:]), first.state(frame(records[:-1])), CONFIG)
    before, after = persons_of(first.links), persons_of(later.links)
    assert all(after[k] == before[k] for k in before)
    assert after["civil_funeral:F1"] == before["police_resident:R4"]


def test_person_ids_survive_a_rerun_with_records_joining_and_leaving():
    records = city()
    first = resolve(frame(records), CONFIG, model=MODEL)
    previous = first.links.set_index("record_key")["person_id"]
    without_r1 = [r for r in records if r["record_key"] != "police_resident:R1"]
    extra = record("si_enrolment", "E9", "王丽", WANG_LI)
    second = resolve(frame(without_r1 + [extra]), CONFIG, model=MODEL, previous=previous)
    before, after = persons_of(first.links), persons_of(second.links)
    assert after["tax_iit:T1"] == before["police_resident:R1"] == after["si_enrolment:E9"]
    assert after["police_resident:R2"] == before["police_resident:R2"]


def test_one_survey_record_finds_its_person(tmp_path):
    records = frame(city())
    result = resolve(records, CONFIG, model=MODEL)
    save_state(result.state(records), tmp_path / "state")
    state = load_state(tmp_path / "state")
    query = record("survey", "S2", "王俐", None, birth_date="1985-03-02", gender="F", phones="13800000001")
    ranked = resolve_one(query, state, CONFIG)
    assert ranked["person_id"].iat[0] == persons_of(result.links)["police_resident:R1"]
    assert ranked["match_probability"].iat[0] >= CONFIG.thresholds.accept


def test_one_record_with_a_known_number_is_an_id_match(tmp_path):
    records = frame(city())
    result = resolve(records, CONFIG, model=MODEL)
    ranked = resolve_one(record("survey", "S3", "赵建国", ZHAO), result.state(records), CONFIG)
    assert ranked["method"].iat[0] == "id_number"
    assert ranked["person_id"].iat[0] == persons_of(result.links)["police_resident:R4"]


def test_saved_state_resolves_like_the_one_in_memory(tmp_path):
    records = frame(city())
    result = resolve(records, CONFIG, model=MODEL)
    save_state(result.state(records), tmp_path)
    later = frame([record("survey", "S2", "王俐", None, birth_date="1985-03-02", phones="13800000001")])
    from_disk, _ = resolve_incremental(later, load_state(tmp_path), CONFIG)
    in_memory, _ = resolve_incremental(later, result.state(records), CONFIG)
    assert partition(from_disk.links) == partition(in_memory.links)


def test_duplicate_record_keys_are_refused():
    rows = city()
    with pytest.raises(ValueError, match="record_key must be unique"):
        resolve(frame(rows + rows[:1]), CONFIG, model=MODEL)


def test_steward_decisions_train_a_supervised_model_to_compare():
    decisions = pd.DataFrame({
        "record_key_l": ["survey:S1", "hr_labour:H1", "edu_student:E1", "edu_student:E2"],
        "record_key_r": ["police_resident:R1", "police_resident:R1", "police_resident:R3", "police_resident:R2"],
        "decision": ["must_link", "must_link", "cannot_link", "cannot_link"],
    })
    supervised, table = train_from_decisions(frame(city()), decisions, MODEL, CONFIG)
    assert supervised.training["method"] == "supervised"
    assert list(table["decision"]) == list(decisions["decision"])
    must = table[table["decision"] == "must_link"]
    assert (must["p_supervised"] > 0.5).all() and (must["p_unsupervised"] > 0.5).all()
