"""Ingestion throughput: records/s end to end (read, decode, standardise, reconcile) and peak memory.

    .venv/bin/python bench/ingest.py --persons 100000 [--data DIR] [--keep] [--workers N]

Generates a synthetic population with resolver.synth (in a child process, so that its memory does
not count) unless --data names an existing folder, ingests it and prints wall time, records/s, the
peak RSS of this process and of the worker process, and the load average (the machine is shared,
so a busy neighbour shows up in the figures).
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import canbao  # noqa: E402,F401  (process settings, before NumPy loads)
from resolver.ingest import ingest_folder  # noqa: E402
from resolver.synth import generate  # noqa: E402

AS_OF = dt.date(2026, 11, 28)


def peak_rss_gib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in GiB of this process, or of its largest finished child (ru_maxrss is in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024 / 1024


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", help="ingest this folder instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: ingest_folder decides; 0: this process only)")
    args = parser.parse_args()

    folder = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="canbao-bench-"))
    if not args.data:
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=generate, kwargs={"persons": args.persons, "seed": args.seed, "as_of": AS_OF, "out_dir": folder})
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"generate failed (exit code {child.exitcode})")
        print(f"generate: {args.persons:,} persons in {time.perf_counter() - started:.1f} s")
    rss_before, children_before = peak_rss_gib(), peak_rss_gib(resource.RUSAGE_CHILDREN)
    print(f"load average before: {load()}")
    started = time.perf_counter()
    result = ingest_folder(folder, workers=args.workers)
    elapsed = time.perf_counter() - started
    rows = result.rows_in
    print(f"ingest: {rows:,} rows ({len(result.records):,} records, {len(result.rejected):,} rejected, "
          f"{len(result.quality):,} quality issues) in {elapsed:.1f} s = {rows / elapsed:,.0f} records/s")
    children = peak_rss_gib(resource.RUSAGE_CHILDREN)
    if children > children_before:
        worker = f"{children:.2f} GiB"
    else:
        worker = "none" if children == 0 else f"at most {children:.2f} GiB (the generator's peak)"
    print(f"peak RSS: {peak_rss_gib():.2f} GiB (before ingest {rss_before:.2f} GiB); worker process {worker}")
    print(f"load average after: {load()}")
    print(f"reconciles: {rows == len(result.records) + len(result.rejected)}")
    if not args.data and not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
