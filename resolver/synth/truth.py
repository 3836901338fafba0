"""The answer key: which person each row belongs to, and each person's status and dispatch place.

Statuses are not invented here: they come from ``resolver.status.assign_statuses`` run on the
clean values of the rows actually written (deliberately bad rows left out, as ingestion
rejects them), so the key says what a perfect resolver would conclude from the files.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resolver.synth.extracts import STATUS_COLUMNS
from resolver.synth.population import Population

RECORD_COLUMNS = ["source", "record_id", "person_id"]
BAD_ROW_COLUMNS = ["source", "file", "line", "reason_kind"]
PERSON_COLUMNS = [
    "person_id", "id_number", "name", "gender", "birth_date", "status", "flags", "district_code", "street",
    "community", "hard_case",
]
# Order of hard-case tags in persons.csv.
HARD_CASE_TAGS: tuple[str, ...] = (
    "twin", "common_name_birthday", "valid_id_typo", "missing_id", "legacy_id_15", "legacy_area_code",
    "foreign_passport", "minority_dot_name", "rare_character", "valid_id_keyed_wrong", "household_member_number",
)
_DATE_COLUMNS = ("permit_valid_until", "prison_entry_date", "prison_release_date", "death_date", "survey_date")


def resolve_record_ids(ids: np.ndarray, file_name: str) -> np.ndarray:
    """The record id ingestion derives: the id, or ``file:line`` when empty or repeated in the file."""
    text = pd.Series(ids, dtype=object).fillna("").astype(str).str.strip()
    fallback = ((text == "") | text.duplicated(keep=False)).to_numpy()
    lines = np.arange(2, len(text) + 2).astype(str).astype(object)
    return np.where(fallback, file_name + ":" + lines, text.to_numpy(dtype=object)).astype(object)


@dataclass
class FileTruth:
    """The truth of one written file."""

    records: pd.DataFrame        # source, record_id, person_id — every data row
    bad_rows: pd.DataFrame       # source, file, line, reason_kind
    status_records: pd.DataFrame  # the canonical status columns of the accepted rows
    places: pd.DataFrame         # person, priority, address — dispatch candidates of accepted rows


def file_truth(
    source: str, file_name: str, person: np.ndarray, record_ids: np.ndarray, reasons: np.ndarray,
    canonical: dict[str, np.ndarray], id_number: np.ndarray, id_status: np.ndarray,
    places: list[tuple[int, np.ndarray]], pop: Population,
) -> FileTruth:
    """Truth tables of one file; all arrays are in file row order."""
    person_id = pop.person_id[person]
    records = pd.DataFrame({"source": source, "record_id": record_ids, "person_id": person_id})
    bad = reasons != ""
    bad_rows = pd.DataFrame({
        "source": source, "file": file_name, "line": np.flatnonzero(bad) + 2, "reason_kind": reasons[bad],
    })
    ok = ~bad
    # Persons by number here (cheaper than 'P…' strings in a frame of millions); see statuses().
    status = pd.DataFrame({"person": person[ok], "source": source, "record_id": record_ids[ok]})
    # Columns this source does not have are left out here and filled when files are combined.
    for column, values in canonical.items():
        status[column] = pd.to_datetime(values[ok]) if column in _DATE_COLUMNS else values[ok]
    status["id_number"] = id_number[ok]
    status["id_status"] = id_status[ok]
    candidates = [
        pd.DataFrame({"person": person[ok], "priority": priority, "address": addresses[ok]})
        for priority, addresses in places
    ]
    place_frame = pd.concat(candidates, ignore_index=True) if candidates else pd.DataFrame(
        {"person": [], "priority": [], "address": []})
    place_frame = place_frame[place_frame["address"] >= 0].astype({"person": np.int64, "address": np.int64})
    return FileTruth(records, bad_rows, status, place_frame)


def combine_status_records(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The accepted rows of all files in one frame with every status column (absent values null)."""
    combined = pd.concat(frames, ignore_index=True, sort=False)
    for column in STATUS_COLUMNS:
        if column not in combined.columns:
            combined[column] = pd.Series(pd.NaT if column in _DATE_COLUMNS else None, index=combined.index,
                                         dtype="datetime64[ns]" if column in _DATE_COLUMNS else object)
    return combined


# Rows per call of assign_statuses: persons are independent, so chunking by person bounds memory.
_STATUS_CHUNK_ROWS = 500_000


def statuses(status_records: pd.DataFrame, as_of: dt.date, pop: Population) -> pd.DataFrame:
    """Status and flags per person_id by the policy rules (resolver.status), in chunks of persons."""
    from resolver.status import assign_statuses

    chunks = max(1, -(-len(status_records) // _STATUS_CHUNK_ROWS))
    chunk_of_row = status_records["person"].to_numpy() % chunks
    results = []
    for chunk in range(chunks):
        frame = status_records.loc[chunk_of_row == chunk].rename(columns={"person": "person_id"})
        frame["record_key"] = frame["source"].astype(str) + ":" + frame["record_id"].astype(str)
        results.append(assign_statuses(frame, as_of)[["status", "flags"]])
        del frame
    result = pd.concat(results)
    result.index = pd.Index(pop.person_id[result.index.to_numpy(dtype=np.int64)], name="person_id")
    return result


def dispatch_places(places: pd.DataFrame, pop: Population) -> pd.DataFrame:
    """District, street and community per person index, by the spec's address precedence."""
    if places.empty:
        return pd.DataFrame(columns=["district_code", "street", "community"])
    best = places.sort_values(["person", "priority"], kind="stable").drop_duplicates("person")
    book = pop.addresses
    at = best["address"].to_numpy()
    return pd.DataFrame(
        {"district_code": book.district_code[at], "street": book.street[at], "community": book.community[at]},
        index=best["person"].to_numpy(),
    )


def person_table(
    pop: Population, person_status: pd.DataFrame, places: pd.DataFrame, tags: dict[str, np.ndarray],
) -> pd.DataFrame:
    """persons.csv: every person with at least one accepted record."""
    index = pd.Index(pop.person_id).get_indexer(person_status.index)
    if (index < 0).any():
        raise ValueError("status frame names a person the population does not have")
    order = np.sort(index)
    status = person_status.reindex(pop.person_id[order])
    place = places.reindex(order)
    tag_text = _tag_text(tags, order)
    identity = np.where(pop.id_number[order] != "", pop.id_number[order], pop.passport[order])
    return pd.DataFrame({
        "person_id": pop.person_id[order],
        "id_number": identity,
        "name": pop.name[order],
        "gender": np.where(pop.male[order], "M", "F"),
        "birth_date": pd.to_datetime(pop.birth_date[order]).strftime("%Y-%m-%d"),
        "status": status["status"].to_numpy(),
        "flags": status["flags"].fillna("").to_numpy(),
        "district_code": place["district_code"].fillna("").to_numpy(),
        "street": place["street"].fillna("").to_numpy(),
        "community": place["community"].fillna("").to_numpy(),
        "hard_case": tag_text,
    }, columns=PERSON_COLUMNS)


def _tag_text(tags: dict[str, np.ndarray], order: np.ndarray) -> np.ndarray:
    text = np.full(len(order), "", dtype=object)
    for tag in HARD_CASE_TAGS:
        mask = tags.get(tag)
        if mask is None:
            continue
        hit = mask[order]
        text[hit] = np.where(text[hit] == "", tag, text[hit] + "|" + tag)
    return text
