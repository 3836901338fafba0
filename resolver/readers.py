"""Read one department file (.csv in UTF-8/UTF-8-BOM/GBK/GB18030, or .xlsx) into text cells.

Every data row keeps its line number in the file (header = line 1; for .xlsx the
worksheet row), so a problem can always be reported as file:line. A row whose
field count differs from the header is returned as ragged, never dropped.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from resolver.errors import InputError

LINE = "__line"
# A line ends at \n, \r\n or a bare \r (as pyarrow has it); neither byte occurs inside a UTF-8 or GB18030 character.
_NEWLINE = re.compile(rb"[\r\n]")
_QUOTE = re.compile(rb'"')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# bytes.strip()'s whitespace is the bytes regex's \s: a file with no other byte after its header has no rows.
_NOT_WHITESPACE = re.compile(rb"\S")


@dataclass
class RawTable:
    """The text of one file: header, one row per data line (``__line`` column), ragged rows aside."""

    path: Path
    encoding: str
    header: list[str]
    frame: pd.DataFrame
    ragged: list[tuple[int, str]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.ragged)


def _is_utf8(data: bytes | memoryview) -> bool:
    """Whether the bytes are valid UTF-8, checked by Arrow without building a Python string of the file."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def detect_encoding(data: bytes, path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK) — decided by strict decoding, never guessed."""
    if data.startswith(codecs.BOM_UTF8):
        if _is_utf8(memoryview(data)[len(codecs.BOM_UTF8):]):
            return "utf-8-sig"
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(f"{path.name}: 文件有 UTF-8 BOM 但内容不是有效的 UTF-8 (byte {error.start})") from error
        return "utf-8-sig"
    if _is_utf8(data):
        return "utf-8"
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path.name}: 无法识别文件编码 (neither UTF-8 nor GBK/GB18030; undecodable byte at offset "
            f"{error.start}) — 请以 UTF-8 或 GBK 重新导出 (re-export as UTF-8 or GBK)"
        ) from error


def _line_end(data: bytes | memoryview) -> int:
    r"""Offset of the first line-break byte (\n or \r), or the length when there is none."""
    newline = _NEWLINE.search(data)
    return len(data) if newline is None else newline.start()


def _check_header(header: list[str], path: Path) -> list[str]:
    header = [h.strip() for h in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise InputError(f"{path.name}: 表头重复 (repeated header) {', '.join(repeated)} — 请修正导出文件")
    if not any(header):
        raise InputError(f"{path.name}: 第1行没有表头 (no header on line 1)")
    return header


def _parse_csv(utf8: bytes | memoryview, header: list[str], on_invalid: Callable[[object], str]) -> pa.Table:
    """pyarrow's parse of the rows after the header, every cell as text, blank lines kept as empty rows."""
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(utf8)),
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
        # Blank lines stay as empty rows so that row i is line i + 2 exactly.
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def _data_lines(utf8: bytes | memoryview) -> int:
    r"""Lines after the header, a line ending at \n, \r\n or a bare \r as pyarrow and the csv module have it."""
    data = np.frombuffer(utf8, dtype=np.uint8)
    breaks = int(np.count_nonzero(data == 10))
    returns = data == 13
    if returns.any():
        breaks += int(np.count_nonzero(returns)) - int(np.count_nonzero(returns[:-1] & (data[1:] == 10)))
    unterminated = len(data) > 0 and data[-1] not in (10, 13)
    return max(breaks + unterminated - 1, 0)


def _read_csv_fast(utf8: bytes | memoryview, header: list[str]) -> pd.DataFrame | None:
    """pyarrow parse of UTF-8 bytes, blank lines dropped; None when any row is ragged (the exact path takes over)."""
    bad_rows: list[object] = []

    def on_invalid(row: object) -> str:
        bad_rows.append(row)
        return "skip"

    try:
        table = _parse_csv(utf8, header, on_invalid)
    except pa.ArrowInvalid:
        # e.g. a quoted line break across pyarrow's block boundary: the exact path reads it.
        return None
    if bad_rows:
        return None
    lines = np.arange(2, table.num_rows + 2, dtype=np.int64)
    if _QUOTE.search(utf8) is not None and table.num_rows != _data_lines(utf8):
        # A quoted cell holds a line break: row i is not line i + 2, so the exact path numbers the rows.
        return None
    # Blank lines are not rows: keep rows with at least one non-empty cell (done here, before the
    # cells become Python strings, rather than by _drop_blank on the frame).
    filled = None
    for column in table.columns:
        non_empty = pc.not_equal(column, "")
        filled = non_empty if filled is None else pc.or_(filled, non_empty)
    if filled is not None and table.num_rows and not pc.all(filled).as_py():
        table = table.filter(filled)
        lines = lines[np.asarray(filled)]
    frame = table.to_pandas()
    frame[LINE] = lines
    return frame


def _csv_records(text: str, path: Path, skip: int = 1) -> Iterator[tuple[int, list[str]]]:
    r"""(first line, cells) of each CSV record after the first ``skip`` lines (the header); a line ends at \n,
    \r\n or a bare \r.

    newline="" hands the csv module the line ends untranslated: a quoted cell keeps its \r or \n,
    and a bare \r ends a line as in pyarrow's fast path (rather than raising "new-line character
    seen in unquoted field").
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            if start > skip:
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputError(f"{path.name}: 第{start}行起无法解析 (cannot parse CSV from line {start}): {error} "
                         "— 请修正导出文件 (fix the export)") from error


def _read_csv_exact(text: str, header: list[str], path: Path) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """csv-module parse with exact line numbers, for files with ragged rows or quoted newlines."""
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, str]] = []
    for start, cells in _csv_records(text, path):
        if len(cells) == len(header):
            rows.append(cells)
            lines.append(start)
        elif cells and any(c.strip() for c in cells):
            ragged.append(
                (start, f"列数不符 (row has {len(cells)} fields, header has {len(header)})")
            )
        else:
            rows.append([""] * len(header))
            lines.append(start)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame[LINE] = lines
    return _drop_blank(frame), ragged


def read_csv_file(path: Path) -> RawTable:
    data = path.read_bytes()
    encoding = detect_encoding(data, path)
    # The header line alone is decoded here.
    first_line = next((cells for _, cells in _csv_records(data[:_line_end(data)].decode(encoding), path, 0)), [])
    header = _check_header(first_line, path)
    # pyarrow reads UTF-8: the file's own bytes when it is UTF-8, else the text re-encoded.
    # (Slices are memoryviews: a file is never copied just to drop its BOM or look past its header.)
    if encoding == "utf-8":
        utf8 = memoryview(data)
    elif encoding == "utf-8-sig":
        utf8 = memoryview(data)[len(codecs.BOM_UTF8):]
    else:
        utf8 = memoryview(data.decode(encoding).encode("utf-8"))
    ragged: list[tuple[int, str]] = []
    if _NOT_WHITESPACE.search(utf8, _line_end(utf8) + 1) is None:
        # A header and nothing else (with or without a final newline): no rows, not an error.
        frame = pd.DataFrame({**{h: pd.Series(dtype=object) for h in header}, LINE: pd.Series(dtype="int64")})
        return RawTable(path=path, encoding=encoding, header=header, frame=frame, ragged=ragged)
    frame = _read_csv_fast(utf8, header)
    if frame is None:
        frame, ragged = _read_csv_exact(data.decode(encoding), header, path)
    return RawTable(path=path, encoding=encoding, header=header, frame=frame, ragged=ragged)


def _cell_text(value: object) -> str:
    """An .xlsx cell as text: integral floats without '.0' (IDs stored as numbers), dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_xlsx_file(path: Path) -> RawTable:
    from python_calamine import CalamineError, CalamineWorkbook, XmlError, ZipError

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, XmlError, ZipError, OSError, ValueError) as error:
        raise InputError(f"{path.name}: 无法读取 Excel 文件 (cannot read .xlsx): {error}") from error
    if not rows:
        raise InputError(f"{path.name}: 工作表为空 (empty worksheet)")
    header = _check_header([_cell_text(c) for c in rows[0]], path)
    body: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, str]] = []
    for number, cells in enumerate(rows[1:], start=2):
        texts = [_cell_text(c) for c in cells]
        if len(texts) > len(header) and any(t.strip() for t in texts[len(header):]):
            ragged.append((number, f"列数不符 (row has values beyond the {len(header)} header columns)"))
            continue
        texts = (texts + [""] * len(header))[: len(header)]
        body.append(texts)
        lines.append(number)
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame[LINE] = lines
    return RawTable(path=path, encoding="xlsx", header=header, frame=_drop_blank(frame), ragged=ragged)


def _drop_blank(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank lines are not rows: drop rows whose every cell is empty."""
    cells = frame.drop(columns=[LINE])
    if cells.empty:
        return frame
    filled = cells.ne("").any(axis=1)
    return frame.loc[filled].reset_index(drop=True)


def read_department_file(path: Path) -> RawTable:
    """Read a .csv or .xlsx department extract."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_file(path)
    if suffix == ".xlsx":
        return read_xlsx_file(path)
    raise InputError(f"{path.name}: 不支持的文件类型 (unsupported file type {suffix}); 只接受 .csv 或 .xlsx")


def row_lines(path: Path) -> list[int]:
    """Lines of the data rows of a file that is rejected whole, so that each of its rows is accounted for.

    Rows as the reader would have them: CSV records (a quoted line break stays inside its row, a bare
    \r ends a line), blank ones left out; bytes that are not text are read as replacement characters.
    An .xlsx that opens gives its non-blank worksheet rows; one that does not gives none (its rows are unknown).
    """
    if path.suffix.lower() == ".xlsx":
        return _xlsx_row_lines(path)
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data, path)
    except InputError:
        encoding = "utf-8"
    text = data.decode(encoding, errors="replace")
    try:
        return [line for line, cells in _csv_records(text, path) if any(cell.strip() for cell in cells)]
    except InputError:
        # Rows up to the unparsable one are known; the rest of the file is one unreadable row per line.
        return [number for number, line in enumerate(_LINE_BREAK.split(text), start=1) if number > 1 and line.strip()]


def _xlsx_row_lines(path: Path) -> list[int]:
    from python_calamine import CalamineError, CalamineWorkbook, XmlError, ZipError

    try:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, XmlError, ZipError, OSError, ValueError, IndexError):
        return []
    return [number for number, cells in enumerate(rows[1:], start=2) if any(_cell_text(c).strip() for c in cells)]
