"""Code paths pandas 2.2+ warns about (FutureWarning) behave the same without the warning: fixed, not filtered.

pyproject's pytest options turn every FutureWarning into an error; these tests name the paths that had one.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from canbao.commands.status import _print_preview
from resolver.fields import INPUT_FIELDS, Kind
from resolver.ingest import ingest_folder

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def test_a_date_field_no_source_delivers_is_still_a_date_column(tmp_path: Path):
    shutil.copy(SAMPLES / "police_resident_202611.csv", tmp_path)
    records = ingest_folder(tmp_path, workers=0).records
    dates = [f for f, kind in INPUT_FIELDS.items() if kind is Kind.DATE]
    assert records["death_date"].isna().all()   # the police extract has no death date
    assert {f: str(records[f].dtype) for f in dates} == dict.fromkeys(dates, "datetime64[ns]")
    assert records["income"].dtype == np.float64


def test_the_printed_preview_blanks_gaps_without_downcasting(capsys):
    table = pd.DataFrame({"调查次数": [2, None], "姓名": ["张伟", None]}, dtype=object).iloc[:1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        _print_preview(table, 1)
    assert capsys.readouterr().out.split() == ["调查次数", "姓名", "2", "张伟"]
