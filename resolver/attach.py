"""Attach single changes — a confirmed survey, a steward's decision — to a resolved store in under a second.

The survey app and the stewards cannot wait for a full `canbao run` (arts. 19-20), so
this module re-resolves only the *component* a change touches: the persons its record
could belong to (found by ``resolve_one``), or the two records a steward judged, plus
every person linked to them by an accepted link or a must-link. That component is cut
out of the loaded resolver state as a small ``ResolverState`` and handed to the same
``resolve_incremental`` the pipeline uses, with the same matching configuration and the
steward decisions; its persons are statused again with the pipeline's ``build_persons``.
So the outcome is what an incremental run would have decided for that component.

Everything here works in memory and returns plans, except two things: ``survey_record``
writes a one-line temporary file so that ingestion's own reader and mapping check the
row, and ``LiveState`` keeps what was attached since the state was loaded as an overlay
(appended records, re-pointed links) instead of copying a city's tables for every
survey; ``materialise`` gives the whole state to save. Writing the graph and the files
is the caller's job (api/engine.py).

Consistency rule (documented in the README's API section): the graph is written first,
in one transaction, and is what the API serves; the resolver state (``state/``) and
``records.parquet`` follow by a flush of the overlay (records.parquet first, state last),
so a later `canbao run` resolves incrementally *with* the attached records. Until a
flush, the API's journal (confirmed surveys in its SQLite file, decisions in the graph)
is replayed on start-up for anything the saved state lacks.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.compare import MATCH_COLUMNS, clean_value
from resolver.errors import InputError
from resolver.ingest import ingest_folder
from resolver.mapping import SourceMapping
from resolver.matching_config import MatchingConfig
from resolver.pipeline import DECISION_CONSTRAINTS, build_persons, steward_constraints
from resolver.resolve import LINK_COLUMNS, accepted_mask, match_columns, resolve_incremental, resolve_one
from resolver.schema import CANONICAL_COLUMNS, TRUSTED_ID_STATUSES
from resolver.schema import address_columns
from resolver.standardise.address import address_row
from resolver.standardise.dates import parse_date
from resolver.standardise.gender import standardise_gender
from resolver.standardise.id_number import ID_COLUMNS, standardise_id_number
from resolver.standardise.names import NAME_COLUMNS, standardise_name
from resolver.standardise.phones import standardise_phone_field, standardise_phones
from resolver.standardise.unique import ValueOrError
from resolver.state import ResolverState

SURVEY_SOURCE = "survey"
# Marker status of a person whose records a steward merged into another person until the
# next `canbao run` removes the node (the graph offers no person delete to the API).
MERGED_STATUS = "MERGED"
FRAGMENT_FIELDS = ("name", "id_number", "phone", "address", "birth_date", "gender")
# Canonical date columns (datetime64 in frames, ISO text in JSON).
DATE_COLUMNS: tuple[str, ...] = (
    "birth_date", "id_birth_date", "permit_issue_date", "permit_valid_until", "assistance_date", "death_date",
    "prison_entry_date", "prison_release_date", "fund_open_date", "hr_business_date", "first_enrolment_date",
    "survey_date",
)


@dataclass(frozen=True)
class FieldProblem:
    """One input field that cannot be accepted, and why (Chinese with English)."""

    field: str
    message: str


class RowRejected(InputError):
    """A survey row or identity fragment that cannot be accepted; ``problems`` name each field."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


# ---------------------------------------------------------------- one row in

def survey_record(row: Mapping[str, str | None], mapping: SourceMapping, period: str) -> pd.DataFrame:
    """One survey row (input field → text, plus ``record_id``) as a canonical record, validated strictly.

    The row goes through ``ingest_folder`` as a one-line ``survey_<period>.csv``, so it is
    read and standardised exactly like a delivered file row. On top of the file rules the
    API is strict (arts. 19-20: the surveyor can still correct it at the door): every
    data-quality note (unreadable date, code not in the mapping's list, gender against
    the ID) and an ID number failing GB 11643 reject the row, field by field.
    """
    if mapping.source != SURVEY_SOURCE:
        raise ValueError(f"survey_record needs the survey mapping, got {mapping.source!r}")
    header_of = {spec.field: header for header, spec in mapping.columns.items()}
    field_of = {header: spec.field for header, spec in mapping.columns.items()}
    unknown = sorted(set(row) - set(header_of) - {"record_id"})
    if unknown:
        raise ValueError(f"survey_record: fields {unknown} are not in {mapping.origin}")
    headers = [mapping.record_id_header, *mapping.columns]
    values = [row.get("record_id") or "", *(row.get(spec.field) or "" for spec in mapping.columns.values())]
    with tempfile.TemporaryDirectory(prefix="canbao-survey-") as folder:
        path = Path(folder) / f"{SURVEY_SOURCE}_{period}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            writer.writerow(values)
        result = ingest_folder(Path(folder), {SURVEY_SOURCE: mapping})
    problems = [FieldProblem(_field_name(issue.field, field_of), issue.issue)
                for issue in result.quality.itertuples(index=False)]
    problems += [FieldProblem("record", reason) for reason in result.rejected["reason"]]
    if result.records.empty and not problems:
        problems.append(FieldProblem("record", "记录未被接收 (row not accepted)"))
    if not result.records.empty:
        status = result.records["id_status"].iat[0]
        if row.get("id_number") and status not in TRUSTED_ID_STATUSES:
            problems.append(FieldProblem("id_number", _id_problem(status)))
    if problems:
        raise RowRejected(problems)
    record = result.records.iloc[:1].copy()
    record["file"] = "api"   # not a delivered file: the API upload
    return record


def _field_name(name: str, field_of: Mapping[str, str]) -> str:
    """Quality notes name a header (未参保原因) or an input field (survey_date): answer with the field."""
    return field_of.get(name, name)


def _id_problem(status: str) -> str:
    if status == "bad_check_digit":
        return "公民身份号码校验位错误 (ID check digit wrong, GB 11643) — 请核对证件 (check the card)"
    return ("公民身份号码格式不正确 (ID number malformed: 18 digits, last may be X, or a legacy 15-digit number) "
            "— 请核对证件 (check the card)")


def fragment_record(fields: Mapping[str, str | None], record_key: str = "fragment:query") -> dict[str, object]:
    """Identity fragments from the field (any of FRAGMENT_FIELDS) as one canonical record for matching.

    Runs the one-value forms of the standardisers ingestion maps over distinct values, so a
    lookup costs microseconds, not a frame per standardiser; a value they cannot read is a
    RowRejected problem of that field. The address is read as a residence (常住) address.
    Returns canonical column → value (absent columns are None).
    """
    unknown = sorted(set(fields) - set(FRAGMENT_FIELDS))
    if unknown:
        raise ValueError(f"fragment_record: unknown fields {unknown}; use {FRAGMENT_FIELDS}")
    text = {name: clean_value(fields.get(name)) for name in FRAGMENT_FIELDS}
    if all(value is None for value in text.values()):
        raise RowRejected([FieldProblem("body", "至少给出一项身份信息 (give at least one of name, id_number, phone, "
                                                "address, birth_date)")])
    out: dict[str, object] = dict.fromkeys(CANONICAL_COLUMNS)
    out.update({"record_key": record_key, "source": SURVEY_SOURCE, "record_id": record_key, "cert_type": "resident_id"})
    problems: list[FieldProblem] = []
    number = standardise_id_number(text["id_number"])
    out.update(zip(ID_COLUMNS, (number.number, number.status, _timestamp(number.birth_date), number.gender,
                                number.area_code)))
    if text["id_number"] is not None and number.status not in TRUSTED_ID_STATUSES:
        problems.append(FieldProblem("id_number", _id_problem(number.status)))
    name = standardise_name(text["name"])
    out.update({column: getattr(name, attribute) for attribute, column in NAME_COLUMNS.items()})
    phones, unreadable = standardise_phone_field(text["phone"])
    out["phones"] = "|".join(phones) or None
    if unreadable:
        # The bulk form words the problem exactly as ingestion reports it.
        problems.append(FieldProblem("phone", str(standardise_phones(pd.Series([text["phone"]], dtype=object))[1].iat[0])))
    out.update(zip(address_columns("residence"), address_row(text["address"])))
    birth_date, error = ValueOrError(parse_date)(text["birth_date"])
    out["birth_date"] = _timestamp(birth_date)
    if error:
        problems.append(FieldProblem("birth_date", error))
    out["gender"], error = ValueOrError(standardise_gender)(text["gender"])
    if error:
        problems.append(FieldProblem("gender", error))
    if problems:
        raise RowRejected(problems)
    return out


def _timestamp(value: dt.date | None) -> pd.Timestamp:
    return pd.Timestamp(value) if value is not None else pd.NaT


# ---------------------------------------------------------------- steward decisions


# ---------------------------------------------------------------- the live state

def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate, leaving out empty frames (pandas would let their all-null columns decide dtypes)."""
    kept = [f for f in frames if len(f)]
    return pd.concat(kept, ignore_index=True) if kept else frames[0].iloc[:0].reset_index(drop=True)


@dataclass(frozen=True)
class Reclustering:
    """One component re-resolved: its links before and after, and what the state gains."""

    links: pd.DataFrame            # LINK_COLUMNS of every record of the component, after
    before: dict[str, str]         # record_key → person_id before, for the component's stored records
    new_records: pd.DataFrame      # MATCH_COLUMNS of records added by this change
    new_edges: pd.DataFrame        # scored pairs (stored form) the added records brought
    conflicts: pd.DataFrame        # person_id, reason of the component's persons after

    @property
    def persons_before(self) -> set[str]:
        return set(self.before.values())

    @property
    def persons_after(self) -> set[str]:
        return set(self.links["person_id"])

    @property
    def vanished(self) -> set[str]:
        """Persons the change merged away (their records now belong to another person)."""
        return self.persons_before - self.persons_after

    @property
    def changed(self) -> pd.DataFrame:
        """Links of records that are new or now belong to another person."""
        previous = self.links["record_key"].map(self.before)
        return self.links[previous.isna() | (previous != self.links["person_id"])]

    def merged_into(self) -> dict[str, str]:
        """Vanished person → the person now holding most of its records."""
        after = self.links.set_index("record_key")["person_id"]
        out = {}
        for person in sorted(self.vanished):
            keys = [k for k, p in self.before.items() if p == person]
            out[person] = after.reindex(keys).value_counts().index[0]
        return out


class LiveState:
    """A loaded ResolverState plus what was attached since: appended records and re-pointed links.

    Lookups (person of a record, records of a person, accepted links of a record) see base
    and overlay together; ``materialise`` builds the whole state for saving. Not thread-safe:
    the API serialises writers.
    """

    def __init__(self, base: ResolverState):
        self.base = base
        self.model = base.model
        self.added_records = match_columns(pd.DataFrame(columns=list(MATCH_COLUMNS)))
        self.added_links = pd.DataFrame(columns=list(LINK_COLUMNS))
        self.added_edges = base.edges.iloc[:0].copy()
        self.moved: dict[str, tuple[str, float, str]] = {}   # base record_key → (person_id, probability, method)
        self.conflicts = base.conflicts.copy()
        self.version = 0                                      # bumped by every apply
        self._index: dict[str, object] = {}

    # --- lookups ------------------------------------------------------------------------------
    def _base_index(self) -> dict[str, object]:
        """Hash and sort indexes over the base tables, built once (seconds for a city)."""
        if not self._index:
            links = self.base.links
            codes, persons = pd.factorize(links["person_id"])
            order = np.argsort(codes, kind="stable")
            edges = self.base.edges
            ends = pd.concat([edges["record_key_l"], edges["record_key_r"]], ignore_index=True)
            self._index = {
                "link_pos": pd.Index(links["record_key"]),
                "record_pos": pd.Index(self.base.records["record_key"]),
                "persons": pd.Index(persons),
                "person_codes": codes[order],
                "person_order": order,
                "edge_ends": pd.Index(ends),
                "edge_count": len(edges),
            }
        return self._index

    def warm(self, config: MatchingConfig) -> None:
        """Build every index now (start-up), not on the first request."""
        for index in self._base_index().values():
            if isinstance(index, pd.Index):
                # pandas builds an index's hash table on its first lookup: 1.7 s for a city's record keys.
                index.get_indexer_for(index[:1])
        resolve_one(self.base.records.iloc[:1], self.base, config)

    def knows(self, record_key: str) -> bool:
        """True when the record is in the state (base or attached)."""
        index = self._base_index()
        return record_key in index["link_pos"] or record_key in set(self.added_links["record_key"])

    def persons_of(self, record_keys: Iterable[str]) -> dict[str, str]:
        """record_key → current person_id (unknown keys left out)."""
        keys = list(dict.fromkeys(record_keys))
        out: dict[str, str] = {}
        index = self._base_index()
        positions = index["link_pos"].get_indexer(keys)
        base_person = self.base.links["person_id"].to_numpy()
        for key, position in zip(keys, positions):
            if key in self.moved:
                out[key] = self.moved[key][0]
            elif position >= 0:
                out[key] = base_person[position]
        added = self.added_links.set_index("record_key")["person_id"]
        out.update({k: added[k] for k in keys if k in added.index})
        return out

    def keys_of(self, persons: Iterable[str]) -> list[str]:
        """Record keys currently belonging to any of ``persons``."""
        wanted = set(persons)
        index = self._base_index()
        codes = index["persons"].get_indexer(list(wanted))
        codes = codes[codes >= 0]
        sorted_codes, order = index["person_codes"], index["person_order"]
        lo = np.searchsorted(sorted_codes, codes, "left")
        hi = np.searchsorted(sorted_codes, codes, "right")
        base_keys = self.base.links["record_key"].to_numpy()
        keys = [k for a, b in zip(lo, hi) for k in base_keys[order[a:b]] if k not in self.moved]
        keys += [k for k, (p, _, _) in self.moved.items() if p in wanted]
        keys += self.added_links.loc[self.added_links["person_id"].isin(wanted), "record_key"].tolist()
        return list(dict.fromkeys(keys))

    def _edges_touching(self, record_keys: list[str]) -> pd.DataFrame:
        index = self._base_index()
        hits = index["edge_ends"].get_indexer_for(record_keys)
        rows = np.unique(hits[hits >= 0] % max(index["edge_count"], 1))
        base = self.base.edges.iloc[rows]
        wanted = set(record_keys)
        added = self.added_edges[self.added_edges["record_key_l"].isin(wanted)
                                 | self.added_edges["record_key_r"].isin(wanted)]
        return pd.concat([base, added], ignore_index=True) if len(added) else base.reset_index(drop=True)

    def component(self, persons: Iterable[str], config: MatchingConfig,
                  constraints: pd.DataFrame | None = None) -> list[str]:
        """Record keys of ``persons`` and of every person joined to them by an accepted link or a must-link."""
        must = constraints[constraints["decision"] == "must_link"] if constraints is not None else None
        seen_persons = set(persons)
        keys = self.keys_of(seen_persons)
        while True:
            edges = self._edges_touching(keys)
            linked = edges[accepted_mask(edges, config)] if len(edges) else edges
            others = set(linked["record_key_l"]) | set(linked["record_key_r"])
            if must is not None and len(must):
                inside = set(keys)
                touching = must[must["record_key_l"].isin(inside) | must["record_key_r"].isin(inside)]
                others |= set(touching["record_key_l"]) | set(touching["record_key_r"])
            new_persons = set(self.persons_of(others).values()) - seen_persons
            if not new_persons:
                return keys
            seen_persons |= new_persons
            keys = self.keys_of(seen_persons)

    def substate(self, record_keys: list[str]) -> ResolverState:
        """The part of the state holding ``record_keys``: their records, current links, inner edges, conflicts."""
        index = self._base_index()
        wanted = set(record_keys)
        positions = index["record_pos"].get_indexer(record_keys)
        records = match_columns(_concat([self.base.records.iloc[positions[positions >= 0]],
                                         self.added_records[self.added_records["record_key"].isin(wanted)]]))
        link_positions = index["link_pos"].get_indexer(record_keys)
        links = _concat([self.base.links.iloc[link_positions[link_positions >= 0]],
                         self.added_links[self.added_links["record_key"].isin(wanted)]])
        moved = links["record_key"].map(lambda k: self.moved.get(k))
        has_moved = moved.notna()
        if has_moved.any():
            links.loc[has_moved, "person_id"] = [m[0] for m in moved[has_moved]]
            links.loc[has_moved, "match_probability"] = [m[1] for m in moved[has_moved]]
            links.loc[has_moved, "method"] = [m[2] for m in moved[has_moved]]
        links = links.set_index("record_key").loc[records["record_key"]].reset_index()[list(LINK_COLUMNS)]
        edges = self._edges_touching(record_keys)
        edges = edges[edges["record_key_l"].isin(wanted) & edges["record_key_r"].isin(wanted)]
        conflicts = self.conflicts[self.conflicts["person_id"].isin(set(links["person_id"]))]
        return ResolverState(records=records, links=links, edges=edges.reset_index(drop=True),
                             conflicts=conflicts.reset_index(drop=True), model=self.model)

    def candidates(self, fragment: pd.DataFrame | Mapping[str, object], config: MatchingConfig) -> pd.DataFrame:
        """``resolve_one`` over the base and the attached records, persons as they are now, best first."""
        found = [resolve_one(fragment, self.base, config)]
        if len(self.added_records):
            if self._index.get("added_version") != self.version:
                self._index["added_state"] = ResolverState(
                    records=self.added_records, links=self.added_links, edges=self.added_edges.iloc[:0],
                    conflicts=self.conflicts.iloc[:0], model=self.model)
                self._index["added_version"] = self.version
            found.append(resolve_one(fragment, self._index["added_state"], config))
        answered = [f for f in found if len(f)]
        if not answered:
            return found[0]
        ranked = answered[0] if len(answered) == 1 else _concat(answered)
        keys, stored = ranked["record_key"].tolist(), ranked["person_id"].tolist()
        if len(answered) == 1 and not any(key in self.moved for key in keys):
            # One resolve_one answer stands as it is (best first, one row per person) while none of its records
            # was re-pointed: ``moved`` holds every base record a change re-pointed, and the attached records'
            # state is rebuilt on every change, so its persons are current. The common case, without re-sorting.
            return ranked
        current = self.persons_of(keys)
        persons = [current.get(key, person) for key, person in zip(keys, stored)]
        if len(found) == 1 and persons == stored:
            return ranked   # resolve_one's ranking stands: best first, one row per person
        ranked = ranked.assign(person_id=persons).sort_values("match_probability", ascending=False, kind="stable")
        return ranked.drop_duplicates("person_id").reset_index(drop=True)

    # --- changes ------------------------------------------------------------------------------
    def apply(self, change: Reclustering) -> None:
        """Take a reclustering into the overlay (after its graph transaction committed)."""
        new_keys = set(change.new_records["record_key"])
        links = change.links
        for row in links[~links["record_key"].isin(new_keys)].itertuples(index=False):
            if row.record_key in set(self.added_links["record_key"]):
                continue
            self.moved[row.record_key] = (row.person_id, float(row.match_probability), row.method)
        added = links[links["record_key"].isin(new_keys)]
        keep = ~self.added_links["record_key"].isin(set(links["record_key"]))
        updated_added = links[links["record_key"].isin(set(self.added_links["record_key"]))]
        self.added_links = _concat([self.added_links[keep], updated_added, added])
        self.added_records = _concat([self.added_records, match_columns(change.new_records)])
        self.added_edges = _concat([self.added_edges, change.new_edges])
        touched = change.persons_before | change.persons_after
        self.conflicts = _concat([self.conflicts[~self.conflicts["person_id"].isin(touched)], change.conflicts])
        self.version += 1

    def frozen(self) -> "LiveState":
        """A copy that later changes do not reach (frames are replaced, never modified, by apply):
        taken under the writers' lock, so that materialising a city's state can happen outside it."""
        copy = object.__new__(LiveState)
        copy.__dict__.update(self.__dict__)
        copy.moved = dict(self.moved)
        copy._index = {}
        return copy

    def materialise(self) -> ResolverState:
        """The whole state (base with the overlay applied), for save_state."""
        links = self.base.links.copy()
        if self.moved:
            moved = links["record_key"].map(self.moved)
            hit = moved.notna().to_numpy()
            links.loc[hit, "person_id"] = [m[0] for m in moved[hit]]
            links.loc[hit, "match_probability"] = [m[1] for m in moved[hit]]
            links.loc[hit, "method"] = [m[2] for m in moved[hit]]
        return ResolverState(
            records=_concat([self.base.records, self.added_records]),
            links=_concat([links, self.added_links])[list(LINK_COLUMNS)],
            edges=_concat([self.base.edges, self.added_edges]),
            conflicts=self.conflicts.reset_index(drop=True),
            model=self.model,
        )


# ---------------------------------------------------------------- re-resolving a component

def recluster(live: LiveState, config: MatchingConfig, constraints: pd.DataFrame,
              new_record: pd.DataFrame | None = None, seed_keys: Iterable[str] = ()) -> Reclustering:
    """Re-resolve the component touched by a new record and/or by the records in ``seed_keys``.

    ``constraints``: steward_constraints of every decision (those outside the component
    are ignored). The component is resolved by ``resolve_incremental`` on its sub-state,
    so links, conflict splitting and person ids follow the pipeline's rules exactly.
    """
    seeds = set(live.persons_of(seed_keys).values())
    if new_record is not None and len(new_record):
        seeds |= set(live.candidates(new_record, config)["person_id"])
    keys = live.component(seeds, config, constraints) if seeds else []
    sub = live.substate(keys)
    inside = set(keys) | (set(new_record["record_key"]) if new_record is not None else set())
    sub_constraints = constraints[constraints["record_key_l"].isin(inside) & constraints["record_key_r"].isin(inside)]
    fresh = new_record if new_record is not None else pd.DataFrame(columns=list(MATCH_COLUMNS))
    resolution, _ = resolve_incremental(fresh, sub, config, sub_constraints if len(sub_constraints) else None)
    links = resolution.links[list(LINK_COLUMNS)].reset_index(drop=True)
    new_keys = set(fresh["record_key"]) - set(sub.records["record_key"])
    edges = resolution.edges
    new_edges = edges[edges["record_key_l"].isin(new_keys) | edges["record_key_r"].isin(new_keys)]
    before = dict(zip(sub.links["record_key"], sub.links["person_id"]))
    outside = set(links["person_id"]) - set(before.values())
    clash = [p for p in outside if live.keys_of([p])]
    if clash:
        raise ValueError(f"recluster: new person id(s) {clash} already belong to persons outside the component — "
                         "run `canbao run` on the store to resolve in full")
    return Reclustering(
        links=links,
        before=before,
        new_records=match_columns(fresh[fresh["record_key"].isin(new_keys)]),
        new_edges=new_edges.reset_index(drop=True),
        conflicts=resolution.conflicts[resolution.conflicts["person_id"].isin(set(links["person_id"]))]
        .reset_index(drop=True),
    )


def restatus(records: pd.DataFrame, change: Reclustering, as_of: dt.date) -> pd.DataFrame:
    """Profile, status with provenance and dispatch place of the component's persons after the change.

    ``records``: canonical rows of every record of the component (the stored ones from the
    graph, the new one from ``survey_record``). Uses the pipeline's ``build_persons``.
    """
    person = change.links.set_index("record_key")["person_id"]
    linked = records.reindex(columns=list(CANONICAL_COLUMNS)).copy()
    linked["person_id"] = linked["record_key"].map(person)
    missing = linked["person_id"].isna()
    if missing.any():
        raise ValueError(f"restatus: records {linked.loc[missing, 'record_key'].tolist()[:5]} are not in the component")
    for column in DATE_COLUMNS:
        linked[column] = pd.to_datetime(linked[column], errors="coerce")
    conflicts = dict(zip(change.conflicts["person_id"], change.conflicts["reason"]))
    return build_persons(linked, as_of, conflicts).set_index("person_id")


@dataclass(frozen=True)
class StatusChange:
    """One person's status before and after a change (for the API's answer and the audit log)."""

    person_id: str
    before: str | None
    after: str
    flags: tuple[str, ...] = ()
    merged_into: str | None = None


def status_records(value: object) -> tuple[str, ...]:
    """'|'-joined record keys (build_persons) as a tuple."""
    return tuple(k for k in str(value or "").split("|") if k)


def flags_of(value: object) -> tuple[str, ...]:
    return tuple(f for f in str(value or "").split("|") if f)


def merged_rule(into: str, reason: str) -> str:
    return f"{MERGED_STATUS} (已合并入 merged into {into}: {reason})"


def canonical_frame(records: list[Mapping[str, object]]) -> pd.DataFrame:
    """Canonical rows from plain mappings (JSON, graph properties): every canonical column, dates as datetime64."""
    frame = pd.DataFrame(list(records)).reindex(columns=list(CANONICAL_COLUMNS))
    for column in DATE_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], errors="coerce")
    return frame.astype({c: object for c in frame.columns if c not in DATE_COLUMNS})


def json_safe(record: Mapping[str, object]) -> dict[str, object]:
    """A canonical record as JSON-ready values (dates as ISO text, NaN as None)."""
    out: dict[str, object] = {}
    for key, value in record.items():
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
            out[key] = None
        elif isinstance(value, (pd.Timestamp, dt.datetime)):
            out[key] = value.date().isoformat()
        elif isinstance(value, dt.date):
            out[key] = value.isoformat()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    json.dumps(out, ensure_ascii=False)  # refuse anything not JSON-able here, not at write time
    return out


__all__ = [
    "DATE_COLUMNS", "DECISION_CONSTRAINTS", "FRAGMENT_FIELDS", "FieldProblem", "LiveState", "MERGED_STATUS",
    "Reclustering", "RowRejected", "StatusChange", "canonical_frame", "flags_of", "fragment_record", "json_safe",
    "SURVEY_SOURCE", "merged_rule", "recluster", "restatus", "status_records", "steward_constraints",
    "survey_record",
]
