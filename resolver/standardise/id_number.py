"""Resident ID numbers (GB 11643-1999) and other certificate numbers: clean, validate, derive.

An 18-digit number is area code (6) + birth date YYYYMMDD (8) + order code (3) + check
character; the 17th digit is odd for men. Legacy 15-digit numbers (area + YYMMDD + order)
are converted by inserting ``19`` and appending the check digit. The area code is where
the number was first issued, so an area code abolished before the birth year (蓟县 120225
on a 1995 birth) is normal and never makes a number invalid (shared/notes/chinese-identity.md §1).
Only ``resident_id`` numbers are validated; passports and passes are cleaned and kept.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resolver.schema import CERT_TYPES
from resolver.standardise.unique import map_unique_checked

# W_i = 2^(17-i) mod 11, GB 11643-1999 §6.
WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# The check character is CHECK_CHARS[sum % 11] (10 is written X).
CHECK_CHARS = "10X98765432"
# An ID's embedded birth year must fall in this range (the standard's own example is born 1880).
ID_BIRTH_YEARS = (1800, 2100)

# Extra spellings of 证件类型 met in tax (个税) and HR systems, beside the canonical CERT_TYPES.
_CERT_ALIASES: dict[str, str] = {
    "身份证": "resident_id",
    "居民身份证": "resident_id",
    "中华人民共和国居民身份证": "resident_id",
    "二代身份证": "resident_id",
    "临时居民身份证": "resident_id",
    # 港澳台居民居住证 numbers use the GB 11643 layout and checksum (area 810000/820000/830000).
    "港澳台居民居住证": "resident_id",
    "港澳居民居住证": "resident_id",
    "台湾居民居住证": "resident_id",
    "中国护照": "passport",
    "外国护照": "passport",
    "港澳通行证": "hk_macao_pass",
    "港澳居民来往内地通行证": "hk_macao_pass",
    "回乡证": "hk_macao_pass",
    "台胞证": "taiwan_pass",
    "台湾居民来往大陆通行证": "taiwan_pass",
    "外国人永久居留证": "foreign_permanent_residence",
    "外国人永久居留身份证": "foreign_permanent_residence",
}

# Removed from every certificate number: whitespace that survives NFKC, zero-width marks.
_SPACE_CODEPOINTS = (0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x200B, 0x2028, 0x2029, 0xFEFF)
# Removed from resident IDs only: hyphens and dashes (120101-1980...), Excel's text-prefix apostrophe.
_DASH_CODEPOINTS = (0x2D, 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0x27)


def _char_class(codepoints: tuple[int, ...], *, re2: bool) -> str:
    """A regex character class of the code points, in Python re or RE2 (pyarrow) syntax."""
    escaped = (f"\\x{{{cp:04X}}}" if re2 else f"\\u{cp:04x}" for cp in codepoints)
    return "[" + "".join(escaped) + "]"


_SPACES_RE = re.compile(_char_class(_SPACE_CODEPOINTS, re2=False))
_DASHES_RE = re.compile(_char_class(_DASH_CODEPOINTS, re2=False))
_SPACES_RE2 = _char_class(_SPACE_CODEPOINTS, re2=True)
_DASHES_RE2 = _char_class(_DASH_CODEPOINTS, re2=True)
_ID18_RE = r"^[0-9]{17}[0-9X]$"
_ID15_RE = r"^[0-9]{15}$"
# A number that went through an Excel float and then text: 1.20101198001011E+17.
_SCIENTIFIC_RE = r"^[0-9]\.[0-9]+E\+?[0-9]{2}$"

# id_status of a well-formed 18-digit number, indexed by "check digit wrong" (shared objects, not one str per row).
_VALID_OR_BAD_CHECK = np.array(["valid", "bad_check_digit"], dtype=object)

# Columns of standardise_id_numbers, named as in resolver/schema.py.
ID_COLUMNS = ["id_number", "id_status", "id_birth_date", "id_gender", "id_area_code"]


@dataclass(frozen=True)
class IdNumber:
    """A standardised certificate number and what a resident ID number says about its holder."""

    number: str | None
    status: str
    birth_date: date | None
    gender: str | None
    area_code: str | None


def check_digit(body17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') of the first 17 digits."""
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise ValueError(f"身份证号本体应为17位数字 ID body must be 17 digits, got {body17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(body17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def convert_15_to_18(number15: str) -> str:
    """Upgrade a legacy 15-digit ID: insert '19' before the 2-digit year and append the check digit."""
    if len(number15) != 15 or not number15.isascii() or not number15.isdigit():
        raise ValueError(f"旧身份证号应为15位数字 legacy ID must be 15 digits, got {number15!r}")
    body = number15[:6] + "19" + number15[6:]
    return body + check_digit(body)


def standardise_cert_type(raw: str | None) -> str:
    """Map 证件类型 text (or an already canonical type) to a CERT_TYPES value; empty means resident_id.

    An empty type is taken as a resident ID: the number's own structure then decides its status.
    """
    if _is_missing(raw):
        return "resident_id"
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", str(raw)))
    if text in CERT_TYPES.values():
        return text
    canonical = CERT_TYPES.get(text) or _CERT_ALIASES.get(text)
    if canonical is None:
        known = "、".join(CERT_TYPES)
        raise ValueError(
            f"未知证件类型 unknown certificate type {raw!r}: expected one of {known}; "
            "if it is another spelling of one of these, add it to _CERT_ALIASES in resolver/standardise/id_number.py"
        )
    return canonical


def standardise_cert_types(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised standardise_cert_type: (canonical types, error text or None) per row."""
    types, errors = map_unique_checked(raw, standardise_cert_type)
    return types.astype(object), errors


def standardise_id_number(raw: Any, cert_type: str = "resident_id") -> IdNumber:
    """Clean one certificate number; for a resident ID also validate it and derive birth date, gender, area."""
    text = _coerce_text(raw)
    if text is None:
        return IdNumber(None, "missing", None, None, None)
    spaceless = _SPACES_RE.sub("", unicodedata.normalize("NFKC", text)).upper()
    if standardise_cert_type(cert_type) != "resident_id":
        return IdNumber(spaceless or None, "other_certificate" if spaceless else "missing", None, None, None)
    number = _DASHES_RE.sub("", spaceless)
    if re.fullmatch(_SCIENTIFIC_RE, number):
        number = _expand_scientific(number)
    if not number:
        return IdNumber(None, "missing", None, None, None)
    if re.fullmatch(_ID15_RE, number):
        status, number18 = "converted_15", convert_15_to_18(number)
    elif re.fullmatch(_ID18_RE, number):
        number18 = number
        status = "valid" if check_digit(number[:17]) == number[17] else "bad_check_digit"
    else:
        return IdNumber(number, "malformed", None, None, None)
    birth = _embedded_date(number18[6:14])
    if birth is None:
        return IdNumber(number, "malformed", None, None, None)
    gender = None if _excel_truncated(number18, status) else ("M" if int(number18[16]) % 2 else "F")
    return IdNumber(number18, status, birth, gender, number18[:6])


def standardise_id_numbers(raw: pd.Series, cert_type: pd.Series | None = None) -> pd.DataFrame:
    """Vectorised standardise_id_number: columns id_number, id_status, id_birth_date, id_gender, id_area_code.

    Cleans with Arrow kernels and checks digits on a uint8 matrix, so a million distinct
    numbers take seconds. ``cert_type`` holds CERT_TYPES values or 证件类型 text; null means resident_id.
    """
    n = len(raw)
    delivered = raw.to_numpy(dtype=object, na_value=None)
    spaceless = pc.utf8_upper(
        pc.replace_substring_regex(pc.utf8_normalize(_to_arrow_text(delivered), "NFKC"), _SPACES_RE2, "")
    )
    resident_text = _expand_scientific_rows(pc.replace_substring_regex(spaceless, _DASHES_RE2, ""))
    is_resident = _resident_mask(cert_type, n)

    number = resident_text.to_numpy(zero_copy_only=False).astype(object)
    if not is_resident.all():
        number[~is_resident] = spaceless.to_numpy(zero_copy_only=False)[~is_resident]
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(resident_text), 0), True))
    empty_other = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(spaceless), 0), True))
    number[np.where(is_resident, empty, empty_other)] = None

    status = np.full(n, "malformed", dtype=object)
    status[is_resident & empty] = "missing"
    status[~is_resident] = "other_certificate"
    status[~is_resident & empty_other] = "missing"

    birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    gender = np.full(n, None, dtype=object)
    derived = np.zeros(n, dtype=bool)

    for pattern, converted in ((_ID18_RE, False), (_ID15_RE, True)):
        rows = is_resident & np.asarray(pc.fill_null(pc.match_substring_regex(resident_text, pattern), False))
        if not rows.any():
            continue
        digits = _digit_matrix(pc.filter(resident_text, pa.array(rows)), 15 if converted else 18)
        if converted:
            digits = _upgrade_15(digits)
        days, ok_date = _birth_days(digits)
        checks_ok = _expected_check(digits) == digits[:, 17]
        indices = np.flatnonzero(rows)
        good = indices[ok_date]
        digits_good = digits[ok_date]
        if converted:
            status[good] = "converted_15"
            number[good] = _matrix_strings(digits_good)
        else:
            status[good] = _VALID_OR_BAD_CHECK[(~checks_ok[ok_date]).astype(np.intp)]
        birth[good] = days[ok_date].astype("datetime64[ns]")
        male = (digits_good[:, 16] - ord("0")) % 2 == 1
        truncated = (status[good] == "bad_check_digit") & (digits_good[:, 15:18] == ord("0")).all(axis=1)
        gender[good] = np.where(truncated, None, np.where(male, "M", "F"))
        derived[good] = True

    # to_pandas shares one str object per distinct area code (to_numpy would make one per row).
    area = pc.utf8_slice_codeunits(resident_text, 0, 6).to_pandas().to_numpy(dtype=object)
    area[~derived] = None
    number = _delivered_when_unchanged(number, delivered)

    return pd.DataFrame(dict(zip(ID_COLUMNS, (number, status, birth, gender, area))), index=raw.index)


def one_edit_apart(a: str | None, b: str | None) -> str | None:
    """'substitution' or 'transposition' when two ID numbers differ by one typo, else None.

    A transposition is two adjacent characters swapped (…1980 → …1908 style); equal numbers are None.
    """
    if not a or not b or len(a) != len(b):
        return None
    differences = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differences) == 1:
        return "substitution"
    if (
        len(differences) == 2
        and differences[1] == differences[0] + 1
        and a[differences[0]] == b[differences[1]]
        and a[differences[1]] == b[differences[0]]
    ):
        return "transposition"
    return None


def mask_id_number(number: str | None) -> str | None:
    """Hide the birth date and order code for display: 12010119800101123X → 120101********123X."""
    if not number:
        return number
    if len(number) >= 15:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    keep = len(number) // 4
    return number[:keep] + "*" * (len(number) - 2 * keep) + (number[-keep:] if keep else "")


def identity_disagreements(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows (record_key, field, issue) where the stated gender or birth date contradicts the ID number.

    Data-quality findings to record for stewards; neither side is corrected.
    """
    required = ["record_key", "gender", "id_gender", "birth_date", "id_birth_date"]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(
            f"identity_disagreements: frame lacks columns {missing}; "
            "pass the canonical record frame (resolver/schema.py) after ID standardisation"
        )
    gender, id_gender = frame["gender"], frame["id_gender"]
    gender_rows = gender.notna() & id_gender.notna() & (gender != id_gender)
    gender_issues = pd.DataFrame(
        {
            "record_key": frame.loc[gender_rows, "record_key"],
            "field": "gender",
            "issue": "性别与身份证号不符 gender "
            + gender[gender_rows].astype(str)
            + " disagrees with the ID number ("
            + id_gender[gender_rows].astype(str)
            + ")",
        }
    )
    # cache=False: a column of dates is already unique enough that pandas' cache check only costs time.
    birth = pd.to_datetime(frame["birth_date"], cache=False).dt.normalize()
    id_birth = pd.to_datetime(frame["id_birth_date"], cache=False).dt.normalize()
    birth_rows = birth.notna() & id_birth.notna() & (birth != id_birth)
    birth_issues = pd.DataFrame(
        {
            "record_key": frame.loc[birth_rows, "record_key"],
            "field": "birth_date",
            "issue": "出生日期与身份证号不符 birth date "
            + birth[birth_rows].dt.strftime("%Y-%m-%d")
            + " disagrees with the ID number ("
            + id_birth[birth_rows].dt.strftime("%Y-%m-%d")
            + ")",
        }
    )
    return pd.concat([gender_issues, birth_issues], ignore_index=True)[["record_key", "field", "issue"]]


def _is_missing(value: Any) -> bool:
    """None, NaN/NaT or blank text."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def _coerce_text(value: Any) -> str | None:
    """The text of a cell: numbers as xlsx readers deliver them become their digits, never '1.2e+17'."""
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return None
        # repr is the shortest round-trip form: Excel's 15-significant-digit 1.20101198001011e+17
        # becomes 120101198001011000 (the truncation the notes describe), not …1008.
        try:
            exact = Decimal(repr(float(value)))
        except InvalidOperation:
            return str(value)
        return format(exact.quantize(Decimal(1)), "f") if exact == exact.to_integral_value() else str(value)
    return str(value)


def _delivered_when_unchanged(numbers: np.ndarray, delivered: np.ndarray) -> np.ndarray:
    """The delivered str object wherever standardising left the number as it was (most rows), so the
    records keep one copy of each number in memory rather than two."""
    return np.where(numbers == delivered, delivered, numbers)


def _to_arrow_text(values: np.ndarray) -> pa.Array:
    """Cells (None for missing) as an Arrow string array, coercing numbers the way _coerce_text does."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = np.array([_coerce_text(value) for value in values], dtype=object)
    return pa.array(values, type=pa.string(), from_pandas=True)


def _expand_scientific(text: str) -> str:
    """1.20101198001011E+17 → 120101198001011000: the digits Excel kept, the lost ones as zeros."""
    return format(Decimal(text).quantize(Decimal(1)), "f")


def _expand_scientific_rows(texts: pa.Array) -> pa.Array:
    """_expand_scientific applied to the (rare) rows written in scientific notation."""
    rows = np.asarray(pc.fill_null(pc.match_substring_regex(texts, _SCIENTIFIC_RE), False))
    if not rows.any():
        return texts
    values = texts.to_numpy(zero_copy_only=False).astype(object)
    values[rows] = [_expand_scientific(value) for value in values[rows]]
    return pa.array(values, type=pa.string(), from_pandas=True)


def _resident_mask(cert_type: pd.Series | None, n: int) -> np.ndarray:
    """True where the row's certificate is a resident ID (GB 11643 applies)."""
    if cert_type is None:
        return np.ones(n, dtype=bool)
    if len(cert_type) != n:
        raise ValueError(f"cert_type has {len(cert_type)} rows but the ID column has {n}; pass aligned columns")
    types, errors = standardise_cert_types(cert_type)
    bad = errors.dropna()
    if len(bad):
        raise ValueError(f"{bad.iloc[0]} ({len(bad)} rows); standardise the 证件类型 column first")
    return (types == "resident_id").to_numpy()


def _digit_matrix(texts: pa.Array, width: int) -> np.ndarray:
    """An (n, width) uint8 matrix of the ASCII bytes of strings that are all exactly `width` bytes long."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[texts.offset : texts.offset + len(texts) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(texts), width)


def _upgrade_15(digits15: np.ndarray) -> np.ndarray:
    """15-digit byte matrix → 18-digit byte matrix: area + '19' + YYMMDD + order + check."""
    n = len(digits15)
    century = np.tile(np.frombuffer(b"19", dtype=np.uint8), (n, 1))
    body = np.hstack([digits15[:, :6], century, digits15[:, 6:], np.zeros((n, 1), dtype=np.uint8)])
    body[:, 17] = _expected_check(body)
    return body


_CHECK_BYTES = np.frombuffer(CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_WEIGHT_VECTOR = np.array(WEIGHTS, dtype=np.int64)


def _expected_check(digits: np.ndarray) -> np.ndarray:
    """The check byte each row's first 17 digits call for."""
    total = (digits[:, :17].astype(np.int64) - ord("0")) @ _WEIGHT_VECTOR
    return _CHECK_BYTES[total % 11]


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _birth_days(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(datetime64[D] birth dates, validity) from columns 7-14 (YYYYMMDD); invalid rows get NaT."""
    d = digits[:, 6:14].astype(np.int64) - ord("0")
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    ok = month_ok & (day >= 1) & (day <= last_day) & (year >= ID_BIRTH_YEARS[0]) & (year <= ID_BIRTH_YEARS[1])
    months = (year - 1970) * 12 + (np.where(ok, month, 1) - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (np.where(ok, day, 1) - 1)
    return np.where(ok, days, np.datetime64("NaT")), ok


def _matrix_strings(digits: np.ndarray) -> np.ndarray:
    """Rows of an ASCII byte matrix as an object array of str."""
    width = digits.shape[1]
    return np.ascontiguousarray(digits).view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def _embedded_date(yyyymmdd: str) -> date | None:
    """The birth date written in an ID, or None when it is not a calendar date in ID_BIRTH_YEARS."""
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    if not ID_BIRTH_YEARS[0] <= year <= ID_BIRTH_YEARS[1]:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _excel_truncated(number18: str, status: str) -> bool:
    """A failed check on a number ending 000: Excel kept 15 significant digits, so the 17th digit is lost."""
    return status == "bad_check_digit" and number18.endswith("000")
