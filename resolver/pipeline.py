"""One resolution run end to end: ingest → resolve → status → dispatch → graph.

This is the library call behind `canbao run` (and the API's re-runs). A store folder
holds the graph (``graph/``), the resolver's state (``state/``), every canonical record
(``records.parquet``), the cumulative rejection report, and one folder per run with its
reports. On a store that already holds a run, only new extracts are resolved
(resolve_incremental) and every person's status is derived again for the new as_of.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resolver.dispatch import descending_key, first_per_code, place_persons
from resolver.ingest import IngestResult, ingest_folder, merge_rejections, write_reports
from resolver.mapping import SourceMapping
from resolver.matching_config import MatchingConfig, load_matching_config
from resolver.memory import allocate_arrow_on_c_heap, release_free_memory
from resolver.resolve import Resolution, resolve, resolve_incremental
from resolver.faults import RUN_STAGES, crash_point, crash_stage
from resolver.landing import Landing, discard_leftovers, run_lock
from resolver.runs import RunEntry, record_run, run_index_file
from resolver.state import ResolverState, has_state, load_state, save_state, state_records, write_parquet
from resolver.status import STATUS_ORDER, PersonCodes, status_table, take_column

if TYPE_CHECKING:
    from resolver.arrears import ContributionPolicy

Progress = Callable[[str], None]
# Called with a stage's name as it ends: "ingest", "resolve.<sub-stage>", "status", "graph", "save"
# ("graph" and "save" write under staged names; the run then lands in one step: resolver/landing.py).
StageHook = Callable[[str], None]

# Which record speaks for the person's name and identity: the police register first.
SOURCE_AUTHORITY: tuple[str, ...] = (
    "police_resident", "police_permit", "si_enrolment", "hr_labour", "housing_fund", "tax_iit",
    "edu_student", "civil_assistance", "national_insured", "prison_inmate", "civil_funeral", "hr_foreign", "survey",
)
# What _linked_records adds to each canonical record, as graph.model.RECORD_LINK_COLUMNS (not kept in
# records.parquet; graph is imported lazily, so the names are repeated here).
RECORD_LINK_COLUMNS = ("person_id", "match_probability", "link_method")
# Steward decisions in the graph → constraints for the clusterer.
DECISION_CONSTRAINTS = {"match": "must_link", "not_match": "cannot_link"}


@dataclass(frozen=True)
class StoreLayout:
    """Where a store keeps its parts (a Neo4j store keeps the local parts in ``work_dir``).

    ``for_store`` is how every command and the API open a store: it first rolls forward a run's
    landing that a crash interrupted (resolver/landing.py), so every reader sees one run everywhere.
    """

    graph_spec: str
    work_dir: Path

    @classmethod
    def for_store(cls, store: str, work_dir: Path | None = None) -> "StoreLayout":
        from graph.errors import StoreSpecError
        from resolver.landing import recover

        if "://" in store:
            layout = cls(graph_spec=store, work_dir=Path(work_dir or "canbao-work"))
        else:
            root = Path(store)
            layout = cls(graph_spec=str(root / "graph"), work_dir=Path(work_dir or root))
        for option, path in (("--store", None if "://" in store else Path(store)), ("--work-dir", layout.work_dir)):
            if path is not None and path.exists() and not path.is_dir():
                raise StoreSpecError(f"{option} {path}: 是文件而不是文件夹 (a file, not a folder) — name the store's "
                                     "folder, or a new one for `canbao run`")
        recover(layout)
        return layout

    def reading(self) -> AbstractContextManager[None]:
        """Hold while reading several of the store's files, so a landing cannot move them in between."""
        from resolver.landing import landing_lock

        return landing_lock(self, shared=True)

    @property
    def state_dir(self) -> Path:
        return self.work_dir / "state"

    @property
    def records_file(self) -> Path:
        return self.work_dir / "records.parquet"

    @property
    def rejected_file(self) -> Path:
        return self.work_dir / "rejected.parquet"

    @property
    def rejected_files_file(self) -> Path:
        """Files rejected whole (source, file, rows, reason); their rows are in rejected_file."""
        return self.work_dir / "rejected_files.parquet"

    @property
    def persons_file(self) -> Path:
        return self.work_dir / "persons.parquet"

    @property
    def links_file(self) -> Path:
        return self.state_dir / "links.parquet"

    @property
    def runs_dir(self) -> Path:
        return self.work_dir / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id


@dataclass
class RunOutcome:
    """What one run produced, for the CLI summary and the tests."""

    run_id: str
    as_of: dt.date
    ingest: IngestResult
    resolution: Resolution
    records: pd.DataFrame      # canonical records of the whole store + person_id, match_probability, link_method
    persons: pd.DataFrame      # one row per person (graph.model.PERSON_COLUMNS and more)
    rejected: pd.DataFrame     # cumulative rejection report of the store
    incremental: bool

    def summary(self) -> pd.DataFrame:
        """Persons per district (dispatch place) and status; UNPLACED for persons without one."""
        district = self.persons["district_code"].fillna("UNPLACED")
        table = pd.crosstab(district, self.persons["status"]).reindex(columns=list(STATUS_ORDER), fill_value=0)
        table["合计 total"] = table.sum(axis=1)
        return table


def person_profiles(records: pd.DataFrame, persons: PersonCodes | None = None) -> pd.DataFrame:
    """Name, ID number, gender and birth date of each person, from its most authoritative record.

    Persons come in ascending person_id order. Records are ordered by integer keys (person,
    trusted ID, source authority, latest period): no column of the city's records is copied whole.
    """
    persons = PersonCodes.of(records["person_id"]) if persons is None else persons
    rank = np.empty(len(persons), dtype=np.int64)
    rank[persons.sorted_order] = np.arange(len(persons))
    untrusted = ~records["id_status"].isin(["valid", "converted_15"]).to_numpy()
    source_codes, sources = pd.factorize(records["source"])
    authority = {source: position for position, source in enumerate(SOURCE_AUTHORITY)}
    source_rank = np.array([authority.get(s, len(authority)) for s in sources] + [len(authority)])[source_codes]
    order = np.lexsort((descending_key(records["period"]), source_rank, untrusted, rank[persons.codes]))
    first_rows = order[first_per_code(persons.codes[order])]
    index = persons.ids.take(persons.codes[first_rows])   # = persons in ascending id order

    def best(column: str, rows: np.ndarray = first_rows) -> pd.Series:
        """``column`` of one record per person, indexed by person id."""
        return take_column(records[column], rows).set_axis(persons.ids.take(persons.codes[rows]))

    trusted_first = pd.Series(~untrusted[first_rows], index=index)
    profiles = pd.DataFrame(index=index)
    profiles["id_number"] = best("id_number").where(trusted_first)
    profiles["name"] = best("name")
    id_gender, id_birth = best("id_gender"), best("id_birth_date")
    profiles["gender"] = id_gender.where(id_gender.notna(), best("gender"))
    profiles["birth_date"] = id_birth.where(id_birth.notna(), best("birth_date"))
    # Fall back to any record that has the value when the best record lacks it.
    for column, fallback in (("name", "name"), ("gender", "gender"), ("birth_date", "birth_date")):
        missing = profiles[column].isna()
        if missing.any():
            has = order[records[fallback].notna().to_numpy()[order]]
            known = best(fallback, has[first_per_code(persons.codes[has])])
            profiles.loc[missing, column] = known.reindex(profiles.index[missing]).to_numpy()
    return profiles


def build_persons(records: pd.DataFrame, as_of: dt.date, conflicts: dict[str, str]) -> pd.DataFrame:
    """Profile, status with provenance, and dispatch place of every person (ascending person_id)."""
    persons = PersonCodes.of(records["person_id"])
    table = status_table(records, as_of, flagged_conflicts=conflicts, persons=persons)
    statuses = table.frame
    statuses.insert(statuses.columns.get_loc("flags") + 1, "flag_records", table.flag_records_json())
    places = place_persons(records, persons)
    profiles = person_profiles(records, persons)
    # All three are indexed by the same persons: put them in the profiles' order by position, not by a join.
    order = persons.sorted_order
    joined = pd.concat([profiles, statuses.take(order).set_axis(profiles.index),
                        places.take(order).set_axis(profiles.index)], axis=1)
    joined["arrears_low"] = person_arrears_low(records, joined, as_of).reindex(joined.index).to_numpy()
    return joined.reset_index()


def person_arrears_low(records: pd.DataFrame, persons: pd.DataFrame, as_of: dt.date,
                       policy: ContributionPolicy | None = None) -> pd.Series:
    """Per interrupted or lapsed person (index = person_id), the back-payment estimate at the lowest base
    (resolver/arrears.py; the known part when a figure is missing): the monthly report sums it (art. 36).
    ``policy`` defaults to config/contributions.yaml."""
    from resolver.arrears import ARREARS_FLAGS, arrears_rows, load_contribution_policy

    flags = persons["flags"].fillna("").astype(str)
    owing = persons.index[flags.str.contains("|".join(ARREARS_FLAGS), regex=True).to_numpy()]
    rows = arrears_rows(records, owing, as_of, policy or load_contribution_policy())
    if not len(rows):
        return pd.Series(dtype=float)
    # Summed in whole fen, as estimate_arrears sums decimals: the column equals float(total_low) exactly.
    cents = rows["total_low"].mul(100).round().astype("int64")
    return cents.groupby(rows["person_id"], sort=True).sum() / 100


def _write_parquet(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    """Write some columns of a frame to parquet in row slices, never holding the whole table as Arrow."""
    write_parquet(frame, path, columns)


def steward_constraints(decisions: pd.DataFrame) -> pd.DataFrame:
    """The clusterer's must/cannot-links from the graph's decisions: per record pair the latest decision wins.

    Decisions are history (a steward may change their mind); 'unsure' and superseded
    ones constrain nothing.
    """
    columns = ["record_key_l", "record_key_r", "decision"]
    if decisions.empty:
        return pd.DataFrame(columns=columns)
    ordered = decisions.assign(
        _a=np.minimum(decisions["record_key_l"], decisions["record_key_r"]),
        _b=np.maximum(decisions["record_key_l"], decisions["record_key_r"]),
    ).sort_values("decided_at", kind="stable")
    latest = ordered.drop_duplicates(["_a", "_b"], keep="last")
    wanted = latest[latest["decision"].isin(DECISION_CONSTRAINTS)]
    return pd.DataFrame({
        "record_key_l": wanted["record_key_l"].to_numpy(),
        "record_key_r": wanted["record_key_r"].to_numpy(),
        "decision": wanted["decision"].map(DECISION_CONSTRAINTS).to_numpy(),
    }, columns=columns)


def _linked_records(records: pd.DataFrame, resolution: Resolution) -> pd.DataFrame:
    """The records plus each one's person, probability and method (new columns; record columns shared, not copied)."""
    links = resolution.links
    keys, linked_keys = records["record_key"].to_numpy(), links["record_key"].to_numpy()
    # Links usually come in record order: then no lookup of millions of key strings is needed.
    in_order = len(keys) == len(linked_keys) and bool(np.all(keys == linked_keys))
    by_key = None if in_order else links.set_index("record_key")
    linked = records.copy(deep=False)
    for column, source in (("person_id", "person_id"), ("match_probability", "match_probability"),
                           ("link_method", "method")):
        linked[column] = links[source].to_numpy() if by_key is None else by_key[source].reindex(keys).to_numpy()
    return linked


def _possible_matches(resolution: Resolution) -> pd.DataFrame:
    review = resolution.review_pairs
    return review[["record_key_l", "record_key_r", "match_probability", "explanation"]].reset_index(drop=True)


def run_pipeline(
    input_dir: Path,
    store: str,
    as_of: dt.date,
    *,
    mappings: dict[str, SourceMapping] | None = None,
    matching: MatchingConfig | None = None,
    work_dir: Path | None = None,
    progress: Progress | None = None,
    on_stage: StageHook | None = None,
) -> RunOutcome:
    """Ingest ``input_dir`` into ``store``, resolving against what the store already holds.

    ``on_stage(name)`` is called as each stage ends, so a benchmark (bench/city.py) can take
    wall time and peak memory per stage without parsing progress messages. Nothing in the store
    changes until the run lands in one step (resolver/landing.py): graph, state, parquet files and
    run index together. CANBAO_CRASH_AT=<stage> ends the process after that stage (resolver/faults.py).
    """
    say = progress or (lambda message: None)
    hook = on_stage or (lambda name: None)
    crash_stage()   # an unknown CANBAO_CRASH_AT is refused before any work

    def stage_done(name: str) -> None:
        release_free_memory()   # what a finished stage freed is not carried into the next one's peak
        hook(name)
        if name in RUN_STAGES:
            crash_point(name)

    layout = StoreLayout.for_store(store, work_dir)
    started_at = dt.datetime.now(dt.timezone.utc)
    run_id = started_at.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    matching = matching or load_matching_config()

    ingest = ingest_folder(Path(input_dir), mappings, progress=say)   # the store folder is not touched before this
    allocate_arrow_on_c_heap()
    say(f"读入 ingested: {ingest.summary()}")
    stage_done("ingest")

    def stage(name: str, counts: dict) -> None:
        say(f"{name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        stage_done(f"resolve.{name}")

    layout.work_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(layout):
        discard_leftovers(layout)   # staged files of a run that crashed before it landed
        landing = Landing(layout, token=run_id)
        try:
            outcome, graph = _resolve_and_stage(ingest, layout, landing, run_id, started_at, as_of, matching,
                                                stage, stage_done, say)
        except BaseException:
            landing.discard()
            raise
        landing.commit(graph, checkpoint=crash_point)
    say(f"已落库 landed: 图、状态、记录与运行索引 (graph, state, records and run index) {layout.work_dir}")
    return outcome


def _state_stamp(layout: StoreLayout) -> tuple[int, int]:
    """Which landing the state on disk is from (every landing replaces state.json by a rename)."""
    meta = os.stat(layout.state_dir / "state.json")
    return meta.st_ino, meta.st_mtime_ns


def _resolve_and_stage(ingest: IngestResult, layout: StoreLayout, landing: Landing, run_id: str,
                       started_at: dt.datetime, as_of: dt.date, matching: MatchingConfig,
                       stage: Callable[[str, dict], None], stage_done: StageHook,
                       say: Progress) -> tuple[RunOutcome, dict]:
    """Resolve against the store and write everything the run lands under staged names (nothing current yet);
    returns the outcome and the graph's staged run for the landing manifest."""
    from graph import RunData, RunInfo, StoreBusy, open_store
    from graph.model import DECISION_COLUMNS

    with open_store(layout.graph_spec) as graph_store:
        decisions = graph_store.decisions() if graph_store.landed() else pd.DataFrame(columns=list(DECISION_COLUMNS))
        constraints = steward_constraints(decisions)
        with layout.reading():   # the API's flush lands the state and records.parquet together
            incremental = has_state(layout.state_dir) and layout.records_file.exists()
            if incremental:
                state, stamp = load_state(layout.state_dir), _state_stamp(layout)
        if incremental:
            resolution, union = resolve_incremental(ingest.records, state, matching, constraints, progress=stage)
            # Read after resolving (a city's records are GBs), checking they belong to the state just resolved against.
            with layout.reading():
                if _state_stamp(layout) != stamp:
                    raise StoreBusy(f"库 store {layout.work_dir}", "run", "运行期间库被 API 更新 (the API saved the "
                                    "state during this run); 重新运行 (run again)", retryable=True)
                previous = pd.read_parquet(layout.records_file)
                previous_rejected = pd.read_parquet(layout.rejected_file)
                previous_rejected_files = (pd.read_parquet(layout.rejected_files_file)
                                           if layout.rejected_files_file.exists() else ingest.rejected_files.iloc[:0])
            fresh = ingest.records[~ingest.records["record_key"].isin(previous["record_key"])]
            records = pd.concat([previous, fresh], ignore_index=True)
            files_read = [report.file for report in ingest.files]
            rejected = merge_rejections(previous_rejected, ingest.rejected, files_read)
            rejected_files = merge_rejections(previous_rejected_files, ingest.rejected_files, files_read)
        else:
            resolution = resolve(ingest.records, matching, decisions=constraints, progress=stage)
            records = ingest.records
            rejected, rejected_files = ingest.rejected, ingest.rejected_files
        crash_point("resolve")

        linked = _linked_records(records, resolution)
        persons = build_persons(linked, as_of, resolution.flagged_conflicts)
        say(f"状态 statuses: {len(persons)} 人 persons")
        stage_done("status")
        run_info = RunInfo(
            run_id=run_id,
            as_of=as_of,
            started_at=started_at,
            inputs=tuple(report.file for report in ingest.files),
            counts={"records": len(linked), "persons": len(persons), "rejected": len(rejected),
                    **{k: int(v) for k, v in resolution.counts.items()}},
            model_version=str(resolution.model.to_dict().get("version", "")),
        )
        _, graph = graph_store.stage_run(RunData(
            records=linked,
            persons=persons,
            possible_matches=_possible_matches(resolution),
            decisions=decisions,
            run=run_info,
        ))
        say(f"图已写入（待落库） graph written, not yet current: {layout.graph_spec}")
        stage_done("graph")

    # The state's matching columns are a view of the records (Resolution.state would copy them).
    save_state(ResolverState(records=state_records(records), links=resolution.links, edges=resolution.edges,
                             conflicts=resolution.conflicts, model=resolution.model), landing.stage_dir(layout.state_dir))
    _write_parquet(linked, [c for c in linked.columns if c not in RECORD_LINK_COLUMNS],
                   landing.stage(layout.records_file))
    rejected.to_parquet(landing.stage(layout.rejected_file), index=False)
    rejected_files.to_parquet(landing.stage(layout.rejected_files_file), index=False)
    write_parquet(persons, landing.stage(layout.persons_file))
    run_dir = landing.stage_dir(layout.run_dir(run_id))
    write_reports(ingest, run_dir)
    # The run's person snapshot and index entry, so later runs and months can be compared (arts. 28-30, 34).
    record_run(layout, RunEntry(run_id=run_id, as_of=as_of, started_at=started_at,
                                finished_at=dt.datetime.now(dt.timezone.utc), persons=len(persons),
                                incremental=incremental), persons,
               run_dir=run_dir, index_file=landing.stage(run_index_file(layout)))
    stage_done("save")
    return RunOutcome(run_id=run_id, as_of=as_of, ingest=ingest, resolution=resolution, records=linked,
                      persons=persons, rejected=rejected, incremental=incremental), graph


def format_summary(outcome: RunOutcome, district_names: dict[str, str]) -> str:
    """The end-of-run table: persons per district and status, in Chinese."""
    table = outcome.summary()
    table.index = [f"{code} {district_names.get(code, '')}".strip() if code != "UNPLACED" else "UNPLACED 无法定位"
                   for code in table.index]
    table.loc["合计 total"] = table.sum(axis=0)
    lines = [f"运行 run {outcome.run_id}  基准日 as_of {outcome.as_of}  "
             f"{'增量 incremental' if outcome.incremental else '全量 full'}",
             table.to_string()]
    return "\n".join(lines)


def latest_numbers(outcome: RunOutcome) -> dict[str, int]:
    """Headline counts for the run summary."""
    status_counts = outcome.persons["status"].value_counts()
    return {"records": len(outcome.records), "persons": len(outcome.persons),
            "rejected": len(outcome.rejected),
            **{status: int(status_counts.get(status, 0)) for status in STATUS_ORDER},
            "review_pairs": int(len(outcome.resolution.review_pairs)),
            "conflicts": int(np.sum(outcome.persons["flags"].str.contains("CONFLICT")))}
