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


def save_state(state: ResolverState, folder: Path | str) -> None:
    """Write the state to `folder` (created if needed; existing state files replaced)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _TABLES:
        table: pd.DataFrame = getattr(state, name)
        table.reset_index(drop=True).to_parquet(folder / f"{name}.parquet.tmp", index=False)
        (folder / f"{name}.parquet.tmp").replace(folder / f"{name}.parquet")
    (folder / "model.json").write_text(
        json.dumps(state.model.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    meta = {"format": STATE_FORMAT, "records": len(state.records), "persons": int(state.links["person_id"].nunique()),
            "edges": len(state.edges), "conflicts": len(state.conflicts)}
    (folder / "state.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def has_state(folder: Path | str) -> bool:
    """True when `folder` holds a saved resolver state."""
    return (Path(folder) / "state.json").is_file()


def load_model(path: Path | str) -> FSModel:
    """Read a model.json written by save_state (or by hand from one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: 找不到模型文件 model file not found — run a full resolution first") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: 模型文件不是有效的 JSON not valid JSON — {error}") from None
    return FSModel.from_dict(data, origin=str(path))


def save_model(model: FSModel, path: Path | str) -> None:
    """Write a model as readable JSON."""
    Path(path).write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")


def load_state(folder: Path | str) -> ResolverState:
    """Read a state folder; errors name the folder and what to do."""
    folder = Path(folder)
    meta_path = folder / "state.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: 没有匹配状态 no resolver state here — run a full `canbao run` into it first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != STATE_FORMAT:
        raise ValueError(f"{meta_path}: state format {meta.get('format')!r} is not {STATE_FORMAT!r} — rerun in full")
    tables = {}
    for name in _TABLES:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: 状态文件缺失 state file missing — rerun in full into a new folder")
        tables[name] = pd.read_parquet(path)
    missing = [c for c in MATCH_COLUMNS if c not in tables["records"].columns]
    if missing:
        raise ValueError(f"{folder / 'records.parquet'}: columns {missing} missing — rerun in full")
    return ResolverState(model=load_model(folder / "model.json"), **tables)
