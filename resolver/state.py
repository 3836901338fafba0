"""The resolver's memory between runs: matching columns, links, scored edges, conflicts and the model.

Saved in one folder as parquet plus a readable model.json, so an incremental run (or
the survey app) blocks new records against stored keys without the graph database
and without rescoring old pairs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from resolver.compare import MATCH_COLUMNS
from resolver.errors import InputError
from resolver.scoring import FSModel

STATE_FORMAT = "canbao-resolver-state/1"
_TABLES = ("records", "links", "edges", "conflicts")


@dataclass
class ResolverState:
    """Everything an incremental run needs from earlier runs."""

    records: pd.DataFrame     # MATCH_COLUMNS of every resolved record
    links: pd.DataFrame       # record_key, source, record_id, person_id, match_probability, method
    edges: pd.DataFrame       # scored pairs at or above the review threshold, with their levels
    conflicts: pd.DataFrame   # person_id, reason
    model: FSModel
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # in-memory indexes


def column_view(columns: dict[str, pd.Series], length: int) -> pd.DataFrame:
    """A frame over these columns without copying them (index 0..length-1).

    Series keep their dtype, so pandas neither copies nor scans object columns for dates (an
    all-null column of a city's records took seconds); one block per column, no 2-D copy.
    """
    index = pd.RangeIndex(length)
    return pd.DataFrame({name: values.set_axis(index, copy=False) for name, values in columns.items()},
                        index=index, copy=False)


PARQUET_CHUNK_ROWS = 500_000   # rows turned into Arrow at a time when writing a city's tables


def write_parquet(frame: pd.DataFrame, path: Path, columns: list[str] | None = None) -> None:
    """Write (some columns of) a frame as to_parquet(index=False) would, in row slices.

    The whole table is never held as Arrow, and the frame is neither copied nor re-indexed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    view = column_view({c: frame[c] for c in (columns or list(frame.columns))}, len(frame))
    schema = pa.Schema.from_pandas(view, preserve_index=False)   # types from every row, as to_parquet does
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(view), 1), PARQUET_CHUNK_ROWS):
            part = view.iloc[start:start + PARQUET_CHUNK_ROWS]
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False, schema=schema))


def save_state(state: ResolverState, folder: Path | str) -> None:
    """Write the state to `folder` (created if needed; existing state files replaced)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _TABLES:
        write_parquet(getattr(state, name), folder / f"{name}.parquet.tmp")
        (folder / f"{name}.parquet.tmp").replace(folder / f"{name}.parquet")
    (folder / "model.json").write_text(
        json.dumps(state.model.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    meta = {"format": STATE_FORMAT, "records": len(state.records), "persons": int(state.links["person_id"].nunique()),
            "edges": len(state.edges), "conflicts": len(state.conflicts)}
    (folder / "state.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def state_records(records: pd.DataFrame) -> pd.DataFrame:
    """The matching columns of the records as the state keeps them (absent ones null), without copying any."""
    absent = [c for c in MATCH_COLUMNS if c not in records.columns]
    filler = records.reindex(columns=absent) if absent else None   # the nulls reindex would give
    return column_view({c: records[c] if c in records.columns else filler[c] for c in MATCH_COLUMNS}, len(records))


def has_state(folder: Path | str) -> bool:
    """True when `folder` holds a saved resolver state."""
    return (Path(folder) / "state.json").is_file()


def load_model(path: Path | str) -> FSModel:
    """Read a model.json written by save_state (or by hand from one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: 找不到模型文件 model file not found — run a full resolution first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: 模型文件不是有效的 JSON not valid JSON — {error}") from None
    return FSModel.from_dict(data, origin=str(path))


def save_model(model: FSModel, path: Path | str) -> None:
    """Write a model as readable JSON."""
    Path(path).write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def load_state(folder: Path | str) -> ResolverState:
    """Read a state folder; errors name the folder and what to do."""
    folder = Path(folder)
    meta_path = folder / "state.json"
    if not meta_path.is_file():
        raise InputError(f"{folder}: 没有匹配状态 no resolver state here — run a full `canbao run` into it first")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{meta_path}: 状态文件不是有效的 JSON not valid JSON — {error}; rerun in full") from None
    written = meta.get("format") if isinstance(meta, dict) else None
    if written != STATE_FORMAT:
        raise InputError(f"{meta_path}: state format {written!r} is not {STATE_FORMAT!r} — rerun in full")
    tables = {}
    for name in _TABLES:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"{path}: 状态文件缺失 state file missing — rerun in full into a new folder")
        tables[name] = pd.read_parquet(path)
    missing = [c for c in MATCH_COLUMNS if c not in tables["records"].columns]
    if missing:
        raise InputError(f"{folder / 'records.parquet'}: columns {missing} missing — rerun in full")
    return ResolverState(model=load_model(folder / "model.json"), **tables)
