"""Resident ID numbers (GB 11643-1999) made in bulk: consistent with birth date and gender.

Vectorised over numpy digit matrices so that a million numbers take well under a second.
The typo helpers produce the realistic errors of shared/spec/department-extracts.md.
"""
from __future__ import annotations

import numpy as np

# W_i = 2^(17-i) mod 11 (GB 11643-1999 §6); the check character is CHECK_CHARS[sum % 11].
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = "10X98765432"
_CHECK_BYTES = np.frombuffer(CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_ZERO = ord("0")


def check_character(body17: str) -> str:
    """The check character of a 17-digit body."""
    return CHECK_CHARS[sum(int(d) * int(w) for d, w in zip(body17, WEIGHTS)) % 11]


def _digits_of(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers → (n, width) matrix of ASCII digit bytes, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + _ZERO).astype(np.uint8)


def _strings(matrix: np.ndarray) -> np.ndarray:
    """(n, width) ASCII bytes → object array of str."""
    width = matrix.shape[1]
    return np.ascontiguousarray(matrix).view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def make_id_numbers(area_codes: np.ndarray, birth_dates: np.ndarray, order_codes: np.ndarray) -> np.ndarray:
    """18-character ID numbers from 6-digit area codes, datetime64[D] birth dates and 3-digit order codes."""
    days = birth_dates.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    yyyymmdd = years * 10000 + months * 100 + day_of_month
    body = np.hstack([
        _digits_of(area_codes, 6), _digits_of(yyyymmdd, 8), _digits_of(order_codes, 3),
    ])
    total = ((body.astype(np.int64) - _ZERO) * WEIGHTS).sum(axis=1)
    return _strings(np.hstack([body, _CHECK_BYTES[total % 11][:, None]]))


def order_codes(male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random 3-digit order codes whose last digit is odd for men and even for women."""
    head = rng.integers(0, 100, size=len(male))
    last = rng.integers(0, 5, size=len(male)) * 2 + male.astype(np.int64)
    codes = head * 10 + last
    # 000 is never issued.
    return np.where(codes == 0, 2, codes)


def to_legacy_15(id_number: str) -> str:
    """The first-generation 15-digit form (area + YYMMDD + order) of an ID born in the 1900s."""
    return id_number[:6] + id_number[8:17]


def with_valid_typo(id_number: str, rng: np.random.Generator) -> str:
    """Another structurally valid number: one order-code digit changed, check digit recomputed.

    Only the first two order-code digits change, so birth date and gender stay as they were.
    """
    position = 14 + int(rng.integers(0, 2))
    old = int(id_number[position])
    new = (old + int(rng.integers(1, 10))) % 10
    body = id_number[:position] + str(new) + id_number[position + 1:17]
    return body + check_character(body)


def with_keyed_wrong_sequence(id_number: str, rng: np.random.Generator) -> str:
    """Another valid number whose sequence (order) code was keyed wrong: its first two digits both
    differ, the gender digit is kept and the check digit recomputed (two substitutions apart, so no
    single-typo neighbourhood finds it)."""
    first = (int(id_number[14]) + int(rng.integers(1, 10))) % 10
    second = (int(id_number[15]) + int(rng.integers(1, 10))) % 10
    body = id_number[:14] + str(first) + str(second) + id_number[16]
    return body + check_character(body)


def with_wrong_check(id_number: str, rng: np.random.Generator) -> str:
    """A one-character typo that breaks the check digit (a mistyped check or order-code digit)."""
    if rng.random() < 0.5:
        choices = [c for c in CHECK_CHARS if c != id_number[17]]
        return id_number[:17] + choices[int(rng.integers(0, len(choices)))]
    position = 14 + int(rng.integers(0, 2))
    new = (int(id_number[position]) + int(rng.integers(1, 10))) % 10
    return id_number[:position] + str(new) + id_number[position + 1:]


def is_valid(id_number: str) -> bool:
    """True when an 18-character number's check character matches its body."""
    return len(id_number) == 18 and id_number[:17].isdigit() and check_character(id_number[:17]) == id_number[17]
