"""Resident ID numbers (GB 11643-1999) and certificate types as department extracts deliver them."""
from datetime import date

import numpy as np
import pandas as pd
import pytest

from resolver.schema import CERT_TYPES, ID_STATUSES
from resolver.standardise.id_number import (
    check_digit,
    convert_15_to_18,
    identity_disagreements,
    mask_id_number,
    one_edit_apart,
    standardise_cert_type,
    standardise_cert_types,
    standardise_id_number,
    standardise_id_numbers,
)

# The standard's own examples.
STANDARD_FEMALE = "11010519491231002X"
STANDARD_MALE_1880 = "440524188001010014"


def resident_id(body17: str) -> str:
    """A valid 18-digit number for a synthetic 17-digit body."""
    return body17 + check_digit(body17)


def test_check_digit_of_the_standards_examples():
    assert check_digit(STANDARD_FEMALE[:17]) == "X"
    assert check_digit(STANDARD_MALE_1880[:17]) == "4"


def test_check_digit_rejects_a_body_that_is_not_17_digits():
    with pytest.raises(ValueError, match="17"):
        check_digit("1101051949123100")


def test_valid_number_yields_birth_date_gender_and_area():
    result = standardise_id_number(STANDARD_FEMALE)
    assert result.number == STANDARD_FEMALE
    assert result.status == "valid"
    assert result.birth_date == date(1949, 12, 31)
    assert result.gender == "F"  # 17th digit 2 is even
    assert result.area_code == "110105"


def test_odd_17th_digit_is_male():
    assert standardise_id_number(resident_id("12010119800101123")).gender == "M"


def test_lowercase_x_is_upper_cased():
    result = standardise_id_number(STANDARD_FEMALE.lower())
    assert (result.number, result.status) == (STANDARD_FEMALE, "valid")


def test_full_width_digits_and_x_are_normalised():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in STANDARD_FEMALE)
    result = standardise_id_number(full_width)
    assert (result.number, result.status) == (STANDARD_FEMALE, "valid")


@pytest.mark.parametrize(
    "written",
    ["110105-19491231-002X", " 110105 1949 1231 002X ", "110105\u300019491231002x", "'11010519491231002X"],
)
def test_hyphens_spaces_and_excel_apostrophe_are_removed(written):
    assert standardise_id_number(written).number == STANDARD_FEMALE


def test_wrong_check_digit_keeps_the_number_and_what_it_says():
    typo = STANDARD_FEMALE[:17] + "5"
    result = standardise_id_number(typo)
    assert result.status == "bad_check_digit"
    assert result.number == typo
    assert result.birth_date == date(1949, 12, 31)


def test_legacy_15_digit_number_is_converted_to_18():
    result = standardise_id_number("120104700101123")
    assert result.status == "converted_15"
    assert result.number == "120104197001011239"
    assert result.birth_date == date(1970, 1, 1)
    assert result.gender == "M"  # the 15th digit 3 is odd


def test_convert_15_to_18_matches_the_scalar_pipeline():
    assert convert_15_to_18("120104700101123") == "120104197001011239"


def test_impossible_embedded_date_is_malformed_even_with_a_good_check_digit():
    number = resident_id("12010120230231123")  # 31 February
    result = standardise_id_number(number)
    assert result.status == "malformed"
    assert result.birth_date is None and result.gender is None


@pytest.mark.parametrize("written", ["1201012023023112", "12010119800101123Y", "身份证号", "1201011980010112345"])
def test_wrong_shapes_are_malformed_and_kept_as_cleaned_text(written):
    result = standardise_id_number(written)
    assert result.status == "malformed"
    assert result.number == written.upper()


@pytest.mark.parametrize("empty", [None, "", "   ", float("nan"), "-", pd.NA])
def test_empty_is_missing(empty):
    assert standardise_id_number(empty).status == "missing"
    assert standardise_id_number(empty).number is None


def test_area_code_abolished_before_birth_is_still_valid():
    # 蓟县 (120225) ceased in 2016; a number issued there before that stays valid for life.
    jixian = standardise_id_number(resident_id("12022519950101123"))
    wuqing_before_2000 = standardise_id_number(resident_id("12011419700101123"))
    assert (jixian.status, wuqing_before_2000.status) == ("valid", "valid")


def test_excel_truncated_number_is_kept_with_unknown_gender():
    body = "12010419800101100"
    assert check_digit(body) != "0", "fixture must fail the check once Excel writes 000"
    as_excel_float = float("1.20104198001011e17")
    result = standardise_id_number(as_excel_float)
    assert result.number == body + "0"
    assert result.status == "bad_check_digit"
    assert result.birth_date == date(1980, 1, 1)
    assert result.gender is None  # the 17th digit was lost to the truncation


def test_excel_float_written_as_text_is_expanded():
    result = standardise_id_number("1.20104198001011E+17")
    assert (result.number, result.birth_date) == ("120104198001011000", date(1980, 1, 1))


def test_number_delivered_as_an_integer_cell():
    assert standardise_id_number(int(STANDARD_MALE_1880)).status == "valid"


def test_passport_is_cleaned_but_not_validated():
    result = standardise_id_number(" e1234 5678 ", "passport")
    assert result == type(result)("E12345678", "other_certificate", None, None, None)


def test_an_18_digit_pass_number_is_not_forced_through_gb_11643():
    result = standardise_id_number(STANDARD_FEMALE[:17] + "5", "护照")
    assert result.status == "other_certificate"


@pytest.mark.parametrize("text, canonical", list(CERT_TYPES.items()))
def test_every_certificate_type_text_maps_to_its_canonical_type(text, canonical):
    assert standardise_cert_type(text) == canonical


def test_canonical_certificate_type_is_kept_and_empty_means_resident_id():
    assert standardise_cert_type("hk_macao_pass") == "hk_macao_pass"
    assert standardise_cert_type(None) == "resident_id"
    assert standardise_cert_type(" 居民身份证 ") == "resident_id"


def test_unknown_certificate_type_is_an_error_naming_the_text():
    with pytest.raises(ValueError, match="驾驶证"):
        standardise_cert_type("驾驶证")
    types, errors = standardise_cert_types(pd.Series(["护照", "驾驶证"]))
    assert types.tolist() == ["passport", None]
    assert errors[0] is None and "驾驶证" in errors[1]


def dirty_variants() -> list[object]:
    """Every notation the scalar tests cover, as one column."""
    tianjin = resident_id("12010519800101123")
    return [
        STANDARD_FEMALE, STANDARD_FEMALE.lower(), "110105-19491231-002X", " 1101 05194912 31002x",
        "１１０１０５１９４９１２３１００２Ｘ", STANDARD_FEMALE[:17] + "5", "120104700101123",
        resident_id("12010120230231123"), "120101202302311", "1201012023023112", "abc", None, "", np.nan,
        float("1.20104198001011e17"), int(STANDARD_MALE_1880), tianjin, tianjin[:6] + " " + tianjin[6:],
        "120101000001011", resident_id("12010119000229123"), resident_id("12010120000229123"),
        "1.20104198001011e+17", "1.20101E+17",
    ]


def test_vectorised_agrees_with_the_scalar_on_every_notation():
    values = dirty_variants()
    frame = standardise_id_numbers(pd.Series(values, dtype=object))
    for row, value in zip(frame.itertuples(index=False), values):
        expected = standardise_id_number(value)
        birth = None if pd.isna(row.id_birth_date) else row.id_birth_date.date()
        actual = (row.id_number, row.id_status, birth, row.id_gender, row.id_area_code)
        assert actual == tuple(vars(expected).values()), value


def test_vectorised_columns_dtypes_and_index():
    frame = standardise_id_numbers(pd.Series([STANDARD_FEMALE, None], index=[10, 11]))
    assert list(frame.columns) == ["id_number", "id_status", "id_birth_date", "id_gender", "id_area_code"]
    assert frame["id_birth_date"].dtype == "datetime64[ns]"
    assert list(frame.index) == [10, 11]
    assert set(frame["id_status"]) <= set(ID_STATUSES)


def test_vectorised_certificate_types_per_row():
    frame = standardise_id_numbers(
        pd.Series(["e12345678", "120104700101123", "120104700101123"]),
        pd.Series(["护照", None, "resident_id"]),
    )
    assert frame["id_status"].tolist() == ["other_certificate", "converted_15", "converted_15"]
    assert frame["id_number"][0] == "E12345678"


def test_vectorised_rejects_an_unknown_certificate_type_column():
    with pytest.raises(ValueError, match="驾驶证"):
        standardise_id_numbers(pd.Series([STANDARD_FEMALE]), pd.Series(["驾驶证"]))


def test_one_digit_typo_is_a_substitution():
    assert one_edit_apart(STANDARD_FEMALE, STANDARD_FEMALE[:5] + "6" + STANDARD_FEMALE[6:]) == "substitution"


def test_swapped_neighbours_are_a_transposition():
    swapped = STANDARD_FEMALE[:10] + STANDARD_FEMALE[11] + STANDARD_FEMALE[10] + STANDARD_FEMALE[12:]
    assert one_edit_apart(STANDARD_FEMALE, swapped) == "transposition"


@pytest.mark.parametrize(
    "other",
    [STANDARD_FEMALE, "22010519491231002X", STANDARD_FEMALE[:17], None, "11010519491231003Y"],
)
def test_equal_distant_or_missing_numbers_are_not_one_edit_apart(other):
    assert one_edit_apart(STANDARD_FEMALE, other) is None


def test_mask_id_number_hides_birth_date_and_order():
    assert mask_id_number("12010119800101123X") == "120101********123X"
    assert mask_id_number("120104700101123") == "120104*****1123"
    assert mask_id_number(None) is None


def identity_frame(**columns) -> pd.DataFrame:
    base = {
        "record_key": ["survey:1"],
        "gender": ["M"],
        "id_gender": ["M"],
        "birth_date": [pd.Timestamp("1980-01-01")],
        "id_birth_date": [pd.Timestamp("1980-01-01")],
    }
    base.update({name: [value] for name, value in columns.items()})
    return pd.DataFrame(base)


def test_gender_contradicting_the_id_is_reported():
    issues = identity_disagreements(identity_frame(gender="F"))
    assert issues[["record_key", "field"]].values.tolist() == [["survey:1", "gender"]]
    assert "性别" in issues["issue"][0]


def test_birth_date_contradicting_the_id_is_reported_with_both_dates():
    issues = identity_disagreements(identity_frame(birth_date=pd.Timestamp("1980-01-02")))
    assert issues["field"].tolist() == ["birth_date"]
    assert "1980-01-02" in issues["issue"][0] and "1980-01-01" in issues["issue"][0]


def test_agreeing_or_unknown_values_are_not_disagreements():
    assert identity_disagreements(identity_frame()).empty
    assert identity_disagreements(identity_frame(gender=None, birth_date=pd.NaT)).empty


def test_disagreements_need_the_canonical_columns():
    with pytest.raises(ValueError, match="id_gender"):
        identity_disagreements(pd.DataFrame({"record_key": [], "gender": [], "birth_date": [], "id_birth_date": []}))


def test_vectorised_agrees_with_the_scalar_on_random_digit_strings():
    rng = np.random.default_rng(11643)
    digits = rng.integers(0, 10, size=(400, 18))
    digits[:, 6:8] = [1, 9]  # a 19xx year so that some embedded dates are real
    values = ["".join(map(str, row)) for row in digits]
    values += [v[:17] + "X" for v in values[:50]] + [v[:6] + v[8:17] for v in values[50:100]]
    frame = standardise_id_numbers(pd.Series(values))
    expected = [standardise_id_number(value) for value in values]
    assert frame["id_status"].tolist() == [e.status for e in expected]
    assert frame["id_number"].tolist() == [e.number for e in expected]
    assert {"valid", "bad_check_digit", "malformed", "converted_15"} <= set(frame["id_status"])
