"""Write a table for people to open: .csv (UTF-8 with BOM, so Excel reads the Chinese) or .xlsx.

Both go through resolver.spreadsheet_safe, so department text is written as text, never a formula.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resolver.errors import InputError
from resolver.spreadsheet_safe import Sheet, write_csv, write_xlsx

TABLE_SUFFIXES = (".csv", ".xlsx")


def output_folder(path: Path) -> Path:
    """Create the output folder ``path`` (and its parents); a path through a file, or one that cannot be created,
    is an InputError naming it, since the user chose it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{path}: 输出目录的路径上有同名文件 (a file stands where the output folder should be) — "
                         "choose another --out") from None
    except OSError as error:   # no permission, a read-only or full disk
        raise InputError(f"{path}: 无法创建输出目录 (cannot create the output folder): {error.strerror} — "
                         "choose another --out") from None
    return path


def write_table(table: pd.DataFrame, path: Path, sheet_name: str = "Sheet1") -> Path:
    """Write ``table`` by the suffix of ``path`` (.csv or .xlsx); parent folders are created."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{path}: 输出文件应以 .csv 或 .xlsx 结尾 (output file must end in .csv or .xlsx)")
    output_folder(path.parent)
    if path.is_dir():
        raise InputError(f"{path}: 是文件夹 (is a folder) — give a file name ending in .csv or .xlsx")
    if suffix == ".csv":
        return write_csv(table, path)
    return write_xlsx(path, [Sheet(sheet_name, table)])


def read_csv_table(path: Path, fix: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV the user points at, every column as text; a missing or unreadable file, or one without
    ``columns``, is an InputError naming the file and ``fix`` (what to pass instead)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: 文件不存在 (file not found) — {fix}")
    try:
        table = pd.read_csv(path, dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: 无法读取为 CSV (cannot be read as CSV): {error} — {fix}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{path}: 缺少列 (missing columns) {', '.join(missing)} — {fix}")
    return table
