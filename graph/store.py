"""GraphStore: the one interface the pipeline, API and CLI use; backends fill in a few hooks.

The template methods here turn domain calls (write a run, a person's 360° view, the work
list, a steward decision) into Statements from graph/cypher.py and rows into dataclasses.
A backend implements ``_rows`` (read), ``_snapshot_reads`` (reads that see one snapshot),
``_write`` (statements in one transaction), ``_stage`` (a whole run written where no reader sees it)
and ``land_staged`` (the switch to it),
``setup_schema`` and ``close``.
"""
from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Generic, TypeVar

import pandas as pd

from graph.cypher import (
    COUNT_LABEL, DECISIONS, ENSURE_PERSON, LINK_RECORD, PERSON_BY_ID, PERSONS_BY_ID, PERSON_EMPLOYERS, PERSON_HOUSEHOLD,
    PERSON_OPEN_MATCHES, PERSON_RECORDS, PERSONS_BY_ID_NUMBER, RECORD_DECISION, REVIEW_COUNT, REVIEW_PAGE,
    RUN_BY_ID, RUNS, UNENROLLED_COUNT, UNENROLLED_PAGE, UNLINK_RECORD, UPDATE_PERSON_STATUS,
    Dialect, Statement, upsert_record,
)
from graph.errors import QueryError, RunDataError
from graph.model import (
    DECISION_COLUMNS, DECISIONS as DECISION_VALUES, RECORD_PROPERTIES, GraphFrames, RunData,
    RunInfo, graph_frames, typed_frame,
)
from graph.queries import NamedQuery, bind_params, check_page, get_query

T = TypeVar("T")
Params = Mapping[str, Any]
# Runs one read statement (text, params) inside a _snapshot_reads transaction; rows as dicts.
Reader = Callable[[str, Params], list[dict[str, Any]]]


@dataclass(frozen=True)
class PersonView:
    """A person node as the API shows it: identity, status with its provenance, dispatch place."""

    person_id: str
    id_number: str | None
    name: str | None
    gender: str | None
    birth_date: date | None
    status: str | None
    flags: tuple[str, ...]
    status_rule: str | None
    status_records: tuple[str, ...]
    district_code: str | None
    street: str | None
    community: str | None
    dispatch_reason: str | None
    run_id: str | None


@dataclass(frozen=True)
class RecordView:
    """One department record linked to a person, with how it was linked."""

    record_key: str
    source: str
    record_id: str
    match_probability: float | None
    method: str | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class Person360:
    """Everything known about one person: records by source, status and why, work, household, run."""

    person: PersonView
    records_by_source: dict[str, list[RecordView]]
    status_evidence: list[RecordView]
    employers: list[dict[str, Any]]
    household: list[dict[str, Any]]
    open_matches: list[dict[str, Any]]
    run: RunInfo | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    total: int
    skip: int
    limit: int


@dataclass(frozen=True)
class ReviewItem:
    """A record pair in the review band still waiting for a steward's match / not_match."""

    record_key_l: str
    record_key_r: str
    match_probability: float
    explanation: dict[str, Any]
    name_l: str | None
    name_r: str | None
    id_number_l: str | None
    id_number_r: str | None
    person_id_l: str | None
    person_id_r: str | None


@dataclass(frozen=True)
class QueryResult:
    """Rows of a named query, columns in the order the query returns them."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (for CSV/Excel output)."""
        return pd.DataFrame(self.rows, columns=self.columns)


@dataclass(frozen=True)
class RunSummary:
    """What a landed run wrote: node and edge counts per label/type, and where."""

    run_id: str
    counts: dict[str, int]
    location: str


@dataclass(frozen=True)
class RecordUpsert:
    """One record to add or replace (canonical fields) and the person it belongs to."""

    record: Mapping[str, Any]
    person_id: str
    match_probability: float = 1.0
    method: str = "steward"


@dataclass(frozen=True)
class StewardDecision:
    """A data steward's verdict on a record pair: who, when, why."""

    record_key_l: str
    record_key_r: str
    decision: str
    steward: str
    decided_at: datetime
    note: str = ""


@dataclass(frozen=True)
class StatusUpdate:
    """A person's new status, flags and provenance (e.g. after a steward merge)."""

    person_id: str
    status: str
    flags: tuple[str, ...] = ()
    status_rule: str = ""
    status_records: tuple[str, ...] = ()
    run_id: str = ""


def _plain(value: Any) -> Any:
    """None for NaN/NaT, Python dates for pandas ones (what both drivers accept and return)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if value is pd.NaT:
        return None
    return value


def _props(node: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if node is None else {k: v for k, v in node.items() if not k.startswith("_")}


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def person_view(node: Mapping[str, Any]) -> PersonView:
    """A PersonView from a Person node's properties."""
    p = _props(node)
    return PersonView(
        person_id=p["person_id"], id_number=p.get("id_number"), name=p.get("name"), gender=p.get("gender"),
        birth_date=_as_date(p.get("birth_date")), status=p.get("status"), flags=tuple(p.get("flags") or ()),
        status_rule=p.get("status_rule"), status_records=tuple(p.get("status_records") or ()),
        district_code=p.get("district_code"), street=p.get("street"), community=p.get("community"),
        dispatch_reason=p.get("dispatch_reason"), run_id=p.get("run_id"),
    )


def run_info(node: Mapping[str, Any]) -> RunInfo:
    """A RunInfo from a Run node's properties."""
    p = _props(node)
    counts = p.get("counts")
    return RunInfo(
        run_id=p["run_id"], as_of=_as_date(p.get("as_of")), started_at=p.get("started_at"),
        inputs=tuple(p.get("inputs") or ()), counts=json.loads(counts) if counts else {},
        model_version=p.get("model_version") or "", landed_at=p.get("landed_at"),
    )


def record_props(record: Mapping[str, Any], run_id: str | None) -> dict[str, Any]:
    """Every declared Record property from a canonical record mapping (missing ones None), typed."""
    frame = pd.DataFrame([{**record, "run_id": run_id}])
    row = typed_frame(frame, RECORD_PROPERTIES).iloc[0].to_dict()
    out = {}
    for name, kind in RECORD_PROPERTIES.items():
        value = _plain(row.get(name))
        if kind == "DATE" and isinstance(value, datetime):
            value = value.date()
        if kind == "INT64" and value is not None:
            value = int(value)
        if kind == "BOOLEAN" and value is not None:
            value = bool(value)
        out[name] = value
    return out


class GraphStore(ABC):
    """The person graph behind one interface; EmbeddedStore and Neo4jStore implement the hooks."""

    dialect: ClassVar[Dialect]

    # --- hooks ----------------------------------------------------------------------------
    @property
    @abstractmethod
    def describe(self) -> str:
        """Which store this is, for messages (e.g. 'embedded store /data/graph')."""

    @property
    def ready(self) -> bool:
        """A call now answers without first starting anything (a supervised store's worker); True in-process."""
        return True

    @abstractmethod
    def setup_schema(self) -> None:
        """Create tables / constraints / indexes; safe to call again."""

    @abstractmethod
    def _rows(self, text: str, params: Params, operation: str) -> list[dict[str, Any]]:
        """Run one read statement; rows as dicts of plain Python values (nodes as property dicts)."""

    @abstractmethod
    def _snapshot_reads(self, work: Callable[[Reader], T], operation: str) -> T:
        """Run ``work(read)`` in one read-only transaction: every ``read(text, params)`` sees the same data."""

    @abstractmethod
    def _write(self, steps: Sequence[tuple[Statement, Params]], operation: str) -> list[list[dict[str, Any]]]:
        """Run statements in one transaction, all or nothing; each step's rows."""

    @abstractmethod
    def _stage(self, frames: GraphFrames, run: RunInfo) -> dict[str, Any]:
        """Write a run's frames where no reader sees them; returns what ``land_staged`` needs (JSON-able).

        Takes the frames with ``frames.drain()`` (write order, each released once written: bounded memory).
        """

    @abstractmethod
    def land_staged(self, staged: Mapping[str, Any]) -> None:
        """Make a staged run the graph every reader sees, all or nothing; idempotent (a crash recovery repeats it)."""

    def landed(self) -> bool:
        """True when the store holds a landed graph (reading it creates nothing)."""
        return True

    @abstractmethod
    def close(self) -> None:
        """Release the database handle / driver."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, statement: Statement, params: Params | None = None) -> list[dict[str, Any]]:
        return self._rows(statement.text(self.dialect), dict(params or {}), statement.name)

    def _page(self, count: str, page: str, params: Params, operation: str) -> tuple[int, list[dict[str, Any]]]:
        """The total of a paged read and its page, the page statement sent only when ``$skip`` < total.

        LadybugDB 0.22 (like Kùzu 0.11.3) segfaults on ``ORDER BY … SKIP n LIMIT m`` when n lies past the last
        row, killing the whole process (tests/test_paging.py keeps the reproduction). So the rows are counted
        first and an offset at or past the end gives an empty page without asking. Count and page run in one
        read-only transaction, hence on one snapshot: a write, or a run landing, between the two cannot shrink
        the set under the offset. Keyset paging (``WHERE key > $after``) would need no count, but every caller
        pages by offset (the survey app, the review page, ``--param skip=``) and the work list needs its total.
        """
        skip = int(params["skip"])

        def count_then_page(read: Reader) -> tuple[int, list[dict[str, Any]]]:
            total = int(read(count, params)[0]["total"])
            return total, (read(page, params) if skip < total else [])

        return self._snapshot_reads(count_then_page, operation)

    # --- runs -----------------------------------------------------------------------------
    def write_run(self, run: RunData) -> RunSummary:
        """Land a whole run (replacing the previous one); steward decisions and run history carry over."""
        summary, staged = self.stage_run(run)
        self.land_staged(staged)
        return summary

    def stage_run(self, run: RunData) -> tuple[RunSummary, dict[str, Any]]:
        """Write a whole run that no reader sees until ``land_staged(staged)`` (a store landing does that,
        together with the store's files: resolver/landing.py); steward decisions and run history carry over."""
        landed = self.landed()
        if landed:
            self.setup_schema()   # Neo4j: constraints, and an interrupted switch finished before history is read
        history = [r for r in self.runs() if r.run_id != run.run.run_id] if landed else []
        carried = self.decisions() if landed else pd.DataFrame(columns=list(DECISION_COLUMNS))
        frames = graph_frames(run, history=history, carried_decisions=carried)
        staged = self._stage(frames, run.run)
        return RunSummary(run_id=run.run.run_id, counts=frames.counts(), location=staged["location"]), staged

    def runs(self) -> list[RunInfo]:
        """Every run the store remembers, oldest first."""
        return [run_info(r["run"]) for r in self._read(RUNS)]

    def run(self, run_id: str) -> RunInfo | None:
        """One run by id."""
        rows = self._read(RUN_BY_ID, {"run_id": run_id})
        return run_info(rows[0]["run"]) if rows else None

    def decisions(self) -> pd.DataFrame:
        """Every steward decision in the store (DECISION_COLUMNS)."""
        return pd.DataFrame(self._read(DECISIONS), columns=list(DECISION_COLUMNS))

    def counts(self) -> dict[str, int]:
        """Nodes per label."""
        return {label: int(self._read(s)[0]["total"]) for label, s in COUNT_LABEL.items()}

    # --- reads for the API ----------------------------------------------------------------
    def person(self, person_id: str) -> PersonView | None:
        """A person by id, or None."""
        rows = self._read(PERSON_BY_ID, {"person_id": person_id})
        return person_view(rows[0]["person"]) if rows else None

    def persons(self, person_ids: Sequence[str]) -> dict[str, PersonView]:
        """Persons by id in one query (a lookup's candidates: one round trip to a worker); absent ids are left out."""
        if not person_ids:
            return {}
        rows = self._read(PERSONS_BY_ID, {"person_ids": list(dict.fromkeys(person_ids))})
        views = (person_view(r["person"]) for r in rows)
        return {view.person_id: view for view in views}

    def persons_by_id_number(self, id_number: str) -> list[PersonView]:
        """Persons carrying an ID number (more than one means a split a steward should look at)."""
        return [person_view(r["person"]) for r in self._read(PERSONS_BY_ID_NUMBER, {"id_number": id_number})]

    def person_360(self, person_id: str) -> Person360 | None:
        """A person's 360° view: records by source, status and the records behind it, work, household, run."""
        person = self.person(person_id)
        if person is None:
            return None
        records = []
        for row in self._read(PERSON_RECORDS, {"person_id": person_id}):
            props = {k: v for k, v in _props(row["record"]).items() if v is not None}
            records.append(RecordView(
                record_key=props["record_key"], source=props["source"], record_id=props["record_id"],
                match_probability=row["match_probability"], method=row["method"], fields=props))
        by_source: dict[str, list[RecordView]] = {}
        for r in records:
            by_source.setdefault(r.source, []).append(r)
        evidence_keys = set(person.status_records)
        return Person360(
            person=person,
            records_by_source=by_source,
            status_evidence=[r for r in records if r.record_key in evidence_keys],
            employers=self._read(PERSON_EMPLOYERS, {"person_id": person_id}),
            household=self._read(PERSON_HOUSEHOLD, {"person_id": person_id}),
            open_matches=self._read(PERSON_OPEN_MATCHES, {"person_id": person_id}),
            run=self.run(person.run_id) if person.run_id else None,
        )

    def unenrolled_work_list(self, district_code: str = "", street: str = "", community: str = "",
                             skip: int = 0, limit: int = 50) -> Page[PersonView]:
        """UNENROLLED survey targets of one area (empty filter = any), paged, ordered by place.

        ``skip`` 0…MAX_SKIP, ``limit`` 1…MAX_LIMIT (QueryError naming the parameter otherwise); an offset
        past the end gives an empty page with the total."""
        check_page(skip, limit)
        area = {"district_code": district_code or "", "street": street or "", "community": community or ""}
        total, rows = self._page(UNENROLLED_COUNT.text(self.dialect), UNENROLLED_PAGE.text(self.dialect),
                                 {**area, "skip": skip, "limit": limit}, UNENROLLED_PAGE.name)
        return Page([person_view(r["person"]) for r in rows], total, skip, limit)

    def review_queue(self, skip: int = 0, limit: int = 50) -> Page[ReviewItem]:
        """Possible matches still awaiting a steward's match/not_match, most uncertain first (paged as the work list)."""
        check_page(skip, limit)
        total, rows = self._page(REVIEW_COUNT.text(self.dialect), REVIEW_PAGE.text(self.dialect),
                                 {"skip": skip, "limit": limit}, REVIEW_PAGE.name)
        items = [ReviewItem(**{**r, "explanation": json.loads(r["explanation"]) if r["explanation"] else {}})
                 for r in rows]
        return Page(items, total, skip, limit)

    # --- named queries --------------------------------------------------------------------
    def run_query(self, name: str, params: Mapping[str, object] | None = None) -> QueryResult:
        """Run a catalogued analyst query with parameters (strings from the CLI are typed and range-checked here).

        A paged query asked for an offset is counted first (``_page``): no SKIP goes past its last row. At
        offset 0 there is nothing to skip, so the query runs alone."""
        query: NamedQuery = get_query(name)
        bound = bind_params(query, params or {})
        text, operation = query.text(self.dialect), f"query {name}"
        if query.paged and int(bound["skip"]) > 0:
            if query.count is None:
                raise QueryError(f"查询 {name} 分页却没有 count 语句 (pages with skip but declares no count)")
            rows = self._page(query.count, text, bound, operation)[1]
        else:
            rows = self._rows(text, bound, operation)
        columns = list(rows[0]) if rows else _returned_columns(query.text(self.dialect))
        return QueryResult(name=name, columns=columns, rows=rows)

    # --- incremental upserts --------------------------------------------------------------
    def upsert_record(self, upsert: RecordUpsert) -> None:
        """Add or replace one record and (re)point its BELONGS_TO at a person (created bare if new)."""
        record = dict(upsert.record)
        missing = [c for c in ("source", "record_id") if not record.get(c)]
        if missing:
            raise RunDataError(f"upsert_record: 记录缺少 (record lacks) {', '.join(missing)}")
        record_key = record.get("record_key") or f"{record['source']}:{record['record_id']}"
        record["record_key"] = record_key
        props = {k: v for k, v in record_props(record, run_id=None).items() if v is not None}
        key = {"record_key": record_key}
        self._write([
            (upsert_record(frozenset(props)),
             {**key, "source": record["source"], "record_id": str(record["record_id"]), "props": props}),
            (ENSURE_PERSON, {"person_id": upsert.person_id, "run_id": ""}),
            (UNLINK_RECORD, key),
            (LINK_RECORD, {**key, "person_id": upsert.person_id,
                           "match_probability": float(upsert.match_probability), "method": upsert.method}),
        ], "upsert_record")

    def record_decision(self, decision: StewardDecision) -> None:
        """Store a steward's decision on a record pair (kept as history; the latest counts)."""
        if decision.decision not in DECISION_VALUES:
            raise RunDataError(f"record_decision: decision 应为 {sorted(DECISION_VALUES)} 之一: {decision.decision!r}")
        params = {
            "record_key_l": decision.record_key_l, "record_key_r": decision.record_key_r,
            "decision": decision.decision, "steward": decision.steward,
            "decided_at": decision.decided_at, "note": decision.note or "",
        }
        created = self._write([(RECORD_DECISION, params)], "record_decision")[0]
        if not created or int(created[0]["created"]) == 0:
            raise RunDataError(f"record_decision: 记录不存在 (no such record) {decision.record_key_l} 或 "
                               f"{decision.record_key_r} in {self.describe}")

    def update_person_status(self, update: StatusUpdate) -> None:
        """Set a person's status, flags and provenance."""
        params = {
            "person_id": update.person_id, "status": update.status, "flags": list(update.flags),
            "status_rule": update.status_rule, "status_records": list(update.status_records),
            "run_id": update.run_id,
        }
        done = self._write([(UPDATE_PERSON_STATUS, params)], "update_person_status")[0]
        if not done or int(done[0]["updated"]) == 0:
            raise RunDataError(f"update_person_status: 人员不存在 (no such person) {update.person_id} in {self.describe}")


def _returned_columns(text: str) -> list[str]:
    """Column aliases of a query's final RETURN (for an empty result's header)."""
    tail = text[text.rfind("RETURN ") + len("RETURN "):]
    for stop in (" ORDER BY ", " SKIP ", " LIMIT "):
        tail = tail.split(stop)[0]
    columns, depth, current = [], 0, ""
    for ch in tail:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            columns.append(current)
            current = ""
        else:
            current += ch
    columns.append(current)
    return [c.split(" AS ")[-1].strip() for c in columns if c.strip()]

