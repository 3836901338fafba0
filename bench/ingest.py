"""Ingestion throughput: records/s end to end (read, decode, standardise, reconcile) and peak memory.

    .venv/bin/python bench/ingest.py --persons 100000 [--data DIR] [--keep]

Generates a synthetic population with `canbao generate` (unless --data names an existing
folder), ingests it and prints wall time per phase, records/s and peak RSS.
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolver.ingest import ingest_folder  # noqa: E402
from resolver.synth import generate  # noqa: E402


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", help="ingest this folder instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = parser.parse_args()

    folder = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="canbao-bench-"))
    if not args.data:
        started = time.perf_counter()
        generate(persons=args.persons, seed=args.seed, as_of=dt.date(2026, 11, 28), out_dir=folder)
        print(f"generate: {args.persons:,} persons in {time.perf_counter() - started:.1f} s")
    rss_before = peak_rss_gb()
    started = time.perf_counter()
    result = ingest_folder(folder)
    elapsed = time.perf_counter() - started
    rows = result.rows_in
    print(f"ingest: {rows:,} rows ({len(result.records):,} records, {len(result.rejected):,} rejected, "
          f"{len(result.quality):,} quality issues) in {elapsed:.1f} s = {rows / elapsed:,.0f} records/s")
    print(f"peak RSS: {peak_rss_gb():.2f} GB (before ingest {rss_before:.2f} GB)")
    print(f"reconciles: {rows == len(result.records) + len(result.rejected)}")
    if not args.data and not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
