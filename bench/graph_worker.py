"""What the graph worker costs per call: the API's reads in this process against the same reads over the pipe.

    PYTHONPATH=. .venv/bin/python bench/graph_worker.py --store /tmp/g100k-store

For a resolved store's graph, runs each read --calls times on random persons with one query thread (as
`canbao serve` opens it), first in-process (EmbeddedStore), then through a SupervisedStore: wall µs per
call, and CPU µs per call of this process plus the worker's (/proc). Reads: one person view, the five
person views of a lookup one by one and in one query (``persons``), and a person's 360° view.
Writes bench/results/graph_worker_<persons>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from graph import GraphStore, open_store  # noqa: E402  (after the sys.path fix above)


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a process (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(store: GraphStore, call: Callable[[list[str]], object], batches: list[list[str]]) -> dict[str, float]:
    """Wall and CPU (this process + the worker) µs per call, after a warm-up pass over the same batches."""
    for batch in batches:
        call(batch)
    worker = getattr(store, "worker_pid", None)
    wall, own, other = time.perf_counter(), time.process_time(), process_cpu(worker)
    for batch in batches:
        call(batch)
    wall, own, other = time.perf_counter() - wall, time.process_time() - own, process_cpu(worker) - other
    n = len(batches)
    return {"wall_us": round(wall / n * 1e6), "cpu_us": round((own + other) / n * 1e6),
            "worker_cpu_us": round(other / n * 1e6)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a resolved store folder (holds graph/)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    graph = str(args.store / "graph")

    with open_store(graph, must_exist=True, query_threads=1) as store:
        ids = [r["person_id"] for r in store._rows("MATCH (p:Person) RETURN p.person_id AS person_id", {}, "ids")]
    rng = random.Random(args.seed)
    batches = [rng.sample(ids, 5) for _ in range(args.calls)]
    reads: dict[str, Callable[[GraphStore], Callable[[list[str]], object]]] = {
        "person": lambda s: lambda b: s.person(b[0]),
        "five_persons_one_by_one": lambda s: lambda b: [s.person(p) for p in b],
        "five_persons_one_query": lambda s: lambda b: s.persons(b),
        "person_360": lambda s: lambda b: s.person_360(b[0]),
    }
    result: dict = {"persons": len(ids), "calls": args.calls, "store": str(args.store)}
    for mode, restarts in (("in_process", None), ("worker", 5)):
        with open_store(graph, must_exist=True, query_threads=1, worker_restarts=restarts) as store:
            for name, make in reads.items():
                figures = measure(store, make(store), batches)
                result.setdefault(name, {})[mode] = figures
                print(f"{len(ids):>8} persons  {name:<24} {mode:<10} {figures}", flush=True)
    out = ROOT / "bench" / "results" / f"graph_worker_{len(ids)}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
