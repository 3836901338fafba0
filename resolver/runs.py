"""A store's run history on disk and the tables its last run left, for comparisons and lists.

Each run appends itself to ``runs/index.json`` and keeps ``runs/<run_id>/persons.parquet``
(status, flags and dispatch place of every person), so any two runs can be compared
(dynamic management, arts. 28-30) and any month reported (arts. 34-36).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from resolver.changes import RunChanges, compare_runs
from resolver.errors import InputError

if TYPE_CHECKING:
    from resolver.pipeline import StoreLayout

SNAPSHOT_COLUMNS: list[str] = ["person_id", "status", "flags", "district_code", "street", "community"]
# Kept when the persons have them (runs before the payment side lack them; readers treat them as absent).
OPTIONAL_SNAPSHOT_COLUMNS: list[str] = ["birth_date", "arrears_low"]
SNAPSHOT_FILE = "persons.parquet"
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class RunEntry:
    """One run in the store's history: when it ran and for which reference date."""

    run_id: str
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime
    persons: int
    incremental: bool

    def to_json(self) -> dict:
        data = asdict(self)
        return {**data, "as_of": self.as_of.isoformat(), "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict) -> "RunEntry":
        return cls(run_id=data["run_id"], as_of=dt.date.fromisoformat(data["as_of"]),
                   started_at=dt.datetime.fromisoformat(data["started_at"]),
                   finished_at=dt.datetime.fromisoformat(data["finished_at"]),
                   persons=int(data["persons"]), incremental=bool(data["incremental"]))

    @property
    def label(self) -> str:
        """How a person reads the run: id and reference date."""
        return f"{self.run_id} (基准日 as_of {self.as_of})"


def _runs_dir(layout: StoreLayout) -> Path:
    return layout.runs_dir


def run_index_file(layout: StoreLayout) -> Path:
    return _runs_dir(layout) / INDEX_FILE


def record_run(layout: StoreLayout, entry: RunEntry, persons: pd.DataFrame, *, run_dir: Path | None = None,
               index_file: Path | None = None) -> Path:
    """Keep the run's person snapshot and add the run to the index; returns the snapshot path.

    A landing passes staged places for the run's folder and the index (resolver/landing.py); without them
    both are written in place (the index atomically).
    """
    snapshot = (run_dir or layout.run_dir(entry.run_id)) / SNAPSHOT_FILE
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    persons[SNAPSHOT_COLUMNS + [c for c in OPTIONAL_SNAPSHOT_COLUMNS if c in persons.columns]].to_parquet(
        snapshot, index=False)
    entries = [e for e in read_run_index(layout) if e.run_id != entry.run_id] + [entry]
    text = json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2)
    if index_file is not None:
        index_file.write_text(text, encoding="utf-8")
        return snapshot
    index = run_index_file(layout)
    temporary = index.with_suffix(".json.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(index)
    return snapshot


def read_run_index(layout: StoreLayout) -> list[RunEntry]:
    """Every recorded run, oldest first (empty for a store whose runs predate the index)."""
    index = _runs_dir(layout) / INDEX_FILE
    if not index.is_file():
        return []
    try:
        entries = [RunEntry.from_json(item) for item in json.loads(index.read_text(encoding="utf-8"))]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InputError(f"{index}: 运行索引损坏 (run index unreadable: {error}); "
                         f"rerun `canbao run` into a new store") from error
    return sorted(entries, key=lambda e: e.started_at)


def _known_runs(entries: list[RunEntry]) -> str:
    return "、".join(e.label for e in entries) or "无 (none: run `canbao run` first)"


def find_run(layout: StoreLayout, run_id: str) -> RunEntry:
    """The run with this id; the error lists the runs the store knows."""
    entries = read_run_index(layout)
    for entry in entries:
        if entry.run_id == run_id:
            return entry
    raise InputError(f"{layout.work_dir}: 没有运行 (no run) {run_id!r}; 已有 (known runs): {_known_runs(entries)}")


def latest_run(layout: StoreLayout) -> RunEntry:
    """The most recent run of the store."""
    entries = read_run_index(layout)
    if not entries:
        raise InputError(f"{layout.work_dir}: 库中没有运行记录 (no recorded run); run `canbao run` first")
    return entries[-1]


def latest_run_in_month(entries: list[RunEntry], year: int, month: int) -> RunEntry | None:
    """The last run whose reference date falls in the month, if any."""
    inside = [e for e in entries if (e.as_of.year, e.as_of.month) == (year, month)]
    return max(inside, key=lambda e: (e.as_of, e.started_at)) if inside else None


def load_snapshot(layout: StoreLayout, run_id: str) -> pd.DataFrame:
    """A run's persons (SNAPSHOT_COLUMNS)."""
    path = layout.run_dir(run_id) / SNAPSHOT_FILE
    if not path.is_file():
        raise InputError(f"{path}: 该运行没有人员快照 (run {run_id} kept no person snapshot); "
                         f"compare runs made after snapshots were introduced")
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=SNAPSHOT_COLUMNS + [c for c in OPTIONAL_SNAPSHOT_COLUMNS if c in present])


def changes_since(layout: StoreLayout, since_run_id: str, until_run_id: str | None = None) -> RunChanges:
    """What changed between run ``since`` and run ``until`` (default: the latest run)."""
    since = find_run(layout, since_run_id)
    until = find_run(layout, until_run_id) if until_run_id else latest_run(layout)
    changes = compare_runs(load_snapshot(layout, since.run_id), load_snapshot(layout, until.run_id))
    return RunChanges(since_run_id=since.run_id, since_as_of=since.as_of, until_run_id=until.run_id,
                      until_as_of=until.as_of, changes=changes)


def load_persons(layout: StoreLayout) -> pd.DataFrame:
    """The latest run's persons (profile, status with provenance, dispatch place)."""
    if not layout.persons_file.is_file():
        raise InputError(f"{layout.persons_file}: 库中还没有运行结果 (no run in this store yet; run `canbao run` first)")
    return pd.read_parquet(layout.persons_file)


def load_linked_records(layout: StoreLayout) -> pd.DataFrame:
    """Every canonical record of the store with its person_id, match_probability and link_method."""
    missing = [str(p) for p in (layout.records_file, layout.links_file) if not p.is_file()]
    if missing:
        raise InputError(f"{', '.join(missing)}: 库中还没有运行结果 (no run in this store yet; run `canbao run` first)")
    records = pd.read_parquet(layout.records_file)
    links = pd.read_parquet(layout.links_file, columns=["record_key", "person_id", "match_probability", "method"])
    links = links.rename(columns={"method": "link_method"}).set_index("record_key")
    for column in ("person_id", "match_probability", "link_method"):
        records[column] = links[column].reindex(records["record_key"]).to_numpy()
    return records
