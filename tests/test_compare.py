"""Comparison levels on Chinese examples: one behaviour per test."""
from __future__ import annotations

import numpy as np
import pytest
from test_resolution_fixtures import frame, parsed, record, resident_id

from resolver.compare import compare_pairs, id_edit_kind, level_name, prepare_features
from resolver.matching_config import load_matching_config
from resolver.standardise.id_number import one_edit_apart

CONFIG = load_matching_config()
BASE_ID = resident_id("120104", "1985-03-02", "123")


def level_of(field: str, left: dict, right: dict) -> str:
    """The level name one pair reaches on one field."""
    features = prepare_features(frame([left, right]))
    levels = compare_pairs(features, np.array([0]), np.array([1]), CONFIG)
    return level_name(field, int(levels[field].iat[0]))


def with_body_digit(number: str, position: int, digit: str) -> str:
    return number[:position] + digit + number[position + 1:]


def swapped(number: str, position: int) -> str:
    return number[:position] + number[position + 1] + number[position] + number[position + 2:]


# ---- ID number

def test_equal_numbers_are_exact():
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", BASE_ID)) == "exact"


def test_a_15_digit_number_equals_its_18_digit_form():
    legacy = BASE_ID[:6] + BASE_ID[8:17]
    assert level_of("id_number", record("a", "1", "王丽", legacy), record("b", "1", "王丽", BASE_ID)) == "converted_15"


def test_one_mistyped_order_digit_is_one_substitution():
    typo = with_body_digit(BASE_ID, 15, "9" if BASE_ID[15] != "9" else "8")
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", typo)) == "one_substitution"


def test_a_wrong_check_character_is_one_substitution():
    typo = BASE_ID[:17] + ("0" if BASE_ID[17] != "0" else "1")
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", typo)) == "one_substitution"


def test_two_swapped_neighbouring_digits_are_a_transposition():
    typo = swapped(BASE_ID, 14)
    assert BASE_ID[14] != BASE_ID[15]
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", typo)) == "adjacent_transposition"


def test_unrelated_numbers_are_different():
    other = resident_id("120102", "1970-11-30", "456")
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", other)) == "different"


def test_a_missing_number_adds_no_evidence():
    assert level_of("id_number", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", None)) == "missing"


def test_equal_passport_numbers_are_exact():
    left = record("hr_foreign", "1", "SMITH JOHN", "E12345678", cert_type="passport")
    right = record("tax_iit", "1", "JOHN SMITH", "e12345678", cert_type="passport")
    assert level_of("id_number", left, right) == "exact"


@pytest.mark.parametrize("position", [p for p in range(16) if BASE_ID[p] != BASE_ID[p + 1]])
def test_vectorised_typo_kinds_agree_with_the_standardiser(position):
    numbers = [
        with_body_digit(BASE_ID, position, str((int(BASE_ID[position]) + 3) % 10)),
        swapped(BASE_ID, position),
        resident_id("120102", "1970-11-30", "456"),
    ]
    base = np.frombuffer(BASE_ID.encode() * len(numbers), dtype=np.uint8).reshape(-1, 18)
    edited = np.frombuffer("".join(numbers).encode(), dtype=np.uint8).reshape(-1, 18)
    kind_code = {"substitution": 1, "transposition": 2, None: 3}
    assert id_edit_kind(base, edited).tolist() == [kind_code[one_edit_apart(BASE_ID, n)] for n in numbers]


# ---- name

def test_traditional_and_simplified_characters_are_the_same_characters():
    assert level_of("name", record("a", "1", "張偉"), record("b", "1", "张伟")) == "same_characters"


def test_homophones_are_same_pinyin():
    assert level_of("name", record("a", "1", "王丽"), record("b", "1", "王莉")) == "same_pinyin"


def test_front_and_back_nasals_are_similar_pinyin():
    assert level_of("name", record("a", "1", "陈晨"), record("b", "1", "程晨")) == "similar_pinyin"


def test_same_surname_other_given_name_is_surname_only():
    assert level_of("name", record("a", "1", "李娜"), record("b", "1", "李婷婷")) == "surname_only"


def test_different_names_are_different():
    assert level_of("name", record("a", "1", "赵敏"), record("b", "1", "孙立新")) == "different"


def test_minority_names_with_and_without_the_dot_are_the_same_characters():
    assert level_of("name", record("a", "1", "买买提·艾力"), record("b", "1", "买买提•艾力")) == "same_characters"


# ---- birth date

def test_equal_birth_dates_are_exact():
    assert level_of("birth_date", record("a", "1", "王丽", birth_date="1985-03-02"),
                    record("b", "1", "王丽", birth_date="1985-03-02")) == "exact"


def test_a_different_year_only_is_one_part():
    assert level_of("birth_date", record("a", "1", "王丽", birth_date="1985-03-02"),
                    record("b", "1", "王丽", birth_date="1986-03-02")) == "one_part_differs"


def test_day_and_month_written_the_other_way_round_are_swapped():
    assert level_of("birth_date", record("a", "1", "王丽", birth_date="1985-03-02"),
                    record("b", "1", "王丽", birth_date="1985-02-03")) == "day_month_swapped"


def test_unrelated_birth_dates_are_different():
    assert level_of("birth_date", record("a", "1", "王丽", birth_date="1985-03-02"),
                    record("b", "1", "王丽", birth_date="1990-12-25")) == "different"


def test_birth_date_falls_back_to_the_id_number():
    assert level_of("birth_date", record("a", "1", "王丽", BASE_ID),
                    record("b", "1", "王丽", birth_date="1985-03-02")) == "exact"


# ---- gender and phone

def test_gender_from_the_id_number_is_compared():
    assert level_of("gender", record("a", "1", "王丽", BASE_ID), record("b", "1", "王丽", gender="F")) == "different"


def test_any_shared_number_among_several_is_shared():
    assert level_of("phone", record("a", "1", "王丽", phones="13800000001|02212345678"),
                    record("b", "1", "王丽", phones="02212345678")) == "shared"


def test_no_common_number_is_none_shared():
    assert level_of("phone", record("a", "1", "王丽", phones="13800000001"),
                    record("b", "1", "王丽", phones="13900000002")) == "none_shared"


# ---- address

def test_same_flat_written_two_ways_is_same_room():
    left = record("a", "1", "王丽", household=parsed("天津市南开区华苑街道日华里3-2-401"))
    right = record("b", "1", "王丽", residence=parsed("南开区华苑街道日华里3号楼2门401"))
    assert level_of("address", left, right) == "same_room"


def test_neighbouring_flat_is_same_building():
    left = record("a", "1", "王丽", household=parsed("天津市南开区华苑街道日华里3-2-401"))
    right = record("b", "1", "王丽", household=parsed("天津市南开区华苑街道日华里3-1-101"))
    assert level_of("address", left, right) == "same_building"


def test_other_building_is_same_community():
    left = record("a", "1", "王丽", household=parsed("天津市南开区华苑街道日华里3-2-401"))
    right = record("b", "1", "王丽", household=parsed("天津市南开区华苑街道日华里5-2-401"))
    assert level_of("address", left, right) == "same_community"


def test_legacy_district_name_reaches_the_same_district():
    left = record("a", "1", "王丽", household=parsed("天津市塘沽区解放路5号"))
    right = record("b", "1", "王丽", household=parsed("天津市滨海新区解放路5号"))
    assert level_of("address", left, right) == "same_building"


def test_other_district_is_different():
    left = record("a", "1", "王丽", household=parsed("天津市南开区华苑街道日华里3-2-401"))
    right = record("b", "1", "王丽", household=parsed("天津市河东区大王庄街道6号"))
    assert level_of("address", left, right) == "different"


def test_one_record_coded_alone_in_python_gets_the_codes_it_gets_in_bulk(sample_records):
    # The survey app codes its record with features_of_one; a difference would hide a match.
    from dataclasses import fields as dataclass_fields

    from resolver.compare import features_of_one

    bulk = prepare_features(sample_records)
    for position, row in enumerate(sample_records.to_dict("records")):
        alone, expected = features_of_one(row), bulk.take([position])
        for field in dataclass_fields(expected):
            got, want = getattr(alone, field.name), getattr(expected, field.name)
            if field.name in ("name_key", "name_string"):
                assert got.to_pylist() == want.to_pylist(), (position, field.name)
            else:
                assert np.array_equal(got, want), (position, field.name, got, want)


# ---- addresses whose community the dictionary lacks (issue 16 §1, issue 21)

SHAPED_ADDRESSES = (
    "天津市东丽区华明街道光城南里社区10栋5单元101室", "东丽区华明街道光城南里10-5-101", "东丽区华明街道10-5-101",
    "天津市西青区王稳庄镇杨家洼村330号", "西青区王稳庄镇杨家洼村委会330号", "南开区万兴街道竹明新村社区6-5-1904",
    "南开区万兴街道竹明新村6号楼5门1904", "天津市南开区华苑街道日华里社区碧华园3-2-401", "和平区南京路100号3门201",
)


def test_a_flat_in_a_community_the_dictionary_lacks_is_same_room_however_written():
    left = record("a", "1", "王丽", household=parsed("天津市东丽区华明街道光城南里社区10栋5单元101室"))
    right = record("b", "1", "王丽", residence=parsed("东丽区华明街道光城南里10号楼5门101"))
    assert level_of("address", left, right) == "same_room"


def test_a_village_house_the_dictionary_lacks_is_same_building():
    left = record("a", "1", "王丽", household=parsed("天津市西青区王稳庄镇杨家洼村330号"))
    right = record("b", "1", "王丽", residence=parsed("西青区王稳庄镇杨家洼村委会330号"))
    assert level_of("address", left, right) == "same_building"
    other = record("c", "1", "王丽", residence=parsed("西青区王稳庄镇杨家洼村331号"))
    assert level_of("address", left, other) == "same_community"


def test_a_flat_written_without_its_community_shares_the_street_room_key():
    from resolver.compare import ADDRESS_KEY_PARTS

    features = prepare_features(frame([
        record("a", "1", "王丽", residence=parsed("东丽区华明街道光城南里社区10-5-101")),
        record("b", "1", "王丽", residence=parsed("东丽区华明街道10栋5单元101室")),
        record("c", "1", "王丽", residence=parsed("东丽区华明街道10栋5单元102室"))]))
    street_room = features.address[:, 1, ADDRESS_KEY_PARTS.index("street_room")]
    assert street_room[0] == street_room[1] != street_room[2] and (street_room >= 0).all()
    room = features.address[:, 1, ADDRESS_KEY_PARTS.index("room")]
    assert room[0] >= 0 and room[1] < 0      # no community written: no room key, the street_room key instead


@pytest.mark.parametrize("text", SHAPED_ADDRESSES)
def test_address_keys_alone_equal_bulk_keys(text):
    from resolver.compare import features_of_one

    rows = [record("a", str(i), "王丽", household=parsed(text), residence=parsed(other))
            for i, other in enumerate(SHAPED_ADDRESSES)]
    bulk = prepare_features(frame(rows))
    for position, row in enumerate(frame(rows).to_dict("records")):
        assert np.array_equal(features_of_one(row).address, bulk.address[[position]]), (text, position)
