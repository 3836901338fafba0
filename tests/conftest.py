"""Fixtures shared by several test modules."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resolver.ingest import ingest_folder


@pytest.fixture(scope="session")
def sample_records() -> pd.DataFrame:
    """The committed synthetic sample (data/samples) ingested: canonical records as the pipeline sees them."""
    return ingest_folder(Path(__file__).resolve().parents[1] / "data" / "samples", workers=0).records.reset_index(drop=True)
