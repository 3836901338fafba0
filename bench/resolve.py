"""Benchmark ingest + resolution on the synthetic city: time per stage, pairs, pairs/s, peak memory, accuracy.

    PYTHONPATH=. .venv/bin/python bench/resolve.py --persons 100000
    PYTHONPATH=. .venv/bin/python bench/resolve.py --data runs/gen-1m --skip-incremental

Generates the city (unless --data points at one), ingests it, resolves it in full, scores
the result against the truth, times single-record lookups (the survey app), and checks that
an incremental run (everything but the survey first, then the survey) gives the same
clusters as the full run. Writes bench/results/resolve_<persons>.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import canbao  # noqa: F401  (process settings, before NumPy loads)
import numpy as np
import pandas as pd

from resolver.evaluate import evaluate, format_evaluation
from resolver.ingest import ingest_folder
from resolver.matching_config import load_matching_config
from resolver.resolve import resolve, resolve_incremental, resolve_one


def peak_memory_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} (peak {peak_memory_gb():.2f} GB)", file=sys.stderr, flush=True)


def generate_city(persons: int, out: Path, seed: int, as_of: dt.date) -> None:
    from resolver.synth import generate, load_rates

    generate(persons=persons, seed=seed, as_of=as_of, out_dir=out, rates=load_rates(None), progress=log)


def partition(links: pd.DataFrame) -> pd.Series:
    """Canonical cluster label per record key: the smallest record key of its cluster."""
    return links.groupby("person_id")["record_key"].transform("min").set_axis(links["record_key"]).sort_index()


def lookup_latency(records: pd.DataFrame, state, config, count: int, seed: int) -> dict[str, float]:
    """Milliseconds per resolve_one on survey-like fragments (stored records, renamed keys)."""
    rng = np.random.default_rng(seed)
    sample = records.iloc[rng.choice(len(records), size=min(count, len(records)), replace=False)].copy()
    sample["record_key"] = "bench:" + sample["record_key"]
    started = time.perf_counter()
    resolve_one(sample.iloc[:1], state, config)   # builds the in-memory index once
    index_seconds = time.perf_counter() - started
    timings = []
    for i in range(len(sample)):
        t0 = time.perf_counter()
        resolve_one(sample.iloc[i:i + 1], state, config)
        timings.append((time.perf_counter() - t0) * 1000)
    return {"index_build_s": round(index_seconds, 2), "median_ms": round(float(np.median(timings)), 2),
            "p95_ms": round(float(np.percentile(timings, 95)), 2), "queries": len(timings)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="an existing generated folder (else one is generated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 28))
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args()

    data = args.data or Path("runs") / f"bench-{args.persons}"
    result: dict = {"persons": args.persons, "data": str(data)}
    if not (data / "truth" / "records.csv").exists():
        t0 = time.perf_counter()
        generate_city(args.persons, data, args.seed, args.as_of)
        result["generate_s"] = round(time.perf_counter() - t0, 1)
        log("generated")

    t0 = time.perf_counter()
    ingested = ingest_folder(data)
    records = ingested.records
    result["ingest_s"] = round(time.perf_counter() - t0, 1)
    result["records"] = len(records)
    log(f"ingested {len(records):,} records")

    config = load_matching_config()
    t0 = time.perf_counter()
    resolution = resolve(records, config, progress=lambda stage, counts: log(f"{stage}: {counts}"))
    result["resolve_s"] = round(time.perf_counter() - t0, 1)
    result["stage_s"] = resolution.seconds
    result["counts"] = resolution.counts
    pairs = resolution.counts.get("compared_pairs", 0)
    compare_s = resolution.seconds.get("comparison", 0) + resolution.seconds.get("scoring", 0)
    result["pairs_per_s"] = round(pairs / compare_s) if compare_s else None
    result["peak_memory_gb_after_resolve"] = round(peak_memory_gb(), 2)
    result["em"] = resolution.model.training

    truth_records = pd.read_csv(data / "truth" / "records.csv", dtype=str)
    truth_persons = pd.read_csv(data / "truth" / "persons.csv", dtype=str)
    conflicts = resolution.flagged_conflicts
    persons = pd.DataFrame({"person_id": resolution.links["person_id"].unique()})
    persons["flags"] = persons["person_id"].map(lambda p: "CONFLICT" if p in conflicts else "")
    evaluation = evaluate(resolution.links, persons, truth_records, truth_persons)
    print(format_evaluation(evaluation))
    result["pairwise"] = {"precision": evaluation.pairwise.precision, "recall": evaluation.pairwise.recall,
                          "f1": evaluation.pairwise.f1}
    result["clusters"] = evaluation.clusters
    result["hard_cases"] = evaluation.hard_cases

    state = resolution.state(records)
    result["lookup"] = lookup_latency(records, state, config, args.lookups, args.seed)
    log(f"lookups: {result['lookup']}")

    if not args.skip_incremental:
        first = records[records["source"] != "survey"]
        later = records[records["source"] == "survey"]
        base = resolve(first, config, model=resolution.model)
        t0 = time.perf_counter()
        incremental, _ = resolve_incremental(later, base.state(first), config)
        result["incremental_s"] = round(time.perf_counter() - t0, 1)
        result["incremental_new_records"] = len(later)
        same_model_full = resolve(records, config, model=resolution.model)
        result["incremental_equals_full"] = bool(partition(incremental.links).equals(partition(same_model_full.links)))
        log(f"incremental: {result['incremental_s']} s, equals full: {result['incremental_equals_full']}")

    result["peak_memory_gb"] = round(peak_memory_gb(), 2)
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"resolve_{args.persons}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
