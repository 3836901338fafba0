"""What the analysts' notebooks share: the store named by CANBAO_STORE, named queries, chart labels."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from graph import open_store
from resolver.pipeline import StoreLayout

# The `limit` that returns every row of a paged named query.
ALL_ROWS = 1_000_000


def store_layout(default: str = "runs/demo") -> StoreLayout:
    """The store of CANBAO_STORE (default runs/demo, found from notebooks/ too); CANBAO_WORK_DIR for Neo4j."""
    store = os.environ.get("CANBAO_STORE", default)
    # A notebook opened from notebooks/ runs one folder below the repository root.
    if "://" not in store and not Path(store).exists() and Path("..", store).exists():
        store = str(Path("..", store))
    work_dir = os.environ.get("CANBAO_WORK_DIR")
    return StoreLayout.for_store(store, Path(work_dir) if work_dir else None)


def query(layout: StoreLayout, name: str, **params: object) -> pd.DataFrame:
    """Run one named query (graph/queries.py); the store is open only while it runs."""
    with open_store(layout.graph_spec, must_exist=True) as store:
        return store.run_query(name, params).to_frame()


def short_label(label: str, width: int = 10) -> str:
    """A chart label that fits the chart's label column (the full text stays in the tables)."""
    return label if len(label) <= width else label[:width - 1] + "…"
