"""Neo4jStore: the person graph in Neo4j through the official driver (imported lazily).

Bulk writes are UNWIND batches (``batch_size`` rows) in managed transactions, which the
driver retries on transient errors. A run lands whole or not at all in two phases:

1. staging — the run is written under ``Staged*`` labels, invisible to every read; a crash
   here leaves the live graph untouched, and the next write first deletes leftover staged nodes;
2. switch — a single ``CanbaoState`` write marks the run ``switching`` (the commit point),
   then live nodes are deleted and staged ones relabelled in batches, and the state becomes
   ``landed``. A crash during the switch is rolled forward by the next ``write_run`` or
   ``setup_schema``. Reads during the switch window see the graph part-way; ``switch_batch_size``
   = 0 does the switch in one transaction for graphs small enough for the server's memory.

For a first load of a city-scale graph use ``canbao export-neo4j`` (neo4j-admin import) instead.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import pandas as pd

from graph.cypher import (
    STAGED_PREFIX, STAGED_RUN, STATE_LABEL, SWITCH_BEGIN, SWITCH_END, SWITCH_STATE, Dialect, Statement, create_nodes, create_rels,
    delete_batch, neo4j_schema, relabel_batch,
)
from graph.errors import MissingDependency, StoreError, StoreSpecError, from_neo4j
from graph.model import NODE_PROPERTIES, REL_PROPERTIES, GraphFrames, RunInfo, rel_frame_endpoints
from graph.store import GraphStore, Params, Reader

T = TypeVar("T")


@dataclass(frozen=True)
class Neo4jSettings:
    """Where and how to reach Neo4j; read from the environment unless given."""

    uri: str
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"
    batch_size: int = 10_000
    switch_batch_size: int = 50_000
    max_retry_time: float = 30.0

    @classmethod
    def from_env(cls, uri: str | None = None, env: Mapping[str, str] | None = None) -> Neo4jSettings:
        """Settings from NEO4J_URI, NEO4J_USER (or NEO4J_USERNAME), NEO4J_PASSWORD, NEO4J_DATABASE, NEO4J_BATCH_SIZE."""
        env = os.environ if env is None else env
        uri = uri or env.get("NEO4J_URI", "")
        if not uri:
            raise StoreSpecError("未给出 Neo4j 地址 (no Neo4j URI): 用 --store neo4j://host:7687 或设置 NEO4J_URI")
        try:
            batch = int(env.get("NEO4J_BATCH_SIZE", cls.batch_size))
        except ValueError:
            raise StoreSpecError(f"NEO4J_BATCH_SIZE 应为整数 (must be an integer): {env['NEO4J_BATCH_SIZE']!r}") from None
        return cls(uri=uri, user=env.get("NEO4J_USER") or env.get("NEO4J_USERNAME") or "neo4j",
                   password=env.get("NEO4J_PASSWORD", ""), database=env.get("NEO4J_DATABASE", "neo4j"),
                   batch_size=batch)


def _driver_module() -> Any:
    try:
        import neo4j
    except ImportError as exc:
        raise MissingDependency("Neo4j 存储需要官方驱动 (the Neo4j store needs the official driver): "
                                "pip install 'neo4j>=5.20'") from exc
    return neo4j


def _native(value: Any) -> Any:
    """Plain Python values from driver values (temporal types, nested lists and maps)."""
    if hasattr(value, "to_native"):
        return value.to_native()
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    return value


def _param(value: Any, kind: str) -> Any:
    """A frame cell as a driver parameter: None for missing, date for DATE, datetime for TIMESTAMP."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "DATE":
        return value.date() if isinstance(value, (datetime, pd.Timestamp)) else value
    if kind == "TIMESTAMP":
        return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if kind == "INT64":
        return int(value)
    if kind == "STRING[]":
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def node_rows(frame: pd.DataFrame, types: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Node property maps (nulls left out, as Neo4j stores no nulls)."""
    columns = [c for c in types if c in frame.columns]
    for values in frame[columns].itertuples(index=False, name=None):
        row = {}
        for name, value in zip(columns, values):
            converted = _param(value, types[name])
            if converted is not None:
                row[name] = converted
        yield row


def rel_rows(frame: pd.DataFrame, types: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """{from, to, props} maps for create_rels."""
    for row in node_rows(frame, {"from": "STRING", "to": "STRING", **types}):
        yield {"from": row.pop("from"), "to": row.pop("to"), "props": row}


def batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of at most ``size``."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Neo4jStore(GraphStore):
    """Neo4j through the official driver: UNWIND batches, constraints, staged run switch."""

    dialect: ClassVar[Dialect] = "neo4j"

    def __init__(self, settings: Neo4jSettings, *, batch_size: int | None = None,
                 switch_batch_size: int | None = None):
        self.settings = settings
        self.batch_size = batch_size or settings.batch_size
        self.switch_batch_size = settings.switch_batch_size if switch_batch_size is None else switch_batch_size
        neo4j = _driver_module()
        self._errors = (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError)
        self._read_access = neo4j.READ_ACCESS
        try:
            self._driver = neo4j.GraphDatabase.driver(
                settings.uri, auth=(settings.user, settings.password),
                max_transaction_retry_time=settings.max_retry_time)
        except (ValueError, *self._errors) as exc:
            raise self._translate(exc, "connect") from exc

    @property
    def describe(self) -> str:
        return f"Neo4j 图库 {self.settings.uri} (database {self.settings.database})"

    def _translate(self, exc: Exception, operation: str) -> StoreError:
        if isinstance(exc, ValueError):
            return StoreError(self.describe, operation, f"{exc} — 检查 --store / NEO4J_URI (check the URI)")
        return from_neo4j(exc, self.describe, operation)

    def close(self) -> None:
        self._driver.close()

    # --- transactions ---------------------------------------------------------------------
    def _session(self, read: bool = False) -> Any:
        kwargs = {"database": self.settings.database}
        if read:
            kwargs["default_access_mode"] = self._read_access
        return self._driver.session(**kwargs)

    def _managed(self, work: Callable[[Any], Any], operation: str, read: bool = False) -> Any:
        """Run ``work(tx)`` in a managed transaction (retried by the driver on transient errors)."""
        try:
            with self._session(read) as session:
                runner = session.execute_read if read else session.execute_write
                return runner(work)
        except self._errors as exc:
            raise self._translate(exc, operation) from exc

    def _rows(self, text: str, params: Params, operation: str) -> list[dict[str, Any]]:
        def work(tx: Any) -> list[dict[str, Any]]:
            return [_native(record.data()) for record in tx.run(text, dict(params))]

        return self._managed(work, operation, read=True)

    def _snapshot_reads(self, work: Callable[[Reader], T], operation: str) -> T:
        """The reads in one managed read transaction (Neo4j never crashes on SKIP; this keeps one code path)."""
        def in_tx(tx: Any) -> T:
            return work(lambda text, params: [_native(record.data()) for record in tx.run(text, dict(params))])

        return self._managed(in_tx, operation, read=True)

    def _write(self, steps: Sequence[tuple[Statement, Params]], operation: str) -> list[list[dict[str, Any]]]:
        def work(tx: Any) -> list[list[dict[str, Any]]]:
            return [[_native(r.data()) for r in tx.run(s.text(self.dialect), dict(p))] for s, p in steps]

        return self._managed(work, operation)

    def _write_one(self, statement: Statement, params: Params, operation: str) -> list[dict[str, Any]]:
        return self._write([(statement, params)], operation)[0]

    def _repeat_until_done(self, statement: Statement, batch: int, operation: str) -> int:
        """Run a ``... LIMIT $batch ... RETURN count(*) AS done`` statement until it does nothing."""
        total = 0
        while True:
            done = int(self._write_one(statement, {"batch": batch}, operation)[0]["done"])
            total += done
            if done < batch:
                return total

    def clear(self) -> None:
        """Delete the whole canbao graph, live and staged (re-initialising a database; tests)."""
        for label in (*NODE_PROPERTIES, *(f"{STAGED_PREFIX}{label}" for label in NODE_PROPERTIES), STATE_LABEL):
            self._repeat_until_done(delete_batch(label), self.batch_size, "clear")

    # --- schema and runs ------------------------------------------------------------------
    def setup_schema(self) -> None:
        """Constraints (person_id, (source, record_id), …) and indexes, then finish any interrupted switch."""
        for statement in neo4j_schema():
            try:
                self._driver.execute_query(statement.neo4j, database_=self.settings.database)
            except self._errors as exc:
                raise self._translate(exc, f"setup_schema/{statement.name}") from exc
        self._resume_switch()

    def _resume_switch(self) -> None:
        rows = self._rows(SWITCH_STATE.neo4j, {}, "switch_state")
        if rows and rows[0]["state"] == "switching":
            self._switch(rows[0]["run_id"])

    def _switch(self, run_id: str) -> None:
        operation = f"write_run {run_id}/switch"
        self._write_one(SWITCH_BEGIN, {"run_id": run_id}, operation)
        batch = self.switch_batch_size or 2**31 - 1
        for label in NODE_PROPERTIES:
            self._repeat_until_done(delete_batch(label), batch, operation)
        for label in NODE_PROPERTIES:
            self._repeat_until_done(relabel_batch(label), batch, operation)
        self._write_one(SWITCH_END, {}, operation)

    def _stage(self, frames: GraphFrames, run: RunInfo) -> dict[str, Any]:
        operation = f"write_run {run.run_id}"
        for label in NODE_PROPERTIES:  # leftovers of a crashed staging
            self._repeat_until_done(delete_batch(f"{STAGED_PREFIX}{label}"), self.batch_size, operation)
        for kind, name, frame in frames.drain():
            if kind == "node":
                statement = create_nodes(f"{STAGED_PREFIX}{name}")
                rows_of = node_rows(frame, NODE_PROPERTIES[name])
            else:
                rel, src, dst = rel_frame_endpoints(name)
                statement = create_rels(rel, f"{STAGED_PREFIX}{src}", f"{STAGED_PREFIX}{dst}")
                rows_of = rel_rows(frame, REL_PROPERTIES[rel])
            for rows in batches(rows_of, self.batch_size):
                self._write_one(statement, {"rows": rows}, f"{operation}/{name}")
            del frame, rows_of
        return {"store": self.settings.uri, "run_id": run.run_id,
                "location": f"{self.settings.uri} database {self.settings.database}"}

    def land_staged(self, staged: Mapping[str, Any]) -> None:
        """Switch to the staged run (idempotent: done when it is landed; an interrupted switch is finished)."""
        run_id = staged["run_id"]
        rows = self._rows(SWITCH_STATE.neo4j, {}, "switch_state")
        state = rows[0] if rows else {"run_id": None, "state": None}
        if state["state"] == "switching":
            self._switch(state["run_id"])
        elif state["run_id"] == run_id and state["state"] == "landed":
            return
        if state["run_id"] != run_id:
            if not int(self._rows(STAGED_RUN.neo4j, {"run_id": run_id}, "staged_run")[0]["total"]):
                raise StoreError(self.describe, f"land {run_id}", "暂存的运行不存在 (the staged run is gone) — "
                                 "重新运行 `canbao run` (rerun)")
            self._switch(run_id)
