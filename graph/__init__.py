"""The person graph: one GraphStore interface over embedded LadybugDB (default) and Neo4j.

    from graph import open_store
    with open_store("runs/graph") as store:            # or "neo4j://host:7687", "bolt://…"
        store.write_run(run_data)
        store.person_360("P000001")
        store.run_query("unenrolled_counts", {"district_code": "120104"})

Neo4jStore imports the neo4j driver only when used, so the embedded default works without it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graph.errors import (
    GraphCrashed, GraphError, MissingDependency, QueryError, RunDataError, StoreBusy, StoreError, StoreSpecError,
    StoreUnavailable,
)
from graph.model import RunData, RunInfo
from graph.queries import CATALOGUE, NamedQuery, catalogue_text, parse_param_args
from graph.store import (
    GraphStore, Page, Person360, PersonView, QueryResult, RecordUpsert, RecordView, ReviewItem, RunSummary,
    StatusUpdate, StewardDecision,
)

if TYPE_CHECKING:
    from graph.embedded import EmbeddedStore
    from graph.neo4j_store import Neo4jSettings, Neo4jStore

NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")

__all__ = [
    "CATALOGUE", "EmbeddedStore", "GraphCrashed", "GraphError", "GraphStore", "MissingDependency", "NamedQuery", "Neo4jSettings",
    "Neo4jStore", "Page", "Person360", "PersonView", "QueryError", "QueryResult", "RecordUpsert", "RecordView",
    "ReviewItem", "RunData", "RunDataError", "RunInfo", "RunSummary", "StatusUpdate", "StewardDecision",
    "StoreBusy", "StoreError", "StoreSpecError", "StoreUnavailable", "catalogue_text", "open_store",
    "parse_param_args",
]


def open_store(spec: str, *, must_exist: bool = False, query_threads: int | None = None,
               worker_restarts: int | None = None, **options: Any) -> GraphStore:
    """The store a ``--store`` value names: a neo4j/bolt URI, else a folder for the embedded store.

    ``must_exist`` refuses an embedded folder without a landed run (for read-only commands);
    ``query_threads`` caps the threads the embedded store runs one query on (default: every core;
    a Neo4j server decides its own); ``worker_restarts`` runs the embedded store in a supervised
    worker process (graph/supervised.py) restarted after a crash at most that many times a minute
    (None: in this process; a Neo4j server is another process already); ``options`` go to the
    store's constructor (e.g. ``batch_size`` for Neo4j).
    """
    spec = (spec or "").strip()
    if not spec:
        raise StoreSpecError("--store 为空 (empty): 给出文件夹路径或 neo4j://host:7687 (give a folder or a neo4j URI)")
    if spec.startswith(NEO4J_SCHEMES):
        from graph.neo4j_store import Neo4jSettings, Neo4jStore

        return Neo4jStore(Neo4jSettings.from_env(uri=spec), **options)
    if "://" in spec:
        raise StoreSpecError(f"--store {spec!r}: 不支持的协议 (unsupported scheme); 可用 (use) a folder or "
                             f"{', '.join(NEO4J_SCHEMES)}")
    if query_threads is not None:
        options["threads"] = query_threads
    if worker_restarts is not None:
        from graph.supervised import SupervisedStore

        return SupervisedStore(spec, must_exist=must_exist, restarts_per_minute=worker_restarts, **options)
    from graph.embedded import EmbeddedStore

    return EmbeddedStore(spec, must_exist=must_exist, **options)


def __getattr__(name: str) -> Any:
    if name == "EmbeddedStore":
        from graph.embedded import EmbeddedStore

        return EmbeddedStore
    if name in ("Neo4jStore", "Neo4jSettings"):
        from graph import neo4j_store

        return getattr(neo4j_store, name)
    raise AttributeError(f"module 'graph' has no attribute {name!r}")
