"""Enrolment status and flags of each person, by the policy rules in config/status_rules.yaml.

Pure and vectorised: a frame of linked records (one row per record, with ``person_id``)
goes in, one row per person comes out with its status, flags and provenance — the
rule and the record keys that decided each (shared/spec/status-rules.md).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cached_property
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
    "LAPSED",
    "NO_PENSION",
    "NO_MEDICAL",
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
    missing: bool | None = None


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
    # Narrowing of a flag to persons of an age on as_of (from their trusted resident ID numbers;
    # a person without one has no known age and is not flagged) and without exempting records.
    min_age_on_as_of: int | None = Field(default=None, ge=0, le=150)
    except_record: list[RecordMatcher] | None = None

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
        for rule in self.statuses:
            if rule.min_age_on_as_of is not None or rule.except_record:
                raise ValueError(f"status {rule.status}: min_age_on_as_of and except_record are for flags only")
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
    if test.missing is not None:
        mask &= (values.isna() == test.missing).to_numpy()
    if test.on_or_before_as_of:
        mask &= (pd.to_datetime(values, errors="coerce") <= context.as_of).to_numpy()
    if test.on_or_after_as_of:
        mask &= (pd.to_datetime(values, errors="coerce") >= context.as_of).to_numpy()
    if test.within_months_before_as_of is not None:
        months = _month_index(values)
        earliest = context.as_of_month - (test.within_months_before_as_of - 1)
        mask &= ((months >= earliest) & (months <= context.as_of_month)).to_numpy()
    return mask


@dataclass(frozen=True)
class PersonCodes:
    """Each record's person as a position in ``ids`` (persons in order of first appearance).

    Factorised once per run so every per-person step works on integers, not on a city's id strings.
    """

    codes: np.ndarray   # int64, one per record
    ids: pd.Index       # person ids, named person_id

    @classmethod
    def of(cls, person_id: pd.Series) -> "PersonCodes":
        codes, ids = pd.factorize(person_id, use_na_sentinel=False)
        return cls(codes=codes.astype(np.int64, copy=False), ids=pd.Index(ids, name="person_id"))

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def sorted_order(self) -> np.ndarray:
        """Positions of ``ids`` in ascending id order (the order of the persons frame)."""
        return np.argsort(self.ids.to_numpy(), kind="stable")


@dataclass(frozen=True)
class PersonKeys:
    """'|'-joined record keys per person: ``codes`` (ascending person positions) and the ``text`` of each."""

    codes: np.ndarray
    text: np.ndarray

    @classmethod
    def empty(cls) -> "PersonKeys":
        """No person, no keys."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))

    def __len__(self) -> int:
        return len(self.codes)

    def where(self, keep: np.ndarray) -> "PersonKeys":
        """Only the persons where ``keep`` (aligned with ``codes``) holds."""
        return PersonKeys(self.codes[keep], self.text[keep])


def take_column(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """Some rows of a record column, positionally, index 0..k-1 (only these rows are copied)."""
    return column.iloc[rows].reset_index(drop=True)


def join_per_person(codes: np.ndarray, text: np.ndarray) -> PersonKeys:
    """Texts joined with '|' per person code, in their given order within a person (C loops, no groupby)."""
    if not len(codes):
        return PersonKeys.empty()
    order = np.argsort(codes, kind="stable")
    codes, text = codes[order], text[order]
    first = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.flatnonzero(first)
    joined = np.add.reduceat(np.where(first, "", "|").astype(object) + text, starts)
    return PersonKeys(codes[starts], joined)


class _Records:
    """The columns of the linked records the rules read, with sources and persons as integer codes.

    Never copies the record frame: rules select rows first and only those rows of a field are read.
    """

    DEFAULTED = ("id_status", "id_number", "death_date", "survey_date", "unenrolled_reason", "insurance_type")

    def __init__(self, records: pd.DataFrame, persons: PersonCodes):
        self.frame = records
        self.persons = persons
        self.codes = persons.codes
        source_codes, sources = pd.factorize(records["source"])
        self._source_codes = source_codes
        self._sources = {name: i for i, name in enumerate(sources)}

    def has(self, field: str) -> bool:
        """Whether rules may read ``field`` (the defaulted ones read as null when absent)."""
        return field in self.frame.columns or field in self.DEFAULTED

    def column(self, field: str, rows: np.ndarray) -> pd.Series:
        """``field`` at ``rows`` (all None for a defaulted column the records lack)."""
        if field in self.frame.columns:
            return take_column(self.frame[field], rows)
        return pd.Series([None] * len(rows), dtype=object)

    def source_rows(self, sources: set[str] | str) -> np.ndarray:
        """Positions of the records of these sources, ascending."""
        names = {sources} if isinstance(sources, str) else sources
        wanted = [self._sources[s] for s in names if s in self._sources]
        if not wanted:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.isin(self._source_codes, wanted))

    def keys(self, rows: np.ndarray) -> PersonKeys:
        """'|'-joined record keys of ``rows`` per person, records in input order."""
        return join_per_person(self.codes[rows], self.column("record_key", rows).to_numpy(dtype=object))

    def persons_with(self, rows: np.ndarray) -> np.ndarray:
        """Per person: whether any of ``rows`` is theirs."""
        has = np.zeros(len(self.persons), dtype=bool)
        has[self.codes[rows]] = True
        return has


def _matcher_rows(records: _Records, matcher: RecordMatcher, context: _Context) -> np.ndarray:
    rows = records.source_rows(matcher.source)
    for field, test in matcher.where.items():
        if not records.has(field):
            raise ConfigError(
                f"状态规则引用了不存在的字段 (status rule uses unknown field) {field!r} for source {matcher.source}"
            )
        if len(rows):
            rows = rows[_field_mask(records.column(field, rows), test, context)]
    return rows


def _rule_rows(records: _Records, rule: Rule, context: _Context) -> np.ndarray:
    """Records (ascending positions) that fit any matcher of the rule (for any_record/no_record rules)."""
    parts = [_matcher_rows(records, matcher, context) for matcher in rule.any_record or rule.no_record or []]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _records_after_death(records: _Records, date_fields: list[str]) -> np.ndarray:
    """Records dated after the person's recorded death: a contradiction for a steward."""
    funerals = records.source_rows("civil_funeral")
    if not len(funerals):
        return np.zeros(0, dtype=np.int64)
    deaths = records.column("death_date", funerals).groupby(records.codes[funerals]).min()
    died = np.zeros(len(records.persons), dtype=bool)
    died[deaths.index.to_numpy()] = True
    rows = np.flatnonzero(died[records.codes])   # only the records of persons who died can be later
    death_of_row = pd.to_datetime(deaths.reindex(records.codes[rows]).reset_index(drop=True))
    later = np.zeros(len(rows), dtype=bool)
    for field in date_fields:
        if field in records.frame.columns:
            dated = pd.to_datetime(records.column(field, rows), errors="coerce")
            later |= (dated > death_of_row).to_numpy(dtype=bool)
    return rows[later]


def person_birth_dates(records: _Records) -> np.ndarray:
    """Per person, the birth date (YYYYMMDD as int, 0 when unknown) read from its trusted resident ID numbers.

    GB 11643 digits 7-14; the earliest date when a cluster holds two numbers.
    """
    born = np.zeros(len(records.persons), dtype=np.int64)
    if "id_status" not in records.frame.columns or "id_number" not in records.frame.columns:
        return born
    rows = np.flatnonzero(records.frame["id_status"].isin(TRUSTED_ID_STATUSES).to_numpy())
    if not len(rows):
        return born
    digits = pd.to_numeric(records.column("id_number", rows).astype("string").str.slice(6, 14), errors="coerce")
    known = digits.notna().to_numpy()
    dates = digits.to_numpy(dtype=float)[known].astype(np.int64)
    codes = records.codes[rows][known]
    earliest = np.full(len(records.persons), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, codes, dates)
    has = earliest != np.iinfo(np.int64).max
    born[has] = earliest[has]
    return born


def _aged_at_least(records: _Records, years: int, as_of: dt.date) -> np.ndarray:
    """Per person: born on or before as_of minus ``years`` years (unknown birth date: False)."""
    born = person_birth_dates(records)
    latest_birth = (as_of.year - years) * 10000 + as_of.month * 100 + as_of.day
    return (born > 0) & (born <= latest_birth)


def _conflicting_id_rows(records: _Records) -> np.ndarray:
    """Records with a trusted ID number of persons whose cluster holds two different ones."""
    if "id_status" not in records.frame.columns or "id_number" not in records.frame.columns:
        return np.zeros(0, dtype=np.int64)
    trusted = records.frame["id_status"].isin(TRUSTED_ID_STATUSES).to_numpy() & records.frame["id_number"].notna().to_numpy()
    rows = np.flatnonzero(trusted)
    numbers, _ = pd.factorize(records.column("id_number", rows))
    base = int(numbers.max(initial=0)) + 1
    pairs = np.unique(records.codes[rows] * base + numbers)   # distinct (person, ID number) pairs
    distinct = np.bincount(pairs // base, minlength=len(records.persons))
    return rows[distinct[records.codes[rows]] > 1]


REQUIRED_COLUMNS: tuple[str, ...] = ("person_id", "source", "record_key")


@dataclass
class StatusTable:
    """Statuses per person (``frame``, indexed by person id in first-appearance order) and each flag's keys."""

    frame: pd.DataFrame
    flag_keys: dict[str, PersonKeys]

    def flag_records_dicts(self) -> pd.Series:
        """flag → record keys per person, as dicts in spec order (assign_statuses' flag_records)."""
        out = [{} for _ in range(len(self.frame))]
        for flag in FLAG_ORDER:
            keys = self.flag_keys.get(flag)
            for code, text in zip(keys.codes.tolist(), keys.text.tolist()) if keys is not None else ():
                out[code][flag] = text
        return pd.Series(out, index=self.frame.index, dtype=object)

    def flag_records_json(self) -> np.ndarray:
        """The same as JSON text (what json.dumps(dict, ensure_ascii=False) gives), built column-wise."""
        body = np.full(len(self.frame), "", dtype=object)
        for flag in FLAG_ORDER:
            keys = self.flag_keys.get(flag)
            if keys is None or not len(keys):
                continue
            fragment = json.dumps(flag, ensure_ascii=False) + ": " + _json_strings(keys.text)
            current = body[keys.codes]
            body[keys.codes] = np.where(current == "", fragment, current + ", " + fragment)
        return "{" + body + "}"


_JSON_ESCAPED = r'["\\\x00-\x1f]'


def _json_strings(texts: np.ndarray) -> np.ndarray:
    """Texts as JSON string literals (ensure_ascii=False); only texts needing escapes go through json.dumps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    quoted = '"' + texts + '"'
    escaped = np.flatnonzero(pc.match_substring_regex(pa.array(texts, type=pa.string()), _JSON_ESCAPED)
                             .to_numpy(zero_copy_only=False))
    for i in escaped:
        quoted[i] = json.dumps(texts[i], ensure_ascii=False)
    return quoted


def status_table(
    records: pd.DataFrame,
    as_of: dt.date,
    rules: StatusRules | None = None,
    flagged_conflicts: dict[str, str] | None = None,
    persons: PersonCodes | None = None,
) -> StatusTable:
    """Statuses, flags and provenance of every person (assign_statuses without the per-person dicts).

    ``persons`` is the records' person factorisation when the caller already has one.
    """
    rules = rules or load_status_rules()
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"assign_statuses needs columns {missing}")
    persons = PersonCodes.of(records["person_id"]) if persons is None else persons
    view = _Records(records, persons)
    as_of_ts = pd.Timestamp(as_of)
    context = _Context(as_of=as_of_ts, as_of_month=as_of_ts.year * 12 + as_of_ts.month - 1)
    n = len(persons)

    status = np.full(n, pd.NA, dtype=object)
    status_label = np.full(n, pd.NA, dtype=object)
    status_rule = np.full(n, pd.NA, dtype=object)
    status_records = np.full(n, "", dtype=object)
    decided = np.zeros(n, dtype=bool)
    for rule in rules.statuses:
        if rule.always:
            holds = ~decided
            keys = PersonKeys.empty()
        else:
            rows = _rule_rows(view, rule, context)
            has = view.persons_with(rows)
            holds = ~decided & (has if rule.any_record else ~has)
            if rule.no_record:
                # Provenance of an absence: the records of those sources that did not qualify.
                rows = view.source_rows({m.source for m in rule.no_record})
            keys = view.keys(rows)
        status[holds] = rule.status
        status_label[holds] = rule.label
        status_rule[holds] = f"{rule.status} ({rule.label}, {rule.article})"
        chosen = keys.where(holds[keys.codes])
        status_records[chosen.codes] = chosen.text
        decided |= holds

    flag_keys: dict[str, PersonKeys] = {}
    for rule in rules.flags:
        if rule.record_after_death:
            keys = view.keys(_records_after_death(view, rule.record_after_death))
        else:
            rows = _rule_rows(view, rule, context)
            if rule.no_record:
                candidates = view.keys(view.source_rows({m.source for m in rule.no_record}))
                keys = candidates.where(~view.persons_with(rows)[candidates.codes])
            else:
                keys = view.keys(rows)
        if rule.only_for_status:
            allowed = pd.Series(status).isin(rule.only_for_status).to_numpy()
            keys = keys.where(allowed[keys.codes])
        if rule.min_age_on_as_of is not None:
            keys = keys.where(_aged_at_least(view, rule.min_age_on_as_of, as_of)[keys.codes])
        if rule.except_record:
            exempt = view.persons_with(np.unique(np.concatenate(
                [_matcher_rows(view, matcher, context) for matcher in rule.except_record])))
            keys = keys.where(~exempt[keys.codes])
        flag_keys[rule.flag] = keys

    flag_keys["CONFLICT"] = _conflict_keys(view, flag_keys.get("CONFLICT", PersonKeys.empty()), flagged_conflicts)

    flags = np.full(n, "", dtype=object)
    for flag in FLAG_ORDER:
        keys = flag_keys.get(flag)
        if keys is None or not len(keys):
            continue
        current = flags[keys.codes]
        flags[keys.codes] = np.where(current == "", flag, current + ("|" + flag))

    frame = pd.DataFrame(
        {
            "status": status,
            "status_label": status_label,
            "status_rule": status_rule,
            "status_records": status_records,
            "flags": flags,
            "unenrolled_reason": _latest_survey_reason(view).reindex(persons.ids).to_numpy(),
        },
        index=persons.ids,
    )
    return StatusTable(frame=frame, flag_keys=flag_keys)


def _conflict_keys(records: _Records, from_rules: PersonKeys, flagged: dict[str, str] | None) -> PersonKeys:
    """CONFLICT provenance: the rules' keys, then records with clashing ID numbers, then the resolver's reasons."""
    id_clash = records.keys(_conflicting_id_rows(records))
    extra = pd.Series(flagged or {}, dtype=object)
    positions = records.persons.ids.get_indexer(extra.index) if len(extra) else np.zeros(0, dtype=np.int64)
    known = positions >= 0
    reasons = np.array([f"resolver:{reason}" for reason in extra.to_numpy()[known]], dtype=object)
    codes = np.concatenate([from_rules.codes, id_clash.codes, positions[known]]).astype(np.int64)
    text = np.concatenate([from_rules.text, id_clash.text, reasons]).astype(object)
    keep = text != ""
    return join_per_person(codes[keep], text[keep])


def _latest_survey_reason(records: _Records) -> pd.Series:
    """The 未参保原因 of each surveyed person's latest survey (by person id)."""
    rows = records.source_rows("survey")
    if not len(rows):
        return pd.Series(dtype=object)
    surveys = pd.DataFrame({
        "person_id": records.persons.ids.take(records.codes[rows]),
        "survey_date": records.column("survey_date", rows),
        "unenrolled_reason": records.column("unenrolled_reason", rows),
    })
    return surveys.sort_values("survey_date", na_position="first").groupby("person_id")["unenrolled_reason"].last()


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
    table = status_table(records, as_of, rules, flagged_conflicts)
    frame = table.frame
    frame.insert(frame.columns.get_loc("flags") + 1, "flag_records", table.flag_records_dicts())
    return frame


def status_labels(rules: StatusRules | None = None) -> dict[str, str]:
    """Status and flag code → Chinese label, for reports and the API."""
    rules = rules or load_status_rules()
    return {r.name: r.label for r in [*rules.statuses, *rules.flags]}


def describe_rules(rules: StatusRules | None = None) -> list[dict[str, Any]]:
    """The rules as plain dicts (for `canbao explain` and the API)."""
    rules = rules or load_status_rules()
    return [r.model_dump(by_alias=True, exclude_none=True) for r in [*rules.statuses, *rules.flags]]

