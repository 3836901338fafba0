"""Where a person lives for survey dispatch (art. 15): district, street and community.

Precedence (shared/spec/status-rules.md): the police 常住地址, else the 户籍地址, else the
latest address in any record. A person none of whose addresses can be placed in a
Tianjin district is UNPLACED, with the reason — never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from resolver.status import PersonCodes, take_column

PLACE_COLUMNS = ["district_code", "street", "community"]
POLICE_SOURCES = ("police_resident", "police_permit")
ROLES = ("residence", "household")


@dataclass(frozen=True)
class _Candidates:
    """Every address of every record as parallel arrays (residence addresses first, each in record order)."""

    code: np.ndarray     # person position (PersonCodes)
    role: np.ndarray     # index into the roles present
    row: np.ndarray      # record position
    rank: np.ndarray     # precedence, lower wins
    roles: tuple[str, ...]

    def notna(self, records: pd.DataFrame, field: str) -> np.ndarray:
        """Whether each candidate's ``<role>_<field>`` is present."""
        mask = np.zeros(len(self.code), dtype=bool)
        for index, role in enumerate(self.roles):
            mine = self.role == index
            mask[mine] = records[f"{role}_{field}"].notna().to_numpy()[self.row[mine]]
        return mask

    def column(self, records: pd.DataFrame, field: str, which: np.ndarray) -> pd.Series:
        """``<role>_<field>`` of the candidates ``which``, in that order (only those rows are read)."""
        parts, where = [], []
        for index, role in enumerate(self.roles):
            mine = np.flatnonzero(self.role[which] == index)
            parts.append(take_column(records[f"{role}_{field}"], self.row[which[mine]]))
            where.append(mine)
        if not parts:
            return pd.Series([], dtype=object)
        filled = [(part, mine) for part, mine in zip(parts, where) if len(mine)]
        if len(filled) < 2:   # one role (or none): already in order, no concatenation
            return filled[0][0] if filled else parts[0]
        values = pd.concat([part for part, _ in filled], ignore_index=True)
        where = [mine for _, mine in filled]
        return values.take(np.argsort(np.concatenate(where), kind="stable")).reset_index(drop=True)


def _candidates(records: pd.DataFrame, persons: PersonCodes) -> _Candidates:
    """Every address of every record, with its precedence rank (lower wins)."""
    police = records["source"].isin(POLICE_SOURCES).to_numpy()
    codes, roles, rows, ranks, present = [], [], [], [], []
    for role in ROLES:
        columns = [f"{role}_{c}" for c in PLACE_COLUMNS + ["in_tianjin", "address_raw"]]
        if not set(columns).issubset(records.columns):
            continue
        row = np.flatnonzero(records[f"{role}_address_raw"].notna().to_numpy())
        # 1: police 常住地址; 2: 户籍地址, the police's before other departments' (2.5);
        # 3: any other address, the latest period first.
        rank = np.where(police[row], 1.0, 3.0) if role == "residence" else np.where(police[row], 2.0, 2.5)
        codes.append(persons.codes[row])
        roles.append(np.full(len(row), len(present), dtype=np.int8))
        rows.append(row)
        ranks.append(rank)
        present.append(role)
    if not present:
        empty = np.zeros(0, dtype=np.int64)
        return _Candidates(empty, empty.astype(np.int8), empty, empty.astype(float), ())
    return _Candidates(np.concatenate(codes), np.concatenate(roles), np.concatenate(rows),
                       np.concatenate(ranks), tuple(present))


def descending_key(values: pd.Series) -> np.ndarray:
    """An integer sort key putting ``values`` in descending order with nulls last (as sort_values does)."""
    codes, _ = pd.factorize(values, sort=True)
    return np.where(codes < 0, 1, -codes.astype(np.int64))


def first_per_code(codes: np.ndarray) -> np.ndarray:
    """Positions where a run of equal codes starts (codes sorted)."""
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, dtype=np.int64)


def place_persons(records: pd.DataFrame, persons: PersonCodes | None = None) -> pd.DataFrame:
    """One row per person: district_code, street, community, address_record, dispatch_reason.

    ``persons`` is the records' person factorisation when the caller already has one.
    """
    persons = PersonCodes.of(records["person_id"]) if persons is None else persons
    candidates = _candidates(records, persons)
    placed = np.flatnonzero(candidates.notna(records, "district_code"))
    period = take_column(records["period"], candidates.row[placed])
    order = placed[np.lexsort((descending_key(period), candidates.rank[placed], candidates.code[placed]))]
    best = order[first_per_code(candidates.code[order])]
    index = persons.ids.take(candidates.code[best])
    result = pd.DataFrame(index=persons.ids)
    for column in PLACE_COLUMNS:
        result[column] = candidates.column(records, column, best).set_axis(index).reindex(persons.ids)
    result["address_record"] = take_column(records["record_key"], candidates.row[best]).set_axis(index).reindex(persons.ids)
    is_placed = np.zeros(len(persons), dtype=bool)
    is_placed[candidates.code[best]] = True
    result["dispatch_reason"] = _unplaced_reasons(records, candidates, persons, is_placed)
    return result


def _unplaced_reasons(records: pd.DataFrame, candidates: _Candidates, persons: PersonCodes,
                      placed: np.ndarray) -> pd.Series:
    reasons = np.full(len(persons), None, dtype=object)
    reasons[~placed] = "无任何地址 (no address in any record)"
    seen = np.flatnonzero(~placed[candidates.code])
    if len(seen):
        seen = seen[np.argsort(candidates.code[seen], kind="stable")]   # a person's addresses in record order
        codes = candidates.code[seen]
        starts = first_per_code(codes)
        outside = candidates.column(records, "in_tianjin", seen).eq(False).to_numpy()
        all_outside = np.bincount(codes, weights=~outside, minlength=len(persons))[codes[starts]] == 0
        first_address = candidates.column(records, "address_raw", seen[starts]).to_numpy()
        reasons[codes[starts]] = [
            f"地址不在天津 (address outside Tianjin): {address}" if out
            else f"地址无法定位到区 (address cannot be placed in a district): {address}"
            for out, address in zip(all_outside.tolist(), first_address)
        ]
    return pd.Series(reasons, index=persons.ids, dtype=object)
