"""Compare record pairs field by field into Fellegi–Sunter comparison levels.

Records are first turned into integer-coded `Features` (value hashes computed in Arrow),
then any number of pairs (two position arrays) are compared with numpy. Levels are
small ints: 0 is the best level of FIELD_LEVELS, -1 means a side is missing (the
field then adds no evidence).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from resolver.matching_config import FIELD_LEVELS, MatchingConfig
from resolver.schema import TRUSTED_ID_STATUSES

NULL = -1
_ID_BODY = 17
_ID18 = r"^\d{17}[\dX]$"
_MAX_PHONES = 3
_CHUNK = 1_000_000
ADDRESS_LEVEL_PARTS = ("room", "building", "community", "street", "district")  # best first, as FIELD_LEVELS["address"]
# The keys of an address: the compared levels, then a blocking-only key for a flat written without its community.
ADDRESS_KEY_PARTS = ADDRESS_LEVEL_PARTS + ("street_room",)
_ADDRESS_INPUTS = ("district_code", "street", "community", "road", "number", "building", "unit", "room")
# The canonical columns blocking and comparison read: what a resolver state keeps per record.
MATCH_COLUMNS: tuple[str, ...] = (
    "record_key", "source", "record_id", "cert_type", "id_number", "id_status", "id_birth_date", "id_gender",
    "name_key", "name_pinyin", "surname", "surname_pinyin", "name_pinyin_folded", "gender", "birth_date", "phones",
    "employer_name", "employer_credit_code",
) + tuple(f"{role}_{part}" for role in ("household", "residence") for part in _ADDRESS_INPUTS)


@dataclass(frozen=True)
class Features:
    """Value codes of a record frame's matching columns, positionally aligned with it.

    A code is a 63-bit hash of the cleaned value (-1 when missing), not a dictionary
    index: equal values get equal codes in any frame, so one survey record's features
    compare with (and block against) the stored city's without a shared dictionary.
    """

    n: int
    trusted: np.ndarray          # bool: id_status valid or converted_15
    id_code: np.ndarray          # int64 code of id_number, -1 missing
    id_converted: np.ndarray     # bool: number came from a 15-digit conversion
    id_digits: np.ndarray        # uint8 (n, 18): bytes of 18-character resident numbers
    id_has18: np.ndarray         # bool: id_digits row is meaningful
    name_key: pa.Array           # string: match key (for term frequencies)
    name_code: np.ndarray        # int64 codes, -1 missing
    pinyin_code: np.ndarray
    folded_pinyin_code: np.ndarray
    surname_code: np.ndarray
    surname_pinyin_code: np.ndarray
    name_string: pa.Array        # string: pinyin without spaces (or Latin key) for Jaro–Winkler
    birth: np.ndarray            # int32 (n, 3): year, month, day; 0 missing
    gender: np.ndarray           # int8: 0 missing, 1 M, 2 F
    phones: np.ndarray           # int64 (n, 3) codes, -1 empty
    address: np.ndarray          # int64 (n, 2 roles, ADDRESS_KEY_PARTS) codes, -1 missing
    employer: np.ndarray         # int64 (n, 2): codes of employer name and credit code, -1 missing

    def name_keys(self, positions: np.ndarray) -> pa.Array:
        """The name keys of some records (Arrow strings, nulls where unknown)."""
        return self.name_key.take(pa.array(np.asarray(positions, dtype=np.int64)))

    def take(self, positions: np.ndarray) -> "Features":
        """The features of some records, in the order given."""
        positions = np.asarray(positions, dtype=np.int64)
        return Features(n=len(positions), **{
            name: (value.take(pa.array(positions)) if isinstance(value, pa.Array) else value[positions])
            for name, value in self._arrays().items()})

    def append(self, other: "Features") -> "Features":
        """These records followed by `other`'s (a query record after its candidates)."""
        return Features(n=self.n + other.n, **{
            name: (pa.concat_arrays([value, getattr(other, name)]) if isinstance(value, pa.Array)
                   else np.concatenate([value, getattr(other, name)]))
            for name, value in self._arrays().items()})

    def _arrays(self) -> dict[str, np.ndarray | pa.Array]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "n"}


SMALL_FRAME = 256   # below this many rows plain Python beats pandas' per-call overhead (single-record lookups)
_NULL_TEXT = pa.scalar(None, pa.string())


def clean_value(value: object) -> str | None:
    """A delivered cell as trimmed text, None when empty or missing (the one-value form of clean_text)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def clean_text(values: pd.Series) -> pd.Series:
    """Strings stripped, with empty strings and nulls as None (object dtype)."""
    if len(values) <= SMALL_FRAME:
        return pd.Series([clean_value(v) for v in values.to_numpy(dtype=object)], index=values.index, dtype=object)
    return pd.Series(_text_array(values).to_numpy(zero_copy_only=False), index=values.index, dtype=object)


def _text_array(values: pd.Series) -> pa.Array:
    """clean_text as an Arrow string array (nulls for blanks): the city-sized path.

    Columns of str convert to Arrow in C++ (pandas' ``astype("string")`` checks each value
    in Python); anything else goes through pandas' string dtype. The strip is Arrow's
    utf8_trim_whitespace, which is what pandas' ``.str.strip`` runs on Arrow strings.
    """
    try:
        array = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        array = pa.array(values.astype("string[pyarrow]")).cast(pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _column(records: pd.DataFrame, name: str) -> pd.Series:
    if name in records.columns:
        return records[name]
    return pd.Series([None] * len(records), index=records.index, dtype=object)


def effective_birth_date(records: pd.DataFrame) -> pd.Series:
    """The delivered birth date, else the one encoded in the ID number."""
    birth = pd.to_datetime(_column(records, "birth_date"), errors="coerce")
    from_id = pd.to_datetime(_column(records, "id_birth_date"), errors="coerce")
    return birth.fillna(from_id)


def effective_gender(records: pd.DataFrame) -> pd.Series:
    """The delivered gender, else the one encoded in the ID number."""
    return clean_text(_column(records, "gender")).fillna(clean_text(_column(records, "id_gender")))


def community_key(community: str | None) -> str | None:
    """The community as keyed: without its 社区/居委会 suffix (日华里社区 and 日华里 are one place)."""
    if community is None:
        return None
    for suffix in ("社区居委会", "居委会", "社区"):
        if community.endswith(suffix) and len(community) > len(suffix):
            return community[: -len(suffix)]
    return community


_COMMUNITY_SUFFIX = r"^(.+?)(?:社区居委会|居委会|社区)$"   # community_key in Arrow (RE2)


def _address_key_row(d, street, community, road, number, building, unit, room) -> tuple:
    """The six keys of one address (None where a part is missing); the scalar form of address_keys."""
    community = community_key(community)
    place = community if community is not None else road
    bldg = building if building is not None else (
        f"{road}#{number}" if road is not None and number is not None
        else f"#{number}" if community is not None and number is not None else None)
    k_street = f"{d}|{street}" if d is not None and street is not None else None
    k_community = f"{d}|{place}" if d is not None and place is not None else None
    k_building = f"{k_community}|{bldg}" if k_community is not None and bldg is not None else None
    flat = f"{unit or ''}-{room}" if room is not None else None
    k_room = f"{k_building}|{flat}" if k_building is not None and flat is not None else None
    flat_building = building if building is not None else (
        f"{road}#{number}" if road is not None and number is not None else None)
    k_street_room = (f"{k_street}|{flat_building}|{flat}"
                     if k_street is not None and flat_building is not None and flat is not None else None)
    return d, k_street, k_community, k_building, k_room, k_street_room


def address_keys(records: pd.DataFrame, role: str) -> pd.DataFrame:
    """Hierarchical address keys of one role: district ⊂ street ⊂ community ⊂ building ⊂ room, and street_room.

    The community is the 社区/村 name without its 社区 suffix, else the road; the building is 号楼/栋, else
    the house number on the road (南京路100号) or in the village (杨堡村330号), so a key means the same place
    on both sides. street_room (district + street + building + unit + room, no community) finds a flat written
    without its community.
    """
    names = ("district_code", "street", "community", "road", "number", "building", "unit", "room")
    columns = ["district", "street", "community", "building", "room", "street_room"]
    if len(records) <= SMALL_FRAME:
        parts = [clean_text(_column(records, f"{role}_{name}")) for name in names]
        rows = [_address_key_row(*values) for values in zip(*(p.to_numpy() for p in parts))]
        return pd.DataFrame(rows, index=records.index, columns=columns, dtype=object)
    keys = _address_key_arrays(*(_text_array(_column(records, f"{role}_{name}")) for name in names))
    return pd.DataFrame({column: keys[column].to_numpy(zero_copy_only=False) for column in columns},
                        index=records.index, dtype=object)


def _address_key_arrays(district: pa.Array, street: pa.Array, community: pa.Array, road: pa.Array,
                        number: pa.Array, building: pa.Array, unit: pa.Array, room: pa.Array) -> dict[str, pa.Array]:
    """address_keys' six keys joined in Arrow (a null part makes its key and the finer ones null)."""
    def join(*parts: pa.Array, sep: str = "|") -> pa.Array:
        return pc.binary_join_element_wise(*parts, sep)   # null when any part is null

    community = pc.replace_substring_regex(community, _COMMUNITY_SUFFIX, r"\1")
    empty = pa.scalar("", pa.string())
    keys = {"district": district, "street": join(district, street),
            "community": join(district, pc.coalesce(community, road))}
    on_road = join(road, number, sep="#")
    in_community = join(pc.if_else(pc.is_null(community), _NULL_TEXT, empty), number, sep="#")
    keys["building"] = join(keys["community"], pc.coalesce(building, on_road, in_community))
    flat = join(pc.coalesce(unit, empty), room, sep="-")
    keys["room"] = join(keys["building"], flat)
    keys["street_room"] = join(keys["street"], pc.coalesce(building, on_road), flat)
    return keys


def _text(records: pd.DataFrame, name: str) -> pa.Array:
    """A column as cleaned Arrow strings (nulls for blanks; all nulls when the column is absent)."""
    if name not in records.columns:
        return pa.nulls(len(records), pa.string())
    return _text_array(records[name])


def _flags(mask: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, null as False."""
    return mask.fill_null(False).to_numpy(zero_copy_only=False)


def value_codes(text: pa.Array) -> np.ndarray:
    """The code of each value: a 63-bit hash of the text (non-negative), -1 for null.

    Hashing each distinct value once (pandas' keyed SipHash) keeps the city's strings in
    Arrow: no Python object per record is ever made.
    """
    encoded = pc.dictionary_encode(text)
    codes = np.full(len(text), NULL, dtype=np.int64)
    if len(encoded.dictionary):
        hashes = (pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False)) >> np.uint64(1))
        indices = encoded.indices.fill_null(NULL).to_numpy(zero_copy_only=False)
        known = indices >= 0
        codes[known] = hashes.astype(np.int64)[indices[known]]
    return codes


def _fixed_width_bytes(text: pa.Array, width: int) -> np.ndarray:
    """(rows, width) bytes of an Arrow string array whose values are all `width` ASCII characters."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset:text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[-1]].reshape(-1, width)


def _phone_codes(phones: pa.Array) -> np.ndarray:
    """(n, _MAX_PHONES) codes of the '|'-separated numbers of each record, -1 for empty slots."""
    lists = pc.split_pattern(phones, "|")
    numbers = pc.list_flatten(lists)
    owner = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    slot = np.arange(len(owner)) - np.searchsorted(owner, owner, side="left")   # owners come sorted
    numbers = pc.if_else(pc.equal(numbers, ""), _NULL_TEXT, numbers)
    table = np.full((len(phones), _MAX_PHONES), NULL, dtype=np.int64)
    kept = slot < _MAX_PHONES
    table[owner[kept], slot[kept]] = value_codes(numbers)[kept]
    return table


def prepare_features(records: pd.DataFrame) -> Features:
    """Code the matching columns of canonical records (positional), in Arrow and numpy."""
    n = len(records)
    status = _text(records, "id_status")
    id_number = pc.if_else(pc.fill_null(pc.equal(status, "missing"), False), _NULL_TEXT, _text(records, "id_number"))
    has18 = _flags(pc.match_substring_regex(id_number, _ID18))
    digits = np.zeros((n, 18), dtype=np.uint8)
    if has18.any():
        digits[has18] = _fixed_width_bytes(id_number.filter(pa.array(has18)), 18)

    pinyin = _text(records, "name_pinyin")
    name_key = _text(records, "name_key")
    name_string = pc.coalesce(pc.replace_substring(pinyin, " ", ""), pc.utf8_lower(name_key))

    birth = effective_birth_date(records)
    ymd = np.zeros((n, 3), dtype=np.int32)
    known = birth.notna().to_numpy()
    ymd[known, 0] = birth[known].dt.year.to_numpy()
    ymd[known, 1] = birth[known].dt.month.to_numpy()
    ymd[known, 2] = birth[known].dt.day.to_numpy()

    gender_text = pc.coalesce(_text(records, "gender"), _text(records, "id_gender"))
    gender = np.select([_flags(pc.equal(gender_text, "M")), _flags(pc.equal(gender_text, "F"))], [1, 2], 0)

    address = np.empty((n, 2, len(ADDRESS_KEY_PARTS)), dtype=np.int64)
    for r, role in enumerate(("household", "residence")):
        keys = _address_key_arrays(*(_text(records, f"{role}_{name}") for name in _ADDRESS_INPUTS))
        for j, part in enumerate(ADDRESS_KEY_PARTS):
            address[:, r, j] = value_codes(keys[part])

    return Features(
        n=n,
        trusted=_flags(pc.is_in(status, value_set=pa.array(sorted(TRUSTED_ID_STATUSES)))),
        id_code=value_codes(id_number),
        id_converted=_flags(pc.equal(status, "converted_15")),
        id_digits=digits,
        id_has18=has18,
        name_key=name_key,
        name_code=value_codes(name_key),
        pinyin_code=value_codes(pinyin),
        folded_pinyin_code=value_codes(_text(records, "name_pinyin_folded")),
        surname_code=value_codes(_text(records, "surname")),
        surname_pinyin_code=value_codes(_text(records, "surname_pinyin")),
        name_string=name_string,
        birth=ymd,
        gender=gender.astype(np.int8),
        phones=_phone_codes(_text(records, "phones")),
        address=address,
        employer=np.stack([value_codes(_text(records, "employer_name")),
                           value_codes(_text(records, "employer_credit_code"))], axis=1),
    )


_ID18_PATTERN = re.compile(r"[0-9]{17}[0-9X]")


def _hash_codes(values: list[str | None]) -> np.ndarray:
    """value_codes for a few Python values (the same hash, without Arrow)."""
    codes = np.full(len(values), NULL, dtype=np.int64)
    known = [i for i, value in enumerate(values) if value is not None]
    if known:
        # categorize=False: the same hashes (categorizing only saves work on repeated values), 7 µs instead of 45.
        hashes = pd.util.hash_array(np.array([values[i] for i in known], dtype=object), categorize=False) \
            >> np.uint64(1)
        codes[known] = hashes.astype(np.int64)
    return codes


def _date_parts(value: object) -> tuple[int, int, int] | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.date) and 1678 <= value.year <= 2261:
        # A date, datetime or Timestamp well inside datetime64[ns]: pd.to_datetime would keep its calendar date
        # (time zone included), so read it directly (pd.to_datetime costs 13 µs for a date or NaT).
        return value.year, value.month, value.day
    stamp = pd.to_datetime(value, errors="coerce")
    return None if stamp is pd.NaT else (stamp.year, stamp.month, stamp.day)


def features_of_one(record: Mapping[str, object]) -> Features:
    """prepare_features for one canonical record given as a mapping, in plain Python.

    The survey app's lookups code one record at a time; this path takes tens of microseconds
    where the columnar one pays pandas' and Arrow's per-call costs. It must give exactly the
    codes prepare_features gives (tests/test_compare.py checks every sample record).
    """
    text = {name: clean_value(record.get(name)) for name in MATCH_COLUMNS}
    status = text["id_status"]
    id_number = text["id_number"] if status != "missing" else None
    has18 = id_number is not None and _ID18_PATTERN.fullmatch(id_number) is not None
    digits = np.zeros((1, 18), dtype=np.uint8)
    if has18:
        digits[0] = np.frombuffer(id_number.encode("ascii"), dtype=np.uint8)
    pinyin, name_key = text["name_pinyin"], text["name_key"]
    name_string = pinyin.replace(" ", "") if pinyin is not None else (name_key.lower() if name_key is not None else None)

    raw_birth = record.get("birth_date")
    birth = _date_parts(raw_birth) if clean_value(raw_birth) is not None else None
    if birth is None and clean_value(record.get("id_birth_date")) is not None:
        birth = _date_parts(record.get("id_birth_date"))
    gender_text = text["gender"] if text["gender"] is not None else text["id_gender"]

    phones = [p or None for p in (text["phones"].split("|") if text["phones"] is not None else [])][:_MAX_PHONES]
    phones += [None] * (_MAX_PHONES - len(phones))
    addresses = []
    for role in ("household", "residence"):
        keys = dict(zip(("district", "street", "community", "building", "room", "street_room"),
                        _address_key_row(*(text[f"{role}_{name}"] for name in _ADDRESS_INPUTS))))
        addresses += [keys[part] for part in ADDRESS_KEY_PARTS]

    singles = [id_number, name_key, pinyin, text["name_pinyin_folded"], text["surname"], text["surname_pinyin"],
               text["employer_name"], text["employer_credit_code"]]
    codes = _hash_codes(singles + phones + addresses)
    (id_code, name_code, pinyin_code, folded_code, surname_code, surname_pinyin_code,
     employer_name_code, employer_code_code) = codes[:len(singles)]
    phone_codes = codes[len(singles):len(singles) + _MAX_PHONES]
    address_codes = codes[len(singles) + _MAX_PHONES:]

    def one(value: object, dtype: type) -> np.ndarray:
        return np.array([value], dtype=dtype)

    return Features(
        n=1,
        trusted=one(status in TRUSTED_ID_STATUSES, bool),
        id_code=one(id_code, np.int64),
        id_converted=one(status == "converted_15", bool),
        id_digits=digits,
        id_has18=one(has18, bool),
        name_key=pa.array([name_key], type=pa.string()),
        name_code=one(name_code, np.int64),
        pinyin_code=one(pinyin_code, np.int64),
        folded_pinyin_code=one(folded_code, np.int64),
        surname_code=one(surname_code, np.int64),
        surname_pinyin_code=one(surname_pinyin_code, np.int64),
        name_string=pa.array([name_string], type=pa.string()),
        birth=np.array([birth or (0, 0, 0)], dtype=np.int32),
        gender=one({"M": 1, "F": 2}.get(gender_text, 0), np.int8),
        phones=phone_codes.reshape(1, _MAX_PHONES),
        address=address_codes.reshape(1, 2, len(ADDRESS_KEY_PARTS)),
        employer=np.array([[employer_name_code, employer_code_code]], dtype=np.int64),
    )


def id_edit_kind(digits_l: np.ndarray, digits_r: np.ndarray) -> np.ndarray:
    """Per pair of 18-character numbers: 0 equal, 1 one substitution, 2 adjacent transposition, 3 other.

    Compared on the 17-digit body, so a typo whose check digit was recomputed and one
    that left a wrong check digit both count as one edit; equal bodies with different
    check characters are a substitution in the check character.
    """
    body_l, body_r = digits_l[:, :_ID_BODY], digits_r[:, :_ID_BODY]
    differs = body_l != body_r
    count = differs.sum(axis=1)
    check_differs = digits_l[:, _ID_BODY] != digits_r[:, _ID_BODY]
    kind = np.full(len(count), 3, dtype=np.int8)
    kind[(count == 0) & ~check_differs] = 0
    kind[(count == 1) | ((count == 0) & check_differs)] = 1
    two = np.flatnonzero(count == 2)
    if len(two):
        first = differs[two].argmax(axis=1)
        second = np.minimum(first + 1, _ID_BODY - 1)
        rows_l, rows_r = body_l[two], body_r[two]
        adjacent = differs[two, second] & (first + 1 < _ID_BODY)
        swapped = (rows_l[np.arange(len(two)), first] == rows_r[np.arange(len(two)), second]) & (
            rows_l[np.arange(len(two)), second] == rows_r[np.arange(len(two)), first]
        )
        kind[two[adjacent & swapped]] = 2
    return kind


def compare_id_number(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    code_l, code_r = f.id_code[left], f.id_code[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (code_l >= 0) & (code_r >= 0)
    equal = both & (code_l == code_r)
    level[equal] = 0
    level[equal & (f.id_converted[left] | f.id_converted[right])] = 1
    unequal = np.flatnonzero(both & ~equal)
    level[unequal] = 4
    eighteen = unequal[f.id_has18[left[unequal]] & f.id_has18[right[unequal]]]
    if len(eighteen):
        kind = id_edit_kind(f.id_digits[left[eighteen]], f.id_digits[right[eighteen]])
        level[eighteen[kind == 1]] = 2
        level[eighteen[kind == 2]] = 3
    return level


def _jaro_winkler(strings_l: np.ndarray, strings_r: np.ndarray) -> np.ndarray:
    if len(strings_l) == 0:
        return np.zeros(0)
    return process.cpdist(list(strings_l), list(strings_r), scorer=JaroWinkler.normalized_similarity, workers=1)


def compare_name(f: Features, left: np.ndarray, right: np.ndarray, similar_threshold: float) -> np.ndarray:
    code_l, code_r = f.name_code[left], f.name_code[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (code_l >= 0) & (code_r >= 0)
    level[both] = 4
    surname_l, surname_r = f.surname_code[left], f.surname_code[right]
    sp_l, sp_r = f.surname_pinyin_code[left], f.surname_pinyin_code[right]
    same_surname = ((surname_l >= 0) & (surname_l == surname_r)) | ((sp_l >= 0) & (sp_l == sp_r))
    level[both & same_surname] = 3
    rest = np.flatnonzero(both & (code_l != code_r))
    strings_l = f.name_string.take(pa.array(left[rest])).to_numpy(zero_copy_only=False)
    strings_r = f.name_string.take(pa.array(right[rest])).to_numpy(zero_copy_only=False)
    usable = pd.notna(strings_l) & pd.notna(strings_r)
    similar = np.zeros(len(rest), dtype=bool)
    similar[usable] = _jaro_winkler(strings_l[usable], strings_r[usable]) >= similar_threshold
    level[rest[similar]] = 2
    pinyin_l, pinyin_r = f.pinyin_code[left], f.pinyin_code[right]
    level[both & (pinyin_l >= 0) & (pinyin_l == pinyin_r)] = 1
    level[both & (code_l == code_r)] = 0
    return level


def compare_birth_date(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    b_l, b_r = f.birth[left], f.birth[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (b_l[:, 0] > 0) & (b_r[:, 0] > 0)
    differing = (b_l != b_r).sum(axis=1)
    swapped = (b_l[:, 0] == b_r[:, 0]) & (b_l[:, 1] == b_r[:, 2]) & (b_l[:, 2] == b_r[:, 1])
    level[both] = 3
    level[both & swapped] = 2
    level[both & (differing == 1)] = 1
    level[both & (differing == 0)] = 0
    return level


def compare_gender(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    g_l, g_r = f.gender[left], f.gender[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (g_l > 0) & (g_r > 0)
    level[both] = np.where(g_l[both] == g_r[both], 0, 1)
    return level


def _any_shared(codes_l: np.ndarray, codes_r: np.ndarray) -> np.ndarray:
    """Per pair (row): whether some known code on the left equals some code on the right.

    Column by column in 1-D (a few slots each side), which is several times faster than
    broadcasting to (pairs, slots, slots) and reducing over two axes.
    """
    shared = np.zeros(len(codes_l), dtype=bool)
    for i in range(codes_l.shape[1]):
        code = codes_l[:, i]
        hit = code == codes_r[:, 0]
        for j in range(1, codes_r.shape[1]):
            hit |= code == codes_r[:, j]
        shared |= hit & (code >= 0)
    return shared


def compare_phone(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    p_l, p_r = f.phones[left], f.phones[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (p_l[:, 0] >= 0) & (p_r[:, 0] >= 0)
    shared = _any_shared(p_l, p_r)
    level[both] = np.where(shared[both], 0, 1)
    return level


def compare_address(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a_l, a_r = f.address[left], f.address[right]  # (pairs, role, part)
    level = np.full(len(left), NULL, dtype=np.int8)
    known_l, known_r = (a_l[:, :, 4] >= 0).any(axis=1), (a_r[:, :, 4] >= 0).any(axis=1)
    level[known_l & known_r] = len(ADDRESS_LEVEL_PARTS)
    # Any role against any role; the best (smallest) level wins. Check worst first so better overwrites.
    for part in reversed(range(len(ADDRESS_LEVEL_PARTS))):
        level[_any_shared(a_l[:, :, part], a_r[:, :, part])] = part
    return level


def compare_employer(f: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    e_l, e_r = f.employer[left], f.employer[right]
    level = np.full(len(left), NULL, dtype=np.int8)
    both = (e_l >= 0) & (e_r >= 0)                       # per kind: name, credit code
    comparable = both.any(axis=1)
    same = (both & (e_l == e_r)).any(axis=1)
    level[comparable] = np.where(same[comparable], 0, 1)
    return level


def compare_levels(features: Features, left: np.ndarray, right: np.ndarray,
                   config: MatchingConfig) -> dict[str, np.ndarray]:
    """Comparison levels (int8, -1 = missing) of each configured field for the pairs (left[i], right[i])."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    comparers = {
        "id_number": lambda l, r: compare_id_number(features, l, r),
        "name": lambda l, r: compare_name(features, l, r, config.similar_pinyin_threshold),
        "birth_date": lambda l, r: compare_birth_date(features, l, r),
        "gender": lambda l, r: compare_gender(features, l, r),
        "phone": lambda l, r: compare_phone(features, l, r),
        "address": lambda l, r: compare_address(features, l, r),
        "employer": lambda l, r: compare_employer(features, l, r),
    }
    columns: dict[str, np.ndarray] = {}
    for field in config.fields:
        parts = [comparers[field](left[s : s + _CHUNK], right[s : s + _CHUNK]) for s in range(0, len(left), _CHUNK)]
        columns[field] = parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else np.zeros(0, np.int8))
    return columns


def compare_pairs(features: Features, left: np.ndarray, right: np.ndarray, config: MatchingConfig) -> pd.DataFrame:
    """compare_levels as a frame, one row per pair."""
    return pd.DataFrame(compare_levels(features, left, right, config))


def level_name(field: str, level: int) -> str:
    """The configuration word for a level index ('missing' for -1)."""
    return "missing" if level == NULL else FIELD_LEVELS[field][level]
