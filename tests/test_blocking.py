"""Blocking: which record pairs each rule proposes, and the per-rule report."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from test_resolution_fixtures import frame, parsed, record, resident_id

from resolver.blocking import blocking_report, candidate_pairs, rule_keys
from resolver.compare import prepare_features
from resolver.matching_config import DEFAULT_PATH, MatchingConfigError, load_matching_config

CONFIG = load_matching_config()
WANG = resident_id("120104", "1985-03-02", "123")
HOME = "天津市南开区华苑街道日华里3-2-401"


def pair_rules(records: list[dict], config=CONFIG) -> dict[tuple[str, str], set[str]]:
    """{(record_key, record_key): rule names} of the candidate pairs."""
    table = frame(records)
    pairs = candidate_pairs(prepare_features(table), config)
    keys = table["record_key"].to_numpy()
    out = {}
    for l, r, mask in zip(pairs.left, pairs.right, pairs.rule_mask):
        out[(keys[l], keys[r])] = {n for i, n in enumerate(pairs.rule_names) if int(mask) >> i & 1}
    return out


def test_two_records_with_the_same_valid_number_are_not_blocked():
    # They are linked deterministically; comparing them would be wasted work.
    pairs = pair_rules([record("police_resident", "1", "王丽", WANG), record("tax_iit", "1", "王丽", WANG)])
    assert pairs == {}


def test_a_wrong_check_character_meets_its_valid_number():
    typo = WANG[:17] + ("0" if WANG[17] != "0" else "1")
    pairs = pair_rules([record("police_resident", "1", "王丽", WANG), record("tax_iit", "1", "赵敏", typo)])
    assert pairs == {("police_resident:1", "tax_iit:1"): {"id_number_typo"}}


def test_swapped_order_digits_meet_their_valid_number():
    typo = WANG[:14] + WANG[15] + WANG[14] + WANG[16:]
    pairs = pair_rules([record("police_resident", "1", "王丽", WANG), record("tax_iit", "1", "赵敏", typo)])
    assert "id_number_typo" in pairs[("police_resident:1", "tax_iit:1")]


def test_a_record_without_id_meets_a_homophone_born_the_same_day():
    pairs = pair_rules([record("police_resident", "1", "陈晨", WANG),
                        record("survey", "1", "程晨", birth_date="1985-03-02")])
    assert "name_pinyin_birth" in pairs[("police_resident:1", "survey:1")]


def test_any_of_several_phones_blocks():
    pairs = pair_rules([record("police_resident", "1", "王丽", WANG, phones="13800000001|02212345678"),
                        record("survey", "1", "赵敏", phones="02212345678")])
    assert pairs == {("police_resident:1", "survey:1"): {"phone"}}


def test_household_address_meets_residence_address():
    pairs = pair_rules([record("police_resident", "1", "王丽", WANG, household=parsed(HOME)),
                        record("survey", "1", "王芳", residence=parsed("南开区华苑街道日华里3号楼1门101"))])
    assert pairs == {("police_resident:1", "survey:1"): {"surname_community_building"}}


def test_an_oversized_block_is_skipped_and_counted():
    config = load_matching_config()
    config = config.model_copy(update={"blocking": config.blocking.model_copy(update={"max_block_size": 3})})
    switchboard = [record("hr_labour", str(i), f"职工{i}", phones="02200000000") for i in range(4)]
    pairs = candidate_pairs(prepare_features(frame(switchboard)), config)
    assert len(pairs) == 0
    assert pairs.skipped_blocks["phone"] == 1


def test_incremental_blocking_keeps_only_pairs_with_a_new_record():
    table = frame([record("survey", "1", "王丽", phones="13800000001"),
                   record("survey", "2", "王丽", phones="13800000001"),
                   record("survey", "3", "王丽", phones="13800000001")])
    pairs = candidate_pairs(prepare_features(table), CONFIG, only_with=np.array([False, False, True]))
    assert sorted(zip(pairs.left.tolist(), pairs.right.tolist())) == [(0, 2), (1, 2)]


def test_report_counts_true_pairs_per_rule_and_only_this_rule():
    table = frame([
        record("police_resident", "1", "王丽", WANG, phones="13800000001"),
        record("survey", "1", "王莉", birth_date="1985-03-02", phones="13800000001"),
        record("survey", "2", "王丽", birth_date="1985-03-02"),
    ])
    truth = pd.Series(["p1", "p1", "p2"])
    features = prepare_features(table)
    report = blocking_report(candidate_pairs(features, CONFIG), features, truth).set_index("rule")
    assert report.loc["phone", "true_pairs_covered"] == 1
    assert report.loc["name_pinyin_birth", "pairs"] == 3
    assert report.loc["name_pinyin_birth", "true_pairs_only_this_rule"] == 0
    assert report.loc["(all rules)", "recall"] == 1.0


def test_a_bad_rule_field_names_the_file_and_key(tmp_path):
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["blocking"]["rules"][2]["fields"] = ["name_pinyin_folded", "birthday"]
    path = tmp_path / "matching.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MatchingConfigError, match=r"matching\.yaml.*blocking\.rules\.2\.fields.*birthday"):
        load_matching_config(path)


def test_one_record_alone_gets_the_keys_it_gets_in_bulk():
    # resolve_one codes the survey record on its own; its keys must equal those it gets among the city's.
    table = frame([
        record("police_resident", "1", "王丽", WANG, phones="13800000001|02212345678", household=parsed(HOME),
               residence=parsed("天津市塘沽区解放路5号")),
        record("survey", "1", "王莉", birth_date="1985-03-02", phones="02212345678"),
    ])
    table["employer_name"] = [None, "天津市示例科技有限公司"]
    bulk = prepare_features(table)
    compared = 0
    for position in range(len(table)):
        alone = prepare_features(table.iloc[[position]].reset_index(drop=True))
        for rule in CONFIG.blocking.rules[2:]:
            positions, keys = rule_keys(bulk, rule)
            assert set(rule_keys(alone, rule)[1].tolist()) == set(keys[positions == position].tolist()), rule.name
            compared += int((positions == position).sum())
    assert compared >= 6   # phones, address buildings, pinyin + birth date, employer


def test_one_record_keyed_in_python_gets_the_keys_it_gets_in_bulk(sample_records):
    # The survey app's lookup keys its record with rule_keys_one; a missing key would hide a match.
    from resolver.blocking import rule_keys_one
    from resolver.compare import features_of_one
    from resolver.matching_config import NEIGHBOURHOOD_FIELD

    bulk = prepare_features(sample_records)
    rules = [rule for rule in CONFIG.blocking.rules if rule.fields != (NEIGHBOURHOOD_FIELD,)]
    bulk_keys = {rule.name: rule_keys(bulk, rule) for rule in rules}
    keyed = 0
    for position, row in enumerate(sample_records.to_dict("records")):
        alone = features_of_one(row)
        for rule in rules:
            positions, keys = bulk_keys[rule.name]
            got = rule_keys_one(alone, rule)
            assert len(got) == len(set(got)), rule.name
            assert set(got) == set(keys[positions == position].tolist()), (position, rule.name)
            keyed += len(got)
    assert keyed > len(sample_records)


# ---- door rules (issue 21): single-record lookups only

NEW_FLAT = "天津市东丽区华明街道光城南里社区10栋5单元101室"


def test_a_household_is_not_paired_in_bulk_by_the_door_rules():
    pairs = pair_rules([record("police_resident", "1", "王丽", residence=parsed(NEW_FLAT)),
                        record("police_resident", "2", "赵敏", residence=parsed(NEW_FLAT))])
    assert pairs == {}


def test_same_surname_at_a_village_house_the_dictionary_lacks_is_paired():
    pairs = pair_rules([record("police_resident", "1", "王丽", residence=parsed("天津市西青区王稳庄镇杨家洼村330号")),
                        record("civil_assistance", "1", "王莉", residence=parsed("西青区王稳庄镇杨家洼村委会330号"))])
    assert pairs == {("police_resident:1", "civil_assistance:1"): {"surname_community_building"}}


@pytest.mark.parametrize("change, message", [
    (lambda d: d["blocking"]["door_rules"].append({"name": "phone", "fields": ["room"]}), "door_rules names"),
    (lambda d: d["blocking"]["door_rules"].append({"name": "door_typo", "fields": ["id_number_neighbourhood"]}),
     "cannot be a door rule"),
    (lambda d: d["blocking"]["door_rules"][0].update(fields=["flat"]), r"door_rules\.0\.fields.*flat"),
])
def test_a_bad_door_rule_names_the_file_and_key(tmp_path, change, message):
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "matching.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MatchingConfigError, match=rf"matching\.yaml.*{message}"):
        load_matching_config(path)
