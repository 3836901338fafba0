"""Why a person has its status and flags, and why its records were joined: `canbao explain PERSON_ID`.

Gathers the rule and deciding records of the status and of each flag (persons.parquet
provenance), the dispatch place, and every linked record with its link method and
probability; a probabilistic link also shows the waterfall of its scored pairs
(resolver/explain.py over the resolver state's edges and model). Printed in Chinese.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resolver.arrears import ArrearsEstimate, ContributionPolicy, SchemeRecord, estimate_arrears, scheme_records
from resolver.errors import InputError
from resolver.explain import explain_levels
from resolver.mapping import SourceMapping
from resolver.scoring import FSModel
from resolver.standardise.id_number import mask_id_number
from resolver.status import StatusRules

if TYPE_CHECKING:
    from resolver.pipeline import StoreLayout

RESOLVER_NOTE = "resolver:"
LINK_METHODS: dict[str, str] = {
    "id_number": "身份证号一致（确定性链接）",
    "probabilistic": "概率匹配",
    "singleton": "单独成人（无其他记录）",
    "steward": "数据管理员确认",
}
FIELD_LABELS: dict[str, str] = {
    "id_number": "身份证号", "name": "姓名", "birth_date": "出生日期", "gender": "性别", "phone": "电话",
    "address": "地址", "employer": "单位",
}
# The facts a status or flag rule looks at, per source: shown beside each deciding record.
SOURCE_FACTS: dict[str, tuple[str, ...]] = {
    "police_resident": ("household_address", "residence_address"),
    "police_permit": ("permit_valid_until",),
    "civil_assistance": ("assistance_category", "assistance_date"),
    "civil_funeral": ("death_date",),
    "tax_iit": ("tax_period", "employer_name"),
    "edu_student": ("school_name", "school_stage"),
    "prison_inmate": ("prison_entry_date", "prison_release_date"),
    "housing_fund": ("fund_status", "employer_name"),
    "hr_labour": ("hr_business_type", "employer_name"),
    "hr_foreign": ("employer_name", "permit_valid_until"),
    "si_enrolment": ("insurance_type", "enrolment_status", "last_payment_period"),
    "national_insured": ("insured_province_name", "national_status"),
    "survey": ("survey_date", "unenrolled_reason", "insurance_type"),
}
MAX_WATERFALLS = 2  # per probabilistic record: its strongest scored pairs inside the person


@dataclass(frozen=True)
class RecordFacts:
    """One linked record as evidence: where it comes from, what it says, how it was linked."""

    record_key: str
    department: str
    facts: tuple[tuple[str, str], ...]   # (Chinese header, value)
    link_method: str | None
    match_probability: float | None
    waterfalls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (other record key, explain_levels entry)


@dataclass(frozen=True)
class RuleEvidence:
    """A status or flag, the rule that decided it and the records (or resolver notes) behind it."""

    code: str
    label: str
    rule: str
    records: tuple[str, ...]
    notes: tuple[str, ...] = ()
    empty_note: str = ""   # why no record is listed (a rule that holds by absence, or the catch-all)


@dataclass(frozen=True)
class PersonExplanation:
    """Everything `canbao explain` prints about one person."""

    person_id: str
    name: str | None
    id_number: str | None
    status: RuleEvidence
    flags: tuple[RuleEvidence, ...]
    place: tuple[str | None, str | None, str | None]
    address_record: str | None
    dispatch_reason: str | None
    records: tuple[RecordFacts, ...]
    schemes: tuple[SchemeRecord, ...] = ()        # si_enrolment: scheme, state, first enrolment, last paid
    arrears: ArrearsEstimate | None = None        # back-payment estimate, when a pension/medical scheme is owed


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _split_keys(joined: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'a|b|resolver:why' → record keys (a, b) and resolver notes (why,)."""
    items = [item for item in (_text(joined) or "").split("|") if item]
    keys = tuple(i for i in items if not i.startswith(RESOLVER_NOTE))
    notes = tuple(i[len(RESOLVER_NOTE):] for i in items if i.startswith(RESOLVER_NOTE))
    return keys, notes


def _record_facts(record: pd.Series, mapping: SourceMapping | None) -> tuple[tuple[str, str], ...]:
    facts = []
    for field in SOURCE_FACTS.get(record["source"], ()):
        column = f"{field}_raw" if field.endswith("_address") else field
        value = _text(record.get(column))
        if value is not None:
            header = (mapping.header_of(field) if mapping else None) or field
            facts.append((header, value))
    return tuple(facts)


def _waterfalls(key: str, own_keys: set[str], edges: pd.DataFrame,
                model: FSModel | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    if model is None or edges.empty:
        return ()
    touching = edges[((edges["record_key_l"] == key) & edges["record_key_r"].isin(own_keys))
                     | ((edges["record_key_r"] == key) & edges["record_key_l"].isin(own_keys))]
    strongest = touching.sort_values("match_weight", ascending=False).head(MAX_WATERFALLS)
    if strongest.empty:
        return ()
    names = strongest["name_frequency"].to_numpy(dtype=float) if "name_frequency" in strongest else None
    explanations = explain_levels(model, strongest[list(model.fields)].reset_index(drop=True), names)
    others = np.where(strongest["record_key_l"] == key, strongest["record_key_r"], strongest["record_key_l"])
    return tuple(zip(others.tolist(), explanations))


def _empty_note(rule: Any) -> str:
    if rule is None:
        return ""
    if rule.always:
        return "前列状态规则均不成立 (no earlier status rule applied)"
    if rule.no_record:
        sources = "、".join(m.source for m in rule.no_record)
        return f"规则因缺少符合条件的记录而成立 (holds because no qualifying record of {sources})"
    return ""


def explain_person(person: pd.Series, records: pd.DataFrame, edges: pd.DataFrame, model: FSModel | None,
                   rules: StatusRules, mappings: dict[str, SourceMapping], as_of: dt.date | None = None,
                   policy: ContributionPolicy | None = None) -> PersonExplanation:
    """The explanation of one person (a persons.parquet row) from its linked records (pure).

    With ``as_of`` and ``policy`` it also carries the back-payment estimate of arrears.py.
    """
    status_keys, _ = _split_keys(person.get("status_records"))
    status_rule = next((rule for rule in rules.statuses if rule.status == person["status"]), None)
    status = RuleEvidence(code=person["status"], label=_text(person.get("status_label")) or person["status"],
                          rule=_text(person.get("status_rule")) or "", records=status_keys,
                          empty_note=_empty_note(status_rule))
    flag_records = person.get("flag_records")
    decided = json.loads(flag_records) if isinstance(flag_records, str) else dict(flag_records or {})
    flag_rules = {rule.flag: rule for rule in rules.flags}
    flags = []
    for code in (_text(person.get("flags")) or "").split("|"):
        if not code:
            continue
        keys, notes = _split_keys(decided.get(code))
        rule = flag_rules.get(code)
        flags.append(RuleEvidence(code=code, label=rule.label if rule else code,
                                  rule=f"{code} ({rule.label}, {rule.article})" if rule else code,
                                  records=keys, notes=notes))
    own = records[records["person_id"] == person["person_id"]].sort_values(["source", "record_key"])
    own_keys = set(own["record_key"])
    evidence = []
    for _, record in own.iterrows():
        mapping = mappings.get(record["source"])
        probability = record.get("match_probability")
        method = _text(record.get("link_method"))
        evidence.append(RecordFacts(
            record_key=record["record_key"], department=mapping.department if mapping else record["source"],
            facts=_record_facts(record, mapping), link_method=method,
            match_probability=None if pd.isna(probability) else float(probability),
            waterfalls=_waterfalls(record["record_key"], own_keys, edges, model) if method == "probabilistic" else (),
        ))
    schemes = tuple(scheme_records(own))
    estimate = estimate_arrears(list(schemes), as_of, policy) if as_of is not None and policy is not None else None
    return PersonExplanation(
        schemes=schemes, arrears=estimate if estimate is not None and estimate.schemes else None,
        person_id=person["person_id"], name=_text(person.get("name")), id_number=_text(person.get("id_number")),
        status=status, flags=tuple(flags),
        place=(_text(person.get("district_code")), _text(person.get("street")), _text(person.get("community"))),
        address_record=_text(person.get("address_record")), dispatch_reason=_text(person.get("dispatch_reason")),
        records=tuple(evidence),
    )


def load_person_explanation(layout: StoreLayout, person_id: str) -> PersonExplanation:
    """Read what the store's last run left and explain one person; the error names the store."""
    from resolver.arrears import load_contribution_policy
    from resolver.mapping import load_mappings
    from resolver.runs import latest_run, load_linked_records, load_persons
    from resolver.state import load_model
    from resolver.status import load_status_rules

    persons = load_persons(layout)
    found = persons[persons["person_id"] == person_id]
    if found.empty:
        raise InputError(f"{layout.work_dir}: 库中没有人员 (no person) {person_id!r}; "
                         f"查找人员编号 (find ids) with `canbao query` or the work list")
    records = load_linked_records(layout)
    edges_file = layout.state_dir / "edges.parquet"
    edges = pd.read_parquet(edges_file) if edges_file.is_file() else pd.DataFrame()
    model_file = layout.state_dir / "model.json"
    model = load_model(model_file) if model_file.is_file() else None
    return explain_person(found.iloc[0], records[records["person_id"] == person_id], edges, model,
                          load_status_rules(), load_mappings(), latest_run(layout).as_of, load_contribution_policy())


def _waterfall_line(other: str, explanation: dict[str, Any]) -> str:
    steps = [f"先验 prior {explanation['prior_weight']:+.1f}"]
    steps += [f"{FIELD_LABELS.get(s['field'], s['field'])} {s['level']} {s['weight']:+.1f}"
              for s in explanation["fields"]]
    return (f"与 with {other}: " + " | ".join(steps)
            + f" = {explanation['match_weight']:.1f} bits → 概率 p={explanation['match_probability']:.5f}")


def format_explanation(explanation: PersonExplanation, district_names: dict[str, str], full_id: bool = False) -> str:
    """The explanation as the terminal shows it (Chinese, with the codes in English)."""
    shown_id = explanation.id_number if full_id else mask_id_number(explanation.id_number)
    facts = {record.record_key: record for record in explanation.records}
    lines = [f"人员 person {explanation.person_id}  姓名 {explanation.name or '（无）'}  "
             f"身份证号 {shown_id or '（无有效身份证号 no valid ID）'}", ""]
    status = explanation.status
    lines += [f"状态 status: {status.label} [{status.code}]", f"  规则 rule: {status.rule}"]
    lines += _evidence_lines(status.records, facts, f"无 none — {status.empty_note}" if status.empty_note else "无 none")
    lines += ["", "标记 flags:" + ("" if explanation.flags else " 无 none")]
    for flag in explanation.flags:
        lines.append(f"  {flag.label} [{flag.code}]  规则 rule: {flag.rule}")
        lines += [f"    解析器说明 resolver: {note}" for note in flag.notes]
        lines += _evidence_lines(flag.records, facts, "" if flag.notes else "无 none", indent="    ")
    district, street, community = explanation.place
    lines.append("")
    if district:
        place = " ".join(p for p in (district, district_names.get(district, ""), street, community) if p)
        lines.append(f"派发地 dispatch: {place}（地址来自 address from {explanation.address_record}）")
    else:
        lines.append(f"派发地 dispatch: 无法定位 UNPLACED — {explanation.dispatch_reason or ''}")
    lines += ["", *scheme_lines(explanation.schemes), *arrears_lines(explanation.arrears)]
    lines += ["", f"关联记录与匹配证据 linked records and match evidence ({len(explanation.records)} 条):"]
    for record in explanation.records:
        method = LINK_METHODS.get(record.link_method or "", record.link_method or "未知 unknown")
        probability = "" if record.match_probability is None else f"  概率 p={record.match_probability:.5f}"
        lines.append(f"  {record.record_key}  {record.department}  {method}{probability}")
        lines += [f"    {_waterfall_line(other, e)}" for other, e in record.waterfalls]
    return "\n".join(lines)


def _evidence_lines(keys: tuple[str, ...], facts: dict[str, RecordFacts], empty: str,
                    indent: str = "  ") -> list[str]:
    if not keys:
        return [f"{indent}依据记录 records: {empty}"] if empty else []
    lines = [f"{indent}依据记录 records:"]
    for key in keys:
        record = facts.get(key)
        detail = "  ".join(f"{header} {value}" for header, value in record.facts) if record else ""
        department = record.department if record else ""
        lines.append(f"{indent}- {key}  {department}  {detail}".rstrip())
    return lines


def scheme_lines(schemes: tuple[SchemeRecord, ...]) -> list[str]:
    """参保险种: one line per si_enrolment record (art. 7)."""
    lines = ["参保险种 schemes:" + ("" if schemes else " 无 none")]
    for r in schemes:
        lines.append(f"  {r.scheme}  {r.state}  首次参保 {r.first_enrolment or '—'}  最近缴费 {r.last_paid or '—'}"
                     f"{'  单位 ' + r.employer if r.employer else ''}  ({r.record_key})")
    return lines


def arrears_lines(estimate: ArrearsEstimate | None) -> list[str]:
    """补缴测算 (art. 26): per owed scheme the months and the estimate line by line, then the totals."""
    if estimate is None:
        return []
    lines = ["", f"补缴测算 back-payment estimate (截至 as of {estimate.as_of_month}):"]
    for part in estimate.schemes:
        lines.append(f"  {part.scheme} [{part.state}] 最近缴费 {part.last_paid or '—'}  缴费方式 {part.payer}  "
                     f"欠缴 {part.months_owed} 个月 months owed"
                     + (f"（超出补缴期限 {part.months_beyond_window} 个月）" if part.months_beyond_window else ""))
        for line in part.lines:
            rate = f" 费率 {line.rate}" if line.rate else ""
            lines.append(f"    {line.period}{rate}  最低 low {line.base_low or '—'} → {line.amount_low or '—'}  "
                         f"平均工资/所选档次 high {line.base_high or '—'} → {line.amount_high or '—'}")
        lines.append(f"    小计 subtotal: {_total(part.total_low, part.complete_low)} ~ "
                     f"{_total(part.total_high, part.complete_high)} 元")
        lines += [f"    注 note: {note}" for note in part.notes]
    lines.append(f"  合计 total: {_total(estimate.total_low, estimate.complete_low)} ~ "
                 f"{_total(estimate.total_high, estimate.complete_high)} 元")
    lines += [f"  {missing}" for missing in estimate.missing]
    return lines


def _total(amount: str, complete: bool) -> str:
    return amount if complete else f"≥{amount}（不完整 incomplete）"
