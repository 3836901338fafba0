"""Write a table for people to open: .csv as UTF-8 with BOM (so Excel reads the Chinese) or .xlsx."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resolver.errors import InputError

TABLE_SUFFIXES = (".csv", ".xlsx")


def write_table(table: pd.DataFrame, path: Path, sheet_name: str = "Sheet1") -> Path:
    """Write ``table`` by the suffix of ``path`` (.csv or .xlsx); parent folders are created."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{path}: 输出文件应以 .csv 或 .xlsx 结尾 (output file must end in .csv or .xlsx)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(path, index=False, encoding="utf-8-sig")
        return path
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        table.to_excel(writer, sheet_name=sheet_name[:31], index=False)
        sheet = writer.sheets[sheet_name[:31]]
        sheet.freeze_panes(1, 0)
        for position, column in enumerate(table.columns):
            longest = max([len(str(column)), *(len(str(v)) for v in table[column].head(200))])
            sheet.set_column(position, position, min(60, 2 + longest * 1.6))  # CJK cells are about two wide
    return path
