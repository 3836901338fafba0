"""Enrolment status and flags of each person, by the policy rules in config/status_rules.yaml.

Pure and vectorised: a frame of linked records (one row per record, with ``person_id``)
goes in, one row per person comes out with its status, flags and provenance — the
rule and the record keys that decided each (shared/spec/status-rules.md).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from resolver.configfile import config_text, parse_yaml, validate
from resolver.errors import ConfigError
from resolver.schema import SOURCES, TRUSTED_ID_STATUSES

STATUS_ORDER: tuple[str, ...] = (
    "DECEASED",
    "EXEMPT_PRISONER",
    "ENROLLED",
    "OUT_OF_SCOPE",
    "INSURED_ELSEWHERE",
    "UNENROLLED",
)
FLAG_ORDER: tuple[str, ...] = (
    "INTERRUPTED",
    "TAXPAYER",
    "EMPLOYED",
    "LOW_INCOME",
    "STUDENT",
    "PERMIT_HOLDER",
    "SURVEYED",
    "CONFLICT",
)


class FieldTest(BaseModel):
    """Tests on one field of a record; all given tests must hold."""

    model_config = ConfigDict(extra="forbid")
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    is_: bool | None = Field(default=None, alias="is")
    on_or_before_as_of: bool | None = None
    on_or_after_as_of: bool | None = None
    within_months_before_as_of: int | None = Field(default=None, ge=1, le=120)


class RecordMatcher(BaseModel):
    """Records of one source, optionally narrowed by field tests."""

    model_config = ConfigDict(extra="forbid")
    source: str
    where: dict[str, FieldTest] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_source(self) -> "RecordMatcher":
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; known: {', '.join(SOURCES)}")
        return self


class Rule(BaseModel):
    """A status or flag: a condition over a person's records, with its label and article."""

    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    flag: str | None = None
    label: str
    article: str
    any_record: list[RecordMatcher] | None = None
    no_record: list[RecordMatcher] | None = None
    always: bool | None = None
    only_for_status: list[str] | None = None
    record_after_death: list[str] | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> "Rule":
        given = [c for c in ("any_record", "no_record", "always", "record_after_death") if getattr(self, c)]
        if len(given) != 1:
            raise ValueError("needs exactly one of any_record, no_record, always, record_after_death")
        return self

    @property
    def name(self) -> str:
        return self.status or self.flag or "?"


class StatusRules(BaseModel):
    """The whole rule file: statuses in precedence order, then flags."""

    model_config = ConfigDict(extra="forbid")
    statuses: list[Rule]
    flags: list[Rule]

    @model_validator(mode="after")
    def _complete(self) -> "StatusRules":
        names = [r.status for r in self.statuses]
        if sorted(n for n in names if n) != sorted(STATUS_ORDER) or len(names) != len(STATUS_ORDER):
            raise ValueError(f"statuses must be exactly {', '.join(STATUS_ORDER)} (each once), got {names}")
        if not self.statuses[-1].always:
            raise ValueError("the last status must have `always: true` so that every person gets one")
        for rule in self.flags:
            if rule.flag not in FLAG_ORDER:
                raise ValueError(f"unknown flag {rule.flag!r}; known: {', '.join(FLAG_ORDER)}")
            for status in rule.only_for_status or []:
                if status not in STATUS_ORDER:
                    raise ValueError(f"flag {rule.flag}: only_for_status names unknown status {status!r}")
        return self


DEFAULT_RULES_FILE = "status_rules.yaml"


def load_status_rules(path: Path | None = None) -> StatusRules:
    """Read and validate the status rules; errors name the file and the offending key."""
    text, origin = config_text(path, DEFAULT_RULES_FILE)
    return validate(StatusRules, parse_yaml(text, origin), origin, "状态规则配置有误 (invalid status rules)")


@dataclass(frozen=True)
class _Context:
    as_of: pd.Timestamp
    as_of_month: int  # year * 12 + month - 1


def _month_index(periods: pd.Series) -> pd.Series:
    """YYYYMM strings (or dates) → year*12+month-1 as float (NaN when absent)."""
    if pd.api.types.is_datetime64_any_dtype(periods):
        return (periods.dt.year * 12 + periods.dt.month - 1).astype(float)
    text = periods.astype("string")
    year = pd.to_numeric(text.str.slice(0, 4), errors="coerce")
    month = pd.to_numeric(text.str.slice(4, 6), errors="coerce")
    return (year * 12 + month - 1).astype(float)


def _field_mask(values: pd.Series, test: FieldTest, context: _Context) -> np.ndarray:
    mask = np.ones(len(values), dtype=bool)
    if test.in_ is not None:
        mask &= values.isin(test.in_).to_numpy()
    if test.not_in is not None:
        mask &= (values.notna() & ~values.isin(test.not_in)).to_numpy()
    if test.is_ is not None:
        mask &= values.map(lambda v: v is test.is_ or v == test.is_ if pd.notna(v) else False).to_numpy(dtype=bool)
    if test.on_or_before_as_of:
        mask &= (pd.to_datetime(values, errors="coerce") <= context.as_of).to_numpy()
    if test.on_or_after_as_of:
        mask &= (pd.to_datetime(values, errors="coerce") >= context.as_of).to_numpy()
    if test.within_months_before_as_of is not None:
        months = _month_index(values)
        earliest = context.as_of_month - (test.within_months_before_as_of - 1)
        mask &= ((months >= earliest) & (months <= context.as_of_month)).to_numpy()
    return mask


def _matcher_mask(records: pd.DataFrame, matcher: RecordMatcher, context: _Context) -> np.ndarray:
    mask = (records["source"] == matcher.source).to_numpy()
    for field, test in matcher.where.items():
        if field not in records.columns:
            raise ConfigError(
                f"状态规则引用了不存在的字段 (status rule uses unknown field) {field!r} for source {matcher.source}"
            )
        mask &= _field_mask(records[field], test, context)
    return mask


def _rule_mask(records: pd.DataFrame, rule: Rule, context: _Context) -> np.ndarray:
    """Records that fit any matcher of the rule (for any_record/no_record rules)."""
    matchers = rule.any_record or rule.no_record or []
    mask = np.zeros(len(records), dtype=bool)
    for matcher in matchers:
        mask |= _matcher_mask(records, matcher, context)
    return mask


def _keys_by_person(records: pd.DataFrame, mask: np.ndarray) -> pd.Series:
    """'|'-joined record keys of the masked records, per person."""
    picked = records.loc[mask, ["person_id", "record_key"]]
    if picked.empty:
        return pd.Series(dtype=object)
    codes, persons = pd.factorize(picked["person_id"])
    order = np.argsort(codes, kind="stable")  # records keep their input order inside a person
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    keys = picked["record_key"].to_numpy(dtype=object)[order] + "|"
    # String concatenation per person in C (np.add on objects), not a Python join per group.
    joined = np.add.reduceat(keys, starts)
    return pd.Series([text[:-1] for text in joined], index=pd.Index(persons[codes[starts]], name="person_id"),
                     dtype=object)


def _records_after_death(records: pd.DataFrame, date_fields: list[str]) -> np.ndarray:
    """Records dated after the person's recorded death: a contradiction for a steward."""
    deaths = records.loc[records["source"] == "civil_funeral"].groupby("person_id")["death_date"].min()
    if deaths.empty:
        return np.zeros(len(records), dtype=bool)
    death_of_person = records["person_id"].map(deaths)
    mask = np.zeros(len(records), dtype=bool)
    for field in date_fields:
        if field in records.columns:
            later = pd.to_datetime(records[field], errors="coerce") > pd.to_datetime(death_of_person)
            mask |= later.to_numpy(dtype=bool)
    return mask


def _conflicting_id_persons(records: pd.DataFrame) -> pd.Series:
    """Persons whose cluster holds two different trusted 18-digit ID numbers → their record keys."""
    trusted = records["id_status"].isin(TRUSTED_ID_STATUSES) & records["id_number"].notna()
    picked = records.loc[trusted, ["person_id", "id_number", "record_key"]]
    distinct = picked.groupby("person_id")["id_number"].nunique()
    persons = distinct.index[distinct > 1]
    mask = trusted.to_numpy() & records["person_id"].isin(persons).to_numpy()
    return _keys_by_person(records, mask)


REQUIRED_COLUMNS: tuple[str, ...] = ("person_id", "source", "record_key")


def assign_statuses(
    records: pd.DataFrame,
    as_of: dt.date,
    rules: StatusRules | None = None,
    flagged_conflicts: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per person: status, flags ('|'-joined in spec order) and their provenance.

    ``flagged_conflicts`` maps person_id → reason for clusters the resolver split or
    could not settle; they get the CONFLICT flag whatever the records say.
    Output columns: status, status_label, status_rule, status_records, flags,
    flag_records (JSON-like dict flag → record keys), unenrolled_reason.
    """
    rules = rules or load_status_rules()
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"assign_statuses needs columns {missing}")
    records = records.reset_index(drop=True)
    for column in ("id_status", "id_number", "death_date", "survey_date", "unenrolled_reason"):
        if column not in records.columns:
            records[column] = None
    as_of_ts = pd.Timestamp(as_of)
    context = _Context(as_of=as_of_ts, as_of_month=as_of_ts.year * 12 + as_of_ts.month - 1)
    persons = pd.Index(pd.unique(records["person_id"]), name="person_id")

    status = pd.Series(pd.NA, index=persons, dtype=object)
    status_label = pd.Series(pd.NA, index=persons, dtype=object)
    status_rule = pd.Series(pd.NA, index=persons, dtype=object)
    status_records = pd.Series("", index=persons, dtype=object)
    for rule in rules.statuses:
        undecided = status.isna()
        if rule.always:
            holds = undecided
            keys = pd.Series(dtype=object)
        else:
            mask = _rule_mask(records, rule, context)
            keys = _keys_by_person(records, mask)
            has = pd.Series(persons.isin(keys.index), index=persons)
            holds = undecided & (has if rule.any_record else ~has)
            if rule.no_record:
                # Provenance of an absence: the records of those sources that did not qualify.
                sources = {m.source for m in rule.no_record}
                keys = _keys_by_person(records, records["source"].isin(sources).to_numpy())
        status[holds] = rule.status
        status_label[holds] = rule.label
        status_rule[holds] = f"{rule.status} ({rule.label}, {rule.article})"
        status_records[holds] = keys.reindex(persons[holds.to_numpy()]).fillna("").to_numpy()

    flag_keys: dict[str, pd.Series] = {}
    for rule in rules.flags:
        if rule.record_after_death:
            keys = _keys_by_person(records, _records_after_death(records, rule.record_after_death))
        else:
            keys = _keys_by_person(records, _rule_mask(records, rule, context))
            if rule.no_record:
                sources = {m.source for m in rule.no_record}
                candidates = _keys_by_person(records, records["source"].isin(sources).to_numpy())
                keys = candidates[~candidates.index.isin(keys.index)]
        if rule.only_for_status:
            allowed = status.index[status.isin(rule.only_for_status)]
            keys = keys[keys.index.isin(allowed)]
        flag_keys[rule.flag] = keys

    conflicts = _conflicting_id_persons(records)
    extra = pd.Series(flagged_conflicts or {}, dtype=object)
    extra = extra[extra.index.isin(persons)].map(lambda reason: f"resolver:{reason}")
    conflict_keys = flag_keys.get("CONFLICT", pd.Series(dtype=object))
    flag_keys["CONFLICT"] = (
        pd.concat([conflict_keys, conflicts, extra]).groupby(level=0).agg(lambda v: "|".join(x for x in v if x))
    )

    flags = pd.Series("", index=persons, dtype=object)
    flag_records = pd.Series([{} for _ in range(len(persons))], index=persons, dtype=object)
    for flag in FLAG_ORDER:
        keys = flag_keys.get(flag)
        if keys is None or keys.empty:
            continue
        keys = keys[keys.index.isin(persons)]
        holders = keys.index
        flags[holders] = flags[holders].map(lambda f, flag=flag: f"{f}|{flag}" if f else flag)
        for person, value in keys.items():
            flag_records[person][flag] = value

    surveys = records.loc[records["source"] == "survey", ["person_id", "survey_date", "unenrolled_reason"]]
    latest_reason = (
        surveys.sort_values("survey_date", na_position="first").groupby("person_id")["unenrolled_reason"].last()
        if not surveys.empty
        else pd.Series(dtype=object)
    )
    return pd.DataFrame(
        {
            "status": status,
            "status_label": status_label,
            "status_rule": status_rule,
            "status_records": status_records,
            "flags": flags,
            "flag_records": flag_records,
            "unenrolled_reason": latest_reason.reindex(persons),
        },
        index=persons,
    )


def status_labels(rules: StatusRules | None = None) -> dict[str, str]:
    """Status and flag code → Chinese label, for reports and the API."""
    rules = rules or load_status_rules()
    return {r.name: r.label for r in [*rules.statuses, *rules.flags]}


def describe_rules(rules: StatusRules | None = None) -> list[dict[str, Any]]:
    """The rules as plain dicts (for `canbao explain` and the API)."""
    rules = rules or load_status_rules()
    return [r.model_dump(by_alias=True, exclude_none=True) for r in [*rules.statuses, *rules.flags]]

