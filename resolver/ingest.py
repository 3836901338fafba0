"""Ingest a folder of department extracts into canonical records, losing nothing.

Every data row of every .csv/.xlsx file ends up either as one canonical record or
as one row of the rejection report (source, file, line, reason); problems that do
not cost the row (an unreadable birth date, a stray phone) go to the data-quality
report. ``rows_in == len(records) + len(rejected)`` always holds. A file rejected whole (unreadable,
unmapped, a required column missing) also appears in ``rejected_files`` with its reason and the rows
it held, each of which is a row of the rejection report; an empty or unopenable file holds none.

Sources are processed one at a time (read its files, standardise only its own
fields, keep its accepted rows as canonical columns, drop the rest), so memory
holds the records plus one source's working set rather than every source's raw
text at once. Names and dates are standardised once for all sources (cached),
and at city scale the per-distinct-value work (names, addresses) is shared with
a second process. The result is the one a single pass over all files would give:
same columns, dtypes, values, row order, report order and pandas block layout.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.errors import InputError
from resolver.fields import ADDRESS_ROLES, INPUT_FIELDS, PHONE_COLUMNS, Kind, field_limits
from resolver.mapping import SourceMapping, load_mappings
from resolver.readers import LINE, RawTable, read_department_file, row_lines
from resolver.schema import CANONICAL_COLUMNS
from resolver.standardise.address import address_row, parse_addresses
from resolver.standardise.dates import parse_dates, parse_periods
from resolver.standardise.gender import standardise_genders
from resolver.standardise.id_number import identity_disagreements, standardise_cert_types, standardise_id_numbers
from resolver.standardise.names import name_row, standardise_names
from resolver.standardise.phones import standardise_phones
from resolver.standardise.province import parse_province
from resolver.standardise.unique import ParallelMap, clean_text_within, map_unique_records
from resolver.table_files import output_folder

FILE_NAME = re.compile(r"^(?P<source>[a-z][a-z0-9_]*)_(?P<period>\d{6})\.(?:csv|xlsx)$", re.IGNORECASE)
REJECTED_COLUMNS = ["source", "file", "line", "reason"]
REJECTED_FILE_COLUMNS = ["source", "file", "rows", "reason"]
QUALITY_COLUMNS = ["record_key", "source", "file", "line", "field", "issue"]
# With ``workers=None``, folders holding at least this many bytes of extracts use a second process.
PARALLEL_MIN_BYTES = 100_000_000

_CANONICAL = frozenset(CANONICAL_COLUMNS)
_KEY_AND_RAW = ("record_key", "source", "record_id", "file", "line", "period", "raw")
# Problems are reported in a fixed order of checks (a rank), then in file and line order:
# allowed values per mapping and header, then certificate type, then each input field in catalogue order.
_CERT_TYPE_RANK = (1, 0)
_FIELD_RANK = {name: (1, position + 1) for position, name in enumerate(INPUT_FIELDS)}
_IDENTITY_RANK = (2,)
_DISAGREEMENT_RANK = {"gender": (3, 0), "birth_date": (3, 1)}

Progress = Callable[[str], None]
Rank = tuple[int, ...]



@dataclass
class FileReport:
    """What happened to one input file."""

    file: str
    source: str | None
    period: str | None
    encoding: str | None
    rows_in: int
    accepted: int = 0
    rejected: int = 0
    error: str | None = None


@dataclass
class IngestResult:
    """Canonical records plus everything that did not become one, and why."""

    records: pd.DataFrame
    rejected: pd.DataFrame
    quality: pd.DataFrame
    files: list[FileReport] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def rejected_files(self) -> pd.DataFrame:
        """Files rejected whole: source, file, the rows they held (each also a rejected row) and the reason."""
        return pd.DataFrame(
            [(f.source or "", f.file, f.rows_in, f.error) for f in self.files if f.error is not None],
            columns=REJECTED_FILE_COLUMNS,
        ).astype({"rows": "int64"})

    def summary(self) -> str:
        """The one-line account: rows in = records + rejected rows, and files rejected whole."""
        return (f"{self.rows_in} 行 rows → {len(self.records)} 条记录 records + {len(self.rejected)} 行拒收 rejected rows; "
                f"{sum(f.error is not None for f in self.files)} 个文件整体拒收 files rejected whole")


@dataclass
class _Caches:
    """Standardiser results kept from one source to the next: a person's name and birth date recur in many.

    Addresses are cached within one source only (shared by its household and residence columns): few
    recur across departments, so a cache for all of them would cost far more memory than time saved.
    """

    names: dict = field(default_factory=dict)
    dates: dict = field(default_factory=dict)
    periods: dict = field(default_factory=dict)
    parallel: ParallelMap | None = None


@dataclass
class _SourceRecords:
    """One source's canonical columns (only those it fills), which of their rows are accepted, and its notes."""

    first_file: int
    columns: dict[str, np.ndarray]
    accepted: np.ndarray | None  # None: every row
    rows: int  # accepted rows
    notes: list[tuple[Rank, pd.DataFrame]]

    def accepted_rows(self, column: str) -> np.ndarray:
        values = self.columns[column]
        return values if self.accepted is None else values[self.accepted]


def _whole_file_rejection(path: Path, source: str | None, reason: str, lines: list[int]) -> pd.DataFrame:
    """A file nobody can ingest still accounts for its rows: one rejection per data row, none for a file
    without rows (the file itself is listed in IngestResult.rejected_files)."""
    return pd.DataFrame(
        {"source": source or "", "file": path.name, "line": pd.Series(lines, dtype="int64"), "reason": reason},
        columns=REJECTED_COLUMNS,
    )


def _record_ids(table: RawTable, header: str) -> pd.Series:
    """The record id column, with the spec's file:line fallback for empty or repeated ids."""
    ids = table.frame[header].astype(str).str.strip()
    fallback = ((ids == "") | ids.duplicated(keep=False)).to_numpy()
    if fallback.any():
        ids[fallback] = table.file + ":" + table.frame[LINE][fallback].astype(str)
    return ids


def _extra_columns_json(frame: pd.DataFrame, extras: list[str]) -> pd.Series:
    if not extras:
        return pd.Series(None, index=frame.index, dtype=object)
    values = frame[extras].to_dict("records")
    texts: dict[str, str] = {}   # most rows carry the same few extras: one string per distinct text
    return pd.Series(
        [texts.setdefault(text, text) for text in
         (json.dumps({k: v for k, v in row.items() if v != ""}, ensure_ascii=False) for row in values)],
        index=frame.index,
        dtype=object,
    )


def _frame_of_file(table: RawTable, mapping: SourceMapping, period: str) -> pd.DataFrame:
    """Rename delivered headers to input fields; unknown headers go into ``raw``."""
    frame = table.frame
    known = {mapping.record_id_header, *mapping.columns}
    extras = [h for h in table.header if h not in known]
    out = pd.DataFrame(
        {spec.field: frame[header] for header, spec in mapping.columns.items() if header in frame.columns}
    )
    out["source"] = mapping.source
    out["file"] = table.file
    out["line"] = frame[LINE].astype("int64")
    out["period"] = period
    out["record_id"] = _record_ids(table, mapping.record_id_header)
    out["record_key"] = mapping.source + ":" + out["record_id"]
    out["raw"] = _extra_columns_json(frame, extras)
    return out


def _department_files(folder: Path) -> list[Path]:
    """The folder's .csv/.xlsx files in name order (the order records keep)."""
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in {".csv", ".xlsx"})
    if not paths:
        raise InputError(f"{folder}: 没有找到 .csv 或 .xlsx 部门数据文件 (no department files found)")
    return paths


def _unmapped_file(path: Path, source: str | None, period: str | None) -> tuple[pd.DataFrame, FileReport]:
    """A file whose name is not <source>_<YYYYMM> or whose source has no mapping: every line rejected."""
    reason = (
        "文件名应为 <source>_<YYYYMM>.csv/.xlsx (file name must be <source>_<YYYYMM>)"
        if source is None
        else f"没有数据源 {source} 的映射文件 (no mapping for source {source!r}) — 请在 resolver/sources/ 下新增 {source}.yaml"
    )
    lines = row_lines(path)
    report = FileReport(path.name, source, period, None, len(lines), rejected=len(lines), error=reason)
    return _whole_file_rejection(path, source, reason, lines), report


def _read_source_files(
    paths: list[Path], mapping: SourceMapping, progress: Progress
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[FileReport]]:
    """Each readable file of one source as a frame of input fields; unreadable files and ragged rows rejected."""
    frames: list[pd.DataFrame] = []
    rejections: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    for path in paths:
        period = FILE_NAME.match(path.name).group("period")
        source = mapping.source
        try:
            table = read_department_file(path)
        except InputError as error:
            lines = row_lines(path)
            rejections.append(_whole_file_rejection(path, source, str(error), lines))
            reports.append(FileReport(path.name, source, period, None, len(lines), rejected=len(lines), error=str(error)))
            continue
        missing = [h for h in mapping.required_headers() if h not in table.header]
        report = FileReport(path.name, source, period, table.encoding, table.rows_in)
        if missing:
            reason = (
                f"{path.name}: 缺少必需列 (missing required column) {', '.join(missing)} — "
                f"请核对导出文件或编辑映射 {mapping.origin} (fix the export or edit the mapping)"
            )
            lines = sorted([*table.frame[LINE].tolist(), *(line for line, _ in table.ragged)])
            rejections.append(_whole_file_rejection(path, source, reason, lines))
            report.rejected, report.error = len(lines), reason
            reports.append(report)
            continue
        if table.ragged:
            rejections.append(
                pd.DataFrame(
                    [(source, path.name, line, reason) for line, reason in table.ragged], columns=REJECTED_COLUMNS
                )
            )
        frames.append(_frame_of_file(table, mapping, period))
        reports.append(report)
        progress(f"读取 read {path.name}: {table.rows_in} 行 rows ({table.encoding})")
    return frames, rejections, reports


def _concat_files(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True, sort=False)`` for the frames of one source's files.

    The same frame, built one column at a time: pd.concat inspects every cell of a column that may be all
    missing (``raw`` when a file has no extra columns), which at city scale costs more than the copy.
    A column a file lacks is NaN for its rows, as pd.concat has it.
    """
    if len(frames) == 1:
        return frames[0]
    columns = list(dict.fromkeys(column for frame in frames for column in frame.columns))
    return pd.DataFrame(
        {
            column: np.concatenate([
                frame[column].to_numpy() if column in frame.columns else np.full(len(frame), np.nan, dtype=object)
                for frame in frames
            ])
            for column in columns
        },
        copy=False,
    )


def _supersede_older_periods(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same record id delivered in several periods: the latest period's row is the record."""
    repeated = frame["record_key"].duplicated(keep=False)
    if not repeated.any():
        return frame, pd.DataFrame(columns=REJECTED_COLUMNS)
    order = frame[repeated].sort_values(["source", "record_id", "period", "file"], kind="stable")
    older = order.duplicated(["source", "record_id"], keep="last")
    if not older.any():
        return frame, pd.DataFrame(columns=REJECTED_COLUMNS)
    latest = order.loc[~older].set_index(["source", "record_id"])
    superseded = order.loc[older]
    newer_file = latest.loc[list(zip(superseded["source"], superseded["record_id"])), "file"].to_numpy()
    rejected = pd.DataFrame(
        {
            "source": superseded["source"].to_numpy(),
            "file": superseded["file"].to_numpy(),
            "line": superseded["line"].to_numpy(),
            "reason": [f"已被较新期次的同一记录取代 (superseded by the same record id in {f})" for f in newer_file],
        }
    )
    return frame.loc[~frame.index.isin(superseded.index)], rejected


class _Problems:
    """Collects one source's per-row problems: those that reject the row, and data-quality notes."""

    def __init__(self, frame: pd.DataFrame, mapping: SourceMapping) -> None:
        self.frame = frame
        self.headers = {spec.field: f"{header} ({spec.field})" for header, spec in mapping.columns.items()}
        self.reject = pd.Series("", index=frame.index, dtype=object)
        self.notes: list[tuple[Rank, pd.DataFrame]] = []

    def add(self, mask: pd.Series, field_name: str, messages: pd.Series | str, critical: bool, rank: Rank) -> None:
        """Record a problem in ``field_name`` (an input field or a header) for the masked rows.

        ``messages`` needs values only on masked rows; ``rank`` orders the notes of this check among all checks.
        """
        mask = mask.reindex(self.frame.index, fill_value=False).fillna(False).astype(bool)
        if not mask.any():
            return
        text = messages if isinstance(messages, str) else messages.reindex(mask.index).astype(str)[mask]
        if critical:
            # Name the column as the department delivered it: "刑满日期 (prison_release_date)".
            reason = self.headers.get(field_name, field_name) + ": " + text
            current = self.reject[mask]
            self.reject[mask] = np.where(current == "", reason, current + "; " + reason)
        else:
            rows = self.frame.loc[mask, ["source", "file", "line", "record_id"]].copy()
            rows["field"] = field_name
            rows["issue"] = text
            self.notes.append((rank, rows))


def _is_critical(mapping: SourceMapping, field_name: str) -> bool:
    return any(spec.field == field_name and spec.critical for spec in mapping.columns.values())


def _clean_within_limits(
    frame: pd.DataFrame, mapping: SourceMapping, mapping_rank: int, problems: _Problems
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """The cleaned cells of each input field, and the rows whose value was over its field's limit (left out).

    Over the limit in a critical field the row is rejected; elsewhere the value is dropped and noted.
    """
    limits = field_limits()
    text: dict[str, pd.Series] = {}
    over: dict[str, pd.Series] = {}
    for position, spec in enumerate(mapping.columns.values()):
        if spec.field not in frame.columns:
            continue
        limit = limits[spec.field]
        text[spec.field], too_long = clean_text_within(frame[spec.field], limit)
        if too_long.any():
            lengths = frame[spec.field][too_long].astype(str).str.strip().str.len().astype(str)
            message = f"超过最大长度 {limit} 个字符 (longer than {limit} characters: " + lengths + ")"
            problems.add(too_long, spec.field, message, spec.critical, (0, mapping_rank, position))
            over[spec.field] = too_long
    return {f: text[f] for f in INPUT_FIELDS if f in text}, over


def _check_allowed_values(
    text: dict[str, pd.Series], too_long: dict[str, pd.Series], mapping: SourceMapping, mapping_rank: int,
    problems: _Problems,
) -> None:
    """Values outside a column's allowed list, and empty critical fields (not those emptied for their length)."""
    for position, (header, spec) in enumerate(mapping.columns.items()):
        # An optional column that none of this source's files delivers is not checked, whatever other
        # departments deliver (a single pass over all files used to flag it as empty when another
        # department had the same field).
        if spec.field not in text:
            continue
        values = text[spec.field]
        rank = (0, mapping_rank, position)
        if spec.values is not None:
            bad = values.notna() & ~values.isin(spec.values)
            if bad.any():
                problems.add(bad, header, "不在允许值中 (not an allowed value) '" + values[bad] + "'", spec.critical, rank)
        if spec.critical and spec.field != "cert_type":
            empty = values.isna() if spec.field not in too_long else values.isna() & ~too_long[spec.field]
            problems.add(empty, header, "关键字段为空 (critical field is empty)", True, rank)


def _standardise(
    frame: pd.DataFrame, text: dict[str, pd.Series], mapping: SourceMapping, problems: _Problems, caches: _Caches
) -> dict[str, np.ndarray]:
    """Canonical columns of one source from its input fields (``text``: their cleaned cells).

    Only the columns this source fills are returned; _assemble gives the others their empty value.
    """
    out: dict[str, pd.Series] = {c: frame[c] for c in _KEY_AND_RAW}
    addresses: dict = {}

    # Certificate type: mapping default (hr_foreign: passport), else 证件类型, else resident ID.
    cert = pd.Series("resident_id", index=frame.index, dtype=object)
    if "cert_type" in text:
        mapped, errors = standardise_cert_types(text["cert_type"])
        problems.add(errors.notna(), "cert_type", errors, _is_critical(mapping, "cert_type"), _CERT_TYPE_RANK)
        cert = mapped.fillna(cert)
    out["cert_type"] = cert if mapping.cert_type is None else pd.Series(mapping.cert_type, index=frame.index,
                                                                         dtype=object)

    if "id_number" in text:
        raw_ids = text["id_number"]
        out["id_number_raw"] = raw_ids
        ids = standardise_id_numbers(raw_ids, out["cert_type"])
        out.update({column: ids[column] for column in ids.columns})
    else:
        out["id_status"] = pd.Series("missing", index=frame.index, dtype=object)

    if "name" in text:
        out["name_raw"] = text["name"]
        names = standardise_names(out["name_raw"], caches.names, caches.parallel)
        out.update({column: names[column] for column in names.columns})

    for input_field in (f for f in INPUT_FIELDS if f in text):
        kind = INPUT_FIELDS[input_field]
        values = text[input_field]
        critical = _is_critical(mapping, input_field)
        rank = _FIELD_RANK[input_field]
        if kind is Kind.TEXT:
            out[input_field] = values
        elif kind is Kind.GENDER:
            out[input_field], errors = standardise_genders(values)
            problems.add(errors.notna(), input_field, errors, critical, rank)
        elif kind is Kind.DATE:
            out[input_field], errors = parse_dates(values, caches.dates)
            problems.add(errors.notna(), input_field, errors, critical, rank)
        elif kind is Kind.PERIOD:
            out[input_field], errors = parse_periods(values, caches.periods)
            problems.add(errors.notna(), input_field, errors, critical, rank)
        elif kind is Kind.PHONE:
            out[PHONE_COLUMNS[input_field]], errors = standardise_phones(values)
            problems.add(errors.notna(), input_field, errors, False, rank)
        elif kind is Kind.ADDRESS:
            parsed = parse_addresses(values, ADDRESS_ROLES[input_field], addresses, caches.parallel)
            out.update({column: parsed[column] for column in parsed.columns})
        elif kind is Kind.PROVINCE:
            parsed = map_unique_records(values, parse_province, ["code", "name", "problem"])
            out["insured_province_code"] = parsed["code"]
            out["insured_province_name"] = parsed["name"]
            problems.add(parsed["problem"].notna(), input_field, parsed["problem"], critical, rank)
        elif kind is Kind.NUMBER:
            numbers = pd.to_numeric(values.str.replace(",", "", regex=False), errors="coerce")
            out[input_field] = numbers
            bad = values.notna() & numbers.isna()
            if bad.any():
                problems.add(bad, input_field, "不是数字 (not a number) '" + values[bad] + "'", critical, rank)

    # A row that names nobody cannot be linked to anybody (a name of emoji or zero-width characters names nobody).
    empty = pd.Series(None, index=frame.index, dtype=object)
    no_identity = out.get("name", empty).isna() & out.get("id_number_raw", empty).isna()
    problems.add(no_identity, "姓名/证件号码", "既无姓名也无证件号码 (neither name nor ID number)", True, _IDENTITY_RANK)
    return {column: values.to_numpy() for column, values in out.items() if column in _CANONICAL}


def _identity_notes(part: _SourceRecords) -> list[tuple[Rank, pd.DataFrame]]:
    """Stated gender or birth date contradicting the ID number, as data-quality notes of one source."""
    if "gender" not in part.columns and "birth_date" not in part.columns:
        return []
    frame = pd.DataFrame({c: part.accepted_rows(c) for c in ("record_key", "source", "file", "line")})
    for stated, derived in (("gender", "id_gender"), ("birth_date", "id_birth_date")):
        for column in (stated, derived):
            frame[column] = part.accepted_rows(column) if column in part.columns else None
    found = identity_disagreements(frame)
    if found.empty:
        return []
    at = pd.Index(frame["record_key"]).get_indexer(found["record_key"])
    found = found.assign(source=frame["source"].to_numpy()[at], file=frame["file"].to_numpy()[at],
                         line=frame["line"].to_numpy()[at])
    return [(_DISAGREEMENT_RANK[name], part) for name, part in found.groupby("field", sort=False)]


def _ingest_source(
    paths: list[Path], mapping: SourceMapping, mapping_rank: int, first_file: int, caches: _Caches,
    progress: Progress,
) -> tuple[_SourceRecords | None, list[pd.DataFrame], list[FileReport]]:
    """Read, reconcile and standardise one source's files; keep only its accepted rows' canonical columns."""
    frames, rejections, reports = _read_source_files(paths, mapping, progress)
    if not frames:
        return None, rejections, reports
    frame = _concat_files(frames)
    del frames
    frame, superseded = _supersede_older_periods(frame)
    rejections.append(superseded)

    problems = _Problems(frame, mapping)
    text, too_long = _clean_within_limits(frame, mapping, mapping_rank, problems)
    _check_allowed_values(text, too_long, mapping, mapping_rank, problems)
    del too_long
    columns = _standardise(frame, text, mapping, problems, caches)
    del text

    rejected_rows = problems.reject != ""
    rejections.append(
        pd.DataFrame(
            {
                "source": frame.loc[rejected_rows, "source"],
                "file": frame.loc[rejected_rows, "file"],
                "line": frame.loc[rejected_rows, "line"],
                "reason": problems.reject[rejected_rows],
            }
        )
    )
    accepted = ~rejected_rows
    notes = [(rank, rows[accepted.loc[rows.index].to_numpy()]) for rank, rows in problems.notes]
    # Rejected rows are left out when the records are assembled, saving a copy of every column here.
    part = _SourceRecords(first_file, columns, None if accepted.all() else accepted.to_numpy(), int(accepted.sum()), [])
    part.notes = notes + _identity_notes(part)
    return part, rejections, reports


def _empty_cell(filled: list[np.ndarray]) -> tuple[object, np.dtype]:
    """What a source without this column holds: the standardiser's result for an empty cell (NaT, NaN or None)."""
    kinds = {values.dtype.kind for values in filled}
    if kinds == {"M"}:
        return np.datetime64("NaT"), np.dtype("datetime64[ns]")
    if kinds <= {"i", "u", "f"}:
        return np.nan, np.dtype("float64")
    return None, np.dtype(object)


def _return_freed_memory() -> None:
    """Hand memory freed inside glibc's heap back to the operating system (a no-op elsewhere).

    Each source's columns are a few MB per column, so glibc keeps them in its heap after they are
    freed; the records' columns are bigger and come from fresh mappings. Without a trim, the peak
    holds both.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has malloc_trim), else None."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


# What a column of a field no source delivers holds, by the field's kind (schema.py: dates are datetime64[ns]).
_SCHEMA_EMPTY: dict[Kind, tuple[np.dtype, object]] = {
    Kind.DATE: (np.dtype("datetime64[ns]"), np.datetime64("NaT")),
    Kind.NUMBER: (np.dtype("float64"), np.nan),
}


def _column_type(column: str, parts: list[_SourceRecords]) -> tuple[np.dtype, object]:
    """(dtype of a records column, what a source without the column holds there).

    The dtype of all sources' values together, as if concatenated: int64 incomes become float64 when
    another source has none, and a source with no accepted rows changes nothing.
    """
    filled = [part.columns[column] for part in parts if column in part.columns]
    if not filled:   # no source maps the field: the schema's type still (a date column is datetime64 of NaT)
        return _SCHEMA_EMPTY.get(INPUT_FIELDS.get(column), (np.dtype(object), None))
    empty, empty_dtype = _empty_cell(filled)
    dtypes = [part.columns[column].dtype if column in part.columns else empty_dtype for part in parts if part.rows]
    return np.result_type(*(dtypes or [values.dtype for values in filled])), empty


def _assemble(parts: list[_SourceRecords], file_order: dict[str, int]) -> pd.DataFrame:
    """The records frame, copied column by column into one 2-D block per dtype, as pd.DataFrame lays it out.

    Each source's arrays are released as they are copied. One block per dtype (not one per column) keeps
    pandas' behaviour downstream exactly as before, e.g. which columns pd.concat treats as all-missing.
    """
    parts = sorted(parts, key=lambda part: part.first_file)
    total = sum(part.rows for part in parts)
    order = None
    if parts:
        files = np.concatenate([part.accepted_rows("file") for part in parts])
        ordinals = pd.Series(files, dtype=object).map(file_order).to_numpy()
        # Sources whose files interleave in name order (a_202601, a_2026_202601, a_202701) need a re-sort.
        if (np.diff(ordinals) < 0).any():
            order = np.argsort(ordinals, kind="stable")
    types = {column: _column_type(column, parts) for column in CANONICAL_COLUMNS}
    placements: dict[np.dtype, list[int]] = {}
    for position, column in enumerate(CANONICAL_COLUMNS):
        placements.setdefault(types[column][0], []).append(position)
    # np.empty: pages are only touched (and counted in memory) as the rows are filled.
    blocks = {dtype: np.empty((len(where), total), dtype=dtype) for dtype, where in placements.items()}
    for position, column in enumerate(CANONICAL_COLUMNS):
        dtype, empty = types[column]
        values = blocks[dtype][placements[dtype].index(position)]
        start = 0
        for part in parts:
            if part.rows:
                end = start + part.rows
                values[start:end] = part.accepted_rows(column) if column in part.columns else empty
                start = end
            part.columns.pop(column, None)
        if order is not None:
            values[:] = values[order]
        _return_freed_memory()
    return _frame_from_blocks(blocks, placements, total)


def _frame_from_blocks(blocks: dict[np.dtype, np.ndarray], placements: dict[np.dtype, list[int]],
                       total: int) -> pd.DataFrame:
    """The records frame over the 2-D blocks (one row per column at the given canonical positions), without copying.

    pd.DataFrame(dict) would consolidate the columns into such blocks by copying them, doubling the
    records' memory for a moment. pandas' block API (pandas.core.internals.api.make_block, kept for
    pyarrow, whose to_pandas builds frames this way) takes the blocks as they are; a pandas without it
    gets the same frame from the public constructor, copy included.
    """
    columns, index = pd.Index(list(CANONICAL_COLUMNS)), pd.RangeIndex(total)
    try:
        from pandas.core.internals import BlockManager
        from pandas.core.internals.api import make_block

        manager = BlockManager(
            [make_block(values, placement=placements[dtype]) for dtype, values in blocks.items()], [columns, index]
        )
        return pd.DataFrame._from_mgr(manager, axes=manager.axes)
    except (ImportError, AttributeError, TypeError):
        by_position = {position: values[row] for dtype, values in blocks.items()
                       for row, position in enumerate(placements[dtype])}
        return pd.DataFrame({column: by_position[position] for position, column in enumerate(CANONICAL_COLUMNS)},
                            index=index)


def _quality_report(notes: list[tuple[Rank, pd.DataFrame]], file_order: dict[str, int]) -> pd.DataFrame:
    """Notes of every source: by check, then in record order (file, line)."""
    parts = []
    for _, group in itertools.groupby(sorted(notes, key=itemgetter(0)), key=itemgetter(0)):
        rows = pd.concat([piece for _, piece in group if not piece.empty] or [pd.DataFrame()])
        if rows.empty:
            continue
        order = np.lexsort((rows["line"].to_numpy(), rows["file"].map(file_order).to_numpy()))
        rows = rows.iloc[order]
        if "record_key" not in rows.columns:
            rows = rows.assign(record_key=rows["source"] + ":" + rows["record_id"])
        parts.append(rows.reindex(columns=QUALITY_COLUMNS))
    if not parts:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _use_second_process(paths: list[Path], workers: int | None) -> int:
    """Worker processes to use: as asked, else one when the folder is city-sized and a second core exists."""
    if workers is not None:
        return workers
    if (os.cpu_count() or 1) < 2:
        return 0
    return 1 if sum(path.stat().st_size for path in paths) >= PARALLEL_MIN_BYTES else 0


def ingest_folder(
    folder: Path,
    mappings: dict[str, SourceMapping] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> IngestResult:
    """Read every department file of ``folder`` and standardise it into canonical records.

    ``workers``: processes helping with names and addresses (0: none; default: one for folders of
    PARALLEL_MIN_BYTES or more on a machine with two cores).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: 输入目录不存在 (input folder does not exist)")
    if workers is not None and workers < 0:
        raise ValueError(f"workers={workers}: use 0 (this process only), a positive number, or None (decide by size)")
    progress = progress or (lambda message: None)
    mappings = mappings or load_mappings()
    paths = _department_files(folder)
    file_order = {path.name: position for position, path in enumerate(paths)}

    rejections: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    by_source: dict[str, list[Path]] = {}
    for path in paths:
        match = FILE_NAME.match(path.name)
        source = match.group("source") if match else None
        if match is None or source not in mappings:
            rejection, report = _unmapped_file(path, source, match.group("period") if match else None)
            rejections.append(rejection)
            reports.append(report)
            continue
        by_source.setdefault(source, []).append(path)

    parts: list[_SourceRecords] = []
    helpers = _use_second_process([p for group in by_source.values() for p in group], workers)
    parallel = ParallelMap(helpers) if helpers else None
    try:
        if parallel is not None:
            # The worker imports the standardisers and builds the gazetteer while the first files are read.
            parallel.warm_up(address_row, "天津市和平区")
            parallel.warm_up(name_row, "张伟")
        caches = _Caches(parallel=parallel)
        mapping_rank = {source: position for position, source in enumerate(mappings)}
        # Largest source first: its working set comes and goes before the kept records pile up.
        for source in sorted(by_source, key=lambda s: -sum(p.stat().st_size for p in by_source[s])):
            part, rejected, read = _ingest_source(by_source[source], mappings[source], mapping_rank[source],
                                                  file_order[by_source[source][0].name], caches, progress)
            rejections.extend(rejected)
            reports.extend(read)
            if part is not None:
                parts.append(part)
        del caches
    finally:
        if parallel is not None:
            parallel.close()

    notes = [note for part in parts for note in part.notes]
    for part in parts:
        part.notes = []
    records = _assemble(parts, file_order)
    rejected = pd.concat([r for r in rejections if not r.empty] or [pd.DataFrame(columns=REJECTED_COLUMNS)],
                         ignore_index=True)
    rejected = rejected.sort_values(["file", "line"], kind="stable").reset_index(drop=True)
    quality = _quality_report(notes, file_order)
    reports.sort(key=lambda report: file_order[report.file])
    _count_per_file(reports, records, rejected)
    result = IngestResult(records=records, rejected=rejected, quality=quality, files=reports)
    progress(f"标准化完成 standardised: {result.summary()}")
    return result


def _count_per_file(reports: list[FileReport], records: pd.DataFrame, rejected: pd.DataFrame) -> None:
    accepted = records["file"].value_counts()
    refused = rejected["file"].value_counts()
    for report in reports:
        report.accepted = int(accepted.get(report.file, 0))
        report.rejected = int(refused.get(report.file, 0))


def write_reports(result: IngestResult, out_dir: Path) -> None:
    """rejected.csv (the spec's contract), rejected_files.csv and quality.csv beside it."""
    output_folder(out_dir)
    result.rejected.to_csv(out_dir / "rejected.csv", index=False, columns=REJECTED_COLUMNS)
    result.rejected_files.to_csv(out_dir / "rejected_files.csv", index=False, columns=REJECTED_FILE_COLUMNS)
    result.quality.to_csv(out_dir / "quality.csv", index=False, columns=QUALITY_COLUMNS)


def merge_rejections(previous: pd.DataFrame, latest: pd.DataFrame, files_read: Collection[str]) -> pd.DataFrame:
    """A store's cumulative report after a run: what the latest reading of each file said.

    A file read in this run replaces every earlier rejection of it (a corrected row leaves the report; the
    same folder run twice lists each rejection once); files not read this time keep theirs.
    """
    kept = previous[~previous["file"].isin(list(files_read))]
    frames = [frame for frame in (kept, latest) if len(frame)]
    if not frames:
        return latest.iloc[:0].reset_index(drop=True)
    return pd.concat(frames, ignore_index=True)
