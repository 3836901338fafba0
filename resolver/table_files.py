"""Write a table for people to open: .csv (UTF-8 with BOM, so Excel reads the Chinese) or .xlsx.

Both go through resolver.spreadsheet_safe, so department text is written as text, never a formula.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resolver.errors import InputError
from resolver.spreadsheet_safe import Sheet, write_csv, write_xlsx

TABLE_SUFFIXES = (".csv", ".xlsx")


def write_table(table: pd.DataFrame, path: Path, sheet_name: str = "Sheet1") -> Path:
    """Write ``table`` by the suffix of ``path`` (.csv or .xlsx); parent folders are created."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{path}: 输出文件应以 .csv 或 .xlsx 结尾 (output file must end in .csv or .xlsx)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        return write_csv(table, path)
    return write_xlsx(path, [Sheet(sheet_name, table)])
