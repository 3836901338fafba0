"""Which department sees whom, and what its rows say (clean values, before any corruption).

One builder per source of shared/spec/department-extracts.md returns ``SourceRows``: the
persons behind the rows, the period (file) of each row, typed column values in the spec's
order, and the canonical values the status rules read (resolver/config/status_rules.yaml).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resolver.divisions import load_divisions
from resolver.standardise.province import PROVINCES
from resolver.synth.places import sample_elsewhere_provinces
from resolver.synth.population import (
    FOREIGN_WORKER, HEAD, MIGRANT_NO_PERMIT, PERMIT_HOLDER, SPOUSE, TIANJIN_ELSEWHERE,
    TIANJIN_RESIDENT, Population, choose_weighted,
)
from resolver.synth.rates import GROUPS, SynthRates

# Column kinds corrupt.py knows how to render.
NAME, ID, PASSPORT, CERT_TYPE, GENDER, DATE, PERIOD, PHONE, ADDRESS, TEXT, MONEY = (
    "name", "id", "passport", "cert_type", "gender", "date", "period", "phone", "address", "text", "money",
)

# Record id header and columns of every source, exactly as shared/spec/department-extracts.md lists them.
SPEC_HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "police_resident": ("人员编号", ("姓名", "性别", "民族", "公民身份号码", "出生日期", "户籍地址", "常住地址", "联系电话", "户口性质")),
    "police_permit": ("居住证号", ("姓名", "性别", "公民身份号码", "居住地址", "联系电话", "签发日期", "有效期至")),
    "civil_assistance": ("救助编号", ("姓名", "身份证号", "救助类别", "家庭地址", "联系电话", "认定日期")),
    "civil_funeral": ("火化证号", ("逝者姓名", "身份证号码", "性别", "死亡日期", "户籍地")),
    "tax_iit": ("申报流水号", ("纳税人姓名", "证件类型", "证件号码", "扣缴义务人名称", "扣缴义务人统一社会信用代码", "所属期", "收入额")),
    "edu_student": ("学籍号", ("学生姓名", "身份证件号", "性别", "出生日期", "学校名称", "学段", "家庭住址", "监护人姓名", "监护人电话")),
    "prison_inmate": ("罪犯编号", ("罪犯姓名", "身份证号", "性别", "出生日期", "户籍地", "所在监狱", "入监日期", "刑满日期")),
    "housing_fund": ("个人账号", ("职工姓名", "证件号码", "单位名称", "缴存状态", "开户日期", "最近缴存月份")),
    "hr_labour": ("业务编号", ("姓名", "公民身份号码", "业务类型", "单位名称", "办理日期", "联系电话", "经办机构")),
    "hr_foreign": ("许可证号", ("姓名", "国籍", "护照号码", "性别", "出生日期", "工作单位", "有效期至")),
    "si_enrolment": ("参保编号", ("姓名", "社会保障号码", "险种", "参保状态", "参保单位", "首次参保日期", "最近缴费月份")),
    "national_insured": ("记录编号", ("姓名", "身份证号码", "参保省份", "险种", "参保状态")),
    "survey": ("调查编号", ("姓名", "性别", "公民身份号码", "民族", "联系电话", "工作单位", "户口性质", "户籍地", "常住地",
                            "参保险种", "未参保原因", "调查员编号", "调查日期")),
}

# Canonical columns of the status frame (resolver/status.py reads them).
STATUS_COLUMNS: tuple[str, ...] = (
    "household_in_tianjin", "permit_valid_until", "prison_entry_date", "prison_release_date", "enrolment_status",
    "insurance_type", "national_status", "insured_province_code", "tax_period", "fund_status", "death_date", "survey_date",
    "unenrolled_reason",
)

# Address roles for the dispatch precedence (spec: 常住地址 (police) → 户籍地址 → latest other address).
POLICE_RESIDENCE, POLICE_HOUSEHOLD, OTHER_RESIDENCE, OTHER_HOUSEHOLD = range(4)
ADDRESS_PRIORITY: dict[tuple[str, str], int] = {
    ("police_resident", "常住地址"): POLICE_RESIDENCE,
    ("police_permit", "居住地址"): POLICE_RESIDENCE,
    ("police_resident", "户籍地址"): POLICE_HOUSEHOLD,
    ("survey", "常住地"): OTHER_RESIDENCE,
    ("edu_student", "家庭住址"): OTHER_RESIDENCE,
    ("civil_assistance", "家庭地址"): OTHER_RESIDENCE,
    ("survey", "户籍地"): OTHER_HOUSEHOLD,
    ("prison_inmate", "户籍地"): OTHER_HOUSEHOLD,
    ("civil_funeral", "户籍地"): OTHER_HOUSEHOLD,
}

EMPLOYEE_PENSION, RESIDENT_PENSION = "企业职工基本养老保险", "城乡居民基本养老保险"
EMPLOYEE_MEDICAL, RESIDENT_MEDICAL = "职工基本医疗保险", "城乡居民基本医疗保险"
UNEMPLOYMENT, INJURY, MATERNITY = "失业保险", "工伤保险", "生育保险"
NORMAL, SUSPENDED, TERMINATED = "正常参保", "暂停缴费", "终止参保"


@dataclass
class Column:
    """One delivered column: its kind and the clean values (row-aligned)."""

    kind: str
    values: Any = None


@dataclass
class SourceRows:
    """The rows of one source before rendering; ``period`` (YYYYMM) decides the file of each row."""

    source: str
    person: np.ndarray
    period: np.ndarray
    record_id: np.ndarray
    columns: dict[str, Column]
    canonical: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class Context:
    """What every builder needs: the population, the rates, the reference date."""

    pop: Population
    rates: SynthRates
    as_of: dt.date

    @property
    def month(self) -> int:
        """as_of's month as year*12 + month-1."""
        return self.as_of.year * 12 + self.as_of.month - 1

    @property
    def day(self) -> np.datetime64:
        return np.datetime64(self.as_of, "D")


def yyyymm(month_index: np.ndarray | int) -> np.ndarray:
    """year*12+month-1 → YYYYMM integers."""
    month_index = np.asarray(month_index)
    return (month_index // 12) * 100 + month_index % 12 + 1


def _days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype("timedelta64[D]")


def zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded text (object array; empty in, empty out)."""
    if len(numbers) == 0:
        return np.array([], dtype=object)
    return np.char.zfill(np.asarray(numbers).astype(str), width).astype(object)


def _record_ids(prefix: str, digits: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct ids like prefix + zero-padded number, in random order."""
    step = max(1, min(97, (10**digits - 1) // max(count, 1)))
    numbers = rng.permutation(count).astype(np.int64) * step + rng.integers(0, step, size=count) + 1
    return prefix + zero_padded(numbers, digits)


def _phones(pop: Population, persons: np.ndarray) -> Column:
    return Column(PHONE, (pop.mobile[persons], pop.landline[persons]))


def _chance(rng: np.random.Generator, count: int, p: float | np.ndarray) -> np.ndarray:
    return rng.random(count) < p


def _rows(source: str, persons: np.ndarray, period: int | np.ndarray, prefix: str, digits: int,
          columns: dict[str, Column], rng: np.random.Generator, **canonical: np.ndarray) -> SourceRows:
    periods = np.broadcast_to(np.asarray(period, dtype=np.int64), persons.shape).copy()
    return SourceRows(source, persons, periods, _record_ids(prefix, digits, len(persons), rng), columns, canonical)


def police_resident(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """户籍 register: nearly every Tianjin 户籍 person, and a few migrants registered as residents."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    tianjin = np.isin(pop.group, (TIANJIN_RESIDENT, TIANJIN_ELSEWHERE)) & _chance(rng, count, cover.police_resident)
    migrants = (pop.group == PERMIT_HOLDER) & _chance(rng, count, cover.police_resident_migrants)
    persons = np.flatnonzero(tianjin | migrants)
    residence = pop.residence_address[persons].copy()
    # Resident records often leave 常住地址 empty; migrants' always give it (their 户籍 is elsewhere).
    blank = (pop.group[persons] != PERMIT_HOLDER) & _chance(rng, len(persons), cover.police_resident_no_residence)
    residence[blank] = -1
    household = pop.household_address[persons]
    columns = {
        "姓名": Column(NAME), "性别": Column(GENDER), "民族": Column(TEXT, pop.ethnicity[persons]),
        "公民身份号码": Column(ID), "出生日期": Column(DATE, pop.birth_date[persons]),
        "户籍地址": Column(ADDRESS, household), "常住地址": Column(ADDRESS, residence),
        "联系电话": _phones(pop, persons), "户口性质": Column(TEXT, pop.hukou_type[persons]),
    }
    return _rows("police_resident", persons, yyyymm(ctx.month), "R", 11, columns, rng,
                 household_in_tianjin=pop.addresses.in_tianjin[household])


def police_permit(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Residence permits of migrants aged 16+: the current one (valid or expired) and some older ones."""
    pop, cover = ctx.pop, ctx.rates.coverage
    holders = np.flatnonzero((pop.group == PERMIT_HOLDER) & (pop.age >= 16))
    expired = _chance(rng, len(holders), cover.permit_expired)
    valid_until = np.where(
        expired, ctx.day - _days(rng.integers(1, 900, len(holders))),
        ctx.day + _days(rng.integers(1, 700, len(holders))),
    )
    issued = valid_until - _days(np.full(len(holders), 730))
    renewed = _chance(rng, len(holders), cover.permit_renewed)
    old_until = issued[renewed] - _days(rng.integers(0, 30, renewed.sum()))
    persons = np.concatenate([holders, holders[renewed]])
    until = np.concatenate([valid_until, old_until])
    issue = np.concatenate([issued, old_until - _days(np.full(renewed.sum(), 730))])
    columns = {
        "姓名": Column(NAME), "性别": Column(GENDER), "公民身份号码": Column(ID),
        "居住地址": Column(ADDRESS, pop.residence_address[persons]),
        "联系电话": Column(PHONE, (pop.mobile[persons], np.full(len(persons), "", dtype=object))),
        "签发日期": Column(DATE, issue), "有效期至": Column(DATE, until),
    }
    return _rows("police_permit", persons, yyyymm(ctx.month), "JZZ", 10, columns, rng, permit_valid_until=until)


def civil_assistance(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Subsistence (低保), extreme poverty (特困) and veterans' care (优抚) recipients among residents."""
    pop = ctx.pop
    alive_here = (pop.group == TIANJIN_RESIDENT) & np.isnat(pop.death_date)
    weight = np.where(alive_here, np.where(pop.age >= 60, 2.0, 1.0), 0.0)
    persons = choose_weighted(weight, int(round(ctx.rates.coverage.civil_assistance * alive_here.sum())), rng)
    category = np.array(["低保", "特困", "优抚"], dtype=object)[rng.choice(3, len(persons), p=[0.6, 0.15, 0.25])]
    columns = {
        "姓名": Column(NAME), "身份证号": Column(ID), "救助类别": Column(TEXT, category),
        "家庭地址": Column(ADDRESS, pop.residence_address[persons]), "联系电话": _phones(pop, persons),
        "认定日期": Column(DATE, ctx.day - _days(rng.integers(30, 3000, len(persons)))),
    }
    return _rows("civil_assistance", persons, yyyymm(ctx.month), "MZJZ", 9, columns, rng)


def civil_funeral(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Cremation records of everybody who died in the last two years."""
    pop = ctx.pop
    persons = np.flatnonzero(~np.isnat(pop.death_date))
    deaths = pop.death_date[persons]
    columns = {
        "逝者姓名": Column(NAME), "身份证号码": Column(ID), "性别": Column(GENDER), "死亡日期": Column(DATE, deaths),
        "户籍地": Column(ADDRESS, pop.household_address[persons]),
    }
    return _rows("civil_funeral", persons, yyyymm(ctx.month), "HH", 10, columns, rng, death_date=deaths)


def tax_iit(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Monthly withholding returns: the last months before as_of, and one file 14 months back."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    employed = pop.employer >= 0
    taxpayer = employed & _chance(rng, count, np.where(pop.group == FOREIGN_WORKER, 0.9, cover.taxpayers))
    former = ((pop.employer < 0) & (pop.age >= 25) & (pop.age <= 65) & (pop.group != FOREIGN_WORKER)
              & _chance(rng, count, cover.tax_former))
    employer = np.where(employed, pop.employer, rng.integers(0, len(pop.employers.name), count))
    monthly_income = np.round(np.exp(rng.normal(np.log(6500), 0.6, count)), -1)
    parts = []
    for back in range(1, cover.tax_months + 1):
        rows = np.flatnonzero(taxpayer & _chance(rng, count, cover.tax_month_present))
        parts.append((rows, np.full(len(rows), ctx.month - back)))
    old = np.flatnonzero((taxpayer & _chance(rng, count, 0.6)) | former)
    parts.append((old, np.full(len(old), ctx.month - 14)))
    persons = np.concatenate([p[0] for p in parts])
    months = np.concatenate([p[1] for p in parts])
    periods = yyyymm(months)
    foreign = pop.group[persons] == FOREIGN_WORKER
    chosen_employer = employer[persons]
    income = monthly_income[persons] * rng.uniform(0.9, 1.15, len(persons))
    columns = {
        "纳税人姓名": Column(NAME), "证件类型": Column(CERT_TYPE, np.where(foreign, "护照", "居民身份证")),
        "证件号码": Column(ID), "扣缴义务人名称": Column(TEXT, pop.employers.name[chosen_employer]),
        "扣缴义务人统一社会信用代码": Column(TEXT, pop.employers.credit_code[chosen_employer]),
        "所属期": Column(PERIOD, periods), "收入额": Column(MONEY, income),
    }
    serials = rng.permutation(len(persons)).astype(np.int64) * 13 + rng.integers(1, 13, len(persons))
    record_ids = periods.astype(str).astype(object) + zero_padded(serials, 14)
    return SourceRows("tax_iit", persons, periods, record_ids, columns,
                      {"tax_period": periods.astype(str).astype(object)})


def edu_student(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Pupils, kindergarten children and students, with a parent as guardian."""
    pop = ctx.pop
    persons = np.flatnonzero(pop.school_stage != "")
    guardian = _guardians(pop, persons, rng)
    has_guardian = guardian >= 0
    safe = np.maximum(guardian, 0)
    guardian_name = np.where(has_guardian, pop.name[safe], "")
    guardian_mobile = np.where(has_guardian, pop.mobile[safe], "")
    columns = {
        "学生姓名": Column(NAME), "身份证件号": Column(ID), "性别": Column(GENDER),
        "出生日期": Column(DATE, pop.birth_date[persons]), "学校名称": Column(TEXT, pop.school_name[persons]),
        "学段": Column(TEXT, pop.school_stage[persons]), "家庭住址": Column(ADDRESS, pop.residence_address[persons]),
        "监护人姓名": Column(TEXT, guardian_name), "监护人电话": Column(PHONE, (guardian_mobile, pop.landline[persons])),
    }
    return _rows("edu_student", persons, yyyymm(ctx.month), "G", 17, columns, rng)


def _guardians(pop: Population, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A parent in the student's household (mother or father), -1 when none lives there."""
    households = pop.household
    parents = np.flatnonzero(np.isin(pop.role, (HEAD, SPOUSE)) & (pop.age >= 20))
    first = np.full(households.max() + 1, -1)
    second = np.full(households.max() + 1, -1)
    first[households[parents[::-1]]] = parents[::-1]
    second[households[parents]] = parents
    pick_second = rng.random(len(persons)) < 0.5
    guardian = np.where(pick_second, second[households[persons]], first[households[persons]])
    student_is_parent = guardian == persons
    guardian[student_is_parent] = -1
    return guardian


def prison_inmate(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Inmates serving now, and those released within the last year."""
    pop = ctx.pop
    persons = np.flatnonzero(~np.isnat(pop.prison_entry))
    entry, release = pop.prison_entry[persons], pop.prison_release[persons]
    columns = {
        "罪犯姓名": Column(NAME), "身份证号": Column(ID), "性别": Column(GENDER),
        "出生日期": Column(DATE, pop.birth_date[persons]), "户籍地": Column(ADDRESS, pop.household_address[persons]),
        "所在监狱": Column(TEXT, pop.prison_name[persons]), "入监日期": Column(DATE, entry),
        "刑满日期": Column(DATE, release),
    }
    return _rows("prison_inmate", persons, yyyymm(ctx.month), "12", 8, columns, rng,
                 prison_entry_date=entry, prison_release_date=release)


def housing_fund(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Provident-fund accounts: contributing employees, and sealed or closed accounts of others."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    chinese = pop.group != FOREIGN_WORKER
    active = chinese & (pop.employer >= 0) & _chance(rng, count, cover.housing_fund)
    dormant = chinese & (pop.employer < 0) & (pop.age >= 30) & (pop.age <= 70) & _chance(rng, count, 0.05)
    persons = np.flatnonzero(active | dormant)
    is_active = active[persons]
    status = np.where(is_active, np.where(_chance(rng, len(persons), 0.9), "正常", "封存"),
                      np.where(_chance(rng, len(persons), 0.7), "封存", "销户")).astype(object)
    employer = np.where(pop.employer[persons] >= 0, pop.employer[persons],
                        rng.integers(0, len(pop.employers.name), len(persons)))
    adult_days = (np.minimum(pop.age[persons], 40) - 18) * 365
    opened = ctx.day - _days((rng.random(len(persons)) * np.maximum(adult_days, 30)).astype(np.int64) + 1)
    last = np.where(status == "正常", ctx.month - rng.integers(0, 2, len(persons)),
                    ctx.month - rng.integers(3, 60, len(persons)))
    columns = {
        "职工姓名": Column(NAME), "证件号码": Column(ID), "单位名称": Column(TEXT, pop.employers.name[employer]),
        "缴存状态": Column(TEXT, status), "开户日期": Column(DATE, opened), "最近缴存月份": Column(PERIOD, yyyymm(last)),
    }
    return _rows("housing_fund", persons, yyyymm(ctx.month), "1201", 10, columns, rng, fund_status=status)


def hr_labour(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Employment registrations and contracts of workers; training and archives of the others."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    chinese = pop.group != FOREIGN_WORKER
    workers = np.flatnonzero(chinese & (pop.employer >= 0) & _chance(rng, count, cover.hr_labour))
    second = workers[_chance(rng, len(workers), 0.3)]
    idle = np.flatnonzero(chinese & (pop.employer < 0) & (pop.age >= 18) & (pop.age <= 59)
                          & np.isnat(pop.death_date) & _chance(rng, count, cover.hr_labour_unemployed))
    persons = np.concatenate([workers, second, idle])
    kinds = np.concatenate([
        np.where(_chance(rng, len(workers), 0.5), "就业登记", "劳动合同备案"),
        np.where(_chance(rng, len(second), 0.5), "职业技能证书", "职业培训"),
        np.array(["职业培训", "人才中心存档", "劳服中心存档", "创业担保贷款"], dtype=object)[
            rng.choice(4, len(idle), p=[0.4, 0.25, 0.25, 0.1])],
    ]).astype(object)
    employer = pop.employer[persons]
    employer_name = np.where(employer >= 0, pop.employers.name[np.maximum(employer, 0)], "")
    home = pop.residence_address[persons]
    safe = np.maximum(home, 0)
    district_names = {d.code: d.name for d in load_divisions().districts()}
    district = np.array([district_names.get(code, "") for code in pop.addresses.district_code[safe]], dtype=object)
    agency = np.where(home >= 0, district + "人力资源和社会保障局", "天津市人力资源和社会保障局")
    street_office = (home >= 0) & (kinds == "劳服中心存档")
    agency = np.where(street_office, pop.addresses.street[safe] + "劳动保障服务中心", agency)
    agency = np.where(kinds == "人才中心存档", "天津市人才服务中心", agency).astype(object)
    columns = {
        "姓名": Column(NAME), "公民身份号码": Column(ID), "业务类型": Column(TEXT, kinds),
        "单位名称": Column(TEXT, employer_name), "办理日期": Column(DATE, ctx.day - _days(rng.integers(1, 1500, len(persons)))),
        "联系电话": Column(PHONE, (pop.mobile[persons], np.full(len(persons), "", dtype=object))),
        "经办机构": Column(TEXT, agency),
    }
    return _rows("hr_labour", persons, yyyymm(ctx.month), "YW", 10, columns, rng)


def hr_foreign(ctx: Context, rng: np.random.Generator) -> SourceRows:
    """Work permits of foreigners: passport only, Latin names."""
    pop = ctx.pop
    persons = np.flatnonzero(pop.group == FOREIGN_WORKER)
    expired = _chance(rng, len(persons), 0.1)
    until = np.where(expired, ctx.day - _days(rng.integers(1, 400, len(persons))),
                     ctx.day + _days(rng.integers(30, 900, len(persons))))
    employer = np.maximum(pop.employer[persons], 0)
    columns = {
        "姓名": Column(NAME), "国籍": Column(TEXT, pop.nationality[persons]), "护照号码": Column(PASSPORT),
        "性别": Column(GENDER), "出生日期": Column(DATE, pop.birth_date[persons]),
        "工作单位": Column(TEXT, pop.employers.name[employer]), "有效期至": Column(DATE, until),
    }
    return _rows("hr_foreign", persons, yyyymm(ctx.month), "120", 15, columns, rng)


@dataclass
class Enrolment:
    """Who is enrolled and how, decided once (the survey and national database depend on it)."""

    enrolled: np.ndarray    # bool per person: has an ENROLLED-making row
    state: np.ndarray       # per person: NORMAL / SUSPENDED / TERMINATED / ''


def decide_enrolment(ctx: Context, rng: np.random.Generator) -> Enrolment:
    """Per person: enrolled at all, and whether contributions are normal, suspended or terminated."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    rate = np.zeros(count)
    for name, share in cover.enrolled.items():
        rate[pop.group == GROUPS.index(name)] = share
    has_any = _chance(rng, count, rate)
    draw = rng.random(count)
    state = np.where(draw < cover.enrolment_terminated, TERMINATED,
                     np.where(draw < cover.enrolment_terminated + cover.enrolment_suspended, SUSPENDED, NORMAL))
    serving = ~np.isnat(pop.prison_entry) & (pop.prison_release >= ctx.day)
    state = np.where(serving & (state == NORMAL), SUSPENDED, state)
    state = np.where(has_any, state, "").astype(object)
    return Enrolment(enrolled=has_any & (state != TERMINATED), state=state)


def si_enrolment(ctx: Context, enrolment: Enrolment, rng: np.random.Generator) -> SourceRows:
    """Enrolments, one row per person and insurance type, split over two monthly files."""
    pop, cover = ctx.pop, ctx.rates.coverage
    people = np.flatnonzero(enrolment.state != "")
    age, employed = pop.age[people], pop.employer[people] >= 0
    retired_employee = (age >= 60) & _chance(rng, len(people), 0.6)
    plans: list[tuple[np.ndarray, str]] = []
    child = (age < 18) | (pop.school_stage[people] != "")
    adult = ~child
    # Some employers insure only against work injury (construction sites, platforms): such workers
    # are enrolled without a pension or a medical scheme (NO_PENSION, NO_MEDICAL).
    injury_only = employed & adult & _chance(rng, len(people), cover.si_injury_only)
    insured = employed & adult & ~injury_only
    plans.append((people[insured], EMPLOYEE_PENSION))
    plans.append((people[insured], EMPLOYEE_MEDICAL))
    plans.append((people[insured & _chance(rng, len(people), 0.5)], UNEMPLOYMENT))
    plans.append((people[(insured & _chance(rng, len(people), 0.25)) | injury_only], INJURY))
    plans.append((people[insured & _chance(rng, len(people), 0.1)], MATERNITY))
    idle_adult = adult & ~employed
    plans.append((people[idle_adult & retired_employee], EMPLOYEE_PENSION))
    plans.append((people[idle_adult & retired_employee], EMPLOYEE_MEDICAL))
    plans.append((people[idle_adult & ~retired_employee & _chance(rng, len(people), 0.85)], RESIDENT_PENSION))
    plans.append((people[idle_adult & ~retired_employee], RESIDENT_MEDICAL))
    plans.append((people[child], RESIDENT_MEDICAL))
    persons = np.concatenate([p for p, _ in plans])
    kind = np.concatenate([np.full(len(p), k, dtype=object) for p, k in plans])
    status = enrolment.state[persons].copy()
    # A normally contributing person may also hold an old, terminated enrolment.
    extra = (status == NORMAL) & _chance(rng, len(persons), 0.03)
    status[extra] = TERMINATED
    _, first = np.unique(persons, return_index=True)
    keep_normal = np.zeros(len(persons), dtype=bool)
    keep_normal[first] = True
    status[keep_normal & (enrolment.state[persons] == NORMAL)] = NORMAL
    # Babies born this month can only be in this month's file.
    this_month = np.datetime64(ctx.as_of.replace(day=1), "D")
    later = _chance(rng, len(persons), cover.si_later_period) | (pop.birth_date[persons] >= this_month)
    months = np.where(later, ctx.month, ctx.month - 1)
    last_paid = np.select(
        [status == NORMAL, status == SUSPENDED],
        # Interruptions reach back over past years (up to five), lapses up to ten.
        [months - rng.integers(0, 2, len(persons)), months - rng.integers(3, 61, len(persons))],
        default=months - rng.integers(6, 120, len(persons)),
    )
    employee_plan = np.isin(kind, (EMPLOYEE_PENSION, EMPLOYEE_MEDICAL, UNEMPLOYMENT, INJURY, MATERNITY))
    employer = pop.employer[persons]
    unit = np.where(employee_plan & (employer >= 0), pop.employers.name[np.maximum(employer, 0)], "")
    # First enrolment: after birth (children) or 16 (adults), and before the file's month.
    adult_days = np.maximum((pop.age[persons] - 16) * 365, 1)
    first_date = ctx.day - _days((rng.random(len(persons)) * np.minimum(adult_days, 30 * 365)).astype(np.int64) + 31)
    first_date = np.maximum(first_date, pop.birth_date[persons] + _days(np.full(len(persons), 1)))
    month_end = ((months // 12 - 1970) * 12 + months % 12 + 1).astype("datetime64[M]").astype("datetime64[D]")
    first_date = np.minimum(first_date, month_end - _days(np.full(len(persons), 1)))
    columns = {
        "姓名": Column(NAME), "社会保障号码": Column(ID), "险种": Column(TEXT, kind),
        "参保状态": Column(TEXT, status), "参保单位": Column(TEXT, unit), "首次参保日期": Column(DATE, first_date),
        "最近缴费月份": Column(PERIOD, yyyymm(last_paid)),
    }
    return _rows("si_enrolment", persons, yyyymm(months), "12", 10, columns, rng, enrolment_status=status,
                 insurance_type=kind)


def national_insured(ctx: Context, enrolment: Enrolment, rng: np.random.Generator) -> SourceRows:
    """The national database: enrolments in other provinces, and Tianjin's own rows for some."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    rate = np.zeros(count)
    for name, share in cover.national_insured.items():
        rate[pop.group == GROUPS.index(name)] = share
    elsewhere = np.flatnonzero(_chance(rng, count, rate) & (pop.age >= 16))
    province = pop.origin_province[elsewhere].copy()
    unknown = (province == "") | (province == "12")
    province[unknown] = sample_elsewhere_provinces(int(unknown.sum()), rng)
    active = _chance(rng, len(elsewhere), cover.national_active)
    status = np.where(active, "正常", np.where(_chance(rng, len(elsewhere), 0.5), "暂停", "终止"))
    copies = np.flatnonzero(enrolment.enrolled & _chance(rng, count, cover.national_insured_tianjin_copy))
    persons = np.concatenate([elsewhere, copies])
    codes = np.concatenate([province, np.full(len(copies), "12", dtype=object)]).astype(object)
    states = np.concatenate([status, np.full(len(copies), "正常")]).astype(object)
    kind = np.array([EMPLOYEE_PENSION, RESIDENT_PENSION, RESIDENT_MEDICAL], dtype=object)[
        rng.choice(3, len(persons), p=[0.5, 0.3, 0.2])]
    names = np.array([PROVINCES[c] for c in codes], dtype=object)
    style = rng.random(len(persons))
    written = np.where(style < 0.85, codes + " " + names, np.where(style < 0.95, names, codes)).astype(object)
    columns = {
        "姓名": Column(NAME), "身份证号码": Column(ID), "参保省份": Column(TEXT, written),
        "险种": Column(TEXT, kind), "参保状态": Column(TEXT, states),
    }
    return _rows("national_insured", persons, yyyymm(ctx.month), "QG", 12, columns, rng,
                 national_status=states, insured_province_code=codes)


UNENROLLED_REASONS = np.array(["经济困难", "不了解政策", "灵活就业未参保", "单位未缴纳", "其他"], dtype=object)


def survey(ctx: Context, enrolment: Enrolment, national: SourceRows, rng: np.random.Generator) -> SourceRows:
    """Door-to-door visits, mostly of people with no enrolment, with the reason they give."""
    pop, cover = ctx.pop, ctx.rates.coverage
    count = len(pop)
    chinese = pop.group != FOREIGN_WORKER
    wanted = max(ctx.rates.hard_cases.minimum_each, int(round(cover.surveyed * count)))
    targets = chinese & ~enrolment.enrolled & (pop.group != MIGRANT_NO_PERMIT)
    weight = np.where(targets, 6.0, np.where(chinese, 1.0, 0.0))
    persons = choose_weighted(weight, wanted, rng)
    insured_elsewhere = np.zeros(count, dtype=bool)
    active = (national.canonical["national_status"] == "正常") & (national.canonical["insured_province_code"] != "12")
    insured_elsewhere[national.person[active]] = True
    dead = ~np.isnat(pop.death_date[persons])
    serving = ~np.isnat(pop.prison_entry[persons]) & (pop.prison_release[persons] >= ctx.day)
    away = pop.group[persons] == TIANJIN_ELSEWHERE
    employed = pop.employer[persons] >= 0
    general = UNENROLLED_REASONS[rng.choice(len(UNENROLLED_REASONS), len(persons), p=[0.3, 0.2, 0.25, 0.1, 0.15])]
    general = np.where((general == "单位未缴纳") & ~employed, "灵活就业未参保", general)
    reason = np.select(
        [dead, serving, away, pop.school_stage[persons] != "", insured_elsewhere[persons], enrolment.enrolled[persons]],
        ["已死亡", "服刑人员", np.where(_chance(rng, len(persons), 0.5), "出国出境", "查无此人"), "在校学生",
         "已在外省市参保", ""],
        default=general,
    ).astype(object)
    dates = ctx.day - _days(rng.integers(1, 120, len(persons)))
    # Visitors learn of a death after it happened.
    dates = np.where(dead, np.maximum(dates, pop.death_date[persons] + _days(np.full(len(persons), 1))), dates)
    dates = np.minimum(dates, ctx.day)
    plan = np.where(enrolment.enrolled[persons],
                    np.where(pop.employer[persons] >= 0, EMPLOYEE_PENSION, RESIDENT_MEDICAL), "").astype(object)
    employer = pop.employer[persons]
    columns = {
        "姓名": Column(NAME), "性别": Column(GENDER), "公民身份号码": Column(ID), "民族": Column(TEXT, pop.ethnicity[persons]),
        "联系电话": _phones(pop, persons),
        "工作单位": Column(TEXT, np.where(employer >= 0, pop.employers.name[np.maximum(employer, 0)], "")),
        "户口性质": Column(TEXT, pop.hukou_type[persons]), "户籍地": Column(ADDRESS, pop.household_address[persons]),
        "常住地": Column(ADDRESS, pop.residence_address[persons]), "参保险种": Column(TEXT, plan),
        "未参保原因": Column(TEXT, reason),
        "调查员编号": Column(TEXT, "DY" + zero_padded(rng.integers(1, 400, len(persons)), 4)),
        "调查日期": Column(DATE, dates),
    }
    return _rows("survey", persons, yyyymm(ctx.month), "DC", 8, columns, rng, survey_date=dates,
                 unenrolled_reason=np.where(reason == "", None, reason).astype(object))

