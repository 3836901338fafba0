"""Dates, periods, phones and gender in the notations department extracts use."""
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from resolver.standardise.dates import excel_serial_to_date, parse_date, parse_dates, parse_period, parse_periods
from resolver.standardise.gender import standardise_gender, standardise_genders
from resolver.standardise.phones import mask_phone, standardise_phone_field, standardise_phones

MARCH_5 = date(2021, 3, 5)


@pytest.mark.parametrize(
    "written",
    ["2021-03-05", "2021/3/5", "2021.3.5", "20210305", "2021年3月5日", "2021年03月05日", " 2021 年 3 月 5 日 ",
     "2021-03-05 00:00:00", "2021-03-05T08:30", "２０２１－０３－０５", "20210305.0"],
)
def test_date_notations(written):
    assert parse_date(written) == MARCH_5


@pytest.mark.parametrize("serial", [44260, 44260.0, 44260.75, "44260", "44260.0", np.int64(44260), np.float64(44260.0)])
def test_excel_serial_numbers(serial):
    assert parse_date(serial) == MARCH_5


def test_excel_serials_around_the_fictitious_29_february_1900():
    assert excel_serial_to_date(59) == date(1900, 2, 28)
    assert excel_serial_to_date(61) == date(1900, 3, 1)
    with pytest.raises(ValueError):
        excel_serial_to_date(60)


@pytest.mark.parametrize(
    "cell", [datetime(2021, 3, 5, 14, 30), MARCH_5, pd.Timestamp("2021-03-05"), np.datetime64("2021-03-05")]
)
def test_date_objects_from_xlsx_readers(cell):
    assert parse_date(cell) == MARCH_5


def test_yyyymmdd_delivered_as_a_number():
    assert parse_date(20210305) == MARCH_5


@pytest.mark.parametrize("empty", [None, "", "  ", float("nan"), pd.NaT])
def test_empty_date_is_none(empty):
    assert parse_date(empty) is None


@pytest.mark.parametrize("written", ["2021-13-45", "2021-02-29", "abc", "2021", "202103", "3/5/2021"])
def test_unrecognised_date_names_the_value(written):
    with pytest.raises(ValueError, match=f"无法识别的日期 unrecognised date '{written}'"):
        parse_date(written)


@pytest.mark.parametrize("written", ["1899-12-31", "2101-01-01"])
def test_implausible_year_is_an_error(written):
    with pytest.raises(ValueError, match="1900"):
        parse_date(written)


def test_parse_dates_returns_values_and_errors_per_row():
    values, errors = parse_dates(pd.Series(["2021-03-05", "2021-13-45", None, 44260, ""], index=list("abcde")))
    assert values.dtype == "datetime64[ns]"
    assert list(values.index) == list("abcde")
    assert values["a"] == values["d"] == pd.Timestamp(MARCH_5)
    assert values[["b", "c", "e"]].isna().all()
    assert errors["b"] == "无法识别的日期 unrecognised date '2021-13-45'"
    assert errors[["a", "c", "d", "e"]].isna().all()


def test_parse_dates_on_a_datetime_column_drops_the_time():
    values, errors = parse_dates(pd.Series(pd.to_datetime(["2021-03-05 10:00", None])))
    assert values[0] == pd.Timestamp(MARCH_5) and pd.isna(values[1])
    assert errors.isna().all()


@pytest.mark.parametrize(
    "written",
    ["202103", "2021-03", "2021年03月", "2021年3月", "2021/03", "2021-3", 202103, 202103.0, "202103.0",
     "2021-03-05", date(2021, 3, 5), 44260],
)
def test_period_notations(written):
    assert parse_period(written) == "202103"


@pytest.mark.parametrize("written", ["202113", "2021", "3月", "2021-00"])
def test_unrecognised_period_names_the_value(written):
    with pytest.raises(ValueError, match=f"unrecognised period .*'{written}'"):
        parse_period(written)


def test_parse_periods_returns_values_and_errors_per_row():
    periods, errors = parse_periods(pd.Series(["2021年3月", "202113", None]))
    assert periods.tolist() == ["202103", None, None]
    assert errors[0] is None and "202113" in errors[1] and errors[2] is None


@pytest.mark.parametrize(
    "written, numbers",
    [
        ("13812345678", ["13812345678"]),
        ("+86 138 1234 5678", ["13812345678"]),
        ("+8613812345678", ["13812345678"]),
        ("0086-13812345678", ["13812345678"]),
        ("86-13812345678", ["13812345678"]),
        ("138-1234-5678", ["13812345678"]),
        ("１３８１２３４５６７８", ["13812345678"]),
        ("022-23456789", ["02223456789"]),
        ("(022)23456789", ["02223456789"]),
        ("（022）2345 6789", ["02223456789"]),
        ("23456789", ["02223456789"]),
        ("+86 22 2345 6789", ["02223456789"]),
        ("010-62345678", ["01062345678"]),
        (13812345678.0, ["13812345678"]),
        ("13812345678.0", ["13812345678"]),
    ],
)
def test_single_phone_notations(written, numbers):
    assert standardise_phone_field(written) == (numbers, [])


@pytest.mark.parametrize("separator", ["/", ";", "；", "、", ",", "，", " ", " / "])
def test_several_numbers_in_one_field(separator):
    assert standardise_phone_field(f"13812345678{separator}022-23456789") == (["13812345678", "02223456789"], [])


def test_repeated_number_is_kept_once_in_order():
    assert standardise_phone_field("13912345678;13812345678；13912345678")[0] == ["13912345678", "13812345678"]


def test_garbage_is_reported_and_good_numbers_kept():
    numbers, problems = standardise_phone_field("13812345678/见档案/12345")
    assert numbers == ["13812345678"]
    assert problems == ["见档案", "12345"]


@pytest.mark.parametrize("empty", [None, "", "无", "暂无", float("nan")])
def test_no_phone_is_empty_without_a_problem(empty):
    assert standardise_phone_field(empty) == ([], [])


def test_standardise_phones_joins_numbers_and_reports_problems():
    phones, errors = standardise_phones(pd.Series(["13812345678", "138 1234 5678/23456789", "电话坏了", None]))
    assert phones.tolist() == ["13812345678", "13812345678|02223456789", None, None]
    assert errors[:2].isna().all() and errors[3] is None
    assert errors[2] == "无法识别的电话号码 unrecognised phone number '电话坏了'"


def test_standardise_phones_on_numeric_cells():
    phones, _ = standardise_phones(pd.Series([13812345678.0, np.nan]))
    assert phones.tolist() == ["13812345678", None]


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("13812345678|02223456789") == "138****5678|022****6789"
    assert mask_phone(None) is None


@pytest.mark.parametrize(
    "written, gender",
    [("男", "M"), ("女", "F"), ("1", "M"), ("2", "F"), (1, "M"), (2.0, "F"), ("2.0", "F"), ("M", "M"), ("f", "F"),
     ("Ｍ", "M"), ("ｆ", "F"), (" 男性 ", "M"), ("female", "F")],
)
def test_gender_notations(written, gender):
    assert standardise_gender(written) == gender


@pytest.mark.parametrize("unknown", [None, "", "0", "9", "未知", float("nan")])
def test_stated_or_missing_unknown_gender_is_null(unknown):
    assert standardise_gender(unknown) is None


def test_unrecognised_gender_is_an_error():
    with pytest.raises(ValueError, match="不男不女"):
        standardise_gender("不男不女")


def test_standardise_genders_per_row():
    genders, errors = standardise_genders(pd.Series(["男", "Ｆ", "x", None]))
    assert genders.tolist() == ["M", "F", None, None]
    assert errors[[0, 1, 3]].isna().all() and "'x'" in errors[2]


def test_dates_parsed_together_equal_dates_parsed_one_by_one():
    """parse_dates reads common notations in one vectorised pass; it must agree with parse_date on every value."""
    cells = ["2021-03-05", "2021/3/5", "2021年3月5日", "2021年03月05日", "20210305", "2021-3-05", "2021/03-05",
             "2021-02-29", "20211305", "00000000", "2021-00-10", "1899-12-31", "2101-01-01", "19000101", "21001231",
             "２０２１－０３－０５", "2021-03-05 ", "abc", "", None]
    values, errors = parse_dates(pd.Series(cells, dtype=object))
    for cell, value, error in zip(cells, values, errors):
        try:
            expected, expected_error = parse_date(cell), None
        except ValueError as problem:
            expected, expected_error = None, str(problem)
        assert (None if pd.isna(value) else value.date()) == expected, cell
        assert error == expected_error, cell


def test_a_shared_date_cache_gives_the_same_values():
    cache: dict = {}
    cells = pd.Series(["2021-03-05", "2021-02-29"], dtype=object)
    first_values, first_errors = parse_dates(cells, cache)
    again_values, again_errors = parse_dates(cells, cache)
    pd.testing.assert_series_equal(first_values, again_values)
    pd.testing.assert_series_equal(first_errors, again_errors)
