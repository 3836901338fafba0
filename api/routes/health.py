"""GET /v1/health: is the service up, on which kind of store and run, and is the resolver state saved.

No personal data and no folder of the server: anybody may call it.
"""
from __future__ import annotations

import time

from fastapi import APIRouter

from api.deps import ServicesDep
from api.models import HealthOut
from graph.embedded import EmbeddedStore
from graph.store import GraphStore
from graph.supervised import SupervisedStore

router = APIRouter(prefix="/v1", tags=["health 运行状态"])


def store_kind(store: str) -> str:
    """What kind of store serves, without its folder or address."""
    return "neo4j" if "://" in store else "embedded"


def graph_process(graph: GraphStore) -> dict[str, object]:
    """Where the graph runs and how often its worker crashed (a crash costs one request; see graph/supervised.py)."""
    if isinstance(graph, SupervisedStore):
        return {"graph_process": "worker", "graph_crashes": graph.crash_count}
    return {"graph_process": "in_process" if isinstance(graph, EmbeddedStore) else "server", "graph_crashes": 0}


@router.get("/health", response_model=HealthOut, summary="服务状态 service health (no token needed)")
def health(services: ServicesDep) -> HealthOut:
    engine = services.engine
    return HealthOut(
        status="ok", store=store_kind(services.settings.store), **graph_process(engine.graph),
        run_id=engine.run_id, as_of=engine.as_of,
        state_records=len(engine.live.base.records) + len(engine.live.added_records),
        pending_changes=engine.pending_changes, last_flush=engine.last_flush,
        uptime_s=round(time.time() - engine.opened_at, 1),
    )
