"""Run-to-run changes for dynamic management (arts. 28-30): new survey targets, enrolments, moves, deaths, releases.

Pure: two person snapshots (person_id, status, flags, district_code, street, community)
go in, one row per person and kind of change comes out, with the before and after.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Kinds of change, in the order lists show them, with their Chinese labels.
CHANGE_LABELS: dict[str, str] = {
    "NEWLY_UNENROLLED": "新增未参保（新调查对象）",
    "ENROLLED": "新参保",
    "DIED": "死亡",
    "RELEASED": "刑满释放",
    "LEFT_WORKLIST": "退出调查名单（其他原因）",
    "MOVED": "居住地变更",
}
PLACE = ("district_code", "street", "community")
CHANGE_COLUMNS: list[str] = [
    "person_id", "change", "change_label", "status_before", "status_after", "flags_after",
    *(f"{p}_before" for p in PLACE), *(f"{p}_after" for p in PLACE),
]

CHANGE_HEADERS: dict[str, str] = {
    "person_id": "人员编号", "change_label": "变化", "status_before": "原状态", "status_after": "现状态",
    "flags_after": "现标记", "district_code_before": "原区代码", "street_before": "原街道（镇）",
    "community_before": "原社区（村）", "district_code_after": "现区代码", "street_after": "现街道（镇）",
    "community_after": "现社区（村）",
}


@dataclass(frozen=True)
class RunChanges:
    """The changes between two runs of one store."""

    since_run_id: str
    since_as_of: dt.date
    until_run_id: str
    until_as_of: dt.date
    changes: pd.DataFrame  # CHANGE_COLUMNS

    def counts(self) -> dict[str, int]:
        """Rows per kind of change, every kind present (0 when none)."""
        found = self.changes["change"].value_counts()
        return {kind: int(found.get(kind, 0)) for kind in CHANGE_LABELS}


def _same(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Element-wise equality where two missing values count as equal."""
    return ((before == after) | (before.isna() & after.isna())).to_numpy(dtype=bool)


def compare_runs(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Change rows (CHANGE_COLUMNS) from the previous run's persons to the current run's.

    A person may have several rows (e.g. released and moved). A person absent from the
    current run (merged by a steward) who was a survey target leaves the work list.
    """
    columns = ["status", "flags", *PLACE]
    both = previous.set_index("person_id")[columns].join(
        current.set_index("person_id")[columns], how="outer", lsuffix="_before", rsuffix="_after")
    before, after = both["status_before"], both["status_after"]
    known, present = before.notna(), after.notna()
    moved = np.zeros(len(both), dtype=bool)
    for part in PLACE:
        moved |= ~_same(both[f"{part}_before"], both[f"{part}_after"])
    rules = {
        "NEWLY_UNENROLLED": (after == "UNENROLLED") & (before != "UNENROLLED"),
        "ENROLLED": known & (after == "ENROLLED") & (before != "ENROLLED"),
        "DIED": known & (after == "DECEASED") & (before != "DECEASED"),
        "RELEASED": (before == "EXEMPT_PRISONER") & present & ~after.isin(["EXEMPT_PRISONER", "DECEASED"]),
        "LEFT_WORKLIST": (before == "UNENROLLED") & ~after.isin(["UNENROLLED", "ENROLLED", "DECEASED"]),
        "MOVED": known & present & pd.Series(moved, index=both.index),
    }
    parts = []
    for kind, holds in rules.items():
        rows = both[holds.fillna(False).to_numpy(dtype=bool)]
        parts.append(rows.assign(change=kind, change_label=CHANGE_LABELS[kind]))
    table = pd.concat(parts).rename_axis("person_id").reset_index()
    table = table.astype({c: object for c in table.columns if c.endswith(("_before", "_after"))})
    table = table.where(table.notna(), None)
    order = {kind: rank for rank, kind in enumerate(CHANGE_LABELS)}
    table = table.sort_values(["change", "person_id"], key=lambda s: s.map(order) if s.name == "change" else s,
                              kind="stable")
    return table[CHANGE_COLUMNS].reset_index(drop=True)


def changes_in_district(changes: pd.DataFrame, district_code: str) -> pd.DataFrame:
    """Changes a district must act on: persons placed in it before or after (moves in and out)."""
    inside = (changes["district_code_after"] == district_code) | (changes["district_code_before"] == district_code)
    return changes[inside.to_numpy(dtype=bool)].reset_index(drop=True)


def changes_sheet(changes: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The changes with Chinese headers and status/flag labels, for the file a district opens."""
    shown = changes.copy()
    for column in ("status_before", "status_after"):
        shown[column] = shown[column].map(lambda code: labels.get(code, code) if isinstance(code, str) else "（无）")
    shown["flags_after"] = shown["flags_after"].map(
        lambda flags: "、".join(labels.get(f, f) for f in flags.split("|")) if isinstance(flags, str) and flags else "")
    return shown[list(CHANGE_HEADERS)].rename(columns=CHANGE_HEADERS)
