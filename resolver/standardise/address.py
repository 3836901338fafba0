"""Parse Tianjin addresses into district, street, community, road, number and building-unit-room.

Restricted to Tianjin on purpose: general gazetteers read 南京路 as 江苏南京, 中山路 as
广东中山 and 河北区 as 河北省 (shared/notes/chinese-identity.md §3). Names are matched by
dictionary lookup with a first-character index, longest first, each inside its parent only.
"""
from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

import pandas as pd

from resolver.divisions import Divisions, load_divisions
from resolver.schema import ADDRESS_ROLES, address_columns
from resolver.standardise.unique import ParallelMap, map_unique_records


@dataclass(frozen=True)
class Address:
    """One parsed address; fields are schema.ADDRESS_PARTS. Numbers are digit strings without leading zeros."""

    address_raw: str | None
    in_tianjin: bool | None
    district_code: str | None = None
    legacy_district: str | None = None
    street: str | None = None
    community: str | None = None
    estate: str | None = None
    road: str | None = None
    number: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None


# A name directly followed by one of these is part of a road (和平路, 西青道, 河北大街), not a place.
ROAD_SUFFIXES = ("大街", "大道", "胡同", "路", "道", "街", "巷", "里")
_AFTER_SHORT_NAME_GUARD = ROAD_SUFFIXES + ("省", "市", "县", "镇", "乡")
# Community short forms must not look like a road (南京路社区 → no bare 南京路); 里 is a compound (日华里).
_ROADLIKE_ENDINGS = ("大街", "大道", "胡同", "路", "道", "街", "巷")

# 天津市, 天津, 中国天津市, 天津市市辖区, 天津市天津市; not 天津路 (a road in many cities).
_TIANJIN_PREFIX = re.compile(r"(?:中华人民共和国|中国)?(?P<tianjin>(?:天津(?!路|道|街|大街|大道|里|巷)市?)+(?:市辖区|辖区)?)?")
_DASHES = re.compile(r"[‐‑‒–—―−~～]")
_SPACE_BETWEEN_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
_SPACE_NOT_BETWEEN_DIGITS = re.compile(r"(?<!\d)\s+|\s+(?!\d)")
_HASH_AFTER_DIGIT = re.compile(r"(?<=\d)#")
# Only the traditional forms of characters that carry address structure (區 鎮 號 樓 門 …).
_TRADITIONAL = str.maketrans("區鎮鄉號樓門單棟莊橋東縣園裡裏華興濱寧靜薊漢陽內條鄰劃開發後灣",
                             "区镇乡号楼门单栋庄桥东县园里里华兴滨宁静蓟汉阳内条邻划开发后湾")

# Any character one of _normalise's rewrites acts on (dash, '#', whitespace, structural traditional character).
_NEEDS_REWRITING = re.compile(
    "[" + re.escape("".join(chr(c) for c in _TRADITIONAL)) + r"#\s" + _DASHES.pattern[1:-1] + "]")

_ROAD = re.compile(
    r"(?P<road>(?:(?![号楼门室])[\u4e00-\u9fff]){1,12}?(?:大街|大道|胡同|路|(?<!街)道|街(?!道)|巷|里))"
    r"(?:(?P<number>\d+(?:-\d+)?)(?:号(?!楼)|(?=\s|$)))?"
)
_BARE_NUMBER = re.compile(r"(?<![\d门元楼栋幢座室-])(?P<number>\d+(?:-\d+)?)号(?!楼)")
_BUILDING_UNIT_ROOM_DASHED = re.compile(r"(?<![\d-])(?P<building>\d+)-(?P<unit>\d+)-(?P<room>\d+)(?![\d-])")
_BUILDING_UNIT_ROOM = re.compile(
    r"(?:(?P<building>\d+)(?:号楼|栋|幢|座|号(?=\d+号?(?:门|单元))))?"
    r"(?:(?P<unit>\d+)号?(?:门|单元))?"
    r"(?:(?P<room>\d+)(?P<room_mark>室|号)?)?"
)
_DIGIT = re.compile(r"\d")

# Communities, villages and estates recognised by the shape of their name (issue 16 §1): the dictionary's
# community list is older than its towns, so a name it lacks is read from its suffix, after the street.
_NAME_CHARACTER = r"(?:(?!社区|[号楼栋幢门室])[\u4e00-\u9fff])"
# …社区, …居委会, …村委会, …村 (not 村民/村委 inside a longer word, nor a 村 that starts 村镇/村街道).
_SHAPED_COMMUNITY = re.compile(
    rf"(?P<stem>{_NAME_CHARACTER}{{2,15}}?)(?P<suffix>社区居委会|社区|居委会|村委会|村(?![委民社镇乡街]))")
# Estates (…里, …苑, …园, …花园, …家园, …新村, …小区 …) only right before a building or house number.
_ESTATE_SUFFIXES = ("花园", "家园", "小区", "新村", "公寓", "新城", "雅居", "里", "苑", "园")
_SHAPED_ESTATE = re.compile(
    rf"(?P<estate>{_NAME_CHARACTER}{{1,12}}?(?:{'|'.join(_ESTATE_SUFFIXES)}))(?=\d)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FLAT_AHEAD = re.compile(r"\d+(?:-\d+-\d+|号楼|栋|幢|座)")
# A bare name right after the street or a road number and right before a flat's numbers (3-2-401, 3号楼, 3栋).
_BARE_PLACE = re.compile(
    rf"(?:^|(?<=[\u4e00-\u9fff]))(?P<name>{_NAME_CHARACTER}{{2,8}})(?=\d+(?:-\d+-\d+|号楼|栋|幢|座))")
# A stem that still holds a road, street or town before the name (卫津路日华里, 万兴街道竹明新村) is cut after it.
_LEADING_PLACE = re.compile(r"^.*?(?:大街|大道|胡同|街道|路|道|街|巷|镇|乡|区|县|市)(?=..)")
_CHINESE_NUMERAL = re.compile(r"[一二三四五六七八九十]{1,3}(?=号楼|栋|幢|座|号?门|单元|室)")
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}


class _Names:
    """A name → value table searched by position with a first-character index, longest first."""

    def __init__(self, entries: dict[str, object], guarded: set[str], guard: tuple[str, ...]) -> None:
        self.entries = entries
        self.guarded = guarded
        self.guard = guard
        lengths: dict[str, set[int]] = {}
        for name in entries:
            lengths.setdefault(name[0], set()).add(len(name))
        self.lengths = {char: sorted(sizes, reverse=True) for char, sizes in lengths.items()}

    def at(self, text: str, position: int) -> tuple[object, int] | None:
        """(value, end) of the longest name starting exactly at position, else None."""
        for size in self.lengths.get(text[position], ()) if position < len(text) else ():
            name = text[position:position + size]
            if name in self.entries and not (name in self.guarded and text.startswith(self.guard, position + size)):
                return self.entries[name], position + size
        return None

    def search(self, text: str, start: int) -> tuple[object, int, int] | None:
        """(value, start, end) of the leftmost, then longest, name at or after start, else None."""
        for position in range(start, len(text)):
            if text[position] in self.lengths:
                hit = self.at(text, position)
                if hit:
                    return hit[0], position, hit[1]
        return None


def _short_forms(name: str, suffixes: tuple[str, ...]) -> list[str]:
    return [name[: -len(s)] for s in suffixes if name.endswith(s) and len(name) - len(s) >= 2]


class _FullThenShort:
    """Full names (华苑街道, 和风社区) searched before short forms (华苑, 和风), so 中新天津生态城和风社区 finds 和风."""

    def __init__(self, full: dict[str, object], short: dict[str, object]) -> None:
        self.full = _Names(full, set(), ())
        self.short = _Names({n: v for n, v in short.items() if n not in full}, set(short), _AFTER_SHORT_NAME_GUARD)

    def search(self, text: str, start: int) -> tuple[object, int, int] | None:
        return self.full.search(text, start) or self.short.search(text, start)


class _Gazetteer:
    """The lookup tables the parser needs, built once from the division data."""

    def __init__(self, divisions: Divisions) -> None:
        full, short = {}, {}
        for alias, (code, legacy) in divisions.district_aliases().items():
            (full if alias.endswith(("区", "县")) else short)[alias] = (code, legacy)
        self.district_full = _Names(full, set(), ())
        self.district_short = _Names(short, set(short), _AFTER_SHORT_NAME_GUARD)

        elsewhere: dict[str, bool] = {}
        for province in divisions.other_provinces:
            elsewhere[province] = False
            for short_name in _short_forms(province, ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")):
                elsewhere[short_name] = True
        for city in divisions.other_cities:
            elsewhere[city] = False
        self.elsewhere = _Names(elsewhere, {n for n, is_short in elsewhere.items() if is_short}, ROAD_SUFFIXES)

        self.streets: dict[str, _FullThenShort] = {}
        # 杭州道街道 written 杭州道, 集贤里街道 written 集贤里: a street only when a name, not a number, follows.
        self.road_like_streets: dict[str, _Names] = {}
        # Names of the district's streets (full and short) and zones: what may stand before a community's name.
        self.place_names: dict[str, frozenset[str]] = {}
        self.communities: dict[str, _FullThenShort] = {}
        # 长征路社区 written 长征路: the community only right before a flat's numbers (长征路21号楼2门604).
        self.road_like_communities: dict[str, _Names] = {}
        unique_street: dict[str, tuple[str, str] | None] = {}
        for district in divisions.districts():
            street_full: dict[str, object] = {}
            street_short: dict[str, object] = {}
            road_like: dict[str, object] = {}
            community_full: dict[str, tuple[str, str | None] | None] = {}
            community_short: dict[str, tuple[str, str | None] | None] = {}
            for street in divisions.streets(district.code):
                names = {street.name, *street.aliases}
                names |= {n.replace("邨", "村") for n in names}
                for name in names:
                    street_full[name] = (street.name, street.code)
                    unique_street[name] = None if name in unique_street else (district.code, street.name)
                # 富民路街道 has no usable short form: 富民路 is the road.
                if not street.short_name.endswith(ROAD_SUFFIXES) and street.short_name != street.name:
                    street_short.setdefault(street.short_name, (street.name, street.code))
                elif street.short_name != street.name:
                    road_like.setdefault(street.short_name, (street.name, street.code))
                for community in divisions.communities(street.code):
                    self._add_community(community_full, community_short, community, street.name)
            for communities in divisions.zone_communities(district.code).values():
                for community in communities:
                    self._add_community(community_full, community_short, community, None)
            self.streets[district.code] = _FullThenShort(street_full, street_short)
            self.road_like_streets[district.code] = _Names(road_like, set(), ())
            self.place_names[district.code] = frozenset(
                {*street_full, *street_short, *road_like, *divisions.zone_communities(district.code)})
            self.road_like_communities[district.code] = _Names(
                {community_stem(n): hit for n, hit in community_full.items()
                 if hit is not None and community_stem(n).endswith(_ROADLIKE_ENDINGS) and len(community_stem(n)) > 2},
                set(), ())
            self.communities[district.code] = _FullThenShort(
                {n: hit for n, hit in community_full.items() if hit is not None},
                {n: hit for n, hit in community_short.items() if hit is not None})
        self.street_anywhere = _Names({n: hit for n, hit in unique_street.items() if hit}, set(), ())

    @staticmethod
    def _add_community(full: dict, short: dict, community: str, street_name: str | None) -> None:
        """Add a community and its short forms (日华里); one spelling under two streets keeps the name, not the street."""
        shorts = [s for s in _short_forms(community, ("社区居委会", "居委会", "村委会", "社区", "村"))
                  if not s.endswith(_ROADLIKE_ENDINGS)]
        for table, names in ((full, [community]), (short, shorts)):
            for name in names:
                if name not in table:
                    table[name] = (community, street_name)
                elif table[name] is not None and table[name] != (community, street_name):
                    table[name] = (community, None) if table[name][0] == community else None


@cache
def _gazetteer() -> _Gazetteer:
    return _Gazetteer(load_divisions())


def _normalise(raw: str) -> str:
    """NFKC (full-width → half-width), structural traditional characters, one dash, no spaces except between digits."""
    text = unicodedata.normalize("NFKC", raw)
    if _NEEDS_REWRITING.search(text) is None:
        return text  # most addresses: nothing below would change them
    text = text.translate(_TRADITIONAL)
    text = _HASH_AFTER_DIGIT.sub("号", _DASHES.sub("-", text))
    # 南京路100 3门201: keep one space where it separates two numbers, drop every other space.
    return _SPACE_NOT_BETWEEN_DIGITS.sub("", _SPACE_BETWEEN_DIGITS.sub(" ", text))


def _chinese_number(match: re.Match[str]) -> str:
    """一…九十九 before a building/unit/room marker → digits (三号楼 → 3号楼)."""
    text = match.group(0)
    if "十" not in text:
        return "".join(str(_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0))


def _plain(number: str | None) -> str | None:
    """Digits without leading zeros (0401 → 401); dashed numbers part by part."""
    if number is not None and number.isascii() and number.isdigit() and number[0] != "0":
        return number  # already plain: the common case, spared the int round trip
    return None if number is None else "-".join(str(int(part)) for part in number.split("-"))


def _locate_district(text: str, start: int, tianjin_prefix: bool,
                     gazetteer: _Gazetteer) -> tuple[str, str | None, int] | Literal[False] | None:
    """(code, legacy name, end) of the district; False when the text names another province or city."""
    hit = gazetteer.district_full.at(text, start)
    if hit is None and not tianjin_prefix and gazetteer.elsewhere.at(text, start):
        hit = gazetteer.district_short.at(text, start)
        if hit is None:
            return False
        # 河北 is both 河北省 and 河北区: the district when one of its streets/communities follows,
        # the province when a city follows (河北保定市), else unknown (河北中山路5号).
        if not _names_place_at(text, hit[1], hit[0][0], gazetteer):
            return False if gazetteer.elsewhere.at(text, hit[1]) else None
    if hit is None:
        hit = gazetteer.district_short.at(text, start)
    if hit:
        (code, legacy), end = hit
        return code, legacy, end
    if tianjin_prefix:
        # 天津市…和平区… or 天津市华苑街道…: a full district name later on, else a street name unique in Tianjin.
        found = gazetteer.district_full.search(text, start)
        if found:
            (code, legacy), _, end = found
            return code, legacy, end
        found = gazetteer.street_anywhere.search(text, start)
        if found:
            (code, _), street_start, _ = found
            return code, None, street_start
    return None


def _names_place_at(text: str, position: int, district_code: str, gazetteer: _Gazetteer) -> bool:
    """Whether a street or community of the district starts exactly at position."""
    return any(table.at(text, position) for scope in (gazetteer.streets, gazetteer.communities)
               for table in (scope[district_code].full, scope[district_code].short))


def _building_unit_room_matches(tail: str) -> Iterator[re.Match[str]]:
    """The non-empty matches of _BUILDING_UNIT_ROOM.finditer(tail), without its empty match at every other character.

    Every part of the pattern starts with a digit, so the match is empty exactly where no digit starts:
    jumping from digit to digit visits the same non-empty matches in the same order.
    """
    position = 0
    while (digit := _DIGIT.search(tail, position)) is not None:
        match = _BUILDING_UNIT_ROOM.match(tail, digit.start())
        yield match
        position = match.end()


def _parse_tail(text: str, start: int) -> dict[str, str | None]:
    """Road, number and building/unit/room from the part after the named places."""
    parts: dict[str, str | None] = {}
    road = _ROAD.search(text, start)
    if road:
        parts["road"], parts["number"] = road.group("road"), _plain(road.group("number"))
        start = road.end()
    else:
        number = _BARE_NUMBER.search(text, start)
        if number:
            parts["number"], start = _plain(number.group("number")), number.end()
    tail = _CHINESE_NUMERAL.sub(_chinese_number, text[start:])
    dashed = _BUILDING_UNIT_ROOM_DASHED.search(tail)
    if dashed:
        parts.update({k: _plain(v) for k, v in dashed.groupdict().items()})
        return parts
    for match in _building_unit_room_matches(tail):
        building, unit, room = match.group("building", "unit", "room")
        # A bare number is a room only after a building/unit marker or with 室 (401室).
        if room and not (building or unit or match.group("room_mark") == "室"):
            room = None
        if building or unit or room:
            parts.update(building=_plain(building), unit=_plain(unit), room=_plain(room))
            break
    return parts


def parse_address(raw: str | None) -> Address:
    """Parse one address; in_tianjin is False for another province/city and None when unplaceable."""
    return Address(*address_row(raw))


def address_row(raw: str | None) -> tuple:
    """parse_address's fields as a tuple in ADDRESS_PARTS order.

    The bulk path (parse_addresses, and worker processes, which need a module-level function) skips
    building an Address: at a million distinct addresses the dataclass alone costs seconds.
    """
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return _row(None, None)
    raw = str(raw)
    text = _normalise(raw)
    gazetteer = _gazetteer()
    prefix = _TIANJIN_PREFIX.match(text)
    tianjin_prefix, position = prefix.group("tianjin") is not None, prefix.end()
    district = _locate_district(text, position, tianjin_prefix, gazetteer)
    if district is False:
        return _row(raw, False)
    if district is None:
        return _row(raw, True if tianjin_prefix else None, tail=_parse_tail(text, position))

    code, legacy, position = district
    street = community = estate = None
    found_street = gazetteer.streets[code].search(text, position) or _road_like_street(text, position, code, gazetteer)
    community_from = position
    if found_street:
        (street, _), community_from, position = found_street
    found_community = gazetteer.communities[code].search(text, community_from)
    # A community may start inside the street's name (华苑 → 华苑新城) but must reach past it.
    if found_community and found_community[2] <= position:
        found_community = gazetteer.communities[code].search(text, position)
    # The dictionary confirms and spells a name; a name of community shape around a dictionary name
    # (日华里花园社区 around 日华里, 薛西沟村 around 西沟村) is a community the dictionary does not know.
    shaped = shaped_community(text, position) or _bare_place(text, position) or _estate_place(text, position)
    if shaped and (found_community is None or (_encloses(shaped[1:], found_community[1:]) and text[
            shaped[1]:found_community[1]] not in gazetteer.place_names[code])):
        community, position = shaped[0], shaped[2]
    elif found_community:
        (community, community_street), _, position = found_community
        street = street or community_street
    if community is None:
        road_named = gazetteer.road_like_communities[code].search(text, position)
        if road_named and _FLAT_AHEAD.match(text, road_named[2]):
            (community, community_street), _, position = road_named
            street = street or community_street
    found_estate = _SHAPED_ESTATE.search(text, position)
    if found_estate:
        name = _trim_leading_place(found_estate.group("estate"))
        if community is None:
            community = name.removesuffix("小区") + "社区"
        elif community_stem(community) != name:
            estate = name
        position = found_estate.end()
    return _row(raw, True, code, legacy, street, community, _parse_tail(text, position), estate)


def _encloses(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """Whether the span ``outer`` ends after ``inner``, or ends with it and starts before it."""
    return outer[1] > inner[1] or (outer[1] == inner[1] and outer[0] < inner[0])


def _road_like_street(text: str, start: int, district_code: str,
                      gazetteer: _Gazetteer) -> tuple[object, int, int] | None:
    """A street whose short form is a road name (杭州道 for 杭州道街道), right after the district and followed by
    a name (杭州道芳景里社区), not by a number (杭州道5号 is the road)."""
    hit = gazetteer.road_like_streets[district_code].at(text, start)
    if hit is None or hit[1] >= len(text) or not _CJK.match(text, hit[1]) or text.startswith("号", hit[1]):
        return None
    return hit[0], start, hit[1]


def _estate_place(text: str, start: int) -> tuple[str, int, int] | None:
    """An estate written without its community (光城南里10栋, 锦澜家园3号楼): the community named after it."""
    found = _SHAPED_ESTATE.search(text, start)
    if found is None:
        return None
    name = _trim_leading_place(found.group("estate"))
    return name.removesuffix("小区") + "社区", found.end() - len(name), found.end()


def _bare_place(text: str, start: int) -> tuple[str, int, int] | None:
    """A name with no suffix right before the building (华明街道光城5号楼, 卫津道188号景汇23-4-402): the community
    or estate a flat is in, as …社区; not a road (南京路3号楼)."""
    found = _BARE_PLACE.search(text, start)
    if found is None:
        return None
    name = _trim_leading_place(found.group("name"))
    if len(name) < 2 or name.endswith(_ROADLIKE_ENDINGS + _ESTATE_SUFFIXES + ("村", "社区")):
        return None
    return name + "社区", found.end("name") - len(name), found.end("name")


def _trim_leading_place(stem: str) -> str:
    """The name without a road, street or town written before it (卫津路日华里 → 日华里, 泰安道 stays)."""
    cut = _LEADING_PLACE.match(stem)
    return stem[cut.end():] if cut and cut.end() >= 2 else stem


def community_stem(name: str) -> str:
    """A community name without its 社区/居委会 suffix: 日华里社区, 日华里 and 日华里居委会 name one community."""
    for suffix in ("社区居委会", "居委会", "社区"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def shaped_community(text: str, start: int) -> tuple[str, int, int] | None:
    """(name, start, end) of the first 社区/居委会/村委会/村-suffixed name at or after start, spelled the
    dictionary's way (…社区 or …村; an estate's …新村 is a …新村社区), else None."""
    if not any(text.find(suffix, start) >= 0 for suffix in ("社区", "村", "居委会")):
        return None   # most addresses name no community: skip the regex's scan
    found = _SHAPED_COMMUNITY.search(text, start)
    if found is None:
        return None
    stem = _trim_leading_place(found.group("stem"))
    village = found.group("suffix") in ("村", "村委会") and not stem.endswith("新")
    name = stem + ("村" if village else "村社区" if found.group("suffix") in ("村", "村委会") else "社区")
    return name, found.end() - len(found.group(0)) + len(found.group("stem")) - len(stem), found.end()


def _row(raw: str | None, in_tianjin: bool | None, district_code: str | None = None, legacy_district: str | None = None,
         street: str | None = None, community: str | None = None, tail: dict[str, str | None] | None = None,
         estate: str | None = None) -> tuple:
    """The ADDRESS_PARTS tuple; ``tail`` holds what _parse_tail found (road, number, building, unit, room)."""
    tail = tail or {}
    # The parts are interned: a city has millions of distinct addresses but a few thousand communities and a
    # few hundred building, room and door numbers; one string each instead of one per address (~170 MB at 1M).
    parts = (street, community, estate, *(tail.get(part) for part in ("road", "number", "building", "unit", "room")))
    return (raw, in_tianjin, district_code, legacy_district, *(None if p is None else sys.intern(p) for p in parts))


def parse_addresses(raw: pd.Series, role: str, cache: dict | None = None,
                    parallel: ParallelMap | None = None) -> pd.DataFrame:
    """Parse a column of addresses once per distinct text; columns are schema.address_columns(role).

    ``cache`` (text → address_row) may be shared by both roles and across calls; ``parallel`` shares the
    parsing of many new texts with a worker process (resolver/standardise/unique.py).
    """
    if role not in ADDRESS_ROLES:
        raise ValueError(f"address role {role!r} unknown — use one of {', '.join(ADDRESS_ROLES)} (resolver/schema.py)")
    return map_unique_records(raw, address_row, address_columns(role), cache, parallel)
