"""SupervisedStore: the embedded store run in a worker process, so that a crash of the C++ database is not ours.

LadybugDB is a young C++ library; a query that crashes it (e.g. ``ORDER BY … SKIP n`` past the
last row, a segfault in 0.22.0) kills the process it runs in. `canbao serve` therefore keeps
the database in one child process and sends it every statement over a pipe:

    parent (API)  ──(kind, payload)──►  worker: EmbeddedStore ──► LadybugDB
                  ◄──("ok", rows) / ("error", StoreError …)──

The domain methods (GraphStore's template) run in the parent and only the hooks cross the pipe,
so the texts are the parent's; ``person_360`` (seven queries) runs in the worker whole, one round
trip. One call at a time (a lock), like the engine's graph lock. When
the worker dies mid-call the call raises ``GraphCrashed`` naming the operation and the signal,
the crash is logged, and the next call starts a fresh worker; after more than ``restarts_per_minute``
crashes in the last minute further calls are refused with ``StoreUnavailable`` (retryable) until
the oldest of them is a minute old, so a crash loop costs no more than that many restarts a minute. The worker is a fresh
interpreter (``python -m graph.supervised``), not a fork: the parent runs threads, and a fork
would copy their locks mid-use; nor multiprocessing's 'spawn', which re-imports the parent's
``__main__`` (any script) in the child.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from graph.cypher import Dialect, Statement
from graph.errors import GraphCrashed, StoreError, StoreUnavailable
from graph.model import GraphFrames, RunInfo
from graph.store import GraphStore, Params, Person360, Reader

T = TypeVar("T")
_RUNS_ELSEWHERE = ("工作进程中的图库只供服务读写，整批写入请用 `canbao run` (a supervised store serves the API; "
                   "a run is landed by `canbao run`, which opens the store in its own process)")

log = logging.getLogger("canbao.graph")
# How long close() waits for the worker to close its database before killing it.
CLOSE_SECONDS = 30.0
CRASH_WINDOW_SECONDS = 60.0
# The folder holding the graph package: the worker imports the same code as its parent.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


def _describe(folder: Path) -> str:
    return f"嵌入式图库 embedded store {folder} (工作进程 worker process)"


def exit_reason(exitcode: int | None) -> str:
    """'SIGSEGV' for a process killed by a signal, 'exit code 3' for one that exited, 'unknown' if still running."""
    if exitcode is None:
        return "unknown"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class GraphWorker:
    """One worker process serving one store folder: started, called one request at a time, restarted after a crash."""

    def __init__(self, folder: Path, options: dict[str, Any], restarts_per_minute: int):
        self.folder = folder
        self.options = options
        self.restarts_per_minute = restarts_per_minute
        self.describe = _describe(folder)
        self.starts = 0                       # processes started, the first one included
        self.crashes: deque[float] = deque()  # monotonic times of the crashes in the last minute
        self.crash_count = 0                  # crashes ever
        self.handles = 0                      # SupervisedStore objects using this worker
        self.lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The running process's id (None between a crash and the next call)."""
        return self._process.pid if self._process is not None and self._conn is not None else None

    def call(self, kind: str, payload: Any, operation: str) -> Any:
        """Send one request (starting a process if none runs) and return its answer or raise its error."""
        with self.lock:
            conn = self._conn or self._start(operation)
            try:
                conn.send((kind, payload, operation))
                status, value = conn.recv()
            except (EOFError, OSError):
                raise self._died(operation) from None
        if status == "error":
            raise value
        return value

    def _start(self, operation: str) -> Connection:
        now = time.monotonic()
        while self.crashes and now - self.crashes[0] > CRASH_WINDOW_SECONDS:
            self.crashes.popleft()
        if len(self.crashes) > self.restarts_per_minute:
            wait = CRASH_WINDOW_SECONDS - (now - self.crashes[0])
            raise StoreUnavailable(self.describe, operation,
                                   f"图库工作进程一分钟内崩溃 {len(self.crashes)} 次，暂停重启 (the graph worker crashed "
                                   f"{len(self.crashes)} times in a minute; not restarted for {wait:.0f} s more) — "
                                   "查看服务日志中的崩溃操作 (see the server log for the crashing operations)",
                                   retryable=True)
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)}
        process = subprocess.Popen(
            [sys.executable, "-m", "graph.supervised", str(child.fileno()), str(self.folder), json.dumps(self.options)],
            pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL)
        child.close()   # only the worker holds its end now: its death is an EOF here
        conn = Connection(parent.detach())
        self._process, self._conn = process, conn
        self.starts += 1
        try:
            conn.send(("start", None, operation))
            status, value = conn.recv()
        except (EOFError, OSError):
            raise self._died(operation) from None
        if status == "error":   # e.g. must_exist and no landed run: the process is of no use
            self._stop()
            raise value
        if self.starts > 1:
            log.warning("graph worker restarted (pid %d, start %d, %d crash(es) so far): %s",
                        process.pid, self.starts, self.crash_count, self.folder)
        return conn

    def _died(self, operation: str) -> GraphCrashed:
        """The process is gone: reap it, count the crash, log it; the error for the caller."""
        process = self._process
        assert process is not None
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:   # the pipe broke but the process lives on: end it, it is no longer ours
            process.kill()
            process.wait()
        reason = exit_reason(process.returncode)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None
        self.crashes.append(time.monotonic())
        self.crash_count += 1
        log.error("graph worker pid %d died (%s) during %s: %s — the next call starts a fresh one (%d crash(es) in "
                  "the last minute)", process.pid, reason, operation, self.folder, len(self.crashes))
        return GraphCrashed(self.describe, operation,
                            f"图库工作进程崩溃 (the graph worker process died: {reason}); 下次调用时重启 "
                            "(a fresh one starts on the next call)")

    def stop(self) -> None:
        """Ask the process to close its database and exit; kill it if it does not within CLOSE_SECONDS."""
        with self.lock:
            self._stop()

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None or conn is None:
            return
        try:
            conn.send(("close", None, "close"))
            if conn.poll(CLOSE_SECONDS):
                conn.recv()
        except (EOFError, OSError):
            pass   # it died on the way out: nothing left to close
        finally:
            conn.close()
        try:
            process.wait(timeout=CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            log.error("graph worker pid %d did not exit within %.0f s; killed", process.pid, CLOSE_SECONDS)
            process.kill()
            process.wait()


# The workers of this process, one per (folder, options): LadybugDB lets one process open a database file
# (a second process finds it locked), so handles on the same store in one process share its worker, as
# in-process handles share the file.
_WORKERS: dict[tuple[str, str], GraphWorker] = {}
_WORKERS_LOCK = threading.Lock()


class SupervisedStore(GraphStore):
    """An EmbeddedStore in a supervised worker process: reads and writes over a pipe, restarted when it dies."""

    dialect: ClassVar[Dialect] = "embedded"

    def __init__(self, folder: str | Path, *, must_exist: bool = False, threads: int = 0,
                 buffer_pool_mb: int = 2048, restarts_per_minute: int = 5):
        self.folder = Path(folder)
        options = {"must_exist": must_exist, "threads": threads, "buffer_pool_mb": buffer_pool_mb}
        key = (str(self.folder.resolve()), json.dumps(options, sort_keys=True))
        with _WORKERS_LOCK:
            worker = _WORKERS.get(key)
            if worker is None:
                worker = GraphWorker(self.folder, options, restarts_per_minute)
                with worker.lock:
                    worker._start("open")   # now: a store that cannot open fails here, not on a request
                _WORKERS[key] = worker
            worker.handles += 1
        self.worker, self._key = worker, key
        self._closed = False

    @property
    def describe(self) -> str:
        return _describe(self.folder)

    @property
    def ready(self) -> bool:
        return self.worker.pid is not None

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id (None between a crash and the next call)."""
        return self.worker.pid

    @property
    def starts(self) -> int:
        return self.worker.starts

    @property
    def crash_count(self) -> int:
        return self.worker.crash_count

    def _call(self, kind: str, payload: Any, operation: str) -> Any:
        if self._closed:
            raise StoreUnavailable(self.describe, operation, "图库已关闭 (the store is closed)")
        return self.worker.call(kind, payload, operation)

    # --- hooks ------------------------------------------------------------------------------
    def setup_schema(self) -> None:
        self._call("setup_schema", None, "setup_schema")

    def _rows(self, text: str, params: Params, operation: str) -> list[dict[str, Any]]:
        return self._call("rows", (text, dict(params)), operation)

    def _write(self, steps: Sequence[tuple[Statement, Params]], operation: str) -> list[list[dict[str, Any]]]:
        return self._call("write", [(statement, dict(params)) for statement, params in steps], operation)

    def person_360(self, person_id: str) -> Person360 | None:
        """Run in the worker as a whole: its seven queries cost one round trip instead of seven."""
        return self._call("person_360", person_id, "person_360")

    def _page(self, count: str, page: str, params: Params, operation: str) -> tuple[int, list[dict[str, Any]]]:
        """Counted and paged in the worker's one read-only transaction (a closure cannot cross the pipe)."""
        return self._call("page", (count, page, dict(params)), operation)

    def _snapshot_reads(self, work: Callable[[Reader], T], operation: str) -> T:
        raise StoreError(self.describe, operation, "工作进程中的图库只接受命名的读取 (a supervised store runs named "
                         "reads in its worker; a snapshot read with a callable cannot cross the pipe)")

    def _stage(self, frames: GraphFrames, run: RunInfo) -> dict[str, Any]:
        raise StoreError(self.describe, f"write_run {run.run_id}", _RUNS_ELSEWHERE)

    def land_staged(self, staged: Mapping[str, Any]) -> None:
        raise StoreError(self.describe, "land_staged", _RUNS_ELSEWHERE)

    def close(self) -> None:
        """Let go of the worker; the last handle on it stops it (its database closed, the process ended)."""
        with _WORKERS_LOCK:
            if self._closed:
                return
            self._closed = True
            self.worker.handles -= 1
            last = self.worker.handles == 0
            if last:
                _WORKERS.pop(self._key, None)
        if last:
            self.worker.stop()


def _serve(conn: Connection, folder: str, options: dict[str, Any]) -> None:
    """The worker: one EmbeddedStore, one request at a time, until 'close' or the parent goes away."""
    # Ctrl-C in a terminal reaches the whole process group: the parent shuts down and closes us in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from graph.embedded import EmbeddedStore

    store: EmbeddedStore | None = None
    while True:
        try:
            kind, payload, operation = conn.recv()
        except (EOFError, OSError):
            break   # the parent is gone
        try:
            if kind == "start":
                store = EmbeddedStore(folder, **options)
                answer: Any = os.getpid()
                store._connection()   # open the database now, not on the first request
            elif kind == "close":
                if store is not None:
                    store.close()
                conn.send(("ok", None))
                break
            elif store is None:
                raise StoreUnavailable(_describe(Path(folder)), operation, "工作进程尚未打开图库 (the worker has no store open)")
            elif kind == "rows":
                text, params = payload
                answer = store._rows(text, params, operation)
            elif kind == "write":
                answer = store._write(payload, operation)
            elif kind == "page":
                answer = store._page(*payload, operation)
            elif kind == "person_360":
                answer = store.person_360(payload)
            elif kind == "setup_schema":
                answer = store.setup_schema()
            else:
                raise StoreError(_describe(Path(folder)), operation, f"unknown request {kind!r}")
        except Exception as error:  # noqa: BLE001 — every error goes back to the caller, none kills the worker
            conn.send(("error", _sendable(error, folder, operation)))
            continue
        conn.send(("ok", answer))
    if store is not None:
        store.close()   # closed already after 'close'; after an EOF (the parent died) the database is closed here
    conn.close()


def _sendable(error: Exception, folder: str, operation: str) -> Exception:
    """The error itself when it pickles (ours do), else a StoreError carrying its type and message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 — any pickling failure: send its text instead
        return StoreError(_describe(Path(folder)), operation, f"{type(error).__name__}: {error}")


def main(argv: Sequence[str]) -> None:
    """``python -m graph.supervised FD FOLDER OPTIONS_JSON``: serve the store on the socket the parent passed."""
    fd, folder, options = int(argv[1]), argv[2], json.loads(argv[3])
    _serve(Connection(fd), folder, options)


__all__ = ["GraphCrashed", "GraphWorker", "SupervisedStore", "exit_reason"]

if __name__ == "__main__":
    main(sys.argv)
