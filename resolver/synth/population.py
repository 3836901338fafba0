"""The synthetic city: households and persons with everything true about them.

Everything is decided here once (who lives where, who works, studies, died or is in
prison); extracts.py then decides which department sees whom. Arrays, not objects:
a million persons take a few seconds.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from faker.providers.phone_number.zh_CN import Provider as _ChinesePhones

from resolver.divisions import Divisions
from resolver.synth import names as nm
from resolver.synth.identity import make_id_numbers, order_codes
from resolver.synth.places import (
    UYGHUR_PROVINCE, AddressBook, TianjinPlaces, origin_addresses, origin_area_codes, sample_elsewhere_provinces,
    sample_origins,
)
from resolver.synth.rates import GROUPS, SynthRates

TIANJIN_RESIDENT, TIANJIN_ELSEWHERE, PERMIT_HOLDER, MIGRANT_NO_PERMIT, FOREIGN_WORKER = range(5)
HEAD, SPOUSE, CHILD, ELDER = range(4)
HAN, DOTTED, LATIN = range(3)

# Household patterns: slots of (role, gender rule) with h = random head, s = opposite of the
# head, r = random, m/f = male/female; head age range; weights for local and migrant households.
_PATTERNS: tuple[tuple[tuple[tuple[int, str], ...], tuple[int, int], float, float], ...] = (
    (((HEAD, "h"),), (20, 35), 0.30, 0.70),
    (((HEAD, "h"),), (36, 59), 0.25, 0.25),
    (((HEAD, "h"),), (60, 95), 0.38, 0.05),
    (((HEAD, "h"), (SPOUSE, "s")), (22, 40), 0.20, 0.50),
    (((HEAD, "h"), (SPOUSE, "s")), (55, 92), 0.42, 0.10),
    (((HEAD, "h"), (CHILD, "r")), (30, 60), 0.30, 0.40),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r")), (28, 56), 0.75, 0.90),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r")), (55, 80), 0.25, 0.10),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r"), (CHILD, "r")), (28, 50), 0.35, 0.70),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r"), (ELDER, "r")), (28, 45), 0.50, 0.30),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r"), (ELDER, "m"), (ELDER, "f")), (28, 45), 0.60, 0.40),
    (((HEAD, "h"), (SPOUSE, "s"), (CHILD, "r"), (CHILD, "r"), (ELDER, "r")), (30, 48), 0.40, 0.60),
)

UNIVERSITIES: tuple[str, ...] = (
    "南开大学", "天津大学", "天津师范大学", "天津工业大学", "天津科技大学", "天津理工大学", "天津医科大学",
    "天津财经大学", "天津商业大学", "天津职业技术师范大学", "天津城建大学", "天津外国语大学",
)
PRISONS_MEN: tuple[str, ...] = (
    "天津市监狱", "天津市李港监狱", "天津市港北监狱", "天津市滨海监狱", "天津市西青监狱", "天津市长泰监狱",
    "天津市杨柳青监狱",
)
PRISON_WOMEN = "天津市女子监狱"
_EMPLOYER_WORDS = tuple("华泰恒达鑫源海通宏远金盛隆昌瑞丰嘉诚信德利和兴博新天科晟津港")
_INDUSTRIES: tuple[str, ...] = (
    "机械制造", "物流", "商贸", "建筑工程", "电子科技", "餐饮管理", "物业服务", "医药", "汽车零部件", "化工",
    "食品", "软件技术", "劳务服务", "装饰工程", "新材料", "石油装备", "港口服务", "自行车",
)
_COMPANY_FORMS = ("有限公司", "有限公司", "有限责任公司", "股份有限公司")
# GB 32100 统一社会信用代码 character set (no I, O, S, V, Z) and weights.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_LANDLINE_FIRST = np.array([2, 5, 6, 8])
# Area codes that no longer exist but stay printed on ID numbers (shared/notes/chinese-identity.md §1).
LEGACY_AREA_CODES = np.array(["120107", "120108", "120109", "120221", "120222", "120223", "120224", "120225"])
# Real mobile prefixes (13x-19x) as Faker zh_CN lists them.
_MOBILE_PREFIXES = np.array(_ChinesePhones.phonenumber_prefixes)


@dataclass
class Employers:
    """Employers (扣缴义务人/参保单位/单位名称): name and 统一社会信用代码."""

    name: np.ndarray
    credit_code: np.ndarray


@dataclass
class Population:
    """Every person's truth, one array element per person (index = person number)."""

    as_of: dt.date
    person_id: np.ndarray
    household: np.ndarray
    group: np.ndarray
    role: np.ndarray
    male: np.ndarray
    birth_date: np.ndarray          # datetime64[D]
    surname: np.ndarray             # '' for dotted and Latin names
    name: np.ndarray                # display form: simplified, U+00B7 dot, Latin as on the passport
    name_kind: np.ndarray           # HAN / DOTTED / LATIN
    ethnicity: np.ndarray           # '' for foreigners
    nationality: np.ndarray         # '' for Chinese citizens
    id_number: np.ndarray           # 18-digit resident ID, '' for foreigners
    passport: np.ndarray            # '' for Chinese citizens
    residence_address: np.ndarray   # index into addresses, -1 when not living in Tianjin
    household_address: np.ndarray   # 户籍 address index, -1 for foreigners
    hukou_type: np.ndarray
    mobile: np.ndarray
    landline: np.ndarray
    employer: np.ndarray            # index into employers, -1 when not employed in Tianjin
    school_stage: np.ndarray        # '' when not a student
    school_name: np.ndarray
    death_date: np.ndarray          # NaT when alive
    prison_entry: np.ndarray        # NaT when never an inmate
    prison_release: np.ndarray
    prison_name: np.ndarray
    origin_province: np.ndarray     # 2-digit province of migrants / where Tianjin people elsewhere are insured
    addresses: AddressBook
    employers: Employers
    hard_cases: dict[str, np.ndarray] = field(default_factory=dict)  # tag → bool mask

    def __len__(self) -> int:
        return len(self.person_id)

    @cached_property
    def age(self) -> np.ndarray:
        """Completed years at as_of."""
        return _ages(self.birth_date, self.as_of)


def _normalised(weights: dict) -> tuple[list, np.ndarray]:
    keys = list(weights)
    values = np.array([weights[k] for k in keys], dtype=float)
    return keys, values / values.sum()


def _households(count: int, rates: SynthRates, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(group, size) per household, sizes adding up to exactly ``count`` persons."""
    group_keys, group_p = _normalised(rates.population.groups)
    group_codes = np.array([GROUPS.index(k) for k in group_keys])
    size_keys, size_p = _normalised(rates.population.household_sizes)
    sizes_pool = np.array([int(k) for k in size_keys])
    estimate = int(count / float((sizes_pool * size_p).sum()) * 1.2) + 10
    while True:
        groups = group_codes[rng.choice(len(group_codes), size=estimate, p=group_p)]
        sizes = sizes_pool[rng.choice(len(sizes_pool), size=estimate, p=size_p)]
        sizes = np.where(groups == FOREIGN_WORKER, np.minimum(sizes, 2), sizes)
        total = np.cumsum(sizes)
        if total[-1] >= count:
            break
        estimate *= 2
    last = int(np.searchsorted(total, count))
    groups, sizes = groups[: last + 1], sizes[: last + 1].copy()
    sizes[-1] -= int(total[last] - count)
    return groups, sizes


def _members(groups: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Roles, ages and genders of every household member, household by household."""
    local = ~np.isin(groups, (PERMIT_HOLDER, MIGRANT_NO_PERMIT, FOREIGN_WORKER))
    pattern = np.zeros(len(sizes), dtype=np.int64)
    for size in range(1, 6):
        options = [i for i, p in enumerate(_PATTERNS) if len(p[0]) == size]
        for is_local in (True, False):
            rows = np.flatnonzero((sizes == size) & (local == is_local))
            weights = np.array([_PATTERNS[i][2 if is_local else 3] for i in options])
            pattern[rows] = np.array(options)[rng.choice(len(options), size=len(rows), p=weights / weights.sum())]
    foreign = groups == FOREIGN_WORKER
    pattern[foreign & (sizes == 1)] = 1
    pattern[foreign & (sizes == 2)] = 3

    head_age = np.zeros(len(sizes), dtype=np.int64)
    head_male = rng.random(len(sizes)) < 0.5
    parts = []
    for index, (slots, (low, high), _, _) in enumerate(_PATTERNS):
        rows = np.flatnonzero(pattern == index)
        head_age[rows] = rng.integers(low, high + 1, size=len(rows))
        for position, (role, rule) in enumerate(slots):
            parts.append((rows, np.full(len(rows), position), np.full(len(rows), role), rule))
    household = np.concatenate([p[0] for p in parts])
    position = np.concatenate([p[1] for p in parts])
    role = np.concatenate([p[2] for p in parts])
    rules = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])
    order = np.lexsort((position, household))
    household, position, role, rules = household[order], position[order], role[order], rules[order]

    count = len(household)
    base = head_age[household]
    age = base.copy()
    spouse = role == SPOUSE
    age[spouse] = np.clip(base[spouse] + np.round(rng.normal(0, 3, spouse.sum())).astype(np.int64), 18, 99)
    child = role == CHILD
    child_age = base[child] - rng.integers(22, 37, size=child.sum())
    young = child_age < 0
    child_age[young] = (rng.random(young.sum()) * np.maximum(base[child][young] - 21, 1)).astype(np.int64)
    age[child] = child_age
    elder = role == ELDER
    age[elder] = np.minimum(base[elder] + rng.integers(24, 35, size=elder.sum()), 100)

    coin = rng.random(count) < 0.5
    hm = head_male[household]
    male = np.select([rules == "h", rules == "s", rules == "m", rules == "f"], [hm, ~hm, True, False], default=coin)
    return {"household": household, "role": role, "age": age, "male": male, "position": position}


def _birth_dates(ages: np.ndarray, as_of: dt.date, rng: np.random.Generator) -> np.ndarray:
    """A birth date for each completed age at as_of."""
    as_of_day = np.datetime64(as_of, "D")
    back = ages * 365 + ages // 4 + rng.integers(1, 365, size=len(ages))
    return as_of_day - back.astype("timedelta64[D]")


def _credit_codes(districts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """统一社会信用代码 (GB 32100): 9 1 + area code + organisation code (GB 11714 check) + check character."""
    count = len(districts)
    org = rng.integers(0, 10, size=(count, 8))
    # GB 11714: 11 - (Σ w·c mod 11); 10 is written X, 11 is written 0.
    org_check = (11 - (org * _ORG_WEIGHTS).sum(axis=1) % 11) % 11
    org_check = np.where(org_check == 10, _USCC_CHARS.index("X"), org_check)
    values = np.hstack([
        np.full((count, 1), 9), np.full((count, 1), 1),
        (districts.astype(np.int64)[:, None] // 10 ** np.arange(5, -1, -1)) % 10,
        org, org_check[:, None],
    ])
    check = (31 - (values * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    alphabet = np.array(list(_USCC_CHARS), dtype=object)
    chars = np.hstack([alphabet[values], alphabet[check][:, None]])
    return np.array(["".join(row) for row in chars], dtype=object)


def _employers(count: int, places: TianjinPlaces, rng: np.random.Generator) -> Employers:
    districts = places.sample_districts(count, rng)
    shorts = np.array([places.divisions.district(code).short_name for code in districts], dtype=object)
    words = np.array(_EMPLOYER_WORDS, dtype=object)
    word = words[rng.integers(0, len(words), count)] + words[rng.integers(0, len(words), count)]
    industry = np.array(_INDUSTRIES, dtype=object)[rng.integers(0, len(_INDUSTRIES), count)]
    form = np.array(_COMPANY_FORMS, dtype=object)[rng.integers(0, len(_COMPANY_FORMS), count)]
    prefix = np.where(rng.random(count) < 0.5, "天津" + shorts, "天津市")
    name = prefix + word + industry + form
    # The same name twice would be two registrations of one company: number the branches.
    seen: dict[str, int] = {}
    for i, value in enumerate(name):
        seen[value] = seen.get(value, 0) + 1
        if seen[value] > 1:
            name[i] = f"{value}第{seen[value]}分公司"
    return Employers(name=name, credit_code=_credit_codes(districts, rng))


def _phones(count: int, rng: np.random.Generator) -> np.ndarray:
    """Mobile numbers with real prefixes."""
    prefixes = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), size=count)]
    numbers = prefixes * 10**8 + rng.integers(0, 10**8, size=count)
    return numbers.astype(str).astype(object)


def _landlines(count: int, rng: np.random.Generator) -> np.ndarray:
    first = _LANDLINE_FIRST[rng.integers(0, len(_LANDLINE_FIRST), size=count)]
    return (first * 10**7 + rng.integers(0, 10**7, size=count)).astype(str).astype(object)


def _school(stage: np.ndarray, book: AddressBook, home: np.ndarray, places: TianjinPlaces,
            rng: np.random.Generator) -> np.ndarray:
    """A school name fitting the stage and the home district ('' for non-students)."""
    count = len(stage)
    at = np.maximum(home, 0)
    full_names = {d.code: d.name for d in places.divisions.districts()}
    district = np.full(count, "", dtype=object)
    students = np.flatnonzero(stage != "")
    district[students] = [full_names.get(code, "") for code in book.district_code[at[students]]]
    number = rng.integers(1, 80, size=count).astype(str).astype(object)
    stem = np.full(count, "", dtype=object)
    pupils = np.flatnonzero(stage == "小学")
    stem[pupils] = [r[:-1] if r.endswith(("路", "道", "街")) else r[:-2] for r in book.road[at[pupils]]]
    university = np.array(UNIVERSITIES, dtype=object)[rng.integers(0, len(UNIVERSITIES), size=count)]
    return np.select(
        [stage == "幼儿园", stage == "小学", np.isin(stage, ("初中", "高中")), stage == "中职", stage == "高校"],
        [
            "天津市" + district + "第" + number + "幼儿园",
            "天津市" + district + stem + "小学",
            "天津市第" + number + "中学",
            "天津市" + district + "职业中等专业学校",
            university,
        ],
        default="",
    )


def build_population(
    count: int, as_of: dt.date, rates: SynthRates, divisions: Divisions, rng: np.random.Generator
) -> Population:
    """A city of ``count`` persons in households, with the hard cases of the rates planted."""
    places = TianjinPlaces(divisions, rates.population.district_shares)
    places.rename_communities(rates.population.new_community_names, rng)
    minimum = rates.hard_cases.minimum_each
    hh_group, hh_size = _households(count, rates, rng)
    m = _members(hh_group, hh_size, rng)
    household, role, male = m["household"], m["role"], m["male"]
    group = hh_group[household]
    birth = _birth_dates(m["age"], as_of, rng)
    hh_ethnicity = _per_household(rates.population.ethnicities, hh_group, rng)
    hh_hukou = _per_household(rates.population.hukou_types, hh_group, rng)
    ethnicity = hh_ethnicity[household]
    hard: dict[str, np.ndarray] = {}

    twins = _plant_twins(household, role, birth, _count(rates.hard_cases.twin_pairs, count, minimum), rng)
    hard["twin"] = _mask(count, twins.ravel())
    surname, given = _han_names(household, role, male, birth, twins, rng)
    singles = (hh_size[household] == 1) & (ethnicity == "汉族") & (m["age"] >= 20) & (m["age"] <= 75)
    hard["common_name_birthday"] = _plant_common_names(
        singles, surname, given, male, birth, _count(rates.hard_cases.common_name_groups, count, minimum), rng)
    rare_pool = np.flatnonzero((ethnicity != "维吾尔族") & (group != FOREIGN_WORKER))
    rare = _choose(rare_pool, _count(rates.population.rare_character_names, count, minimum), rng)
    for index in rare:
        given[index] = nm.with_rare_character(given[index], rng)
    hard["rare_character"] = _mask(count, rare)
    name = surname + given
    name_kind = np.full(count, HAN)
    hard["minority_dot_name"] = _dotted_names(household, role, male, ethnicity, name, surname, name_kind,
                                              rates.hard_cases.minority_dot_names, rng)

    addresses, residence_address, household_address, hh_origin = _addresses(
        hh_group, household, ethnicity, places, rates, rng)
    id_number = _id_numbers(group, household, male, birth, twins, addresses, household_address, hh_origin,
                            places, rates, rng)
    hard["legacy_area_code"] = np.isin(id_number.astype("U6"), LEGACY_AREA_CODES)
    nationality, passport = _foreigners(group, male, name, surname, name_kind, rng)
    hard["foreign_passport"] = group == FOREIGN_WORKER

    ages = _ages(birth, as_of)
    mobile, landline = _phone_numbers(household, role, ages, hh_group, rates, rng)
    stage = _school_stages(ages, residence_address >= 0, rates, rng)
    school_name = _school(stage, addresses, residence_address, places, rng)
    death_date = _deaths(ages, birth, group, as_of, _count(rates.coverage.deaths, count, minimum * 2), rng)
    adults = int(((ages >= 18) & (group != FOREIGN_WORKER)).sum())
    prison = _inmates(ages, male, group, death_date, as_of, rates.coverage.prisoners_released,
                      _count(rates.coverage.prisoners, adults, minimum * 3), rng)
    serving = ~np.isnat(prison["entry"]) & (prison["release"] >= np.datetime64(as_of, "D"))
    employers = _employers(max(30, count // 20), places, rng)
    employer = _employment(ages, group, stage, serving, len(employers.name), rates, rng)

    return Population(
        as_of=as_of,
        person_id=np.char.add("P", np.char.zfill(np.arange(1, count + 1).astype(str), 8)).astype(object),
        household=household, group=group, role=role, male=male, birth_date=birth, surname=surname, name=name,
        name_kind=name_kind, ethnicity=ethnicity, nationality=nationality, id_number=id_number, passport=passport,
        residence_address=residence_address, household_address=household_address, hukou_type=hh_hukou[household],
        mobile=mobile, landline=landline, employer=employer, school_stage=stage, school_name=school_name,
        death_date=death_date, prison_entry=prison["entry"], prison_release=prison["release"],
        prison_name=prison["name"], origin_province=hh_origin[household], addresses=addresses,
        employers=employers, hard_cases=hard,
    )


def _per_household(weights: dict[str, float], hh_group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One value per household by weight ('' for foreigners: no 民族, no 户口性质)."""
    keys, p = _normalised(weights)
    values = np.array(keys, dtype=object)[rng.choice(len(keys), size=len(hh_group), p=p)]
    values[hh_group == FOREIGN_WORKER] = ""
    return values


def _plant_twins(household: np.ndarray, role: np.ndarray, birth: np.ndarray, wanted: int,
                 rng: np.random.Generator) -> np.ndarray:
    """(pairs, 2) person indices: the first two children of some households, given one birth date."""
    children = np.flatnonzero(role == CHILD)
    first_of, order = np.unique(household[children], return_index=True)
    counts = np.bincount(household[children], minlength=household.max() + 1)
    capable = first_of[counts[first_of] >= 2]
    chosen = np.isin(first_of, _choose(capable, wanted, rng))
    firsts = children[order[chosen]]
    # Members are stored household by household in slot order, so the second child follows the first.
    pairs = np.stack([firsts, firsts + 1], axis=1) if len(firsts) else np.zeros((0, 2), dtype=np.int64)
    birth[pairs[:, 1]] = birth[pairs[:, 0]]
    return pairs


def _han_names(household: np.ndarray, role: np.ndarray, male: np.ndarray, birth: np.ndarray, twins: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(surname, given name): the family surname from the husband (or the single head); wives keep theirs."""
    surname = nm.sample_surnames(len(household), rng)
    family_surname = np.empty(household.max() + 1, dtype=object)
    head = role == HEAD
    family_surname[household[head]] = surname[head]
    husband = (role == SPOUSE) & male
    family_surname[household[husband]] = surname[husband]
    takes_family = (role == CHILD) | ((role == HEAD) & male) | ((role == ELDER) & male)
    surname = np.where(takes_family, family_surname[household], surname)
    given = nm.sample_given_names(male, birth.astype("datetime64[Y]").astype(int) + 1970, rng)
    for a, b in twins:
        given[b] = nm.twin_given_name(given[a], bool(male[b]), rng)
    return surname, given


def _plant_common_names(candidates: np.ndarray, surname: np.ndarray, given: np.ndarray, male: np.ndarray,
                        birth: np.ndarray, groups: int, rng: np.random.Generator) -> np.ndarray:
    """Groups of 2-4 people living alone renamed 张伟 (…) and born the same day: different people."""
    pool = np.flatnonzero(candidates)
    rng.shuffle(pool)
    planted = np.zeros(len(surname), dtype=bool)
    cursor = 0
    for group in range(groups):
        members = pool[cursor: cursor + int(rng.integers(2, 5))]
        cursor += len(members)
        if len(members) < 2:
            break
        family, personal, gender = nm.COMMON_NAMES[group % len(nm.COMMON_NAMES)]
        surname[members], given[members], male[members] = family, personal, gender == "M"
        birth[members] = birth[members[0]]
        planted[members] = True
    return planted


def _dotted_names(household: np.ndarray, role: np.ndarray, male: np.ndarray, ethnicity: np.ndarray,
                  name: np.ndarray, surname: np.ndarray, name_kind: np.ndarray, share: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Uyghur names (own·father's); a child's second name is its father's own name. Returns the mask."""
    uyghur = (ethnicity == "维吾尔族") & (rng.random(len(name)) < share)
    if not uyghur.any():
        return uyghur
    name[uyghur], surname[uyghur], name_kind[uyghur] = nm.uyghur_names(male[uyghur], None, rng), "", DOTTED
    fathers = np.full(household.max() + 1, "", dtype=object)
    for index in np.flatnonzero(uyghur & male & np.isin(role, (HEAD, SPOUSE))):
        fathers[household[index]] = name[index].split(nm.MIDDLE_DOT)[0]
    for index in np.flatnonzero(uyghur & (role == CHILD)):
        if fathers[household[index]]:
            name[index] = name[index].split(nm.MIDDLE_DOT)[0] + nm.MIDDLE_DOT + fathers[household[index]]
    return uyghur


def _addresses(hh_group: np.ndarray, household: np.ndarray, ethnicity: np.ndarray, places: TianjinPlaces,
               rates: SynthRates, rng: np.random.Generator) -> tuple[AddressBook, np.ndarray, np.ndarray, np.ndarray]:
    """(address book, home per person, 户籍 address per person, origin province per household).

    Households living in Tianjin get a home; some Tianjin families are registered elsewhere in the
    city (人户分离); migrants' 户籍 is in their home province; foreigners have neither.
    """
    n_households = len(hh_group)
    home_rows = np.flatnonzero(np.isin(hh_group, (TIANJIN_RESIDENT, PERMIT_HOLDER, MIGRANT_NO_PERMIT)))
    homes = places.sample(places.sample_districts(len(home_rows), rng), rng)
    hh_home = np.full(n_households, -1)
    hh_home[home_rows] = np.arange(len(home_rows))
    separated = (hh_group == TIANJIN_RESIDENT) & (
        rng.random(n_households) < rates.population.separated_household_address)
    registered_rows = np.flatnonzero(separated | (hh_group == TIANJIN_ELSEWHERE))
    registered = places.sample(places.sample_districts(len(registered_rows), rng), rng)
    hh_registered = np.where(hh_group == TIANJIN_RESIDENT, hh_home, -1)
    hh_registered[registered_rows] = len(homes) + np.arange(len(registered_rows))

    migrant_rows = np.flatnonzero(np.isin(hh_group, (PERMIT_HOLDER, MIGRANT_NO_PERMIT)))
    hh_origin = np.full(n_households, "", dtype=object)
    hh_origin[migrant_rows] = sample_origins(len(migrant_rows), rng)
    uyghur_households = np.unique(household[ethnicity == "维吾尔族"])
    hh_origin[np.intersect1d(uyghur_households, migrant_rows)] = UYGHUR_PROVINCE
    elsewhere_rows = np.flatnonzero(hh_group == TIANJIN_ELSEWHERE)
    hh_origin[elsewhere_rows] = sample_elsewhere_provinces(len(elsewhere_rows), rng)
    origins = origin_addresses(hh_origin[migrant_rows], rng)
    hh_registered[migrant_rows] = len(homes) + len(registered) + np.arange(len(migrant_rows))
    book = AddressBook.concat([homes, registered, origins])
    return book, hh_home[household], hh_registered[household], hh_origin


def _id_numbers(group: np.ndarray, household: np.ndarray, male: np.ndarray, birth: np.ndarray, twins: np.ndarray,
                book: AddressBook, household_address: np.ndarray, hh_origin: np.ndarray, places: TianjinPlaces,
                rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """Resident ID numbers ('' for foreigners): area of first registration, birth date, order code by gender."""
    count = len(group)
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    # Numbers were first issued at 16 to people born before the 1984 law, at birth registration later.
    issue_year = np.where(years >= 1995, years, np.maximum(1985, years + 16))
    tianjin_born = np.isin(group, (TIANJIN_RESIDENT, TIANJIN_ELSEWHERE))
    at = np.maximum(household_address, 0)
    elsewhere_born = tianjin_born & (rng.random(count) >= rates.population.born_in_home_district)
    birth_district = np.where(elsewhere_born, places.sample_districts(count, rng), book.district_code[at])
    binhai_legacy = np.array(["塘沽区", "汉沽区", "大港区"], dtype=object)[rng.integers(0, 3, size=count)]
    birth_legacy = np.where(elsewhere_born, binhai_legacy, book.legacy_district[at])
    area = np.zeros(count, dtype=np.int64)
    area[tianjin_born] = places.id_area_codes(birth_district[tianjin_born], birth_legacy[tianjin_born],
                                              issue_year[tianjin_born])
    migrant = np.isin(group, (PERMIT_HOLDER, MIGRANT_NO_PERMIT))
    # Most migrant families come from one county; some members from elsewhere in the province.
    hh_area = origin_area_codes(np.where(hh_origin == "", "13", hh_origin), rng)
    own_area = origin_area_codes(np.where(migrant, hh_origin[household], "13"), rng)
    area[migrant] = np.where(rng.random(migrant.sum()) < 0.8, hh_area[household[migrant]], own_area[migrant])
    orders = order_codes(male, rng)
    for a, b in twins:
        # Twins are registered one after the other: order codes 1 apart (2 when of one gender).
        area[b] = area[a]
        step = 1 if male[a] != male[b] else 2
        orders[b] = orders[a] + step if orders[a] + step < 1000 else orders[a] - step
    chinese = group != FOREIGN_WORKER
    id_number = np.full(count, "", dtype=object)
    id_number[chinese] = _unique_ids(area[chinese], birth[chinese], orders[chinese], male[chinese], rng)
    return id_number


def _foreigners(group: np.ndarray, male: np.ndarray, name: np.ndarray, surname: np.ndarray, name_kind: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(nationality, passport); foreigners' names become Latin as on their passports."""
    count = len(group)
    nationality = np.full(count, "", dtype=object)
    passport = np.full(count, "", dtype=object)
    foreign = np.flatnonzero(group == FOREIGN_WORKER)
    weights = np.array([n.weight for n in nm.NATIONALITIES])
    picks = rng.choice(len(nm.NATIONALITIES), size=len(foreign), p=weights / weights.sum())
    for index, pick in zip(foreign, picks):
        country = nm.NATIONALITIES[pick]
        name[index], _ = nm.foreign_name(country, bool(male[index]), rng)
        surname[index], name_kind[index] = "", LATIN
        nationality[index] = country.name
        passport[index] = nm.passport_number(country.passport, rng)
    return nationality, passport


def _phone_numbers(household: np.ndarray, role: np.ndarray, ages: np.ndarray, hh_group: np.ndarray,
                   rates: SynthRates, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(mobile, landline): most adults a mobile; some households share a landline, the elderly more often."""
    count = len(household)
    mobile = _phones(count, rng)
    has_mobile = np.where(ages >= 18, rng.random(count) < rates.population.mobile_adults,
                          (ages >= 14) & (rng.random(count) < 0.5))
    mobile[~has_mobile] = ""
    head = np.flatnonzero(role == HEAD)
    head_age = np.zeros(len(hh_group), dtype=np.int64)
    head_age[household[head]] = ages[head]
    landline_p = np.minimum(1.0, rates.population.landline_households * np.where(head_age >= 60, 1.8, 0.8))
    hh_landline = _landlines(len(hh_group), rng)
    lives_here = np.isin(hh_group, (TIANJIN_RESIDENT, PERMIT_HOLDER, MIGRANT_NO_PERMIT))
    hh_landline[(rng.random(len(hh_group)) >= landline_p) | ~lives_here] = ""
    return mobile, hh_landline[household]


def _school_stages(ages: np.ndarray, lives_here: np.ndarray, rates: SynthRates, rng: np.random.Generator
                   ) -> np.ndarray:
    """学段 by age for people living in Tianjin ('' when not in school)."""
    students = rates.coverage.students
    stage = np.full(len(ages), "", dtype=object)
    draw = rng.random(len(ages))
    for name, low, high in (("幼儿园", 3, 5), ("小学", 6, 11), ("初中", 12, 14), ("高校", 18, 21)):
        stage[lives_here & (ages >= low) & (ages <= high) & (draw < students[name])] = name
    teen = lives_here & (ages >= 15) & (ages <= 17)
    stage[teen & (draw < students["高中"])] = "高中"
    stage[teen & (draw >= students["高中"]) & (draw < students["高中"] + students["中职"])] = "中职"
    return stage


def _deaths(ages: np.ndarray, birth: np.ndarray, group: np.ndarray, as_of: dt.date, wanted: int,
            rng: np.random.Generator) -> np.ndarray:
    """Death dates (NaT for the living) within the two years before as_of, by a Gompertz-like hazard."""
    hazard = np.where(group != FOREIGN_WORKER, np.exp(0.09 * (ages - 80.0)), 0.0)
    dead = choose_weighted(hazard, wanted, rng)
    death_date = np.full(len(ages), np.datetime64("NaT"), dtype="datetime64[D]")
    back = rng.integers(1, 731, size=len(dead)).astype("timedelta64[D]")
    death_date[dead] = np.maximum(np.datetime64(as_of, "D") - back, birth[dead] + np.timedelta64(1, "D"))
    return death_date


def _inmates(ages: np.ndarray, male: np.ndarray, group: np.ndarray, death_date: np.ndarray, as_of: dt.date,
             released_share: float, wanted: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Entry, release and prison of inmates (mostly men aged 25-60); some released within the last year."""
    count = len(ages)
    candidates = (group != FOREIGN_WORKER) & (ages >= 25) & (ages <= 60) & np.isnat(death_date)
    inmates = choose_weighted(np.where(candidates, np.where(male, 9.0, 1.0), 0.0), wanted, rng)
    day = np.datetime64(as_of, "D")
    n = len(inmates)
    released = rng.random(n) < released_share
    release = np.where(released, day - rng.integers(1, 366, size=n).astype("timedelta64[D]"),
                       day + rng.integers(30, 8 * 365, size=n).astype("timedelta64[D]"))
    entry = np.where(released, release - rng.integers(365, 8 * 365, size=n).astype("timedelta64[D]"),
                     day - rng.integers(30, 6 * 365, size=n).astype("timedelta64[D]"))
    result = {
        "entry": np.full(count, np.datetime64("NaT"), dtype="datetime64[D]"),
        "release": np.full(count, np.datetime64("NaT"), dtype="datetime64[D]"),
        "name": np.full(count, "", dtype=object),
    }
    result["entry"][inmates], result["release"][inmates] = entry, release
    men_prisons = np.array(PRISONS_MEN, dtype=object)[rng.integers(0, len(PRISONS_MEN), size=n)]
    result["name"][inmates] = np.where(male[inmates], men_prisons, PRISON_WOMEN)
    return result


def _employment(ages: np.ndarray, group: np.ndarray, stage: np.ndarray, serving: np.ndarray, employers: int,
                rates: SynthRates, rng: np.random.Generator) -> np.ndarray:
    """Employer index per person (-1 when not employed in Tianjin); a few employers are very large."""
    migrant = np.isin(group, (PERMIT_HOLDER, MIGRANT_NO_PERMIT))
    share = rates.population.employed_working_age
    # Foreigners are here on work permits; migrants mostly come to work.
    employed_p = np.select([group == FOREIGN_WORKER, migrant], [1.0, min(1.0, share + 0.17)], default=share)
    working_age = (ages >= 18) & (ages <= 59) & (stage == "") & ~serving & (group != TIANJIN_ELSEWHERE)
    employed = working_age & (rng.random(len(ages)) < employed_p)
    return np.where(employed, (employers * rng.random(len(ages)) ** 2.5).astype(np.int64), -1)


def _ages(birth: np.ndarray, as_of: dt.date) -> np.ndarray:
    """Completed years at as_of for datetime64[D] birth dates."""
    born_month = birth.astype("datetime64[M]")
    born_md = (born_month.astype(np.int64) % 12 + 1) * 100 + (birth - born_month).astype(np.int64) + 1
    years = as_of.year - (birth.astype("datetime64[Y]").astype(np.int64) + 1970)
    return years - (born_md > as_of.month * 100 + as_of.day)


def _unique_ids(area: np.ndarray, birth: np.ndarray, orders: np.ndarray, male: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """ID numbers, drawing new order codes until no two people share a number."""
    # The 17-digit body decides the number; as an integer it sorts far faster than text.
    days = birth.astype("datetime64[D]").astype(np.int64)
    for _ in range(50):
        body = (area * 1_000_000 + days + 500_000) * 1000 + orders
        _, first = np.unique(body, return_index=True)
        clash = np.ones(len(body), dtype=bool)
        clash[first] = False
        if not clash.any():
            return make_id_numbers(area, birth, orders)
        rows = np.flatnonzero(clash)
        orders[rows] = order_codes(male[rows], rng)
    raise RuntimeError("could not draw unique ID numbers: too many people born on one day in one area")


def _count(rate: float, base: int, minimum: int) -> int:
    return max(minimum, int(round(rate * base)))


def _choose(pool: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` distinct elements of ``pool``."""
    return rng.choice(pool, size=min(count, len(pool)), replace=False) if len(pool) else pool[:0]


def choose_weighted(weight: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` distinct indices drawn with probability proportional to ``weight``."""
    candidates = np.flatnonzero(weight > 0)
    count = min(count, len(candidates))
    if count == 0:
        return candidates[:0]
    p = weight[candidates] / weight[candidates].sum()
    return np.sort(rng.choice(candidates, size=count, replace=False, p=p))


def _mask(count: int, indices: np.ndarray) -> np.ndarray:
    mask = np.zeros(count, dtype=bool)
    mask[indices] = True
    return mask
