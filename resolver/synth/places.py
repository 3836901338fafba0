"""Where people live and were registered: Tianjin addresses down to the community, ID area codes.

Addresses are structured (district, street, community, building …) and kept in an
``AddressBook``; corrupt.py renders them as text in the many ways departments write them.
Tianjin divisions come from ``resolver.divisions``; other provinces from a small table here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker.providers.ssn.zh_CN import Provider as _ChineseSsn

from resolver.divisions import Divisions
from resolver.standardise.province import PROVINCES

# Community weights when placing households: an urban 社区 houses more people than a 村.
_COMMUNITY_WEIGHT = 4.0
_VILLAGE_WEIGHT = 1.0
_EMPTY_STREET_WEIGHT = 8.0

# 滨海新区 streets by the pre-2009 district they belonged to (国函〔2009〕125号); the rest were 塘沽区.
_HANGU_STREETS = frozenset({"汉沽街道", "寨上街道", "茶淀街道", "杨家泊镇"})
_DAGANG_STREETS = frozenset({"大港街道", "古林街道", "海滨街道", "太平镇", "小王庄镇", "中塘镇"})
_BINHAI = "120116"

# Codes in force before a county became a district: (current code, until year, older code).
_RENAMED_CODES: dict[str, tuple[int, str]] = {
    "120114": (2000, "120222"),  # 武清县
    "120115": (2001, "120224"),  # 宝坻县
    "120117": (2015, "120221"),  # 宁河县
    "120118": (2015, "120223"),  # 静海县
    "120119": (2016, "120225"),  # 蓟县
}
_BINHAI_LEGACY_CODES = {"塘沽区": "120107", "汉沽区": "120108", "大港区": "120109"}

ROAD_STEMS: tuple[str, ...] = tuple(
    "南京 卫津 复康 红旗 黄河 长江 解放 中山 友谊 鞍山 贵州 营口 西康 大沽 津塘 昆仑 白堤 咸阳 芥园 勤俭 "
    "光华 东风 建设 胜利 新华 民主 幸福 团结 育才 文化 青年 人民 光明 富民 前进 振华 金钟 津同 海河 迎宾 "
    "福州 秀川 雅安 平江 围堤 水阁 万东 红星 北辰 永安".split()
)
ROAD_SUFFIXES: tuple[str, ...] = ("路", "道", "大街", "街")

# Origin provinces of Tianjin's migrants (approximate shares) with a few real cities each.
MIGRANT_ORIGINS: dict[str, tuple[float, tuple[str, ...]]] = {
    "13": (0.34, ("保定市", "沧州市", "唐山市", "廊坊市", "邯郸市", "衡水市")),
    "37": (0.11, ("德州市", "济南市", "聊城市", "菏泽市")),
    "41": (0.11, ("周口市", "商丘市", "信阳市", "南阳市")),
    "23": (0.06, ("哈尔滨市", "齐齐哈尔市", "绥化市")),
    "14": (0.05, ("大同市", "运城市", "临汾市")),
    "34": (0.05, ("阜阳市", "亳州市", "六安市")),
    "15": (0.04, ("赤峰市", "通辽市", "包头市")),
    "21": (0.04, ("沈阳市", "锦州市", "葫芦岛市")),
    "22": (0.03, ("长春市", "四平市")),
    "51": (0.03, ("南充市", "达州市")),
    "62": (0.03, ("天水市", "定西市")),
    "32": (0.02, ("徐州市", "盐城市")),
    "42": (0.02, ("黄冈市", "荆州市")),
    "11": (0.02, ("朝阳区", "丰台区")),
    "61": (0.02, ("渭南市", "宝鸡市")),
    "65": (0.03, ("喀什地区", "和田地区", "乌鲁木齐市")),
}
# Where Tianjin people who live elsewhere are insured.
ELSEWHERE_PROVINCES: dict[str, float] = {
    "11": 0.35, "13": 0.15, "31": 0.12, "44": 0.12, "37": 0.08, "32": 0.08, "33": 0.1,
}
UYGHUR_PROVINCE = "65"

_TOWN_SYLLABLES = tuple("王李张刘陈杨赵孙马周吴郑高于石田东西南北前后大小新")

# Communities named after the dictionary was compiled (issue 16 §1): built in the style of Tianjin's
# own names — estates 光城南里社区, 锦澜家园社区, new 社区 names, villages 杨家堡村 — never a dictionary name.
_ESTATE_CHARACTERS = tuple("光城竹明锦绣嘉禾瑞景康泰祥馨雅欣悦翠柳桂兰梅榕枫秀丽晴朗润泽汇宏盛福怡颐畅澜湖溪星晨曦芳蕙琪佳")
_ESTATE_SUFFIXES = ("里", "苑", "园", "花园", "家园", "新村", "雅居")
_ESTATE_SUFFIX_WEIGHTS = (0.3, 0.15, 0.15, 0.12, 0.12, 0.1, 0.06)
_DIRECTIONS = ("东", "西", "南", "北", "中")
_VILLAGE_STEMS = tuple("杨李王张刘赵孙马周吴郑高石田韩冯董曹袁邢侯崔蔡贾魏薛阎岳")
_VILLAGE_MIDDLES = tuple("家大小前后东西南北新上下")
_VILLAGE_ENDINGS = ("庄", "堡", "屯", "营", "坨", "店", "口", "台", "沟", "寨", "洼", "务")
_NAME_ATTEMPTS = 10_000
_VILLAGE_SUFFIXES = ("庄", "家", "各庄", "家营", "屯", "店")


def _province_area_codes() -> dict[str, np.ndarray]:
    """County-level area codes per province from Faker's GB/T 2260 list (aggregates xx0000/xxxx00 left out)."""
    codes: dict[str, list[int]] = {}
    for code in _ChineseSsn.area_codes:
        if code.endswith("00") or code[:2] == "12":
            continue
        codes.setdefault(code[:2], []).append(int(code))
    return {province: np.array(sorted(values)) for province, values in codes.items()}


PROVINCE_AREA_CODES = _province_area_codes()


@dataclass
class AddressBook:
    """Structured addresses; people refer to them by index. Non-Tianjin ones carry only ``text``."""

    in_tianjin: np.ndarray          # bool
    district_code: np.ndarray       # str, '' outside Tianjin
    street: np.ndarray              # full name, e.g. 华苑街道
    street_short: np.ndarray        # 华苑
    community: np.ndarray           # full name, e.g. 日华里社区 ('' when the street has none listed)
    legacy_district: np.ndarray     # the pre-merger district name the area had (塘沽区), '' if none
    road: np.ndarray
    number: np.ndarray              # road number (号)
    building: np.ndarray            # 号楼/栋; 0 for a village house
    unit: np.ndarray                # 门/单元
    room: np.ndarray                # 室
    house: np.ndarray               # village house number
    text: np.ndarray                # full text of a non-Tianjin address

    def __len__(self) -> int:
        return len(self.in_tianjin)

    @staticmethod
    def concat(books: list["AddressBook"]) -> "AddressBook":
        """One book holding the addresses of ``books`` in order."""
        return AddressBook(**{
            name: np.concatenate([getattr(book, name) for book in books])
            for name in AddressBook.__dataclass_fields__
        })


class TianjinPlaces:
    """The division tables arranged for vectorised sampling of home addresses."""

    def __init__(self, divisions: Divisions, district_shares: dict[str, float]) -> None:
        self.divisions = divisions
        self.district_codes = np.array([d.code for d in divisions.districts()], dtype=object)
        unknown = sorted(set(district_shares) - set(self.district_codes))
        if unknown:
            raise ValueError(f"district_shares 中有未知区代码 (unknown district codes) {unknown}")
        shares = np.array([district_shares.get(code, 0.0) for code in self.district_codes], dtype=float)
        self.district_p = shares / shares.sum()
        self._slots: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.street_names: list[str] = []
        self.street_shorts: list[str] = []
        self.street_legacy: list[str] = []
        for code in self.district_codes:
            district = divisions.district(code)
            streets, communities, weights = [], [], []
            for street in divisions.streets(code):
                index = len(self.street_names)
                self.street_names.append(street.name)
                self.street_shorts.append(street.short_name)
                self.street_legacy.append(_legacy_name(district, street.name))
                # A street newer than the community data still houses people (community left empty).
                names = list(dict.fromkeys(divisions.communities(street.code))) or [""]
                for name in names:
                    streets.append(index)
                    communities.append(name)
                    weights.append(_EMPTY_STREET_WEIGHT if not name
                                   else _VILLAGE_WEIGHT if name.endswith("村") else _COMMUNITY_WEIGHT)
            weight = np.array(weights, dtype=float)
            self._slots[code] = (np.array(streets), np.array(communities, dtype=object), weight / weight.sum())
        self.street_names_arr = np.array(self.street_names, dtype=object)
        self.street_shorts_arr = np.array(self.street_shorts, dtype=object)
        self.street_legacy_arr = np.array(self.street_legacy, dtype=object)
        # Each street gets a handful of roads of its own.
        self._roads = np.array(
            [ROAD_STEMS[(i * 7 + k * 13) % len(ROAD_STEMS)] + ROAD_SUFFIXES[(i + k) % len(ROAD_SUFFIXES)]
             for i in range(len(self.street_names)) for k in range(4)],
            dtype=object,
        ).reshape(len(self.street_names), 4)

    def rename_communities(self, share: float, rng: np.random.Generator) -> None:
        """Give ``share`` of the communities and villages a name the division dictionary does not hold.

        Communities are created, merged and renamed every year and the dictionary's list is older than
        its towns, so a realistic city has communities only the shape of their name identifies.
        """
        if share <= 0:
            return
        taken = _dictionary_names(self.divisions)
        for code in self.district_codes:
            streets, communities, p = self._slots[code]
            named = np.flatnonzero(communities != "")
            chosen = named[rng.random(len(named)) < share]
            renamed = communities.copy()
            for slot in chosen:
                renamed[slot] = _new_community_name(communities[slot].endswith("村"), taken, rng)
            self._slots[code] = (streets, renamed, p)

    def sample_districts(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """District codes by population share."""
        return self.district_codes[rng.choice(len(self.district_codes), size=count, p=self.district_p)]

    def sample(self, districts: np.ndarray, rng: np.random.Generator) -> AddressBook:
        """One home address in each given district: street, community, building, unit and room."""
        count = len(districts)
        street_index = np.zeros(count, dtype=np.int64)
        community = np.full(count, "", dtype=object)
        for code in self.district_codes:
            rows = np.flatnonzero(districts == code)
            if len(rows) == 0:
                continue
            streets, communities, p = self._slots[code]
            pick = rng.choice(len(p), size=len(rows), p=p)
            street_index[rows] = streets[pick]
            community[rows] = communities[pick]
        village = np.array([c.endswith("村") for c in community], dtype=bool)
        floor = rng.integers(1, 19, size=count)
        return AddressBook(
            in_tianjin=np.ones(count, dtype=bool),
            district_code=districts.astype(object),
            street=self.street_names_arr[street_index],
            street_short=self.street_shorts_arr[street_index],
            community=community,
            legacy_district=self.street_legacy_arr[street_index],
            road=self._roads[street_index, rng.integers(0, 4, size=count)],
            number=rng.integers(1, 400, size=count),
            building=np.where(village, 0, rng.integers(1, 31, size=count)),
            unit=rng.integers(1, 7, size=count),
            room=floor * 100 + rng.integers(1, 5, size=count),
            house=rng.integers(1, 300, size=count),
            text=np.full(count, "", dtype=object),
        )

    def id_area_codes(self, districts: np.ndarray, legacy: np.ndarray, issue_years: np.ndarray) -> np.ndarray:
        """The area code in force where and when each number was issued (120225 for 蓟县 before 2016)."""
        codes = districts.astype(np.int64)
        for current, (until, older) in _RENAMED_CODES.items():
            codes = np.where((districts == current) & (issue_years < until), int(older), codes)
        for name, older in _BINHAI_LEGACY_CODES.items():
            codes = np.where((districts == _BINHAI) & (legacy == name) & (issue_years < 2009), int(older), codes)
        return codes


def _dictionary_names(divisions: Divisions) -> set[str]:
    """Every community name of the dictionary and its stem without 社区/村 (a new name must be neither)."""
    names: set[str] = set()
    for district in divisions.districts():
        for street in divisions.streets(district.code):
            for name in divisions.communities(street.code):
                names.update((name, name.removesuffix("社区").removesuffix("村")))
        for zone in divisions.zone_communities(district.code).values():
            for name in zone:
                names.update((name, name.removesuffix("社区").removesuffix("村")))
    return names


def _new_community_name(village: bool, taken: set[str], rng: np.random.Generator) -> str:
    """A village (杨家堡村) or community (光城南里社区, 锦澜家园社区, 瑞祥社区) name not in ``taken``; adds it there."""
    for _ in range(_NAME_ATTEMPTS):
        if village:
            stem = (_VILLAGE_STEMS[int(rng.integers(len(_VILLAGE_STEMS)))]
                    + _VILLAGE_MIDDLES[int(rng.integers(len(_VILLAGE_MIDDLES)))]
                    + _VILLAGE_ENDINGS[int(rng.integers(len(_VILLAGE_ENDINGS)))])
            name = stem + "村"
        else:
            stem = "".join(_ESTATE_CHARACTERS[int(i)] for i in rng.integers(len(_ESTATE_CHARACTERS), size=2))
            if rng.random() < 0.8:
                if rng.random() < 0.3:
                    stem += _DIRECTIONS[int(rng.integers(len(_DIRECTIONS)))]
                stem += _ESTATE_SUFFIXES[int(rng.choice(len(_ESTATE_SUFFIXES), p=_ESTATE_SUFFIX_WEIGHTS))]
            name = stem + "社区"
        if stem not in taken and name not in taken:
            taken.update((stem, name))
            return name
    raise ValueError(f"new_community_names: 无法再生成新的{'村' if village else '社区'}名称 (ran out of new names) — "
                     "lower population.new_community_names")


def _legacy_name(district, street_name: str) -> str:
    """The legacy district name an address in this street may still be written with."""
    if district.code == _BINHAI:
        if street_name in _HANGU_STREETS:
            return "汉沽区"
        if street_name in _DAGANG_STREETS:
            return "大港区"
        return "塘沽区"
    # 东郊区 … were renamed in 1992; nobody writes them today, unlike the counties.
    legacy = [name for name in district.legacy_names if name.endswith("县")]
    return legacy[0] if legacy else ""


def sample_origins(count: int, rng: np.random.Generator) -> np.ndarray:
    """2-digit province codes of migrants by origin share."""
    provinces = np.array(list(MIGRANT_ORIGINS), dtype=object)
    weights = np.array([share for share, _ in MIGRANT_ORIGINS.values()])
    return provinces[rng.choice(len(provinces), size=count, p=weights / weights.sum())]


def sample_elsewhere_provinces(count: int, rng: np.random.Generator) -> np.ndarray:
    """Provinces where Tianjin people living elsewhere are insured."""
    provinces = np.array(list(ELSEWHERE_PROVINCES), dtype=object)
    weights = np.array(list(ELSEWHERE_PROVINCES.values()))
    return provinces[rng.choice(len(provinces), size=count, p=weights / weights.sum())]


def origin_area_codes(provinces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A county-level ID area code inside each province."""
    codes = np.zeros(len(provinces), dtype=np.int64)
    for province in np.unique(provinces):
        rows = np.flatnonzero(provinces == province)
        pool = PROVINCE_AREA_CODES[province]
        codes[rows] = pool[rng.integers(0, len(pool), size=len(rows))]
    return codes


def origin_addresses(provinces: np.ndarray, rng: np.random.Generator) -> AddressBook:
    """Household-registration addresses in the migrants' home provinces (text only)."""
    count = len(provinces)
    texts = np.empty(count, dtype=object)
    for i, province in enumerate(provinces):
        cities = MIGRANT_ORIGINS[province][1]
        city = cities[int(rng.integers(0, len(cities)))]
        town = "".join(_TOWN_SYLLABLES[int(j)] for j in rng.integers(0, len(_TOWN_SYLLABLES), size=2))
        village = _TOWN_SYLLABLES[int(rng.integers(0, len(_TOWN_SYLLABLES)))] + _VILLAGE_SUFFIXES[
            int(rng.integers(0, len(_VILLAGE_SUFFIXES)))]
        texts[i] = f"{PROVINCES[province]}{city}{town}镇{village}村{int(rng.integers(1, 300))}号"
    empty = np.full(count, "", dtype=object)
    zeros = np.zeros(count, dtype=np.int64)
    return AddressBook(
        in_tianjin=np.zeros(count, dtype=bool), district_code=empty, street=empty, street_short=empty,
        community=empty, legacy_district=empty, road=empty, number=zeros, building=zeros, unit=zeros,
        room=zeros, house=zeros, text=texts,
    )
