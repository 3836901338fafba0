"""Where a person lives for survey dispatch (art. 15): district, street and community.

Precedence (shared/spec/status-rules.md): the police 常住地址, else the 户籍地址, else the
latest address in any record. A person none of whose addresses can be placed in a
Tianjin district is UNPLACED, with the reason — never dropped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PLACE_COLUMNS = ["district_code", "street", "community"]
POLICE_SOURCES = ("police_resident", "police_permit")


def _candidates(records: pd.DataFrame) -> pd.DataFrame:
    """Every address of every record, with its precedence rank (lower wins)."""
    parts = []
    for role in ("residence", "household"):
        columns = {f"{role}_{c}": c for c in PLACE_COLUMNS + ["in_tianjin", "address_raw"]}
        if not set(columns).issubset(records.columns):
            continue
        frame = records[["person_id", "record_key", "source", "period", *columns]].rename(columns=columns)
        frame = frame[frame["address_raw"].notna()]
        police = frame["source"].isin(POLICE_SOURCES).to_numpy()
        # 1: police 常住地址; 2: 户籍地址, the police's before other departments' (2.5);
        # 3: any other address, the latest period first.
        rank = np.where(police, 1.0, 3.0) if role == "residence" else np.where(police, 2.0, 2.5)
        frame = frame.assign(rank=rank)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["person_id", "rank", "period", *PLACE_COLUMNS, "in_tianjin", "address_raw"])
    return pd.concat(parts, ignore_index=True)


def place_persons(records: pd.DataFrame) -> pd.DataFrame:
    """One row per person: district_code, street, community, address_record, dispatch_reason."""
    persons = pd.Index(pd.unique(records["person_id"]), name="person_id")
    candidates = _candidates(records)
    placed = candidates[candidates["district_code"].notna()]
    best = (
        placed.sort_values(["person_id", "rank", "period"], ascending=[True, True, False], kind="stable")
        .drop_duplicates("person_id")
        .set_index("person_id")
    )
    result = pd.DataFrame(index=persons)
    for column in PLACE_COLUMNS:
        result[column] = best[column].reindex(persons)
    result["address_record"] = best["record_key"].reindex(persons)
    result["dispatch_reason"] = _unplaced_reasons(candidates, persons, best.index)
    return result


def _unplaced_reasons(candidates: pd.DataFrame, persons: pd.Index, placed: pd.Index) -> pd.Series:
    reasons = pd.Series(None, index=persons, dtype=object)
    unplaced = persons[~persons.isin(placed)]
    if len(unplaced) == 0:
        return reasons
    reasons[unplaced] = "无任何地址 (no address in any record)"
    seen = candidates[candidates["person_id"].isin(unplaced)]
    if seen.empty:
        return reasons
    outside = seen["in_tianjin"].eq(False)
    for person, group in seen.groupby("person_id"):
        if outside[group.index].all():
            reasons[person] = f"地址不在天津 (address outside Tianjin): {group['address_raw'].iloc[0]}"
        else:
            reasons[person] = f"地址无法定位到区 (address cannot be placed in a district): {group['address_raw'].iloc[0]}"
    return reasons
