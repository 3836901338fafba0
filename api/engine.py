"""The API's handle on one store: the graph, the loaded resolver state, and the one write path.

Opened once at start-up (``Engine.open``): the graph store, the resolver state with its
match index (built now, not on the first request), the matching configuration and the
survey mapping. Reads go to the graph; ``candidates`` to the in-memory state. Every
change — a confirmed survey, a steward decision — goes through ``_change``: re-resolve
the touched component (resolver.attach), write the graph in one transaction, take the
change into the live state, and schedule the state flush (records.parquet, then state/).

Threads: one lock for the graph handle, one for the live state and the write path. Lookups
(``candidates_async``) run on the event loop while neither lock is held, in a worker thread
otherwise. One server process per store (`canbao serve` runs a single worker): the live state
is in memory. The embedded graph itself runs in a supervised child process (graph/supervised.py):
a query that crashes the database fails its request with GraphCrashed (500), and the next graph
call starts a fresh child.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pandas as pd

from api.settings import ApiSettings
from graph import GraphStore, Page, Person360, PersonView, QueryResult, ReviewItem, open_store
from graph.cypher import ENSURE_PERSON, LINK_RECORD, RECORD_DECISION, UNLINK_RECORD, UPDATE_PERSON_STATUS, upsert_record
from graph.store import record_props
from resolver.attach import (
    MERGED_STATUS, LiveState, Reclustering, StatusChange, canonical_frame, flags_of, merged_rule, recluster, restatus,
    status_records, steward_constraints,
)
from resolver.mapping import SourceMapping, load_mappings
from resolver.matching_config import MatchingConfig, load_matching_config
from resolver.pipeline import person_profiles
from resolver.dispatch import place_persons
from resolver.landing import Landing, landing_lock
from resolver.state import load_state, save_state

log = logging.getLogger("canbao.api")
Steps = list[tuple[Any, dict[str, Any]]]


@dataclass(frozen=True)
class Candidate:
    """A person a fragment may be, with the evidence."""

    person_id: str
    match_probability: float
    method: str
    record_key: str
    explanation: str
    person: PersonView | None


@dataclass(frozen=True)
class ChangeOutcome:
    """What one change did to the graph."""

    person_id: str | None             # the person a survey joined (None for a decision)
    match_probability: float | None
    method: str | None
    statuses: tuple[StatusChange, ...]
    seconds: float


@dataclass(frozen=True)
class OpenPair:
    """A review-band record pair still open, with the current persons and their statuses."""

    item: ReviewItem
    person_l: str | None
    person_r: str | None
    status_l: str | None
    status_r: str | None

    @property
    def changes_status(self) -> bool:
        """A match would merge two persons of different statuses, so at least one status changes (arts. 11, 15)."""
        return self.status_l != self.status_r

    @property
    def brings_death(self) -> bool:
        """A match would make a living person DECEASED (a funeral record without an ID number, art. 9)."""
        return self.changes_status and "DECEASED" in (self.status_l, self.status_r)

    @property
    def impact(self) -> int:
        """2: a merge would change a survey target's status or bring a death (the work list changes);
        1: another status; 0: none."""
        if not self.changes_status:
            return 0
        return 2 if "UNENROLLED" in (self.status_l, self.status_r) or self.brings_death else 1


def _two_numbers_kept(item: ReviewItem) -> bool:
    """A pair of two different ID numbers kept as one person (one likely keyed wrong): reviewed while one person."""
    return bool(item.id_number_l and item.id_number_r and item.id_number_l != item.id_number_r)


class Engine:
    """One store, opened for the API."""

    def __init__(self, settings: ApiSettings, graph: GraphStore, live: LiveState, config: MatchingConfig,
                 mappings: dict[str, SourceMapping], as_of: dt.date, run_id: str):
        self.settings = settings
        self.layout = settings.layout
        self.graph = graph
        self.live = live
        self.config = config
        self.mappings = mappings
        self.as_of = as_of
        self.run_id = run_id
        self.opened_at = time.time()
        self._graph_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._pending_records: dict[str, pd.DataFrame] = {}   # record_key → canonical row not yet in records.parquet
        self._saved_version = live.version
        self._stamp = self._state_stamp()
        self._constraints: pd.DataFrame | None = None
        self._statuses: pd.Series | None = None
        self._status_overlay: dict[str, str] = {}
        self._queue_cache: tuple[tuple[int, int], float, list[OpenPair]] | None = None
        self.replay: Callable[[], list[Mapping[str, Any]]] = lambda: []
        self.last_flush: str | None = None

    @classmethod
    def open(cls, settings: ApiSettings) -> Engine:
        """Open the graph and load the state (the match index is built here: seconds for a city)."""
        layout = settings.layout
        # One thread per query: the survey app's point lookups take 0.13 ms of it instead of 0.27 ms on every core
        # (and leave the second core to the event loop's neighbours); analysts' scans of a 1M city take 0.15-0.3 s.
        # The embedded database runs in a supervised worker process unless the settings say otherwise: a query that
        # crashes the C++ library then costs one request (500, GraphCrashed), not the service (graph/supervised.py).
        graph = open_store(layout.graph_spec, must_exist=True, query_threads=1,
                           worker_restarts=settings.graph_worker_restarts if settings.graph_worker else None)
        runs = graph.runs()
        if not runs:
            graph.close()
            raise RuntimeError(f"{layout.graph_spec}: 图库中没有运行 (no run landed) — run `canbao run` first")
        config = load_matching_config(settings.matching) if settings.matching else load_matching_config()
        with layout.reading():
            live = LiveState(load_state(layout.state_dir))
        live.warm(config)
        engine = cls(settings, graph, live, config, load_mappings(settings.sources), settings.as_of or runs[-1].as_of,
                     runs[-1].run_id)
        engine.warm()
        return engine

    def warm(self) -> None:
        """Read now what the first survey or decision would otherwise wait for (a city's statuses, the decisions)."""
        self.status_of(())
        self._decisions()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()
        with self._graph_lock:
            self.graph.close()

    # --- reads ----------------------------------------------------------------------------
    def person(self, person_id: str) -> PersonView | None:
        with self._graph_lock:
            return self.graph.person(person_id)

    def person_360(self, person_id: str) -> Person360 | None:
        with self._graph_lock:
            return self.graph.person_360(person_id)

    def persons_by_id_number(self, id_number: str) -> list[PersonView]:
        with self._graph_lock:
            return self.graph.persons_by_id_number(id_number)

    def work_list(self, district_code: str, street: str, community: str, skip: int, limit: int) -> Page[PersonView]:
        with self._graph_lock:
            return self.graph.unenrolled_work_list(district_code, street, community, skip=skip, limit=limit)

    def run_query(self, name: str, params: Mapping[str, object]) -> QueryResult:
        with self._graph_lock:
            return self.graph.run_query(name, params)

    def records_of(self, person_ids: Sequence[str]) -> pd.DataFrame:
        """Canonical records (with person_id, link) of persons, read from the graph."""
        rows = []
        for person_id in person_ids:
            view = self.person_360(person_id)
            if view is None:
                continue
            for records in view.records_by_source.values():
                rows += [{**r.fields, "person_id": person_id, "match_probability": r.match_probability,
                          "link_method": r.method} for r in records]
        frame = canonical_frame(rows)
        for column in ("person_id", "match_probability", "link_method"):
            frame[column] = [r.get(column) for r in rows]
        return frame

    def derived_profile(self, view: Person360) -> dict[str, Any]:
        """Profile and place from a person's records, for persons the API created (their node is bare until
        the next `canbao run` writes profiles and places)."""
        rows = [{**r.fields, "person_id": view.person.person_id}
                for records in view.records_by_source.values() for r in records]
        if not rows:
            return {}
        frame = canonical_frame(rows)
        frame["person_id"] = view.person.person_id
        profile = person_profiles(frame).iloc[0].to_dict()
        place = place_persons(frame).iloc[0].to_dict()
        derived = {**profile, **{k: place.get(k) for k in ("district_code", "street", "community", "dispatch_reason")}}
        return {k: None if v is None or v is pd.NaT or (isinstance(v, float) and v != v) else v
                for k, v in derived.items()}

    # --- matching -------------------------------------------------------------------------
    def candidates(self, fragment: pd.DataFrame | Mapping[str, object], limit: int) -> list[Candidate]:
        """Ranked persons a canonical fragment (one row, or a mapping) may be (writes nothing)."""
        with self._state_lock:
            self._ensure_fresh()
            ranked = self._rank(fragment, limit)
        with self._graph_lock:
            return self._with_persons(ranked)

    async def candidates_async(self, fragment: pd.DataFrame | Mapping[str, object], limit: int) -> list[Candidate]:
        """``candidates`` for the event loop: computed right there while no writer holds the state or the graph
        (a lookup takes about a millisecond; the hop to a worker thread added 0.2-0.3 ms of CPU and a convoy of
        threads on the state lock); in a worker thread when a writer holds one, or when the state on disk changed
        (reloading it takes seconds), so the loop never waits."""
        ranked = None
        if self._state_lock.acquire(blocking=False):
            try:
                if self._state_stamp() == self._stamp:
                    ranked = self._rank(fragment, limit)
            finally:
                self._state_lock.release()
        if ranked is None:
            return await anyio.to_thread.run_sync(self.candidates, fragment, limit)
        # Not while a supervised graph's worker must be (re)started first (half a second): that waits in a thread.
        if self.graph.ready and self._graph_lock.acquire(blocking=False):
            try:
                return self._with_persons(ranked)
            finally:
                self._graph_lock.release()
        return await anyio.to_thread.run_sync(self._with_persons_locked, ranked)

    def _rank(self, fragment: pd.DataFrame | Mapping[str, object], limit: int) -> list[tuple[Any, ...]]:
        """(person_id, probability, method, record_key, explanation) of the best ``limit`` persons; state lock held."""
        ranked = self.live.candidates(fragment, self.config)
        if ranked.empty:
            return []
        # Column lists, not itertuples (which builds a namedtuple class per call: a tenth of a lookup's time).
        return list(zip(*(ranked[c].tolist()[:limit] for c in ("person_id", "match_probability", "method",
                                                               "record_key", "explanation"))))

    def _with_persons(self, ranked: list[tuple[Any, ...]]) -> list[Candidate]:
        """Candidates with their person views, read in one query; graph lock held."""
        persons = self.graph.persons([r[0] for r in ranked])
        return [Candidate(person_id=person_id, match_probability=float(probability), method=method,
                          record_key=record_key, explanation=explanation, person=persons.get(person_id))
                for person_id, probability, method, record_key, explanation in ranked]

    def _with_persons_locked(self, ranked: list[tuple[Any, ...]]) -> list[Candidate]:
        with self._graph_lock:
            return self._with_persons(ranked)

    # --- the review queue -----------------------------------------------------------------
    def status_of(self, person_ids: Sequence[str | None]) -> list[str | None]:
        """Current status of persons: the API's changes over the last run's persons.parquet."""
        if self._statuses is None:
            persons = pd.read_parquet(self.layout.persons_file, columns=["person_id", "status"])
            self._statuses = persons.set_index("person_id")["status"]
        base = self._statuses
        return [self._status_overlay.get(p) or (base.get(p) if p is not None else None) for p in person_ids]

    def open_pairs(self) -> list[OpenPair]:
        """Every open review pair, highest impact first, then the most uncertain (cached for 60 s or until a change)."""
        with self._state_lock:
            key = (self.live.version, id(self.live))
            if self._queue_cache and self._queue_cache[0] == key and time.time() - self._queue_cache[1] < 60:
                return self._queue_cache[2]
            with self._graph_lock:
                total = self.graph.review_queue(0, 1).total
                items = self.graph.review_queue(0, max(total, 1)).items
            keys = [i.record_key_l for i in items] + [i.record_key_r for i in items]
            persons = self.live.persons_of(keys)
            pairs = []
            for item in items:
                left, right = persons.get(item.record_key_l), persons.get(item.record_key_r)
                if left is not None and left == right and not _two_numbers_kept(item):
                    continue   # already one person (a steward merged them since the run)
                status_l, status_r = self.status_of([left, right])
                pairs.append(OpenPair(item, left, right, status_l, status_r))
            # Deaths first among the highest impact: a survey team must not visit the dead.
            pairs.sort(key=lambda p: (-p.impact, not p.brings_death, abs(p.item.match_probability - 0.5)))
            self._queue_cache = (key, time.time(), pairs)
            return pairs

    def conflicts(self) -> list[dict[str, Any]]:
        """Persons flagged CONFLICT (two valid ID numbers in one cluster, or a steward-split), from the graph."""
        return self.run_query("conflicts", {"limit": 100_000}).rows

    # --- changes --------------------------------------------------------------------------
    def attach_survey(self, record: pd.DataFrame) -> ChangeOutcome:
        """Attach a confirmed survey (one canonical row): re-resolve its component, write the graph, re-status."""
        key = record["record_key"].iat[0]
        with self._state_lock:
            self._ensure_fresh()
            if self.live.knows(key):
                person = self.live.persons_of([key]).get(key)
                return ChangeOutcome(person, None, "already_attached", (), 0.0)
            outcome = self._change(new_record=record, seed_keys=(), decision=None)
            self._pending_records[key] = record
        self._schedule_flush()
        return outcome

    def decide(self, record_key_l: str, record_key_r: str, decision: str, steward: str, note: str) -> ChangeOutcome:
        """Keep a steward's decision in the graph and, for match / not_match, re-cluster and re-status at once."""
        with self._state_lock:
            self._ensure_fresh()
            decided = {"record_key_l": record_key_l, "record_key_r": record_key_r, "decision": decision,
                       "steward": steward, "decided_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                       "note": note}
            outcome = self._change(new_record=None, seed_keys=(record_key_l, record_key_r), decision=decided)
        self._schedule_flush()
        return outcome

    def _decisions(self) -> pd.DataFrame:
        if self._constraints is None:
            with self._graph_lock:
                self._constraints = self.graph.decisions()
        return self._constraints

    def _change(self, new_record: pd.DataFrame | None, seed_keys: Sequence[str],
                decision: dict[str, Any] | None) -> ChangeOutcome:
        started = time.perf_counter()
        decisions = self._decisions()
        if decision is not None:
            decisions = pd.concat([decisions, pd.DataFrame([decision])], ignore_index=True) if len(decisions) \
                else pd.DataFrame([decision])
        steps: Steps = []
        if decision is not None:
            steps.append((RECORD_DECISION, dict(decision)))
        change: Reclustering | None = None
        statuses: tuple[StatusChange, ...] = ()
        if decision is None or decision["decision"] in ("match", "not_match"):
            change = recluster(self.live, self.config, steward_constraints(decisions), new_record=new_record,
                               seed_keys=seed_keys)
            more, statuses = self._change_steps(change, new_record, decision)
            steps += more
        # One transaction for the decision, the records, the links and the statuses: all or nothing. GraphStore
        # offers each as its own transaction (upsert_record, record_decision, update_person_status), so the same
        # statements are gathered here and sent through the store's transaction hook.
        with self._graph_lock:
            results = self.graph._write(steps, "api change")
        for (statement, params), rows in zip(steps, results):
            counted = int(rows[0].get("updated", rows[0].get("created", 1))) if rows else 1
            if statement in (UPDATE_PERSON_STATUS, RECORD_DECISION) and counted == 0:
                log.error("graph and resolver state disagree: %s matched nothing (%s) — run `canbao run` to "
                          "realign them", statement.name, {k: v for k, v in params.items() if k.startswith(("person",
                                                                                                          "record"))})
        person_id = probability = method = None
        if change is not None:
            self.live.apply(change)
            for status in statuses:
                self._status_overlay[status.person_id] = status.after
            if new_record is not None:
                key = new_record["record_key"].iat[0]
                link = change.links.set_index("record_key").loc[key]
                person_id, probability, method = link["person_id"], float(link["match_probability"]), link["method"]
        if decision is not None:
            self._constraints = decisions
        self._queue_cache = None
        return ChangeOutcome(person_id, probability, method, statuses, round(time.perf_counter() - started, 3))

    def _change_steps(self, change: Reclustering, new_record: pd.DataFrame | None,
                      decision: dict[str, Any] | None) -> tuple[Steps, tuple[StatusChange, ...]]:
        """Graph statements for a reclustering (new records, re-pointed links, new statuses, merged-away persons)
        and the status changes they make."""
        new_keys = set(new_record["record_key"]) if new_record is not None else set()
        stored = self.records_of(sorted(change.persons_before))
        # A replayed survey may already be in the graph (a crash between the graph write and the state flush).
        stored = stored[~stored["record_key"].isin(new_keys)]
        inside = set(change.links["record_key"])
        outside = stored[~stored["record_key"].isin(inside)]
        if len(outside):
            log.warning("graph records not in the resolver state's component (ignored): %s",
                        outside["record_key"].tolist()[:5])
        records = pd.concat([r for r in (stored[stored["record_key"].isin(inside)], new_record)
                             if r is not None and len(r)], ignore_index=True)
        persons = restatus(records, change, self.as_of)
        before = {}
        for person_id in change.persons_before:
            view = self.person(person_id)
            before[person_id] = view.status if view else None
        steps: Steps = []
        for row in change.changed.itertuples(index=False):
            if row.record_key in new_keys:
                steps += _record_steps(new_record[new_record["record_key"] == row.record_key].iloc[0].to_dict(),
                                       row.person_id, row.match_probability, row.method)
            else:
                steps += _relink_steps(row.record_key, row.person_id, row.match_probability, row.method)
        changes = []
        for person_id, person in persons.iterrows():
            steps.append((UPDATE_PERSON_STATUS, {
                "person_id": person_id, "status": person["status"], "flags": list(flags_of(person["flags"])),
                "status_rule": person["status_rule"], "status_records": list(status_records(person["status_records"])),
                "run_id": self.run_id}))
            changes.append(StatusChange(person_id, before.get(person_id), person["status"], flags_of(person["flags"])))
        reason = (f"数据管理员 {decision['steward']} 判定同一人 (steward decision: match)" if decision
                  else "入户调查确认 (confirmed survey)")
        for person_id, into in change.merged_into().items():
            steps.append((UPDATE_PERSON_STATUS, {
                "person_id": person_id, "status": MERGED_STATUS, "flags": [], "status_rule": merged_rule(into, reason),
                "status_records": [], "run_id": self.run_id}))
            changes.append(StatusChange(person_id, before.get(person_id), MERGED_STATUS, (), merged_into=into))
        return steps, tuple(changes)

    # --- the resolver state on disk -------------------------------------------------------
    def _state_stamp(self) -> tuple[int, int]:
        meta = self.layout.state_dir / "state.json"
        stat = meta.stat()
        return stat.st_mtime_ns, stat.st_size

    def _ensure_fresh(self) -> None:
        """Reload when a `canbao run` replaced the state underneath (not our own flush)."""
        if not self._flush_lock.acquire(blocking=False):
            return
        try:
            if self._state_stamp() == self._stamp:
                return
            log.warning("resolver state changed on disk (a `canbao run`?): reloading %s", self.layout.state_dir)
            with self._graph_lock:
                runs = self.graph.runs()
            with self.layout.reading():   # the stamp of the state just read, not of one landed after it
                self.live = LiveState(load_state(self.layout.state_dir))
                self._stamp = self._state_stamp()
            self.live.warm(self.config)
            self.as_of = self.settings.as_of or runs[-1].as_of
            self.run_id = runs[-1].run_id
            self._saved_version = self.live.version
            self._pending_records.clear()
            self._constraints = self._statuses = self._queue_cache = None
            self._status_overlay.clear()
        finally:
            self._flush_lock.release()
        self.replay_confirmed()

    def replay_confirmed(self) -> int:
        """Attach confirmed surveys the loaded state lacks (a crash before a flush, or a run without them)."""
        count = 0
        for record in self.replay():
            if not self.live.knows(str(record["record_key"])):
                self.attach_survey(canonical_frame([record]))
                count += 1
        if count:
            log.warning("replayed %d confirmed survey(s) into the resolver state", count)
            self.flush()   # replays are rare: save them now rather than after the flush delay
        return count

    @property
    def pending_changes(self) -> int:
        return self.live.version - self._saved_version

    def _schedule_flush(self) -> None:
        if self.settings.flush_seconds == 0:
            self.flush()
            return
        with self._state_lock:
            if self._timer is None:
                self._timer = threading.Timer(self.settings.flush_seconds, self._timed_flush)
                self._timer.daemon = True
                self._timer.start()

    def _timed_flush(self) -> None:
        with self._state_lock:
            self._timer = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 — a background flush must log, not die silently; the next change retries
            log.exception("flushing the resolver state failed; it will be retried after the next change")

    def flush(self) -> None:
        """Save what the API attached as one landing (resolver/landing.py): records.parquet and the resolver
        state are staged, then moved into place together, so a crash leaves the old pair or the new one.

        Lock order: the state lock only to take a snapshot, then the flush lock alone while writing, so a
        flush never waits for the state lock while holding the flush lock (no deadlock with a writer). The
        store's landing lock is held while staging and moving: a `canbao run` lands before or after, never
        in between; when one landed since the state was loaded, this flush is dropped (the run's state is
        reloaded on the next request and confirmed surveys are replayed into it).
        """
        with self._state_lock:
            if self.live.version == self._saved_version:
                return
            live, version = self.live, self.live.version
            frozen = live.frozen()
            pending = dict(self._pending_records)
        state = frozen.materialise()   # seconds for a city: lookups and attaches go on meanwhile
        with self._flush_lock:
            if live is not self.live or version <= self._saved_version:
                return   # a later snapshot was saved meanwhile, or a `canbao run` replaced the state
            started = time.perf_counter()
            with landing_lock(self.layout):
                if self._state_stamp() != self._stamp:
                    log.warning("a `canbao run` landed since the state was loaded: this flush is dropped; the run's "
                                "state is reloaded on the next request and confirmed surveys replayed into it")
                    return
                landing = Landing(self.layout, token=f"api-{uuid.uuid4().hex[:12]}")
                try:
                    if pending:
                        combined = _with_records(self.layout.records_file,
                                                 pd.concat(list(pending.values()), ignore_index=True))
                        if combined is not None:
                            _write_arrow(combined, landing.stage(self.layout.records_file))
                    save_state(state, landing.stage_dir(self.layout.state_dir))
                    landing.commit(locked=True)
                except BaseException:
                    landing.discard()
                    raise
                self._stamp = self._state_stamp()
            self._saved_version = version
            for key in pending:
                self._pending_records.pop(key, None)
            self.last_flush = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            log.info("resolver state saved (%d records) in %.1f s", len(state.records), time.perf_counter() - started)


def _record_steps(record: Mapping[str, Any], person_id: str, probability: float, method: str) -> Steps:
    """The statements GraphStore.upsert_record sends, gathered here so that a change is one transaction."""
    props = {k: v for k, v in record_props(record, run_id=None).items() if v is not None}
    key = {"record_key": record["record_key"]}
    return [
        (upsert_record(frozenset(props)),
         {**key, "source": record["source"], "record_id": str(record["record_id"]), "props": props}),
        *_relink_steps(record["record_key"], person_id, probability, method),
    ]


def _relink_steps(record_key: str, person_id: str, probability: float, method: str) -> Steps:
    """Re-point a stored record's BELONGS_TO (creating the person node if new)."""
    key = {"record_key": record_key}
    return [
        (ENSURE_PERSON, {"person_id": person_id, "run_id": ""}),
        (UNLINK_RECORD, key),
        (LINK_RECORD, {**key, "person_id": person_id, "match_probability": float(probability), "method": method}),
    ]


def _with_records(path: Path, fresh: pd.DataFrame) -> Any:
    """records.parquet with canonical rows appended (keys already there skipped), as an Arrow table; None when
    every row is already there.

    The stored rows stay in Arrow (read, concatenated and written by Arrow's C++ without the
    interpreter lock): a city's file is millions of rows, and turning them into Python objects
    would stall every request the server answers meanwhile.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    existing = pq.read_table(path)
    keys = pa.array(fresh["record_key"].astype(str), type=pa.string())
    stored = existing.column("record_key").combine_chunks().cast(pa.string())
    fresh = fresh[~pc.is_in(keys, value_set=stored).to_numpy(zero_copy_only=False)]
    if fresh.empty:
        return None
    fresh = fresh.reindex(columns=existing.column_names)
    for field in existing.schema:   # the stored types win (dates stay timestamps, line stays an integer)
        if pa.types.is_temporal(field.type) or pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            fresh[field.name] = fresh[field.name].astype(field.type.to_pandas_dtype())
    added = pa.Table.from_pandas(fresh, schema=existing.schema, preserve_index=False)
    return pa.concat_tables([existing, added])


def _write_arrow(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


__all__ = ["Candidate", "ChangeOutcome", "Engine", "OpenPair"]
