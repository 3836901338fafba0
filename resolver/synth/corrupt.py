"""Clean values → the text departments actually deliver, with dirty variants at the configured rates.

Every renderer is pure given its random generator, works on whole columns, and formats
each distinct value once where values repeat (dates, periods, traditional names).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from resolver.synth import names as nm
from resolver.synth.extracts import (
    ADDRESS, CERT_TYPE, DATE, GENDER, ID, MONEY, NAME, PASSPORT, PERIOD, PHONE, SPEC_HEADERS, TEXT, SourceRows,
    zero_padded,
)
from resolver.synth.identity import to_legacy_15, with_keyed_wrong_sequence, with_valid_typo, with_wrong_check
from resolver.synth.places import AddressBook
from resolver.synth.population import DOTTED, HAN, LATIN, Population
from resolver.synth.rates import SynthRates

_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")

# ID variants; VALID_TYPO, KEYED_WRONG and HOUSEHOLD_NUMBER (and some EMPTY) are planted per person
# (hard cases), the rest drawn per record.
CLEAN, EMPTY, WRONG_CHECK, FULLWIDTH, SPACED, LEGACY_15, LOWERCASE_X, VALID_TYPO = (
    "clean", "empty", "wrong_check_digit", "fullwidth", "spaced", "legacy_15", "lowercase_x", "valid_typo",
)
KEYED_WRONG, HOUSEHOLD_NUMBER = "keyed_wrong_sequence", "household_member_number"


@dataclass
class RenderedIds:
    """Delivered ID text and what a correct standardiser makes of it (schema id_number / id_status)."""

    raw: np.ndarray
    id_number: np.ndarray
    id_status: np.ndarray
    variant: np.ndarray


@dataclass
class RenderedSource:
    """A source's rows as delivered text (record id first, then the spec's columns)."""

    frame: pd.DataFrame
    ids: RenderedIds
    name_variant: np.ndarray


def _categories(rng: np.random.Generator, count: int, weights: dict[str, float]) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=count, p=p / p.sum())]


def _spaced(number: str, rng: np.random.Generator) -> str:
    """Spaces or hyphens inside a number, the way people type them."""
    style = int(rng.integers(0, 3))
    if style == 0:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if style == 1:
        return f"{number[:6]}-{number[6:14]}-{number[14:]}"
    cut = int(rng.integers(1, len(number)))
    return number[:cut] + " " + number[cut:]


def render_ids(
    id_numbers: np.ndarray, passports: np.ndarray, birth_years: np.ndarray, empty_rate: float,
    forced: np.ndarray, rates: SynthRates, rng: np.random.Generator, forced_numbers: np.ndarray | None = None,
) -> RenderedIds:
    """ID column text per row; ``forced`` holds planted variants (VALID_TYPO, KEYED_WRONG, HOUSEHOLD_NUMBER,
    EMPTY) or ''; ``forced_numbers`` the number a HOUSEHOLD_NUMBER row carries (another member's)."""
    r = rates.dirty.id_number
    count = len(id_numbers)
    raw = id_numbers.copy()
    canonical = id_numbers.copy()
    status = np.full(count, "valid", dtype=object)
    variant = np.full(count, CLEAN, dtype=object)
    resident = id_numbers != ""
    draw = rng.random(count)
    edges = np.cumsum([empty_rate, r.wrong_check_digit, r.fullwidth, r.spaced])
    variant[resident & (draw < edges[0])] = EMPTY
    variant[resident & (draw >= edges[0]) & (draw < edges[1])] = WRONG_CHECK
    variant[resident & (draw >= edges[1]) & (draw < edges[2])] = FULLWIDTH
    variant[resident & (draw >= edges[2]) & (draw < edges[3])] = SPACED
    clean = variant == CLEAN
    variant[clean & resident & (birth_years < 1985) & (rng.random(count) < r.legacy_15)] = LEGACY_15
    ends_x = np.array([n.endswith("X") for n in id_numbers], dtype=bool)
    variant[(variant == CLEAN) & ends_x & (rng.random(count) < r.lowercase_x)] = LOWERCASE_X
    planted = resident & (forced != "")
    variant[planted] = forced[planted]

    for index in np.flatnonzero(variant != CLEAN):
        number = id_numbers[index]
        kind = variant[index]
        if kind == EMPTY:
            raw[index], canonical[index], status[index] = "", None, "missing"
        elif kind == WRONG_CHECK:
            raw[index] = canonical[index] = with_wrong_check(number, rng)
            status[index] = "bad_check_digit"
        elif kind == FULLWIDTH:
            raw[index] = number.translate(_FULLWIDTH)
        elif kind == SPACED:
            raw[index] = _spaced(number, rng)
        elif kind == LEGACY_15:
            raw[index], status[index] = to_legacy_15(number), "converted_15"
        elif kind == LOWERCASE_X:
            raw[index] = number.lower()
        elif kind == VALID_TYPO:
            raw[index] = canonical[index] = with_valid_typo(number, rng)
        elif kind == KEYED_WRONG:
            raw[index] = canonical[index] = with_keyed_wrong_sequence(number, rng)
        elif kind == HOUSEHOLD_NUMBER:
            if forced_numbers is None or not forced_numbers[index]:
                raise ValueError("a household-member number was planted without the number")
            raw[index] = canonical[index] = forced_numbers[index]

    other = ~resident & (passports != "")
    lowered = other & (rng.random(count) < r.passport_lowercase)
    raw[other] = [p.lower() if low else p for p, low in zip(passports[other], lowered[other])]
    canonical[other] = passports[other]
    status[other] = "other_certificate"
    nobody = ~resident & ~other
    raw[nobody], canonical[nobody], status[nobody] = "", None, "missing"
    return RenderedIds(raw=raw, id_number=canonical, id_status=status, variant=variant)


@cache
def _to_traditional():
    from opencc import OpenCC

    return OpenCC("s2t")


def render_names(persons: np.ndarray, pop: Population, rates: SynthRates, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(delivered names, variant per row: clean / spaces / traditional / homophone / dot / latin)."""
    r = rates.dirty.name
    count = len(persons)
    names = pop.name[persons].copy()
    kind = pop.name_kind[persons]
    variant = np.full(count, "clean", dtype=object)
    draw = rng.random(count)
    han = kind == HAN

    traditional = np.flatnonzero(han & (draw < r.traditional))
    if len(traditional):
        converter = _to_traditional()
        unique, inverse = np.unique(names[traditional].astype(str), return_inverse=True)
        converted = np.array([converter.convert(u) for u in unique], dtype=object)[inverse]
        changed = converted != names[traditional]
        names[traditional[changed]] = converted[changed]
        variant[traditional[changed]] = "traditional"

    for index in np.flatnonzero(han & (draw >= r.traditional) & (draw < r.traditional + r.homophone)):
        typo = nm.homophone_typo(names[index], pop.surname[persons[index]], rng)
        if typo is not None:
            names[index], variant[index] = typo, "homophone"

    spaced = np.flatnonzero(han & (rng.random(count) < r.spaces))
    for index in spaced:
        name, surname = names[index], pop.surname[persons[index]]
        style = int(rng.integers(0, 3))
        split = len(surname) if 0 < len(surname) < len(name) else 1
        names[index] = (name[:split] + " " + name[split:], " " + name, name + "  ")[style]
        variant[index] = "spaces" if variant[index] == "clean" else variant[index] + "+spaces"

    dotted = np.flatnonzero((kind == DOTTED) & (draw < r.other_dot))
    for index in dotted:
        dot = nm.OTHER_DOTS[int(rng.integers(0, len(nm.OTHER_DOTS)))]
        names[index] = names[index].replace(nm.MIDDLE_DOT, dot)
        variant[index] = "dot"

    latin = np.flatnonzero((kind == LATIN) & (draw < r.latin_variant))
    for index in latin:
        parts = names[index].split(" ")
        names[index] = (" ".join(reversed(parts)) if rng.random() < 0.5 else names[index]).upper()
        variant[index] = "latin"
    return names, variant


def render_genders(male: np.ndarray, rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """男/女, 1/2 or M/F per row."""
    style = _categories(rng, len(male), rates.dirty.gender_formats)
    chinese = np.where(male, "男", "女")
    digit = np.where(male, "1", "2")
    letter = np.where(male, "M", "F")
    return np.select([style == "chinese", style == "digit"], [chinese, digit], default=letter).astype(object)


def _date_text(day: int, style: str) -> str:
    date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    if style == "iso":
        return date.isoformat()
    if style == "slash":
        return f"{date.year}/{date.month}/{date.day}"
    if style == "compact":
        return f"{date.year:04d}{date.month:02d}{date.day:02d}"
    return f"{date.year}年{date.month}月{date.day}日"


def render_dates(values: np.ndarray, rates: SynthRates, rng: np.random.Generator, xlsx: bool) -> np.ndarray:
    """Dates as CSV text in the spec's notations, or for .xlsx as date cells or Excel serial numbers."""
    days = values.astype("datetime64[D]")
    missing = np.isnat(days)
    out = np.full(len(days), "", dtype=object)
    if xlsx:
        style = _categories(rng, len(days), rates.dirty.xlsx_dates)
        serial = ((days - _EXCEL_EPOCH).astype(np.int64)).astype(float)
        as_datetime = days.astype("datetime64[us]").astype(object)
        out = np.where(style == "serial_number", serial.astype(object), as_datetime)
        out[missing] = ""
        return out
    style = _categories(rng, len(days), rates.dirty.date_formats)
    codes = ("iso", "slash", "compact", "chinese")
    style_code = np.select([style == c for c in codes], range(len(codes)), default=0)
    # Format each distinct (day, notation) once.
    key = np.where(missing, 0, days.astype(np.int64)) * 4 + style_code
    unique, inverse = np.unique(key[~missing], return_inverse=True)
    texts = np.array([_date_text(k // 4, codes[k % 4]) for k in unique], dtype=object)
    out[~missing] = texts[inverse]
    return out


def render_periods(values: np.ndarray, rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """YYYYMM integers as 202103, 2021-03 or 2021年03月."""
    style = _categories(rng, len(values), rates.dirty.period_formats)
    year = (values // 100).astype(str).astype(object)
    month = zero_padded(values % 100, 2)
    return np.select(
        [style == "compact", style == "dash"], [year + month, year + "-" + month], default=year + "年" + month + "月"
    ).astype(object)


def render_phones(mobile: np.ndarray, landline: np.ndarray, rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """Mobiles with or without +86/0086, Tianjin landlines 022-xxxxxxxx or 8 digits, or several of them."""
    style = _categories(rng, len(mobile), rates.dirty.phone_formats)
    has_mobile, has_landline = mobile != "", landline != ""
    dashed = np.where(has_landline, "022-" + landline, "")
    separator = np.where(rng.random(len(mobile)) < 0.5, "/", ";")
    several = np.where(has_mobile & has_landline, mobile + separator + np.where(rng.random(len(mobile)) < 0.5,
                                                                                 landline, dashed), mobile)
    primary = np.where(has_mobile, mobile, dashed)
    out = np.select(
        [style == "plus86", style == "prefix0086", style == "several", style == "landline_dash", style == "landline_8"],
        [np.where(has_mobile, "+86" + mobile, primary), np.where(has_mobile, "0086" + mobile, primary), several,
         np.where(has_landline, dashed, primary), np.where(has_landline, landline, primary)],
        default=primary,
    )
    return np.where(has_mobile | has_landline, out, "").astype(object)


def render_addresses(indices: np.ndarray, book: AddressBook, district_names: dict[str, tuple[str, str]],
                     rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """Address text: with or without 天津(市), full/short/legacy district, 3-2-401 / 3号楼2门401 / 3栋2单元401室."""
    r = rates.dirty.address
    count = len(indices)
    out = np.full(count, "", dtype=object)
    present = indices >= 0
    at = np.maximum(indices, 0)
    tianjin = present & book.in_tianjin[at]
    out[present & ~tianjin] = book.text[at[present & ~tianjin]]
    rows = np.flatnonzero(tianjin)
    if len(rows) == 0:
        return out
    a = at[rows]
    n = len(rows)
    city = _categories(rng, n, r.city_prefix)
    city = np.where(city == "none", "", city)
    codes = book.district_code[a]
    full = np.array([district_names[c][0] for c in codes], dtype=object)
    short = np.array([district_names[c][1] for c in codes], dtype=object)
    legacy = book.legacy_district[a]
    draw = rng.random(n)
    district = np.where(draw < r.short_district, short, full)
    use_legacy = (legacy != "") & (rng.random(n) < r.legacy_district)
    district = np.where(use_legacy, legacy, district)
    street = np.where(rng.random(n) < r.no_street_suffix, book.street_short[a], book.street[a])
    community = book.community[a]
    stripped = np.array([c[:-2] if c.endswith("社区") else c for c in community], dtype=object)
    community = np.where(rng.random(n) < r.no_community_suffix, stripped, community)
    building, unit, room = book.building[a].astype(str), book.unit[a].astype(str), book.room[a].astype(str)
    building, unit, room = building.astype(object), unit.astype(object), room.astype(object)
    unit_style = _categories(rng, n, r.unit_formats)
    flat = np.select(
        [unit_style == "dash", unit_style == "hao_men"],
        [building + "-" + unit + "-" + room, building + "号楼" + unit + "门" + room],
        default=building + "栋" + unit + "单元" + room + "室",
    )
    village = book.building[a] == 0
    home = np.where(village, book.house[a].astype(str).astype(object) + "号", flat)
    road = book.road[a] + book.number[a].astype(str).astype(object) + "号"
    with_road = (community == "") | (~village & (rng.random(n) < 0.15))
    out[rows] = city + district + street + np.where(with_road, road, "") + community + home
    return out


def render_money(values: np.ndarray) -> np.ndarray:
    """Amounts with two decimals."""
    return np.array([f"{value:.2f}" for value in values], dtype=object)


def render_source(
    rows: SourceRows, pop: Population, rates: SynthRates, forced_ids: np.ndarray,
    district_names: dict[str, tuple[str, str]], xlsx: bool, rng: np.random.Generator,
    forced_numbers: np.ndarray | None = None,
) -> RenderedSource:
    """All columns of a source as delivered: record id first, then the spec's columns in order."""
    persons = rows.person
    id_header, headers = SPEC_HEADERS[rows.source]
    data: dict[str, np.ndarray] = {id_header: rows.record_id}
    name_variant = np.full(len(persons), "clean", dtype=object)
    ids: RenderedIds | None = None
    empty_rate = rates.dirty.id_number.empty_by_source.get(rows.source, rates.dirty.id_number.empty)
    years = pop.birth_date[persons].astype("datetime64[Y]").astype(np.int64) + 1970
    for header in headers:
        column = rows.columns[header]
        kind = column.kind
        if kind == NAME:
            data[header], name_variant = render_names(persons, pop, rates, rng)
        elif kind == ID:
            ids = render_ids(pop.id_number[persons], pop.passport[persons], years, empty_rate, forced_ids, rates, rng,
                             forced_numbers)
            data[header] = ids.raw
        elif kind == PASSPORT:
            ids = render_ids(np.full(len(persons), "", dtype=object), pop.passport[persons], years, 0.0,
                             np.full(len(persons), "", dtype=object), rates, rng)
            data[header] = ids.raw
        elif kind == GENDER:
            data[header] = render_genders(pop.male[persons], rates, rng)
        elif kind == DATE:
            data[header] = render_dates(column.values, rates, rng, xlsx)
        elif kind == PERIOD:
            data[header] = render_periods(column.values, rates, rng)
        elif kind == PHONE:
            data[header] = render_phones(*column.values, rates, rng)
        elif kind == ADDRESS:
            data[header] = render_addresses(column.values, pop.addresses, district_names, rates, rng)
        elif kind == MONEY:
            data[header] = render_money(column.values)
        elif kind in (TEXT, CERT_TYPE):
            data[header] = np.asarray(column.values, dtype=object)
        else:
            raise ValueError(f"{rows.source}.{header}: unknown column kind {kind!r}")
    if ids is None:
        raise ValueError(f"{rows.source}: the spec gives every source an ID or passport column")
    return RenderedSource(frame=pd.DataFrame(data), ids=ids, name_variant=name_variant)


# Deliberately bad rows: what each does to the delivered text.
_BAD_DATES = ("2021-13-45", "2023-02-30", "20221341", "2022年13月5日", "2024/0/12")
_UNKNOWN_STATUSES = {"si_enrolment": ("冻结", "待核实", "正常缴费"), "national_insured": ("冻结", "中止", "未知")}
_BAD_DATE_COLUMNS = {"prison_inmate": "刑满日期", "police_permit": "有效期至"}


def plant_bad_rows(source: str, frame: pd.DataFrame, rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """Turn a few rows into rows ingestion must reject; returns the reason kind per row ('' = fine)."""
    reasons = np.full(len(frame), "", dtype=object)
    id_header, headers = SPEC_HEADERS[source]
    for kind, rule in (("empty_identity", rates.bad_rows.empty_identity), ("bad_date", rates.bad_rows.bad_date),
                       ("unknown_status", rates.bad_rows.unknown_status)):
        if source not in rule.sources or len(frame) == 0:
            continue
        free = np.flatnonzero(reasons == "")
        wanted = min(len(free), max(rule.minimum, int(round(rule.rate * len(frame)))))
        picked = rng.choice(free, size=wanted, replace=False)
        reasons[picked] = kind
        if kind == "empty_identity":
            # The spec lists the name first in every source.
            id_column = next(h for h in headers if h in _ID_HEADERS)
            frame.iloc[picked, frame.columns.get_loc(headers[0])] = ""
            frame.iloc[picked, frame.columns.get_loc(id_column)] = ""
        elif kind == "bad_date":
            values = np.array(_BAD_DATES, dtype=object)[rng.integers(0, len(_BAD_DATES), size=wanted)]
            frame.iloc[picked, frame.columns.get_loc(_BAD_DATE_COLUMNS[source])] = values
        else:
            options = np.array(_UNKNOWN_STATUSES[source], dtype=object)
            frame.iloc[picked, frame.columns.get_loc("参保状态")] = options[rng.integers(0, len(options), size=wanted)]
    return reasons


_ID_HEADERS = frozenset({"公民身份号码", "身份证号", "身份证号码", "证件号码", "身份证件号", "社会保障号码", "护照号码"})


def damage_record_ids(ids: np.ndarray, rates: SynthRates, minimum: int, rng: np.random.Generator) -> np.ndarray:
    """Empty some record ids and give some pairs of rows one id (both then fall back to file:line)."""
    ids = ids.copy()
    count = len(ids)
    if count < 3:
        return ids
    empty = min(count // 3, max(minimum, int(round(rates.record_ids.empty * count))))
    pairs = min(count // 3, max(minimum, int(round(rates.record_ids.duplicated * count))))
    picked = rng.choice(count, size=empty + 2 * pairs, replace=False)
    ids[picked[:empty]] = ""
    sources, copies = picked[empty: empty + pairs], picked[empty + pairs:]
    ids[copies] = ids[sources]
    return ids


# Columns departments add without telling anybody (kept by ingestion as raw attributes).
_EXTRA_COLUMN_SETS: tuple[tuple[str, ...], ...] = (("备注",), ("数据导出时间", "经办人"), ("核查标志",))
_REMARKS = np.array(["", "", "", "", "已核实", "迁入", "待补录", "电话空号"], dtype=object)


def add_extra_columns(frame: pd.DataFrame, choice: int, as_of: dt.date, rng: np.random.Generator
                      ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``frame`` with one set of unexpected columns inserted after the record id or appended."""
    headers = _EXTRA_COLUMN_SETS[choice % len(_EXTRA_COLUMN_SETS)]
    frame = frame.copy()
    count = len(frame)
    for header in headers:
        if header == "备注":
            values = _REMARKS[rng.integers(0, len(_REMARKS), size=count)]
            frame.insert(2, header, values)
        elif header == "数据导出时间":
            frame[header] = f"{as_of.isoformat()} 08:30:00"
        elif header == "经办人":
            frame[header] = "JB" + rng.integers(100, 999, size=count).astype(str).astype(object)
        else:
            frame.insert(1, header, np.where(rng.random(count) < 0.1, "1", "0").astype(object))
    return frame, headers
