"""Write department files as departments deliver them: CSV in UTF-8/UTF-8-BOM/GBK/GB18030, or .xlsx."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# Rows encoded per chunk: bounds the memory of a million-row file.
_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class FileInfo:
    """One written department file, as the manifest lists it."""

    file: str
    source: str
    period: str
    format: str          # csv / xlsx
    encoding: str        # utf-8, utf-8-sig, gbk, gb18030; 'xlsx' for workbooks
    rows: int
    columns: tuple[str, ...]
    extra_columns: tuple[str, ...]


def write_csv(frame: pd.DataFrame, path: Path, encoding: str) -> str:
    """Write ``frame`` (all text) as CSV; returns the encoding used.

    A GBK file whose text has a character outside GBK (䶮) is written as GB18030, as
    Chinese Windows exports do; GBK bytes are valid GB18030, so the switch can happen mid-file.
    GBK files get Windows line endings, like the Excel exports they imitate.
    """
    line_end = "\r\n" if encoding == "gbk" else "\n"
    used = encoding
    with path.open("wb") as handle:
        for start in range(0, max(len(frame), 1), _CHUNK_ROWS):
            chunk = frame.iloc[start: start + _CHUNK_ROWS]
            text = chunk.to_csv(index=False, header=start == 0, lineterminator=line_end)
            if used == "gbk":
                try:
                    data = text.encode("gbk")
                except UnicodeEncodeError:
                    used = "gb18030"
            if used != "gbk":
                data = text.encode("utf-8" if used == "utf-8-sig" and start > 0 else used)
            handle.write(data)
    return used


def write_xlsx(frame: pd.DataFrame, path: Path, created: dt.date) -> None:
    """Write ``frame`` to the first sheet; datetime cells get a date format, serial numbers stay numbers."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False})
    # A fixed creation date keeps the file identical for one seed.
    workbook.set_properties({"created": dt.datetime.combine(created, dt.time())})
    sheet = workbook.add_worksheet("Sheet1")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for column, header in enumerate(frame.columns):
        sheet.write_string(0, column, str(header))
    for row, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        for column, value in enumerate(values):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(row, column, value, date_format)
            elif isinstance(value, float):
                sheet.write_number(row, column, value)
            elif value is None or value == "":
                continue
            else:
                sheet.write_string(row, column, str(value))
    workbook.close()
