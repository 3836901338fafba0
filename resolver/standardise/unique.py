"""Apply a scalar standardiser once per distinct value.

Names, addresses and dates repeat heavily in department extracts (a household
shares an address, 张伟 is everywhere), so every vectorised standardiser
computes on ``Series.unique()`` and maps the results back by position.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd


def map_unique(values: pd.Series, function: Callable[[Any], Any]) -> pd.Series:
    """``values.map(function)`` computed once per distinct value (nulls passed through as None)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [function(value) for value in uniques]
    mapped = pd.Series(results + [function(None)], dtype=object)
    # factorize gives -1 for nulls: point them at the appended function(None) slot.
    positions = codes.copy()
    positions[positions < 0] = len(results)
    return pd.Series(mapped.to_numpy()[positions], index=values.index, dtype=object)


def map_unique_records(values: pd.Series, function: Callable[[Any], tuple], columns: list[str]) -> pd.DataFrame:
    """Like map_unique for a function returning a tuple: one output column per tuple field."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [function(value) for value in uniques]
    results.append(function(None))
    table = pd.DataFrame.from_records(results, columns=columns)
    positions = codes.copy()
    positions[positions < 0] = len(results) - 1
    out = table.iloc[positions].reset_index(drop=True)
    out.index = values.index
    return out


def _stripped_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def clean_text(values: pd.Series) -> pd.Series:
    """Delivered cells as trimmed text, None for empty or missing — computed once per distinct value."""
    return map_unique(values, _stripped_or_none)
