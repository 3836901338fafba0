"""Phone fields (联系电话): split, normalise, join with ``|``; report what is not a phone.

A mobile is 11 digits ``1[3-9]…``; a Tianjin landline is ``022`` + 8 digits, and a bare
8-digit local number is taken as Tianjin (the extracts are Tianjin's). Other mainland
landlines keep their area code (``010…``). ``+86``/``0086``/``86-`` prefixes are dropped.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TIANJIN_AREA_CODE = "022"

_SEPARATORS = re.compile(r"[/;；、,，|\\]+")
_SPACES = re.compile(r"\s+")
# Punctuation written inside one number: 022-2345 6789, (022)23456789, 138.1234.5678.
_INNER_PUNCTUATION = re.compile(r"[\s\-()（）.\u2010-\u2015]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_TIANJIN_LANDLINE = re.compile(r"022[2-9]\d{7}")
_LOCAL_NUMBER = re.compile(r"[2-9]\d{7}")
# Other mainland landlines: trunk 0 + 2-3 digit area code + 7-8 digit number.
_OTHER_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_COUNTRY_PREFIX = re.compile(r"^(?:\+86|0086|86(?=[-\s])|86(?=1[3-9]\d{9}$))")
# What people write when there is no phone; treated as empty, not as an error.
_STRINGIFIED_FLOAT = re.compile(r"\d+\.0+|\d\.\d+[eE]\+?\d+")
_NO_PHONE = frozenset({"无", "暂无", "没有", "不详", "未知", "空", "null", "none", "nan", "n/a", "na"})


def standardise_phone_field(raw: Any) -> tuple[list[str], list[str]]:
    """(normalised numbers in order, deduplicated; pieces that are not phones) of one 联系电话 cell."""
    text = _cell_text(raw)
    if text is None:
        return [], []
    numbers: list[str] = []
    problems: list[str] = []
    for chunk in _SEPARATORS.split(text):
        chunk = chunk.strip()
        if not chunk or chunk.lower() in _NO_PHONE:
            continue
        whole = normalise_phone(chunk)
        parts = [chunk] if whole else _SPACES.split(chunk)
        for part in parts:
            number = whole or normalise_phone(part)
            if number is None:
                if part.lower() not in _NO_PHONE:
                    problems.append(part)
            elif number not in numbers:
                numbers.append(number)
    return numbers, problems


def normalise_phone(text: str) -> str | None:
    """One phone number in canonical digits (13812345678, 02223456789), or None if it is not one."""
    text = unicodedata.normalize("NFKC", text).strip()
    digits = _INNER_PUNCTUATION.sub("", _COUNTRY_PREFIX.sub("", text))
    if not digits.isascii() or not digits.isdigit():
        return None
    if _MOBILE.fullmatch(digits) or _TIANJIN_LANDLINE.fullmatch(digits) or _OTHER_LANDLINE.fullmatch(digits):
        return digits
    if _LOCAL_NUMBER.fullmatch(digits):
        return TIANJIN_AREA_CODE + digits
    # +86 22 2345 6789: the country code replaces the trunk 0 of the area code.
    if len(digits) == 10 and digits.startswith("22") and text.startswith(("+86", "0086", "86")):
        return "0" + digits
    return None


def standardise_phones(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised phone standardisation: (numbers joined with '|' or None, error text or None) per row."""
    values = raw.to_numpy(dtype=object, na_value=None)
    clean_mobile = np.zeros(len(raw), dtype=bool)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Fast path: a bare, already-clean mobile number (most rows) needs no parsing.
        text = pa.array(values, type=pa.string(), from_pandas=True)
        clean_mobile = np.asarray(pc.fill_null(pc.match_substring_regex(text, r"^1[3-9][0-9]{9}$"), False))
    phones = np.full(len(raw), None, dtype=object)
    errors = np.full(len(raw), None, dtype=object)
    phones[clean_mobile] = values[clean_mobile]
    rest = ~clean_mobile
    if rest.any():
        codes, uniques = pd.factorize(pd.Series(values[rest], dtype=object), use_na_sentinel=True)
        joined: list[str | None] = []
        messages: list[str | None] = []
        for value in list(uniques) + [None]:
            numbers, problems = standardise_phone_field(value)
            joined.append("|".join(numbers) or None)
            messages.append(_problem_message(problems))
        positions = np.where(codes < 0, len(uniques), codes)
        phones[rest] = np.asarray(joined, dtype=object)[positions]
        errors[rest] = np.asarray(messages, dtype=object)[positions]
    return pd.Series(phones, index=raw.index, dtype=object), pd.Series(errors, index=raw.index, dtype=object)


def mask_phone(phones: str | None) -> str | None:
    """Hide the middle digits of each number for display: 13812345678 → 138****5678 ('|'-joined lists too)."""
    if not phones:
        return phones
    return "|".join(_mask_one(number) for number in phones.split("|"))


def _mask_one(number: str) -> str:
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def _cell_text(raw: Any) -> str | None:
    """The cell as text: a numeric xlsx cell 13812345678.0 becomes '13812345678'."""
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return None
    if isinstance(raw, (float, np.floating)):
        if raw != raw:
            return None
        return str(int(raw)) if float(raw).is_integer() else str(raw)
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, (bool, np.bool_)):
        return str(int(raw))
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if _STRINGIFIED_FLOAT.fullmatch(text):
        # a numeric cell turned into text upstream: "13812345678.0", "1.3812345678E+10"
        text = format(Decimal(text).quantize(Decimal(1)), "f")
    return text or None


def _problem_message(problems: list[str]) -> str | None:
    if not problems:
        return None
    shown = "、".join(f"'{problem}'" for problem in problems)
    return f"无法识别的电话号码 unrecognised phone number {shown}"
