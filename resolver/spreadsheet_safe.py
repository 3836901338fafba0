"""Files people open in Excel or WPS: text from departments and users stays text, never a formula.

Every people-facing .csv and .xlsx (work lists, ledger, changes, monthly report) is written here,
so a hostile department value such as ``=HYPERLINK("http://…","点我")`` or ``=cmd|' /C calc'!A0``
cannot run when a survey team opens the file (OWASP "CSV Injection").
- CSV: a text cell that starts like a formula gets a leading apostrophe (OWASP's advice); the
  apostrophe is visible to programs that read the file, which is the price of safety. A phone
  number written as text, ``+86…``, becomes ``'+86…`` too.
- xlsx: text is written as a string cell, never as a formula or hyperlink; when it starts like a
  formula the cell also carries Excel's quote-prefix style, so editing it keeps it text.
Numbers the export computes (counts, rates, changes, negative ones too) are written as numbers.
The machine contract of ``canbao export`` (resolver/export.py) is not written here: it keeps values exact.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

# OWASP's list (=, +, -, @, tab, carriage return; line feed added in 2025) and the full-width
# forms. Whether Excel/WPS in a Chinese locale start a formula at a full-width ＝ when opening a
# file is not documented; their IMEs turn a typed ＝ into = on entry, so the full-width forms are
# neutralised too: the cost is one apostrophe on a rare cell.
FORMULA_STARTS = frozenset("=+-@\t\r\n＝＋－＠")
# Written as the option says; xlsxwriter's defaults turn "=…" into formulas and "http://…" into links.
XLSX_OPTIONS: dict[str, bool] = {
    "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}
MAX_SHEET_NAME = 31        # Excel's limit
MAX_FITTED_WIDTH = 60
FITTED_SAMPLE_ROWS = 200


def _first_visible(text: str) -> str | None:
    """The first character that is neither blank (ASCII, full-width, no-break space) nor invisible (BOM, zero-width)."""
    for char in text:
        if not (char.isspace() or unicodedata.category(char) == "Cf"):
            return char
    return None


def starts_like_formula(text: str) -> bool:
    """True when a spreadsheet could take ``text`` for a formula.

    Checks the first character and the first visible one: spreadsheets may skip leading blanks
    before ``=``, so `` =1+1`` is treated like ``=1+1``.
    """
    if not text:
        return False
    return text[0] in FORMULA_STARTS or _first_visible(text) in FORMULA_STARTS


def neutralise_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: ``'`` before text that starts like a formula; other values unchanged."""
    if isinstance(value, str) and starts_like_formula(value):
        return "'" + value
    return value


def _is_text_column(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with neutralise_cell applied to its headers and text cells (numbers, dates and blanks untouched)."""
    safe = table.copy()
    safe.columns = [neutralise_cell(column) for column in table.columns]
    for position in range(table.shape[1]):
        column = table.iloc[:, position]
        if _is_text_column(column):
            safe.isetitem(position, column.astype(object).map(neutralise_cell))
    return safe


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """``table`` as UTF-8 CSV with BOM (so Excel reads the Chinese), every text cell neutralised."""
    neutralise_table(table).to_csv(path, index=False, encoding="utf-8-sig")
    return path


@dataclass(frozen=True)
class Sheet:
    """One worksheet: the table, and per column (by header) an Excel number format and a width."""

    name: str
    table: pd.DataFrame
    number_formats: Mapping[str, str] = field(default_factory=dict)
    widths: Mapping[str, float] = field(default_factory=dict)   # a column not named here is fitted to its text


def fitted_width(column: pd.Series, header: object) -> float:
    """A column width for the header and the first rows' text; CJK characters are about two wide."""
    longest = max([len(str(header)), *(len(str(v)) for v in column.head(FITTED_SAMPLE_ROWS))])
    return min(MAX_FITTED_WIDTH, 2 + longest * 1.6)


def _is_blank(value: object) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):      # a list or other container is not a blank
        return False


class _CellWriter:
    """Writes one value into a worksheet cell by its Python type; text always as a string cell."""

    def __init__(self, workbook: xlsxwriter.Workbook):
        self.quoted_text = workbook.add_format({"quote_prefix": True})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.date_time = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})

    def text(self, sheet, row: int, col: int, text: str, style=None) -> None:
        sheet.write_string(row, col, text, self.quoted_text if starts_like_formula(text) else style)

    def write(self, sheet, row: int, col: int, value: object, number_style=None) -> None:
        if _is_blank(value):
            return
        if isinstance(value, (bool, np.bool_)):
            sheet.write_boolean(row, col, bool(value))
        elif isinstance(value, (Number, np.number)):
            sheet.write_number(row, col, float(value), number_style)
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            sheet.write_datetime(row, col, value, self.date_time)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, value, self.date)
        else:
            self.text(sheet, row, col, value if isinstance(value, str) else str(value))


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    """The sheets as one .xlsx: a bold frozen header row, text as strings, numbers as numbers."""
    with xlsxwriter.Workbook(str(path), XLSX_OPTIONS) as workbook:
        cells = _CellWriter(workbook)
        header_style = workbook.add_format({"bold": True, "border": 1, "align": "center", "valign": "top"})
        for spec in sheets:
            sheet = workbook.add_worksheet(spec.name[:MAX_SHEET_NAME])
            sheet.freeze_panes(1, 0)
            styles = []
            for position, header in enumerate(spec.table.columns):
                style = workbook.add_format({"num_format": spec.number_formats[header]}) \
                    if header in spec.number_formats else None
                styles.append(style)
                width = spec.widths.get(header) or fitted_width(spec.table.iloc[:, position], header)
                sheet.set_column(position, position, width, style)
                cells.text(sheet, 0, position, str(header), header_style)
            for row, values in enumerate(spec.table.itertuples(index=False, name=None), start=1):
                for position, value in enumerate(values):
                    cells.write(sheet, row, position, value, styles[position])
    return path
