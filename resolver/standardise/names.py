"""Person names: display form, match key, surname split and toneless pinyin.

Steps (shared/notes/chinese-identity.md §2): NFKC → drop invisible and pictographic characters
(clean_name_text: zero-width, bidi and control characters, emoji) → unify middle dots → OpenCC t2s
(keeping the surnames 於 and 乾, which t2s would turn into 于 and 干) → variant fold for
the key → pypinyin per character with our surname-reading table (单 → shan, not dan).
Latin names (foreign workers) are upper-cased and their key is the sorted tokens, since
the order of given name and family name differs between sources.
"""
from __future__ import annotations

import json
import operator
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.standardise.unique import ParallelMap, distinct_results

MIDDLE_DOT = "\u00b7"
# Dot forms seen in minority names (买买提·艾力); NFKC leaves all but U+0387 alone.
_DOTS = "\u00b7\u2022\u30fb\u002e\u2027\u2219\u22c5\u0387\u2024"
_DOT_TABLE = str.maketrans({dot: MIDDLE_DOT for dot in _DOTS})

# Characters kept out of OpenCC t2s: valid simplified surnames that t2s maps to 于 and 干.
_T2S_PROTECTED = frozenset("於乾")
# Key-only folds of variants that different systems write for one name (notes §2).
# 乾→干 because an upstream t2s pass already writes 乾 as 干; 於→于 for the same reason.
_KEY_VARIANTS = str.maketrans({"锺": "钟", "於": "于", "阎": "闫", "乾": "干", "甯": "宁", "馀": "余"})

_HAN_RANGES = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{_HAN_RANGES}]")
_LATIN_RE = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
# A name's tokens for pinyin: one Han character, or a run of Latin letters/digits, or any other character.
_TOKEN_RE = re.compile(f"[{_HAN_RANGES}]|[0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f']+|[^\\s{MIDDLE_DOT}]")
_SPACE_RE = re.compile(r"\s+")
# Names made only of these need no character-by-character look (the common case, kept fast).
_PLAIN_NAME_RE = re.compile(f"[{_HAN_RANGES}A-Za-z\u00c0-\u024f{_DOTS} '\\-]*")
# Categories a person's name never holds: control (Cc), format — zero-width space/joiner, BOM, bidi
# marks, embeddings and isolates, tags (Cf) —, surrogates, private use, unassigned (Cs, Co, Cn),
# other symbols — emoji, flags' regional indicators (So) — and modifier symbols, skin tones among them (Sk).
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "So", "Sk"})
# Marks that only dress a symbol: variation selectors (emoji vs. text style) and enclosing marks (keycaps ⃣).
_SYMBOL_MARKS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u20dd-\u20e4]")
_LATIN_KEY_SPLIT_RE = re.compile(r"[^0-9A-Z]+")

SURNAME_TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "surname_readings.json"

# Name field → canonical record column (resolver/schema.py).
NAME_COLUMNS: dict[str, str] = {
    "name": "name",
    "key": "name_key",
    "script": "name_script",
    "surname": "surname",
    "given_name": "given_name",
    "pinyin": "name_pinyin",
    "surname_pinyin": "surname_pinyin",
    "pinyin_folded": "name_pinyin_folded",
}


@dataclass(frozen=True)
class Name:
    """A standardised person name; each field is one canonical column (see NAME_COLUMNS)."""

    name: str | None
    key: str | None
    script: str | None
    surname: str | None
    given_name: str | None
    pinyin: str | None
    surname_pinyin: str | None
    pinyin_folded: str | None


_EMPTY = Name(None, None, None, None, None, None, None, None)
_NAME_ROW = operator.attrgetter(*NAME_COLUMNS)


@dataclass(frozen=True)
class SurnameTable:
    """Surname readings: single characters and compound surnames (longest matched first)."""

    single: dict[str, str]
    compound: dict[str, tuple[str, ...]]
    longest_compound: int


@cache
def surname_table(path: Path = SURNAME_TABLE_PATH) -> SurnameTable:
    """Load the vendored surname-reading table (once per process)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RuntimeError(f"cannot read the surname table {path}: {error}; restore it from git") from error
    compound = {surname: tuple(readings) for surname, readings in data["compound"].items()}
    return SurnameTable(dict(data["single"]), compound, max(map(len, compound)))


@cache
def _opencc_t2s():
    """The OpenCC traditional→simplified converter, created on first use."""
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified with OpenCC t2s, keeping 於 and 乾 as written (they are surnames)."""
    converted = _opencc_t2s().convert(text)
    if len(converted) == len(text) and not _T2S_PROTECTED.isdisjoint(text):
        converted = "".join(
            original if original in _T2S_PROTECTED else new for original, new in zip(text, converted)
        )
    return converted


@cache
def _char_reading(char: str) -> str:
    """Toneless pinyin of one Han character (pypinyin's default reading); the character itself if it has none."""
    from pypinyin import lazy_pinyin

    readings = lazy_pinyin(char)
    return readings[0] if len(readings) == 1 and readings[0] else char


def pinyin_of(text: str) -> list[str]:
    """Toneless syllables of a text, one per Han character; Latin runs lower-cased, unknown characters kept as-is.

    No surname readings here: see standardise_name for names.
    """
    return [_token_reading(token) for token in _TOKEN_RE.findall(text)]


def _token_reading(token: str) -> str:
    if _HAN_RE.fullmatch(token):
        return _char_reading(token)
    return token.lower()


@cache
def fold_syllable(syllable: str) -> str:
    """Merge readings that speakers, typists and passports confuse; for blocking and as a feature only.

    The folds merge distinct surnames (陈/程, 王/万), so they never decide a match on their own.
    """
    # ü: pypinyin writes v (lv), passports yu (LYU), ID-card pinyin u (LU); yu-initial syllables follow.
    folded = syllable.replace("yu", "u").replace("v", "u")
    # Retroflex/flat merger of Tianjin and southern speech: 张/臧, 施/司.
    if folded[:2] in ("zh", "ch", "sh"):
        folded = folded[0] + folded[2:]
    # Back/front nasal merger: 程/陈, 英/因.
    if folded.endswith("ng") and len(folded) > 2:
        folded = folded[:-1]
    # n/l merger: 南/兰, 女/吕.
    if folded.startswith("n") and len(folded) > 1:
        folded = "l" + folded[1:]
    return folded


def clean_name_text(raw: str) -> str:
    r"""A name as NFKC text without what cannot be part of it: zero-width and bidi characters, BOM,
    control characters (line breaks and tabs become spaces), emoji with their selectors and modifiers.

    A lookup from the field and an ingested record pass the same text through here (standardise_name),
    so '张\u200b伟' or '张伟😀' finds 张伟. Middle dots of any form are kept for _DOT_TABLE.
    """
    text = unicodedata.normalize("NFKC", raw)
    if _PLAIN_NAME_RE.fullmatch(text):
        return text
    text = _SYMBOL_MARKS.sub("", _SPACE_RE.sub(" ", text))
    return "".join(char for char in text if unicodedata.category(char) not in _NOT_IN_NAMES)


def standardise_name(raw: object) -> Name:
    """Standardise one name as delivered (any script, traditional or simplified, dots in any form)."""
    if raw is None or (isinstance(raw, float) and raw != raw) or raw is pd.NA:
        return _EMPTY
    text = clean_name_text(str(raw))
    has_han = _HAN_RE.search(text) is not None
    has_latin = _LATIN_RE.search(text) is not None
    if has_latin and not has_han:
        return _latin_name(text)
    compact = _collapse_dots(_SPACE_RE.sub("", text.translate(_DOT_TABLE)))
    if not compact:
        return _EMPTY
    display = to_simplified(compact).upper() if has_latin else to_simplified(compact)
    key = display.replace(MIDDLE_DOT, "").translate(_KEY_VARIANTS)
    script = "han" if has_han and not has_latin else "mixed"
    readings = pinyin_of(display)
    surname = given_name = surname_pinyin = None
    if script == "han" and MIDDLE_DOT not in display and _HAN_RE.match(display):
        surname, given_name, surname_readings = _split_surname(display, key)
        readings[: len(surname_readings)] = surname_readings
        surname_pinyin = " ".join(surname_readings)
    # Interned: a city's records hold millions of names but a few hundred surnames and readings, and
    # tens of thousands of given names; one string each instead of one per distinct name (~60 MB at 1M).
    return Name(
        name=display,
        key=key,
        script=script,
        surname=_shared(surname),
        given_name=_shared(given_name),
        pinyin=" ".join(readings),
        surname_pinyin=_shared(surname_pinyin),
        pinyin_folded=" ".join(fold_syllable(syllable) for syllable in readings),
    )


def _shared(text: str | None) -> str | None:
    """The one interned copy of a short, often repeated text (None stays None)."""
    return None if text is None else sys.intern(text)


def name_row(raw: object) -> tuple:
    """standardise_name as a tuple in NAME_COLUMNS order (module-level, so a worker process can run it)."""
    return _NAME_ROW(standardise_name(raw))


def standardise_names(raw: pd.Series, cache: dict | None = None, parallel: ParallelMap | None = None) -> pd.DataFrame:
    """Vectorised standardise_name, computed once per distinct value; columns as in NAME_COLUMNS.

    ``cache`` (text → name_row) may be shared across calls; ``parallel`` shares many new names with a
    worker process (resolver/standardise/unique.py).
    """
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    rows = distinct_results(uniques, name_row, cache, parallel)
    table = np.array([*rows, _NAME_ROW(_EMPTY)], dtype=object)
    positions = np.where(codes < 0, len(uniques), codes)
    # One contiguous array per column (not one row-major block), as the records keep them.
    columns = {column: table[:, i][positions] for i, column in enumerate(NAME_COLUMNS.values())}
    return pd.DataFrame(columns, index=raw.index, copy=False)


def _collapse_dots(text: str) -> str:
    """One middle dot between parts, none at the ends: '·买买提··艾力' → '买买提·艾力'."""
    parts = [part for part in text.split(MIDDLE_DOT) if part]
    return MIDDLE_DOT.join(parts)


def _split_surname(display: str, key: str) -> tuple[str, str | None, list[str]]:
    """(surname, given name, surname readings): a known compound surname if the name is longer, else 1 character."""
    table = surname_table()
    for length in range(min(table.longest_compound, len(key) - 1), 1, -1):
        readings = table.compound.get(key[:length])
        if readings is not None:
            return display[:length], display[length:], list(readings)
    first = display[0]
    reading = table.single.get(first) or _token_reading(first)
    return first, display[1:] or None, [reading]


def _latin_name(text: str) -> Name:
    """A name in Latin letters: upper-cased display; key = sorted tokens without accents.

    'smith john' and 'JOHN SMITH' share the key 'JOHN SMITH'.
    """
    display = _SPACE_RE.sub(" ", text).strip().upper()
    if not display:
        return _EMPTY
    plain = "".join(c for c in unicodedata.normalize("NFKD", display) if not unicodedata.combining(c))
    tokens = [token for token in _LATIN_KEY_SPLIT_RE.split(plain.replace("'", "")) if token]
    readings = [token.lower() for token in tokens]
    return Name(
        name=display,
        key=" ".join(sorted(tokens)) or display,
        script="latin",
        surname=None,
        given_name=None,
        pinyin=" ".join(readings) or None,
        surname_pinyin=None,
        pinyin_folded=" ".join(fold_syllable(reading) for reading in readings) or None,
    )
