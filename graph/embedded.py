"""EmbeddedStore: the person graph in a LadybugDB database inside a folder (the default store).

A run lands whole or not at all by snapshot swap: it is COPY'd into a new database file
under ``snapshots/<name>.partial/`` and renamed (``_stage``); only then does the ``CURRENT``
pointer file switch to it (``land_staged``; ``os.replace`` is atomic). A store landing
(resolver/landing.py) stages the snapshot with the run's other files and switches CURRENT as
one step of its manifest. A crash before the switch leaves CURRENT on the previous snapshot
and an unpointed or ``.partial`` folder the next write removes; the run can be repeated.
Readers notice a switched CURRENT on their next call and reopen. Incremental upserts go
into the current snapshot in one transaction each, under the folder's write lock.

    STORE/CURRENT               name of the landed snapshot
    STORE/snapshots/<name>/graph.lbug
    STORE/.write.lock           held by a writer (run or upsert)
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pandas as pd
import pyarrow as pa

from graph.cypher import Dialect, Statement, embedded_schema
from graph.errors import StoreBusy, StoreUnavailable, from_ladybug
from graph.model import NODE_PROPERTIES, REL_PROPERTIES, GraphFrames, RunInfo, rel_frame_endpoints
from graph.store import GraphStore, Params, Reader
from resolver.memory import release_free_memory

T = TypeVar("T")
_ARROW_TYPES = {
    "STRING": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(),
    "INT64": pa.int64(), "BOOLEAN": pa.bool_(), "STRING[]": pa.list_(pa.string()),
}
# Rows turned into Arrow and COPY'd at a time: the Arrow copy of a city's records (GBs) is never whole.
COPY_CHUNK_ROWS = 250_000
# The bulk writer's buffer pool: it reopens the database after every COPY slice, so a slice's pages are
# all it needs; the store's own default (2 GiB) would sit on top of a city's records during a run.
BULK_BUFFER_POOL_MB = 512
CURRENT = "CURRENT"
SNAPSHOTS = "snapshots"
DB_FILE = "graph.lbug"


def arrow_table(frame: pd.DataFrame, types: dict[str, str]) -> pa.Table:
    """A frame as an Arrow table with the declared column types, absent ones null (what LadybugDB COPY reads)."""
    arrays = []
    for name, kind in types.items():
        arrow_type = _ARROW_TYPES[kind]
        if name not in frame.columns:
            arrays.append(pa.nulls(len(frame), arrow_type))
            continue
        values = frame[name]
        if kind == "DATE":
            array = pa.array(pd.to_datetime(values, errors="coerce"), from_pandas=True).cast(pa.date32())
        elif kind == "STRING[]":
            array = pa.array(values, type=arrow_type, from_pandas=True)
        else:
            array = pa.array(values, from_pandas=True)
            if array.type != arrow_type:
                array = array.cast(arrow_type)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=list(types))


def _snapshot_name(run_id: str) -> str:
    safe = re.sub(r"[^0-9A-Za-z_.-]+", "_", run_id)[:80] or "run"
    return f"{safe}-{uuid.uuid4().hex[:8]}"


class EmbeddedStore(GraphStore):
    """LadybugDB in a folder: snapshot per run, atomic switch, upserts in place."""

    dialect: ClassVar[Dialect] = "embedded"

    def __init__(self, folder: str | Path, *, buffer_pool_mb: int = 2048, threads: int = 0,
                 must_exist: bool = False):
        self.folder = Path(folder)
        self.buffer_pool_mb = buffer_pool_mb
        self.threads = threads
        if must_exist and not (self.folder / CURRENT).is_file():
            raise StoreUnavailable(self.describe, "open", f"{self.folder} 不是已写入的图库 (no landed run here) — "
                                   "先运行 `canbao run` 写入，或检查 --store 路径 (write a run first or fix --store)")
        self._db: Any = None
        self._conn: Any = None
        self._open_snapshot: str | None = None

    @property
    def describe(self) -> str:
        return f"嵌入式图库 embedded store {self.folder}"

    # --- snapshot bookkeeping -------------------------------------------------------------
    def current_snapshot(self) -> str | None:
        """Name of the landed snapshot, or None for a store never written."""
        pointer = self.folder / CURRENT
        return pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None

    def _snapshot_file(self, name: str) -> Path:
        return self.folder / SNAPSHOTS / name / DB_FILE

    def _point_current(self, name: str) -> None:
        tmp = self.folder / f"{CURRENT}.{uuid.uuid4().hex[:6]}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / CURRENT)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _prune(self, keep: set[str]) -> None:
        """Remove snapshots other than ``keep`` (the new and the previous one) and leftover partials."""
        root = self.folder / SNAPSHOTS
        for entry in root.iterdir() if root.is_dir() else ():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    @contextmanager
    def _write_lock(self, operation: str, *, wait: bool = False) -> Iterator[None]:
        """The folder's write lock; refused at once when taken, unless ``wait`` (a landing's switch waits for an
        upsert's transaction to end)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".write.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise StoreBusy(self.describe, operation, "另一进程正在写入 (another process is writing); 稍后重试 (retry later)",
                                retryable=True) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open(self, path: Path, buffer_pool_mb: int | None = None) -> tuple[Any, Any]:
        import ladybug

        try:
            db = ladybug.Database(str(path), buffer_pool_size=(buffer_pool_mb or self.buffer_pool_mb) * 1024 * 1024,
                                  max_num_threads=self.threads)
            return db, ladybug.Connection(db, num_threads=self.threads)
        except RuntimeError as exc:
            raise from_ladybug(exc, self.describe, f"open {path}") from exc

    def _connection(self) -> Any:
        """The connection to the landed snapshot, reopened when CURRENT has moved; creates an empty one."""
        name = self.current_snapshot()
        if name is None:
            self.setup_schema()
            name = self.current_snapshot()
        if name != self._open_snapshot:
            self._close_db()
            self._db, self._conn = self._open(self._snapshot_file(name))
            self._open_snapshot = name
        return self._conn

    def _close_db(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._db is not None:
            self._db.close()
        self._db = self._conn = self._open_snapshot = None

    def close(self) -> None:
        self._close_db()

    # --- hooks ----------------------------------------------------------------------------
    def setup_schema(self) -> None:
        """Create an empty landed snapshot if there is none; tables exist in every snapshot."""
        if self.current_snapshot() is not None:
            return
        with self._write_lock("setup_schema"):
            if self.current_snapshot() is not None:
                return
            name = _snapshot_name("empty")
            path = self.folder / SNAPSHOTS / name
            path.mkdir(parents=True)
            db, conn = self._open(path / DB_FILE)
            try:
                for ddl in embedded_schema():
                    self._execute(conn, ddl, {}, "setup_schema")
            finally:
                conn.close()
                db.close()
            self._point_current(name)

    def _execute(self, conn: Any, text: str, params: Params, operation: str) -> Any:
        try:
            return conn.execute(text, dict(params))
        except RuntimeError as exc:
            raise from_ladybug(exc, self.describe, operation) from exc

    def _fetch(self, conn: Any, text: str, params: Params, operation: str) -> list[dict[str, Any]]:
        result = self._execute(conn, text, params, operation)
        columns = result.get_column_names()
        return [dict(zip(columns, row)) for row in result.get_all()]

    def _rows(self, text: str, params: Params, operation: str) -> list[dict[str, Any]]:
        return self._fetch(self._connection(), text, params, operation)

    def _snapshot_reads(self, work: Callable[[Reader], T], operation: str) -> T:
        """One READ ONLY transaction on one connection: the reads see one snapshot file and one MVCC version."""
        conn = self._connection()
        self._execute(conn, "BEGIN TRANSACTION READ ONLY", {}, operation)
        try:
            result = work(lambda text, params: self._fetch(conn, text, params, operation))
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except RuntimeError:
                pass  # a failed statement already ended the transaction
            raise
        self._execute(conn, "COMMIT", {}, operation)
        return result

    def _write(self, steps: Sequence[tuple[Statement, Params]], operation: str) -> list[list[dict[str, Any]]]:
        with self._write_lock(operation):
            conn = self._connection()
            self._execute(conn, "BEGIN TRANSACTION", {}, operation)
            out = []
            try:
                for statement, params in steps:
                    result = self._execute(conn, statement.text(self.dialect), params, f"{operation}/{statement.name}")
                    columns = result.get_column_names()
                    out.append([dict(zip(columns, row)) for row in result.get_all()])
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except RuntimeError:
                    pass  # a failed statement already rolled the transaction back
                raise
            self._execute(conn, "COMMIT", {}, operation)
            return out

    def landed(self) -> bool:
        return self.current_snapshot() is not None

    def _stage(self, frames: GraphFrames, run: RunInfo) -> dict[str, Any]:
        """COPY the run into a new snapshot, not yet pointed at; leftovers of a crashed write are removed first."""
        with self._write_lock(f"write_run {run.run_id}"):
            previous = self.current_snapshot()
            self._prune(keep={n for n in (previous,) if n})  # leftovers of a crashed write
            name = _snapshot_name(run.run_id)
            partial = self.folder / SNAPSHOTS / f"{name}.partial"
            partial.mkdir(parents=True)
            with _BulkWriter(self, partial / DB_FILE, f"write_run {run.run_id}") as writer:
                self._copy_all(writer, frames)
            final = self.folder / SNAPSHOTS / name
            os.replace(partial, final)
            return {"store": str(self.folder), "snapshot": name, "previous": previous,
                    "location": str(final / DB_FILE)}

    def land_staged(self, staged: Mapping[str, Any]) -> None:
        """Point CURRENT at the staged snapshot and keep only it and the previous one (idempotent)."""
        name = staged["snapshot"]
        with self._write_lock(f"land {name}", wait=True):
            if self.current_snapshot() != name:
                if not self._snapshot_file(name).is_file():
                    raise StoreUnavailable(self.describe, f"land {name}", "暂存的快照不存在 (the staged snapshot is "
                                           "gone) — 重新运行 `canbao run` (rerun)")
                self._point_current(name)
            self._prune(keep={name, *(n for n in (staged.get("previous"),) if n)})

    def _copy_all(self, writer: _BulkWriter, frames: GraphFrames) -> None:
        for ddl in embedded_schema():
            writer.execute(ddl)
        for kind, name, frame in frames.drain():
            if kind == "node":
                writer.copy(frame, NODE_PROPERTIES[name], f"COPY {name} FROM $frame", f"COPY {name}")
            else:
                rel, src, dst = rel_frame_endpoints(name)
                pair = f" (from='{src}', to='{dst}')" if ":" in name else ""
                writer.copy(frame, {"from": "STRING", "to": "STRING", **REL_PROPERTIES[rel]},
                            f"COPY {rel} FROM $frame{pair}", f"COPY {name}")
            del frame   # released once copied: a city's frames are large


class _BulkWriter:
    """COPYs frames into a new database file in slices, reopening the database after each slice.

    LadybugDB keeps every Arrow table passed to COPY alive until its connection closes, and the
    copied pages dirty in its buffer pool until the database closes: reopening after each slice
    keeps a city's write to one slice of Arrow (plus the buffer pool) instead of all of it.
    """

    def __init__(self, store: EmbeddedStore, path: Path, operation: str):
        self.store, self.path, self.operation = store, path, operation
        self._db: Any = None
        self._conn: Any = None

    def __enter__(self) -> _BulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._db is not None:
            self._db.close()
        self._db = self._conn = None

    def execute(self, text: str, params: Params | None = None, step: str = "") -> None:
        if self._conn is None:
            self._db, self._conn = self.store._open(self.path, BULK_BUFFER_POOL_MB)
        self.store._execute(self._conn, text, params or {}, f"{self.operation}/{step}" if step else self.operation)

    def copy(self, frame: pd.DataFrame, types: dict[str, str], statement: str, step: str) -> None:
        """COPY a frame in slices of COPY_CHUNK_ROWS rows, each turned into Arrow just before it is copied."""
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            table = arrow_table(frame.iloc[start:start + COPY_CHUNK_ROWS], types)
            self.execute(statement, {"frame": table}, step)
            del table
            self.close()
            release_free_memory()
