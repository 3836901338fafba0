"""Two valid ID numbers for one person, a household member's number, funeral records without a number
(issue 16 §2-§3): resolution on small real-shaped records with a fixed, readable model."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from test_resolution_fixtures import frame, parsed, record, resident_id
from test_resolve import MODEL, TWIN_A, TWIN_B, TWINS_HOME, city, persons_of

from resolver.blocking import candidate_pairs, missed_true_pairs
from resolver.cluster import ID_KEPT_REASON
from resolver.compare import prepare_features
from resolver.matching_config import load_matching_config
from resolver.resolve import BORROWED_REASON, REVIEW_ID_KEPT, resolve, resolve_incremental
from resolver.state import ResolverState
from resolver.standardise.id_number import check_digit

CONFIG = load_matching_config()
SUN = resident_id("120118", "1958-04-16", "362")
SUN_KEYED_WRONG = SUN[:14] + "51" + SUN[16] + check_digit(SUN[:14] + "51" + SUN[16])   # 顺序码 36→51
VILLAGE = "天津市静海区蔡公庄镇顺小王村202号"


def keyed_wrong_city() -> list[dict]:
    """孙桂兰: police and tax under her number; her enrolment keyed with another valid number."""
    return [
        record("police_resident", "R1", "孙桂兰", SUN, birth_date="1958-04-16", gender="F", phones="13900000011",
               household=parsed(VILLAGE)),
        record("tax_iit", "T1", "孙桂兰", SUN),
        record("si_enrolment", "E1", "孙桂兰", SUN_KEYED_WRONG),
    ]


def test_the_keyed_wrong_number_is_another_valid_one_sharing_area_and_birth():
    assert SUN_KEYED_WRONG != SUN and SUN_KEYED_WRONG[:14] == SUN[:14]
    assert frame(keyed_wrong_city())["id_status"].eq("valid").all()


def test_a_sequence_code_keyed_wrong_stays_one_person_flagged_and_reviewed():
    result = resolve(frame(keyed_wrong_city()), CONFIG, model=MODEL)
    person = persons_of(result.links)
    assert person["si_enrolment:E1"] == person["police_resident:R1"] == person["tax_iit:T1"]
    assert dict(zip(result.conflicts["person_id"], result.conflicts["reason"]))[person["police_resident:R1"]] == \
        ID_KEPT_REASON
    kept = result.review_pairs[result.review_pairs["reason"] == REVIEW_ID_KEPT]
    assert len(kept) == 1 and kept["person_id_l"].iat[0] == kept["person_id_r"].iat[0] == person["si_enrolment:E1"]


def test_a_keyed_wrong_pair_is_blocked_by_name_and_birth_date_between_the_two_numbers():
    table = frame(keyed_wrong_city())
    pairs = candidate_pairs(prepare_features(table), CONFIG)
    keys = table["record_key"].to_numpy()
    found = {frozenset((keys[l], keys[r])): {n for i, n in enumerate(pairs.rule_names) if int(m) >> i & 1}
             for l, r, m in zip(pairs.left, pairs.right, pairs.rule_mask)}
    # Both records under her own number meet the keyed-wrong one; the two under one number never pair.
    assert "name_birth_two_ids" in found[frozenset(("police_resident:R1", "si_enrolment:E1"))]
    assert "name_birth_two_ids" in found[frozenset(("si_enrolment:E1", "tax_iit:T1"))]
    assert frozenset(("police_resident:R1", "tax_iit:T1")) not in found


def test_the_join_is_off_when_the_policy_says_so():
    config = CONFIG.model_copy(update={"id_conflicts": CONFIG.id_conflicts.model_copy(update={"join": False})})
    person = persons_of(resolve(frame(keyed_wrong_city()), config, model=MODEL).links)
    assert person["si_enrolment:E1"] != person["police_resident:R1"]


COMMON = replace(MODEL, name_frequencies={"张伟": 0.003})   # 张伟: about 3 in 1,000 people
ZHANG_1 = resident_id("120104", "1980-05-05", "231")
ZHANG_2 = resident_id("120104", "1980-05-05", "471")


def test_namesakes_with_a_common_name_and_a_birth_date_stay_apart():
    records = [record("police_resident", "Z1", "张伟", ZHANG_1, household=parsed("天津市南开区华苑街道日华里3-2-401")),
               record("police_resident", "Z2", "张伟", ZHANG_2, household=parsed("天津市河西区友谊路街道友谊路20号"))]
    result = resolve(frame(records), CONFIG, model=COMMON)
    person = persons_of(result.links)
    assert person["police_resident:Z1"] != person["police_resident:Z2"]
    assert result.conflicts.empty


def test_a_common_name_with_a_shared_phone_is_not_a_namesake():
    records = [record("police_resident", "Z1", "张伟", ZHANG_1, phones="13900000077"),
               record("hr_labour", "Z2", "张伟", ZHANG_2, phones="13900000077")]
    person = persons_of(resolve(frame(records), CONFIG, model=COMMON).links)
    assert person["police_resident:Z1"] == person["hr_labour:Z2"]


def test_twins_with_two_numbers_sharing_area_and_birth_are_never_joined():
    records = [record("police_resident", "A", "李娜", TWIN_A, phones="02212345678", household=parsed(TWINS_HOME)),
               record("police_resident", "B", "李婷", TWIN_B, phones="02212345678", household=parsed(TWINS_HOME)),
               record("tax_iit", "C", "李婷", TWIN_B)]
    result = resolve(frame(records), CONFIG, model=MODEL)
    person = persons_of(result.links)
    assert person["police_resident:A"] != person["police_resident:B"]
    assert result.conflicts.empty


WANG_LI = city()[0]["id_number"]


def test_a_record_with_a_household_members_number_is_not_joined_to_its_owner():
    # 李娜's school record carries 王丽's number; her own police record has her number.
    records = city() + [record("edu_student", "E9", "李娜", WANG_LI, birth_date="2012-07-07", gender="F",
                               phones="02212345678", residence=parsed(TWINS_HOME))]
    result = resolve(frame(records), CONFIG, model=MODEL)
    person = persons_of(result.links)
    assert person["edu_student:E9"] != person["police_resident:R1"]          # not 王丽, the number's owner
    assert person["edu_student:E9"] == person["police_resident:R2"]          # 李娜 by name, birth, phone, home
    assert dict(zip(result.conflicts["person_id"], result.conflicts["reason"]))[person["edu_student:E9"]] == \
        BORROWED_REASON


def test_the_owner_of_a_number_is_the_name_whose_birth_date_agrees_with_it():
    # One record each: 王丽's own (no birth date delivered) and 李娜's with her own birth date beside 王丽's number.
    records = [record("tax_iit", "T1", "王丽", WANG_LI),
               record("edu_student", "E9", "李娜", WANG_LI, birth_date="2012-07-07", gender="F")]
    person = persons_of(resolve(frame(records), CONFIG, model=MODEL).links)
    assert person["edu_student:E9"] != person["tax_iit:T1"]
    owner = [r for r in resolve(frame(records), CONFIG, model=MODEL).links.itertuples() if r.record_key == "tax_iit:T1"]
    assert owner[0].method == "singleton"


def test_an_incremental_run_also_keeps_a_borrowed_number_apart():
    base = frame(city())
    first = resolve(base, CONFIG, model=MODEL)
    state = ResolverState(records=first.state(base).records, links=first.links, edges=first.edges,
                          conflicts=first.conflicts, model=MODEL)
    new = frame([record("edu_student", "E9", "李娜", WANG_LI, birth_date="2012-07-07", gender="F",
                        phones="02212345678", residence=parsed(TWINS_HOME))])
    result, _ = resolve_incremental(new, state, CONFIG)
    person = persons_of(result.links)
    assert person["edu_student:E9"] != person["police_resident:R1"]


def test_a_funeral_record_without_a_number_finds_the_villager_by_name_gender_and_village():
    records = [record("police_resident", "R1", "孙桂兰", SUN, birth_date="1958-04-16", gender="F",
                      household=parsed(VILLAGE)),
               record("civil_funeral", "F1", "孙桂兰", None, gender="F", household=parsed(VILLAGE))]
    person = persons_of(resolve(frame(records), CONFIG, model=MODEL).links)
    assert person["civil_funeral:F1"] == person["police_resident:R1"]


def test_a_funeral_pair_short_of_the_evidence_comes_first_in_review():
    records = [record("police_resident", "R1", "孙桂兰", SUN, birth_date="1958-04-16", gender="F",
                      household=parsed(VILLAGE)),
               record("civil_funeral", "F1", "孙桂兰", None, gender="F", household=parsed(VILLAGE)),
               record("police_resident", "R2", "王丽", WANG_LI, phones="13800000001"),
               record("survey", "S1", "王丽", None, birth_date="1985-03-02", gender="F", phones="13800000001")]
    strict = CONFIG.model_copy(update={"thresholds": CONFIG.thresholds.model_copy(update={"accept": 0.99999999999999})})
    review = resolve(frame(records), strict, model=MODEL).review_pairs
    assert len(review) == 2
    assert review["match_probability"].iat[0] < review["match_probability"].iat[1]    # not by probability …
    assert "civil_funeral:F1" in (review["record_key_l"].iat[0], review["record_key_r"].iat[0])   # … a death first


def test_missed_true_pairs_are_grouped_by_what_their_records_share():
    # Two records of one person sharing only name and employer-less sources: no rule pairs them.
    records = [record("police_resident", "R1", "孙桂兰", SUN, birth_date="1958-04-16", gender="F"),
               record("si_enrolment", "E1", "孙桂兰", None),
               record("police_resident", "R2", "王丽", WANG_LI, phones="13800000001"),
               record("survey", "S1", "王丽", None, birth_date="1985-03-02", gender="F", phones="13800000001")]
    table = frame(records)
    features = prepare_features(table)
    pairs = candidate_pairs(features, CONFIG)
    truth = pd.Series(["p1", "p1", "p2", "p2"])
    missed = missed_true_pairs(pairs, features, truth, CONFIG, table["source"].to_numpy(dtype=object))
    assert missed["missed_pairs"].tolist() == [1]
    assert missed["sources"].iat[0] == "police_resident+si_enrolment"
    assert "name=same_characters" in missed["shares"].iat[0] and "birth_date=missing" in missed["shares"].iat[0]
    assert np.isin(["shares", "sources", "missed_pairs"], missed.columns).all()


def _open_pair(status_l: str, status_r: str, probability: float):
    from api.engine import OpenPair
    from graph.store import ReviewItem

    item = ReviewItem("a:1", "b:1", probability, {}, None, None, None, None, "P1", "P2")
    return OpenPair(item, "P1", "P2", status_l, status_r)


def test_a_pair_that_brings_a_death_is_reviewed_first():
    death = _open_pair("DECEASED", "ENROLLED", 0.95)
    target = _open_pair("UNENROLLED", "ENROLLED", 0.5)
    other = _open_pair("ENROLLED", "OUT_OF_SCOPE", 0.5)
    assert death.impact == 2 and death.brings_death
    queue = sorted([other, target, death], key=lambda p: (-p.impact, not p.brings_death,
                                                           abs(p.item.match_probability - 0.5)))
    assert queue == [death, target, other]


def test_a_borrowed_number_finds_the_member_of_its_owners_household_bearing_the_name():
    # 李娜's tax record carries her mother 王丽's number and nothing else; both live at 日华里3-2-401.
    home = parsed("天津市南开区华苑街道日华里3-2-401")
    na = resident_id("120104", "2008-09-09", "262")
    records = [record("police_resident", "M1", "王丽", WANG_LI, household=home),
               record("si_enrolment", "M2", "王丽", WANG_LI),
               record("police_resident", "D1", "李娜", na, household=home),
               record("police_resident", "X1", "李娜", resident_id("120105", "1990-01-01", "222"),
                      household=parsed("天津市河北区王串场街道民权门5-1-101")),
               record("tax_iit", "D2", "李娜", WANG_LI)]
    result = resolve(frame(records), CONFIG, model=MODEL)
    person = persons_of(result.links)
    assert person["tax_iit:D2"] == person["police_resident:D1"]          # the daughter, at her mother's home
    assert person["tax_iit:D2"] not in (person["police_resident:M1"], person["police_resident:X1"])


def test_a_between_numbers_rule_on_the_id_number_is_refused_with_its_key(tmp_path):
    import pytest
    import yaml

    from resolver.matching_config import DEFAULT_PATH, MatchingConfigError

    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    at = next(i for i, r in enumerate(data["blocking"]["rules"]) if r.get("between_id_numbers"))
    data["blocking"]["rules"][at]["fields"] = ["id_number"]
    data["id_conflicts"]["rare_name_share"] = 2
    path = tmp_path / "matching.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MatchingConfigError, match=rf"blocking\.rules\.{at}.*between_id_numbers") as caught:
        load_matching_config(path)
    assert "rare_name_share" in str(caught.value)


def test_namesakes_born_the_same_day_in_two_areas_are_not_compared_between_their_numbers():
    # Same name and birth date, numbers from 静海 and 河北: not one number keyed wrong, never a candidate.
    records = [record("police_resident", "Z1", "孙桂兰", SUN),
               record("police_permit", "Z2", "孙桂兰", resident_id("120105", "1958-04-16", "362"))]
    pairs = candidate_pairs(prepare_features(frame(records)), CONFIG)
    assert len(pairs) == 0
    result = resolve(frame(records), CONFIG, model=MODEL)
    assert result.conflicts.empty and result.review_pairs.empty


def test_a_pair_of_two_numbers_kept_as_one_person_stays_in_the_api_queue():
    from api.engine import _two_numbers_kept
    from graph.store import ReviewItem

    kept = ReviewItem("a:1", "b:1", 0.99, {}, "孙桂兰", "孙桂兰", SUN, SUN_KEYED_WRONG, "P1", "P1")
    merged = ReviewItem("a:1", "c:1", 0.99, {}, "孙桂兰", "孙桂兰", SUN, None, "P1", "P1")
    assert _two_numbers_kept(kept) and not _two_numbers_kept(merged)


def test_a_rare_name_counts_other_bearers_not_the_two_numbers_themselves():
    # In a 10,000-person extract 孙桂兰 is in the name table 3 times: her two numbers and one other person
    # (3 in 10,000 > the 1 in 5,000 bar, 1 other in 10,000 below it): she stays one person.
    model = replace(MODEL, name_frequencies={"孙桂兰": 0.0003}, training={"name_persons": 10_000})
    person = persons_of(resolve(frame(keyed_wrong_city()), CONFIG, model=model).links)
    assert person["si_enrolment:E1"] == person["police_resident:R1"]
    crowded = replace(model, name_frequencies={"孙桂兰": 0.0005})     # 3 others: a namesake is possible
    person = persons_of(resolve(frame(keyed_wrong_city()), CONFIG, model=crowded).links)
    assert person["si_enrolment:E1"] != person["police_resident:R1"]
