"""Dates and year-month periods in every notation department extracts use.

Dates: ``2021-03-05``, ``2021/3/5``, ``2021.3.5``, ``20210305``, ``2021年3月5日``, an optional
time part, Excel serial numbers (44260, "44260", "44260.0") and datetime/date objects from
xlsx readers. Periods (所属期, 最近缴费月份): ``202103``, ``2021-03``, ``2021/03``,
``2021年3月`` and any full date, all → ``"202103"``.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from resolver.standardise.unique import map_unique_checked

# Years accepted as plausible for any date or period in an extract.
PLAUSIBLE_YEARS = (1900, 2100)

# Excel's 1900 date system counts 1900-02-29 (serial 60), a day that never existed (Lotus 1-2-3 bug):
# serials from 61 on are days since 1899-12-30, serials 1-59 days since 1899-12-31.
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_PATTERNS = (
    re.compile(rf"(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})(?:\.0+)?"),
)
_PERIOD_PATTERNS = (
    re.compile(r"(\d{4})(\d{2})(?:\.0+)?"),
    re.compile(r"(\d{4})[-/.](\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月?"),
)
# A serial number as text: xlsx readers stringify numeric cells as "44260" or "44260.0". Four digits
# or fewer read as a year, not a date, so text serials need five digits (1927-05-18 onwards).
_SERIAL_TEXT = re.compile(r"\d{5}(?:\.\d+)?")
_SPACES = re.compile(r"\s+")
# The notations most cells use, in ASCII digits: 2021-03-05, 2021/3/5, 2021年3月5日, 20210305. Their new values
# are parsed together (parse_dates); anything else, and any of them that is not a plausible date, one by one.
_COMMON_DATE = re.compile(
    r"([0-9]{4})(?:([-/])([0-9]{1,2})\2([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})日|([0-9]{2})([0-9]{2}))")


def excel_serial_to_date(serial: float) -> date:
    """The calendar day of an Excel (1900 system) serial number; the fraction (time of day) is dropped."""
    whole = int(np.floor(serial))
    if whole < 1 or whole > _EXCEL_MAX_SERIAL or whole == 60:
        raise ValueError(f"不是有效的Excel日期序号 not an Excel date serial: {serial!r}")
    return _EXCEL_EPOCH + timedelta(days=whole if whole > 60 else whole + 1)


def parse_date(raw: Any) -> date | None:
    """One date from any supported notation; None when empty; ValueError naming the value otherwise."""
    if _is_missing(raw):
        return None
    if isinstance(raw, datetime):
        parsed = raw.date()
    elif isinstance(raw, date):
        parsed = raw
    elif isinstance(raw, np.datetime64):
        parsed = pd.Timestamp(raw).date()
    elif isinstance(raw, (bool, np.bool_)):
        raise ValueError(_unrecognised_date(raw))
    elif isinstance(raw, (int, float, np.integer, np.floating)):
        parsed = _date_from_number(raw)
    elif isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            return None
        parsed = _date_from_text(text, raw)
    else:
        raise ValueError(_unrecognised_date(raw))
    if not PLAUSIBLE_YEARS[0] <= parsed.year <= PLAUSIBLE_YEARS[1]:
        raise ValueError(
            f"日期不在{PLAUSIBLE_YEARS[0]}–{PLAUSIBLE_YEARS[1]}年之间 "
            f"date outside {PLAUSIBLE_YEARS[0]}-{PLAUSIBLE_YEARS[1]}: {raw!r}"
        )
    return parsed


def parse_dates(raw: pd.Series, cache: dict | None = None) -> tuple[pd.Series, pd.Series]:
    """Vectorised parse_date: (datetime64[ns] values, error text or None per row); empty → NaT, no error.

    ``cache`` (value → (Timestamp, error)) may be shared across calls on text cells.
    """
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raw = raw.astype(object).where(raw.notna(), None)
    cache = {} if cache is None else cache
    cache.update(_common_dates([value for value in pd.unique(raw) if type(value) is str and value not in cache]))
    values, errors = map_unique_checked(raw, _parse_timestamp, cache, failed=pd.NaT)
    return values.astype("datetime64[ns]"), errors


def _common_dates(texts: list[str]) -> dict[str, tuple[pd.Timestamp, None]]:
    """{text: (Timestamp, None)} for the texts in a _COMMON_DATE notation that are plausible dates.

    The same entries _parse_timestamp's checked form gives them, computed with one vectorised
    calendar check instead of a call per value.
    """
    found = [(text, match) for text in texts if (match := _COMMON_DATE.fullmatch(text)) is not None]
    if not found:
        return {}
    parts = np.array([(m[1], m[3] or m[5] or m[7], m[4] or m[6] or m[8]) for _, m in found], dtype=np.int64)
    years, months, days = parts.T
    stamps = pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": days}), errors="coerce")
    plausible = stamps.notna() & (years >= PLAUSIBLE_YEARS[0]) & (years <= PLAUSIBLE_YEARS[1])
    return {text: (stamp, None) for (text, _), stamp, ok in zip(found, stamps, plausible) if ok}


def parse_period(raw: Any) -> str | None:
    """One year-month period as ``"YYYYMM"``; None when empty; ValueError naming the value otherwise."""
    if _is_missing(raw):
        return None
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, (bool, np.bool_)) and 100000 <= raw <= 999999:
        text = str(int(raw))
    elif isinstance(raw, (float, np.floating)) and float(raw).is_integer() and 100000 <= raw <= 999999:
        text = str(int(raw))
    elif isinstance(raw, str):
        text = _SPACES.sub("", unicodedata.normalize("NFKC", raw))
        if not text:
            return None
    else:
        return _period_of_date(raw, raw)
    for pattern in _PERIOD_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            year, month = int(match[1]), int(match[2])
            if 1 <= month <= 12 and PLAUSIBLE_YEARS[0] <= year <= PLAUSIBLE_YEARS[1]:
                return f"{year:04d}{month:02d}"
            raise ValueError(_unrecognised_period(raw))
    return _period_of_date(text, raw)


def parse_periods(raw: pd.Series, cache: dict | None = None) -> tuple[pd.Series, pd.Series]:
    """Vectorised parse_period: (``"YYYYMM"`` or None, error text or None) per row; ``cache`` as parse_dates."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raw = raw.astype(object).where(raw.notna(), None)
    periods, errors = map_unique_checked(raw, parse_period, cache)
    return periods.astype(object), errors


def _parse_timestamp(value: Any) -> pd.Timestamp:
    """parse_date as a Timestamp (NaT when empty), for the datetime64 column."""
    parsed = parse_date(value)
    return pd.NaT if parsed is None else pd.Timestamp(parsed)


def _date_from_number(value: float) -> date:
    """A number from an xlsx cell: YYYYMMDD when it has 8 digits, else an Excel serial."""
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(_unrecognised_date(value))
    if number.is_integer() and 10_000_000 <= number <= 99_999_999:
        return _calendar_date(*_split_yyyymmdd(int(number)), value)
    try:
        return excel_serial_to_date(number)
    except ValueError:
        raise ValueError(_unrecognised_date(value)) from None


def _split_yyyymmdd(yyyymmdd: int) -> tuple[int, int, int]:
    """20210305 → (2021, 3, 5)."""
    year, rest = divmod(yyyymmdd, 10_000)
    return year, rest // 100, rest % 100


def _date_from_text(text: str, raw: Any) -> date:
    """A date written as text, in any notation of the module docstring."""
    compact = _SPACES.sub("", text) if "年" in text else text
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(compact)
        if match:
            return _calendar_date(int(match[1]), int(match[2]), int(match[3]), raw)
    if _SERIAL_TEXT.fullmatch(compact):
        return excel_serial_to_date(float(compact))
    raise ValueError(_unrecognised_date(raw))


def _calendar_date(year: int, month: int, day: int, raw: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_unrecognised_date(raw)) from None


def _period_of_date(value: Any, raw: Any) -> str:
    """The period of something that should be a full date (a date in a period column, an Excel serial)."""
    try:
        parsed = parse_date(value)
    except ValueError:
        raise ValueError(_unrecognised_period(raw)) from None
    if parsed is None:
        raise ValueError(_unrecognised_period(raw))
    return f"{parsed.year:04d}{parsed.month:02d}"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)) and value != value:
        return True
    return isinstance(value, np.datetime64) and np.isnat(value)


def _unrecognised_date(raw: Any) -> str:
    return f"无法识别的日期 unrecognised date {_shown(raw)}"


def _unrecognised_period(raw: Any) -> str:
    return f"无法识别的年月 unrecognised period (expected YYYYMM) {_shown(raw)}"


def _shown(raw: Any) -> str:
    return f"'{raw}'" if isinstance(raw, str) else repr(raw)
