"""Schemes per person and back-payment estimates for interrupted and lapsed payers (arts. 7, 25-26, 36).

One pure function, ``estimate_arrears``, turns a person's scheme records, the as_of month and the
contribution policy (config/contributions.yaml) into the months owed and the estimate month by
month; `canbao explain`, `canbao arrears`, the API and the monthly report all call it, so the
numbers agree everywhere. A figure the policy lacks is named in the estimate, never invented.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from resolver.configfile import config_text, parse_yaml, validate

EMPLOYEE_PENSION, RESIDENT_PENSION = "企业职工基本养老保险", "城乡居民基本养老保险"
EMPLOYEE_MEDICAL, RESIDENT_MEDICAL = "职工基本医疗保险", "城乡居民基本医疗保险"
UNEMPLOYMENT, INJURY, MATERNITY = "失业保险", "工伤保险", "生育保险"
SCHEMES: tuple[str, ...] = (EMPLOYEE_PENSION, RESIDENT_PENSION, EMPLOYEE_MEDICAL, RESIDENT_MEDICAL,
                            UNEMPLOYMENT, INJURY, MATERNITY)
PENSION_SCHEMES = (EMPLOYEE_PENSION, RESIDENT_PENSION)
MEDICAL_SCHEMES = (EMPLOYEE_MEDICAL, RESIDENT_MEDICAL)
NORMAL, SUSPENDED, TERMINATED = "正常参保", "暂停缴费", "终止参保"
OWING_STATES = (SUSPENDED, TERMINATED)
RATE_KINDS = {"individual": "个人", "employer": "单位", "flexible": "灵活就业"}
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CENT = Decimal("0.01")


# ── The policy file ────────────────────────────────────────────────────────────────────

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Document(_Strict):
    """A published document figures are taken from."""

    title: str
    date: str | None = None
    cited_via: str | None = None


class Figure(_Strict):
    """One sourced amount or share; ``value`` null when nobody could source it."""

    value: float | None = Field(default=None, ge=0, le=1_000_000)
    share: float | None = Field(default=None, gt=0, le=10)
    source: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> "Figure":
        if self.value is not None and not self.source:
            raise ValueError("a figure with a value must name its source document")
        return self


class Tiers(_Strict):
    """The yearly contribution tiers (yuan per year) of 城乡居民基本养老保险."""

    values: list[float] | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> "Tiers":
        if self.values is not None:
            if not self.source:
                raise ValueError("tiers with values must name their source document")
            if not self.values or any(v <= 0 or v > 1_000_000 for v in self.values):
                raise ValueError("tiers must be positive yearly amounts (yuan), at least one")
        return self


class YearFigures(_Strict):
    """The figures of one contribution year."""

    average_wage: Figure
    base_lower: Figure
    base_upper: Figure
    resident_pension_tiers: Tiers
    resident_medical_individual: Figure


class RateEntry(_Strict):
    """A rate in force from a month on."""

    from_: str = Field(alias="from")
    value: float = Field(ge=0, le=1)
    source: str

    @field_validator("from_")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _PERIOD.match(value):
            raise ValueError(f"from must be YYYY-MM, got {value!r}")
        return value

    @property
    def month(self) -> int:
        return month_index(int(self.from_[:4]), int(self.from_[5:]))


class SchemeRates(_Strict):
    """Individual, employer and flexible-employment rates of one employee scheme, each over time."""

    individual: list[RateEntry]
    employer: list[RateEntry]
    flexible: list[RateEntry]


class WindowFigure(_Strict):
    value: int | None = Field(default=None, ge=1, le=1200)
    source: str | None = None


class ContributionPolicy(_Strict):
    """The whole file: documents, figures per year, rates, the back-payment window and the late fee."""

    documents: dict[str, Document]
    years: dict[int, YearFigures]
    rates: dict[str, SchemeRates]
    back_payment_window_months: WindowFigure
    late_fee_daily: Figure

    @model_validator(mode="after")
    def _consistent(self) -> "ContributionPolicy":
        cited: list[tuple[str, str | None]] = [("back_payment_window_months", self.back_payment_window_months.source),
                                               ("late_fee_daily", self.late_fee_daily.source)]
        for year, figures in self.years.items():
            if not 1990 <= year <= 2100:
                raise ValueError(f"years: {year} is not a contribution year (1990-2100)")
            for name in ("average_wage", "base_lower", "base_upper", "resident_medical_individual"):
                cited.append((f"years.{year}.{name}", getattr(figures, name).source))
            cited.append((f"years.{year}.resident_pension_tiers", figures.resident_pension_tiers.source))
            low, high = figures.base_lower.value, figures.base_upper.value
            if low is not None and high is not None and low > high:
                raise ValueError(f"years.{year}: base_lower {low} is above base_upper {high}")
        for scheme, rates in self.rates.items():
            if scheme not in (EMPLOYEE_PENSION, EMPLOYEE_MEDICAL, UNEMPLOYMENT, INJURY, MATERNITY):
                raise ValueError(f"rates: {scheme!r} is not an employee scheme ({EMPLOYEE_PENSION}, {EMPLOYEE_MEDICAL} …)")
            for kind in RATE_KINDS:
                entries = getattr(rates, kind)
                months = [e.month for e in entries]
                if months != sorted(set(months)):
                    raise ValueError(f"rates.{scheme}.{kind}: entries must be in increasing `from` order, once each")
                cited.extend((f"rates.{scheme}.{kind}", e.source) for e in entries)
        for where, source in cited:
            if source is not None and source not in self.documents:
                raise ValueError(f"{where}: source {source!r} is not listed under documents")
        return self


DEFAULT_CONTRIBUTIONS_FILE = "contributions.yaml"


def load_contribution_policy(path: Path | None = None) -> ContributionPolicy:
    """Read and validate the contribution figures; errors name the file and each offending key."""
    text, origin = config_text(path, DEFAULT_CONTRIBUTIONS_FILE)
    return validate(ContributionPolicy, parse_yaml(text, origin), origin,
                    "缴费测算参数配置有误 (invalid contribution figures)")


# ── Months ─────────────────────────────────────────────────────────────────────────────

def month_index(year: int, month: int) -> int:
    """year*12 + month-1: consecutive months are consecutive integers."""
    return year * 12 + month - 1


def month_text(index: int) -> str:
    """YYYYMM of a month index."""
    return f"{index // 12:04d}{index % 12 + 1:02d}"


def parse_period(text: Any) -> int | None:
    """A YYYYMM period (the canonical form of 最近缴费月份) as a month index; None when absent or unreadable."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return None
    digits = str(text).strip()
    if not re.fullmatch(r"\d{6}", digits) or not 1 <= int(digits[4:]) <= 12:
        return None
    return month_index(int(digits[:4]), int(digits[4:]))


# ── A person's schemes ─────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class SchemeRecord:
    """One si_enrolment record: the scheme, its state, the unit, first enrolment and last paid month."""

    scheme: str
    state: str
    employer: str | None
    first_enrolment: str | None   # YYYY-MM-DD
    last_paid: str | None         # YYYYMM
    record_key: str


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def scheme_records(records: pd.DataFrame) -> list[SchemeRecord]:
    """The si_enrolment records among ``records`` (one person's), in scheme order then latest payment first."""
    rows = records[records["source"] == "si_enrolment"] if "source" in records.columns else records.iloc[:0]
    out = []
    for row in rows.itertuples(index=False):
        first = getattr(row, "first_enrolment_date", None)
        first_text = None if first is None or pd.isna(first) else pd.Timestamp(first).strftime("%Y-%m-%d")
        out.append(SchemeRecord(
            scheme=_text(getattr(row, "insurance_type", None)) or "未知险种",
            state=_text(getattr(row, "enrolment_status", None)) or "未知",
            employer=_text(getattr(row, "employer_name", None)),
            first_enrolment=first_text,
            last_paid=_text(getattr(row, "last_payment_period", None)),
            record_key=str(row.record_key),
        ))
    order = {scheme: i for i, scheme in enumerate(SCHEMES)}
    return sorted(out, key=lambda r: (order.get(r.scheme, len(order)), -(parse_period(r.last_paid) or 0),
                                      r.record_key))


def owed_schemes(schemes: list[SchemeRecord]) -> list[SchemeRecord]:
    """Per pension and medical family, the interrupted or lapsed record to estimate (the latest paid one).

    A family with a record 正常参保 owes nothing: an old terminated resident pension beside a
    normally paid employee pension is not in arrears.
    """
    owed = []
    for family in (PENSION_SCHEMES, MEDICAL_SCHEMES):
        members = [r for r in schemes if r.scheme in family]
        if not members or any(r.state == NORMAL for r in members):
            continue
        owing = [r for r in members if r.state in OWING_STATES]
        if owing:
            owed.append(max(owing, key=lambda r: (parse_period(r.last_paid) or -1, r.state == SUSPENDED)))
    return owed


# ── The estimate ───────────────────────────────────────────────────────────────────────

@dataclass
class EstimateLine:
    """One month (employee schemes) or one year (resident schemes) owed."""

    period: str                    # YYYYMM, or YYYY for resident schemes
    rate: str | None               # e.g. "0.24" (individual + employer), None for resident schemes
    base_low: str | None           # the lowest base (or tier), yuan
    amount_low: str | None
    base_high: str | None          # 100 % of the average wage (or the chosen tier)
    amount_high: str | None
    missing: list[str] = field(default_factory=list)


@dataclass
class SchemeEstimate:
    """The estimate of one interrupted or lapsed scheme."""

    scheme: str
    state: str
    record_key: str
    last_paid: str | None
    payer: str                     # 单位+个人 / 灵活就业 / 城乡居民个人
    first_month_owed: str | None
    months_owed: int
    months_beyond_window: int
    lines: list[EstimateLine]
    total_low: str
    total_high: str
    complete_low: bool
    complete_high: bool
    missing: list[str]
    notes: list[str]


@dataclass
class ArrearsEstimate:
    """A person's back-payment estimate (art. 26): every owed scheme and the totals."""

    as_of_month: str
    schemes: list[SchemeEstimate]
    total_low: str
    total_high: str
    complete_low: bool
    complete_high: bool
    missing: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _rate_at(entries: list[RateEntry], month: int) -> RateEntry | None:
    chosen = None
    for entry in entries:
        if entry.month <= month:
            chosen = entry
    return chosen


def _missing_text(name: str) -> str:
    return f"缺少 {name} (missing figure)"


def _employee_line(scheme: str, month: int, with_employer: bool, policy: ContributionPolicy) -> EstimateLine:
    year, missing = month // 12, []
    figures = policy.years.get(year)
    rates = policy.rates.get(scheme)
    kinds = ("individual", "employer") if with_employer else ("flexible",)
    rate = Decimal(0)
    for kind in kinds:
        entries = getattr(rates, kind) if rates is not None else []
        entry = _rate_at(entries, month)
        if entry is None:
            # No rate at all, or none yet in force that month (named by year: one gap, one message per year).
            missing.append(f"{scheme}{RATE_KINDS[kind]}费率" + (f" ({year}年)" if entries else ""))
            rate = None
        elif rate is not None:
            rate += Decimal(str(entry.value))
    low = figures.base_lower.value if figures else None
    high = figures.average_wage.value if figures else None
    if low is None:
        missing.append(f"{year}年缴费基数下限")
    if high is None:
        missing.append(f"{year}年全口径城镇单位就业人员月平均工资")

    def amount(base: float | None) -> str | None:
        return None if base is None or rate is None else _money(Decimal(str(base)) * rate)

    return EstimateLine(
        period=month_text(month), rate=None if rate is None else str(rate),
        base_low=None if low is None else _money(Decimal(str(low))), amount_low=amount(low),
        base_high=None if high is None else _money(Decimal(str(high))), amount_high=amount(high),
        missing=missing,
    )


def _resident_line(scheme: str, year: int, policy: ContributionPolicy, chosen_tier: int | None) -> EstimateLine:
    figures = policy.years.get(year)
    if scheme == RESIDENT_PENSION:
        tiers = figures.resident_pension_tiers.values if figures else None
        if not tiers:
            return EstimateLine(str(year), None, None, None, None, None, [f"{year}年城乡居民基本养老保险缴费档次"])
        ordered = sorted(tiers)
        pick = ordered[-1] if chosen_tier is None else ordered[min(max(chosen_tier, 1), len(ordered)) - 1]
        low, high = _money(Decimal(str(ordered[0]))), _money(Decimal(str(pick)))
        return EstimateLine(str(year), None, low, low, high, high)
    amount = figures.resident_medical_individual.value if figures else None
    if amount is None:
        return EstimateLine(str(year), None, None, None, None, None, [f"{year}年城乡居民基本医疗保险个人缴费标准"])
    text = _money(Decimal(str(amount)))
    return EstimateLine(str(year), None, text, text, text, text)


def estimate_scheme(record: SchemeRecord, as_of: dt.date, policy: ContributionPolicy,
                    chosen_tier: int | None = None) -> SchemeEstimate:
    """Months owed on one interrupted or lapsed scheme, the estimate line by line, and its totals.

    Months owed run from the month after 最近缴费月份 to the as_of month, inside the back-payment
    window. Employee schemes: per month at the lowest base and at 100 % of the average wage, at
    individual + employer rates when the record names a unit, else at the flexible-employment rate.
    Resident schemes: per year at the lowest and the chosen tier (default the highest).
    """
    as_of_month = month_index(as_of.year, as_of.month)
    last = parse_period(record.last_paid)
    resident = record.scheme in (RESIDENT_PENSION, RESIDENT_MEDICAL)
    payer = "城乡居民个人" if resident else ("单位+个人" if record.employer else "灵活就业")
    notes: list[str] = []
    if last is None:
        return SchemeEstimate(record.scheme, record.state, record.record_key, record.last_paid, payer, None, 0, 0, [],
                              "0.00", "0.00", False, False, [_missing_text("最近缴费月份 (last paid month)")], notes)
    first_owed = last + 1
    window = policy.back_payment_window_months.value
    earliest = first_owed if window is None else max(first_owed, as_of_month - window + 1)
    months = list(range(earliest, as_of_month + 1))
    beyond = max(0, min(earliest, as_of_month + 1) - first_owed)
    if window is None:
        notes.append("补缴期限未配置：按最近缴费月份之后的全部月份测算 (no back-payment window set: every month counted)")
    elif beyond:
        notes.append(f"超出补缴期限 {beyond} 个月未计入 ({beyond} months beyond the {window}-month window not counted)")
    if resident:
        lines = [_resident_line(record.scheme, year, policy, chosen_tier) for year in sorted({m // 12 for m in months})]
    else:
        lines = [_employee_line(record.scheme, m, bool(record.employer), policy) for m in months]
        late_fee = policy.late_fee_daily.value
        if record.employer and late_fee is not None:
            notes.append(f"单位欠缴另加收滞纳金：每日 {late_fee:.2%}，未计入 (employer late fee {late_fee:.2%} a day, "
                         "not included)")
    missing = sorted({m for line in lines for m in line.missing})
    return SchemeEstimate(
        scheme=record.scheme, state=record.state, record_key=record.record_key, last_paid=record.last_paid,
        payer=payer, first_month_owed=month_text(first_owed) if first_owed <= as_of_month else None,
        months_owed=len(months), months_beyond_window=beyond, lines=lines,
        total_low=_money(sum((Decimal(l.amount_low) for l in lines if l.amount_low is not None), Decimal(0))),
        total_high=_money(sum((Decimal(l.amount_high) for l in lines if l.amount_high is not None), Decimal(0))),
        complete_low=all(l.amount_low is not None for l in lines),
        complete_high=all(l.amount_high is not None for l in lines),
        missing=[_missing_text(m) for m in missing], notes=notes,
    )


def estimate_arrears(schemes: list[SchemeRecord], as_of: dt.date, policy: ContributionPolicy,
                     chosen_tier: int | None = None) -> ArrearsEstimate:
    """A person's back-payment estimate over every interrupted or lapsed pension and medical scheme."""
    parts = [estimate_scheme(r, as_of, policy, chosen_tier) for r in owed_schemes(schemes)]
    return ArrearsEstimate(
        as_of_month=month_text(month_index(as_of.year, as_of.month)), schemes=parts,
        total_low=_money(sum((Decimal(p.total_low) for p in parts), Decimal(0))),
        total_high=_money(sum((Decimal(p.total_high) for p in parts), Decimal(0))),
        complete_low=all(p.complete_low for p in parts), complete_high=all(p.complete_high for p in parts),
        missing=sorted({m for p in parts for m in p.missing}),
    )


# ── Many persons (the survey list, the report) ─────────────────────────────────────────

ARREARS_COLUMNS = ("person_id", "scheme", "state", "payer", "last_paid", "months_owed", "months_beyond_window",
                   "total_low", "total_high", "complete_low", "complete_high", "missing")


def arrears_rows(records: pd.DataFrame, person_ids: pd.Index | list[str], as_of: dt.date,
                 policy: ContributionPolicy) -> pd.DataFrame:
    """One row per owed scheme of the given persons (ARREARS_COLUMNS), from their si_enrolment records.

    Every row is ``estimate_arrears`` of that person: the owed records are chosen as ``owed_schemes``
    chooses them, by column operations (no loop over persons), and each distinct (scheme, state,
    payer, last paid month) is estimated once by ``estimate_scheme``. Rows by person, pension first.
    """
    wanted = (records["source"] == "si_enrolment").to_numpy() & records["person_id"].isin(set(person_ids)).to_numpy()
    owed = _owed_records(records.loc[wanted])
    keys = owed[["scheme", "state", "with_employer", "last_paid"]].drop_duplicates()
    parts = [estimate_scheme(SchemeRecord(k.scheme, k.state, "单位" if k.with_employer else None, None, k.last_paid, ""),
                             as_of, policy) for k in keys.itertuples(index=False)]
    figures = keys.assign(
        payer=[p.payer for p in parts], months_owed=[p.months_owed for p in parts],
        months_beyond_window=[p.months_beyond_window for p in parts],
        total_low=[float(p.total_low) for p in parts], total_high=[float(p.total_high) for p in parts],
        complete_low=[p.complete_low for p in parts], complete_high=[p.complete_high for p in parts],
        missing=["；".join(p.missing) for p in parts])
    rows = owed.merge(figures, on=["scheme", "state", "with_employer", "last_paid"], how="left", sort=False)
    return rows.astype({"months_owed": "int64", "months_beyond_window": "int64", "total_low": "float64",
                        "total_high": "float64", "complete_low": bool, "complete_high": bool})[list(ARREARS_COLUMNS)]


def _texts(column: pd.Series) -> pd.Series:
    """``_text`` of every value (object dtype, None when empty), computed once per distinct value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = np.array([None] + [_text(u) for u in uniques], dtype=object)
    return pd.Series(texts[codes + 1], index=column.index, dtype=object)


def _owed_records(enrolments: pd.DataFrame) -> pd.DataFrame:
    """Per person, ``owed_schemes`` of its si_enrolment records, as columns: person_id, scheme, state,
    with_employer, last_paid (the record's text, None when empty).

    Same choice as owed_schemes: a pension or medical family with a 正常参保 record owes nothing; else
    its interrupted or lapsed record paid latest (暂停缴费 before 终止参保), ties in scheme_records'
    order (scheme order, then record key).
    """
    def column(name: str) -> pd.Series:
        if name in enrolments.columns:
            return _texts(enrolments[name])
        return pd.Series([None] * len(enrolments), index=enrolments.index, dtype=object)

    frame = pd.DataFrame({
        "person_id": enrolments["person_id"].to_numpy(),
        "record_key": enrolments["record_key"].astype(str).to_numpy(),
        "scheme": column("insurance_type").fillna("未知险种").to_numpy(),
        "state": column("enrolment_status").fillna("未知").to_numpy(),
        "with_employer": column("employer_name").notna().to_numpy(),
        "last_paid": column("last_payment_period").to_numpy(),
    })
    family = {**{s: 0 for s in PENSION_SCHEMES}, **{s: 1 for s in MEDICAL_SCHEMES}}
    frame["family"] = frame["scheme"].map(family)
    frame = frame[frame["family"].notna()].astype({"family": "int64"})
    paid = pd.factorize(frame["last_paid"])
    months = np.array([parse_period(u) for u in paid[1]] + [None], dtype=object)[paid[0]]
    frame["paid_key"] = np.array([m or -1 for m in months], dtype="int64")   # as owed_schemes: `or -1`
    frame["suspended"] = (frame["state"] == SUSPENDED).to_numpy()
    frame["scheme_order"] = frame["scheme"].map({s: i for i, s in enumerate(SCHEMES)}).astype("int64")
    normal = frame.assign(normal=frame["state"] == NORMAL).groupby(["person_id", "family"])["normal"].transform("any")
    owing = frame[~normal.to_numpy() & frame["state"].isin(OWING_STATES).to_numpy()]
    chosen = owing.sort_values(["person_id", "family", "paid_key", "suspended", "scheme_order", "record_key"],
                               ascending=[True, True, False, False, True, True], kind="stable")
    chosen = chosen.drop_duplicates(["person_id", "family"], keep="first")
    return chosen[["person_id", "scheme", "state", "with_employer", "last_paid"]].reset_index(drop=True)


# ── The survey team's list for art. 26 (`canbao arrears`) ─────────────────────────────

ARREARS_LIST_HEADERS: dict[str, str] = {
    "district_code": "区代码", "district_name": "区", "street": "街道（镇）", "community": "社区（村）",
    "person_id": "人员编号", "name": "姓名", "gender": "性别", "id_number": "身份证号（脱敏）",
    "address": "地址", "phone": "联系电话（脱敏）", "flags": "标记", "scheme": "险种", "state": "参保状态",
    "payer": "缴费方式", "last_paid": "最近缴费月份", "months_owed": "欠缴月数", "months_beyond_window": "超出补缴期限月数",
    "total_low": "测算补缴额（最低基数/档次，元）", "total_high": "测算补缴额（平均工资/所选档次，元）",
    "complete": "测算完整", "missing": "缺少的参数",
}
ARREARS_FLAGS = ("INTERRUPTED", "LAPSED")


def build_arrears_list(persons: pd.DataFrame, records: pd.DataFrame, area: Any, as_of: dt.date,
                       policy: ContributionPolicy, flag_labels: dict[str, str],
                       district_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Rows (ARREARS_LIST_HEADERS keys) of the area's interrupted and lapsed persons, one per owed scheme.

    Masked like the work list (resolver/worklist.py); the amounts are ``estimate_arrears``'s.
    """
    from resolver.worklist import _identity_columns, dispatch_addresses

    flags = persons["flags"].fillna("").astype(str).str.split("|")
    owing = flags.map(lambda f: any(code in f for code in ARREARS_FLAGS)).to_numpy(dtype=bool)
    targets = persons[owing & area.contains(persons)].reset_index(drop=True)
    own = records[records["person_id"].isin(targets["person_id"])]
    identity = _identity_columns(targets, own, flag_labels)
    identity["district_code"] = targets["district_code"].to_numpy()
    identity["district_name"] = targets["district_code"].map(district_names or {}).to_numpy()
    identity["street"] = targets["street"].to_numpy()
    identity["community"] = targets["community"].to_numpy()
    identity["address"] = dispatch_addresses(targets, own).to_numpy()
    owed = arrears_rows(own, targets["person_id"], as_of, policy)
    rows = identity.merge(owed, on="person_id", how="inner")
    rows["complete"] = np.where(rows["complete_low"] & rows["complete_high"], "是", "否")
    rows = rows[list(ARREARS_LIST_HEADERS)]
    return rows.sort_values(["street", "community", "address", "person_id", "scheme"], na_position="last",
                            kind="stable").reset_index(drop=True)
