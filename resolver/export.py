"""The evaluation export contract (shared/spec/status-rules.md): links.csv, persons.csv, rejected.csv."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resolver.errors import InputError
from resolver.ingest import REJECTED_COLUMNS, REJECTED_FILE_COLUMNS
from resolver.pipeline import StoreLayout
from resolver.table_files import output_folder

LINKS_COLUMNS = ["source", "record_id", "person_id", "match_probability"]
PERSONS_COLUMNS = ["person_id", "id_number", "name", "status", "flags", "district_code", "street", "community"]


def export_store(store: str, out_dir: Path, work_dir: Path | None = None) -> dict[str, int]:
    """Write the three contract files for ``store``; returns rows written per file."""
    layout = StoreLayout.for_store(store, work_dir)
    with layout.reading():   # the three files of one landing, never two
        needed = [layout.links_file, layout.persons_file, layout.rejected_file]
        missing = [str(p) for p in needed if not p.exists()]
        if missing:
            raise InputError(f"{store}: 库中还没有运行结果 (no run in this store yet; run `canbao run` first): {missing}")
        links = pd.read_parquet(layout.links_file, columns=LINKS_COLUMNS)
        persons = pd.read_parquet(layout.persons_file, columns=PERSONS_COLUMNS)
        rejected = pd.read_parquet(layout.rejected_file, columns=REJECTED_COLUMNS)
    output_folder(out_dir)
    links.to_csv(out_dir / "links.csv", index=False, columns=LINKS_COLUMNS)
    persons.to_csv(out_dir / "persons.csv", index=False, columns=PERSONS_COLUMNS)
    rejected.to_csv(out_dir / "rejected.csv", index=False, columns=REJECTED_COLUMNS)
    written = {"links.csv": len(links), "persons.csv": len(persons), "rejected.csv": len(rejected)}
    # Beside the contract: the files rejected whole (their rows are in rejected.csv); stores from before it have none.
    if layout.rejected_files_file.exists():
        files = pd.read_parquet(layout.rejected_files_file, columns=REJECTED_FILE_COLUMNS)
        files.to_csv(out_dir / "rejected_files.csv", index=False, columns=REJECTED_FILE_COLUMNS)
        written["rejected_files.csv"] = len(files)
    return written
