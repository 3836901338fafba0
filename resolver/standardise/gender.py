"""Gender (性别): 男/女, 1/2 (GB/T 2261.1), M/F and English words, any case or width → "M"/"F"."""
from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from resolver.standardise.unique import map_unique_checked

_GENDERS: dict[str, str] = {
    "男": "M", "男性": "M", "1": "M", "M": "M", "MALE": "M",
    "女": "F", "女性": "F", "2": "F", "F": "F", "FEMALE": "F",
}
# GB/T 2261.1-2003 codes 0 (未知的性别) and 9 (未说明的性别): known to be unknown, so null without an error.
_UNKNOWN = frozenset({"0", "9", "未知", "未说明", "不详", "未知的性别", "未说明的性别"})


def standardise_gender(raw: Any) -> str | None:
    """"M", "F" or None (empty or stated unknown); ValueError naming the value for anything else."""
    if raw is None or raw is pd.NA or (isinstance(raw, (float, np.floating)) and raw != raw):
        return None
    if isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_)):
        text = str(int(raw)) if float(raw).is_integer() else str(raw)
    else:
        # "1.0": a numeric cell turned into text upstream.
        text = unicodedata.normalize("NFKC", str(raw)).strip().upper().removesuffix(".0")
    if not text or text in _UNKNOWN:
        return None
    gender = _GENDERS.get(text)
    if gender is None:
        raise ValueError(f"无法识别的性别 unrecognised gender {raw!r}: expected 男/女, 1/2 or M/F")
    return gender


def standardise_genders(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised standardise_gender: ("M"/"F"/None, error text or None) per row."""
    genders, errors = map_unique_checked(raw, standardise_gender)
    return genders.astype(object), errors
