"""Ingest a folder of department extracts into canonical records, losing nothing.

Every data row of every .csv/.xlsx file ends up either as one canonical record or
as one row of the rejection report (source, file, line, reason); problems that do
not cost the row (an unreadable birth date, a stray phone) go to the data-quality
report. ``rows_in == len(records) + len(rejected)`` always holds.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.errors import InputError
from resolver.fields import ADDRESS_ROLES, INPUT_FIELDS, PHONE_COLUMNS, Kind
from resolver.mapping import SourceMapping, load_mappings
from resolver.readers import LINE, RawTable, count_lines, read_department_file
from resolver.schema import CANONICAL_COLUMNS
from resolver.standardise.address import parse_addresses
from resolver.standardise.dates import parse_dates, parse_periods
from resolver.standardise.gender import standardise_genders
from resolver.standardise.id_number import identity_disagreements, standardise_cert_types, standardise_id_numbers
from resolver.standardise.names import standardise_names
from resolver.standardise.phones import standardise_phones
from resolver.standardise.province import parse_province
from resolver.standardise.unique import clean_text, map_unique_records

FILE_NAME = re.compile(r"^(?P<source>[a-z][a-z0-9_]*)_(?P<period>\d{6})\.(?:csv|xlsx)$", re.IGNORECASE)
REJECTED_COLUMNS = ["source", "file", "line", "reason"]
QUALITY_COLUMNS = ["record_key", "source", "file", "line", "field", "issue"]

Progress = Callable[[str], None]


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


def _whole_file_rejection(path: Path, source: str | None, reason: str, lines: list[int]) -> pd.DataFrame:
    # A file nobody can read still accounts for its rows: one rejection per data line
    # (line 0 when not even the lines can be counted).
    return pd.DataFrame(
        {"source": source or "", "file": path.name, "line": lines or [0], "reason": reason}, columns=REJECTED_COLUMNS
    )


def _record_ids(table: RawTable, header: str) -> pd.Series:
    """The record id column, with the spec's file:line fallback for empty or repeated ids."""
    ids = table.frame[header].astype(str).str.strip()
    repeated = ids.duplicated(keep=False)
    fallback = (ids == "") | repeated
    lines = table.frame[LINE].astype(str)
    return ids.where(~fallback, table.file + ":" + lines)


def _extra_columns_json(frame: pd.DataFrame, extras: list[str]) -> pd.Series:
    if not extras:
        return pd.Series(None, index=frame.index, dtype=object)
    values = frame[extras].to_dict("records")
    return pd.Series(
        [json.dumps({k: v for k, v in row.items() if v != ""}, ensure_ascii=False) for row in values],
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


def _read_files(
    folder: Path, mappings: dict[str, SourceMapping], progress: Progress
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[FileReport]]:
    frames: list[pd.DataFrame] = []
    rejections: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in {".csv", ".xlsx"})
    if not paths:
        raise InputError(f"{folder}: 没有找到 .csv 或 .xlsx 部门数据文件 (no department files found)")
    for path in paths:
        match = FILE_NAME.match(path.name)
        source = match.group("source") if match else None
        period = match.group("period") if match else None
        if match is None or source not in mappings:
            reason = (
                f"文件名应为 <source>_<YYYYMM>.csv/.xlsx (file name must be <source>_<YYYYMM>)"
                if match is None
                else f"没有数据源 {source} 的映射文件 (no mapping for source {source!r}) — 请在 resolver/sources/ 下新增 {source}.yaml"
            )
            lines = list(range(2, count_lines(path) + 2))
            rejections.append(_whole_file_rejection(path, source, reason, lines))
            reports.append(FileReport(path.name, source, period, None, len(lines), rejected=len(lines), error=reason))
            continue
        mapping = mappings[source]
        try:
            table = read_department_file(path)
        except InputError as error:
            lines = list(range(2, count_lines(path) + 2))
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
    """Collects per-row problems: those that reject the row, and data-quality notes."""

    def __init__(self, frame: pd.DataFrame, mappings: dict[str, SourceMapping]) -> None:
        self.frame = frame
        self.headers = {
            (m.source, spec.field): f"{header} ({spec.field})"
            for m in mappings.values()
            for header, spec in m.columns.items()
        }
        self.reject = pd.Series("", index=frame.index, dtype=object)
        self.notes: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, field_name: str, messages: pd.Series | str, critical: pd.Series | bool) -> None:
        """Record a problem in ``field_name`` (an input field or a header) for the masked rows."""
        mask = mask.reindex(self.frame.index, fill_value=False).fillna(False).astype(bool)
        if not mask.any():
            return
        text = messages if isinstance(messages, str) else messages.reindex(mask.index).astype(str)
        critical_mask = mask & (critical if isinstance(critical, pd.Series) else pd.Series(critical, index=mask.index))
        if critical_mask.any():
            # Name the column as the department delivered it: "刑满日期 (prison_release_date)".
            label = self.frame.loc[critical_mask, "source"].map(
                lambda source: self.headers.get((source, field_name), field_name)
            )
            reason = label + ": " + (text if isinstance(text, str) else text[critical_mask])
            current = self.reject[critical_mask]
            self.reject[critical_mask] = np.where(current == "", reason, current + "; " + reason)
        soft = mask & ~critical_mask
        if soft.any():
            rows = self.frame.loc[soft, ["source", "file", "line", "record_id"]].copy()
            rows["field"] = field_name
            rows["issue"] = text if isinstance(text, str) else text[soft]
            self.notes.append(rows)


def _critical_mask(frame: pd.DataFrame, mappings: dict[str, SourceMapping], field_name: str) -> pd.Series:
    critical_sources = [
        m.source for m in mappings.values() if any(s.field == field_name and s.critical for s in m.columns.values())
    ]
    return frame["source"].isin(critical_sources)


def _check_allowed_values(
    frame: pd.DataFrame, text: dict[str, pd.Series], mappings: dict[str, SourceMapping], problems: _Problems
) -> None:
    for mapping in mappings.values():
        rows = (frame["source"] == mapping.source).to_numpy()
        if not rows.any():
            continue
        for header, spec in mapping.columns.items():
            if spec.field not in text:
                continue
            values = text[spec.field]
            if spec.values is not None:
                bad = rows & values.notna().to_numpy() & ~values.isin(spec.values).to_numpy()
                problems.add(
                    pd.Series(bad, index=frame.index),
                    header,
                    "不在允许值中 (not an allowed value) '" + values.fillna("") + "'",
                    spec.critical,
                )
            if spec.critical and spec.field != "cert_type":
                problems.add(
                    pd.Series(rows & values.isna().to_numpy(), index=frame.index),
                    header,
                    "关键字段为空 (critical field is empty)",
                    True,
                )


def _standardise(
    frame: pd.DataFrame, text: dict[str, pd.Series], mappings: dict[str, SourceMapping], problems: _Problems
) -> pd.DataFrame:
    """Canonical columns from the input fields present in ``frame`` (``text``: their cleaned cells)."""
    # Columns are gathered in a dict and framed once: inserting ~90 columns one by one
    # into a DataFrame costs more than all the date parsing.
    out: dict[str, pd.Series] = {c: frame[c] for c in ("record_key", "source", "record_id", "file", "line", "period", "raw")}

    present = [f for f in INPUT_FIELDS if f in text]

    # Certificate type: mapping default (hr_foreign: passport), else 证件类型, else resident ID.
    cert_default = frame["source"].map({m.source: m.cert_type for m in mappings.values()})
    cert = pd.Series("resident_id", index=frame.index, dtype=object)
    if "cert_type" in text:
        mapped, errors = standardise_cert_types(text["cert_type"])
        problems.add(errors.notna(), "cert_type", errors, _critical_mask(frame, mappings, "cert_type"))
        cert = mapped.fillna(cert)
    out["cert_type"] = cert_default.fillna(cert)

    if "id_number" in text:
        raw_ids = text["id_number"]
        out["id_number_raw"] = raw_ids
        ids = standardise_id_numbers(raw_ids, out["cert_type"])
        out.update({column: ids[column] for column in ids.columns})
    else:
        out["id_status"] = pd.Series("missing", index=frame.index, dtype=object)

    if "name" in text:
        out["name_raw"] = text["name"]
        names = standardise_names(out["name_raw"])
        out.update({column: names[column] for column in names.columns})

    for input_field in present:
        kind = INPUT_FIELDS[input_field]
        values = text[input_field]
        if kind is Kind.TEXT:
            out[input_field] = values
        elif kind is Kind.GENDER:
            out[input_field], errors = standardise_genders(values)
            problems.add(errors.notna(), input_field, errors, _critical_mask(frame, mappings, input_field))
        elif kind is Kind.DATE:
            out[input_field], errors = parse_dates(values)
            problems.add(errors.notna(), input_field, errors, _critical_mask(frame, mappings, input_field))
        elif kind is Kind.PERIOD:
            out[input_field], errors = parse_periods(values)
            problems.add(errors.notna(), input_field, errors, _critical_mask(frame, mappings, input_field))
        elif kind is Kind.PHONE:
            out[PHONE_COLUMNS[input_field]], errors = standardise_phones(values)
            problems.add(errors.notna(), input_field, errors, False)
        elif kind is Kind.ADDRESS:
            parsed = parse_addresses(values, ADDRESS_ROLES[input_field])
            out.update({column: parsed[column] for column in parsed.columns})
        elif kind is Kind.PROVINCE:
            parsed = map_unique_records(values, parse_province, ["code", "name", "problem"])
            out["insured_province_code"] = parsed["code"]
            out["insured_province_name"] = parsed["name"]
            problems.add(parsed["problem"].notna(), input_field, parsed["problem"],
                         _critical_mask(frame, mappings, input_field))
        elif kind is Kind.NUMBER:
            numbers = pd.to_numeric(values.str.replace(",", "", regex=False), errors="coerce")
            out[input_field] = numbers
            problems.add(values.notna() & numbers.isna(), input_field, "不是数字 (not a number) '" + values.fillna("") + "'",
                         _critical_mask(frame, mappings, input_field))

    # A row that names nobody cannot be linked to anybody.
    empty = pd.Series(None, index=frame.index, dtype=object)
    no_identity = out.get("name_raw", empty).isna() & out.get("id_number_raw", empty).isna()
    problems.add(no_identity, "姓名/证件号码", "既无姓名也无证件号码 (neither name nor ID number)", True)
    # Plain arrays: every column already shares frame's index, so skip pandas' alignment.
    columns = {
        column: out[column].to_numpy() if column in out else np.full(len(frame), None, dtype=object)
        for column in CANONICAL_COLUMNS
    }
    return pd.DataFrame(columns, index=frame.index)


def ingest_folder(
    folder: Path,
    mappings: dict[str, SourceMapping] | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Read every department file of ``folder`` and standardise it into canonical records."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: 输入目录不存在 (input folder does not exist)")
    progress = progress or (lambda message: None)
    mappings = mappings or load_mappings()
    frames, rejections, reports = _read_files(folder, mappings, progress)
    if frames:
        frame = pd.concat(frames, ignore_index=True, sort=False)
        frame, superseded = _supersede_older_periods(frame)
        rejections.append(superseded)
    else:
        frame = pd.DataFrame(columns=["record_key", "source", "file", "line", "period", "record_id", "raw"])

    problems = _Problems(frame, mappings)
    text = {f: clean_text(frame[f]) for f in INPUT_FIELDS if f in frame.columns}
    _check_allowed_values(frame, text, mappings, problems)
    canonical = _standardise(frame, text, mappings, problems)

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
    records = canonical.loc[~rejected_rows].reset_index(drop=True)
    rejected = pd.concat([r for r in rejections if not r.empty] or [pd.DataFrame(columns=REJECTED_COLUMNS)],
                         ignore_index=True)
    rejected = rejected.sort_values(["file", "line"], kind="stable").reset_index(drop=True)

    quality = _quality_report(problems, records)
    _count_per_file(reports, records, rejected)
    progress(f"标准化完成 standardised: {len(records)} 条记录 records, {len(rejected)} 行拒收 rejected")
    return IngestResult(records=records, rejected=rejected, quality=quality, files=reports)


def _quality_report(problems: _Problems, records: pd.DataFrame) -> pd.DataFrame:
    notes = [n for n in problems.notes if not n.empty]
    parse_issues = pd.concat(notes, ignore_index=True) if notes else pd.DataFrame()
    if not parse_issues.empty:
        parse_issues["record_key"] = parse_issues["source"] + ":" + parse_issues["record_id"]
        parse_issues = parse_issues[parse_issues["record_key"].isin(records["record_key"])]
    disagreements = identity_disagreements(records)
    if not disagreements.empty:
        where = records.set_index("record_key").loc[disagreements["record_key"], ["source", "file", "line"]]
        disagreements = disagreements.assign(
            source=where["source"].to_numpy(), file=where["file"].to_numpy(), line=where["line"].to_numpy()
        )
    parts = [p.reindex(columns=QUALITY_COLUMNS) for p in (parse_issues, disagreements) if not p.empty]
    if not parts:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _count_per_file(reports: list[FileReport], records: pd.DataFrame, rejected: pd.DataFrame) -> None:
    accepted = records["file"].value_counts()
    refused = rejected["file"].value_counts()
    for report in reports:
        report.accepted = int(accepted.get(report.file, 0))
        report.rejected = int(refused.get(report.file, 0))


def write_reports(result: IngestResult, out_dir: Path) -> None:
    """rejected.csv (the spec's contract) and quality.csv beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result.rejected.to_csv(out_dir / "rejected.csv", index=False, columns=REJECTED_COLUMNS)
    result.quality.to_csv(out_dir / "quality.csv", index=False, columns=QUALITY_COLUMNS)
