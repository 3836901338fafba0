"""City-scale benchmark: canbao end to end, side by side with Splink on the same canonical records.

    PYTHONPATH=. .venv/bin/python bench/city.py --persons 100000
    PYTHONPATH=. .venv/bin/python bench/city.py --persons 1000000 --data /tmp/city/gen-1000000

Each part runs in its own child process (this script again, with ``--engine``), so each
engine's peak memory is its own:

1. ``generate``  — ``canbao generate`` of N persons (skipped when --data holds one);
2. ``canbao``    — the whole pipeline (ingest, resolve, status, graph write, save) into a
   fresh store; per stage: wall time, records/s and peak RSS (the kernel's high-water mark,
   reset at each stage boundary through /proc/self/clear_refs);
3. ``canbao-resolve`` — resolution alone on the canonical records the pipeline stored
   (records.parquet), the like-for-like opponent of
4. ``splink``    — Splink (DuckDB) on the same records.parquet (bench/splink_baseline.py).

The parent scores every engine with ``resolver.evaluate`` against the generator's truth
(pairwise F1, status accuracy, UNENROLLED precision and recall as defined in
bench/README.md), prints the tables and writes bench/results/city_<N>.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

if not __package__:  # run as a file, bench/graph.py would shadow the graph package: use the repo root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    sys.path.append(str(Path(__file__).resolve().parent))

import canbao  # noqa: E402,F401  (process memory settings, before NumPy loads)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 28)
UNENROLLED = "UNENROLLED"
ENGINES = ("canbao", "canbao-resolve", "splink")
GIB = 1024 ** 3


# ---------------------------------------------------------------- memory and time per stage

def _proc_status_kib(field_name: str) -> int | None:
    """A VmXXX line of /proc/self/status in KiB (None off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux ≥ 4.0); False when it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_rss_gib() -> float:
    """Peak RSS since the last reset: VmHWM, else ru_maxrss (KiB on Linux)."""
    kib = _proc_status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024 / GIB


def rss_gib() -> float:
    """Resident memory now (what a stage leaves held for the next)."""
    return (_proc_status_kib("VmRSS") or 0) * 1024 / GIB


@dataclass
class StageFigures:
    """One stage of one engine: wall seconds, the peak RSS reached during it and the RSS it left."""

    name: str
    seconds: float
    peak_gib: float
    end_gib: float


@dataclass
class StageMeter:
    """Calls ``meter(name)`` at each stage end; each stage's peak is its own when the reset works."""

    stages: list[StageFigures] = field(default_factory=list)
    per_stage_peaks: bool = True
    _start: float = 0.0

    def __post_init__(self) -> None:
        self.per_stage_peaks = _reset_peak()
        self._start = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.stages.append(StageFigures(name, round(now - self._start, 2), round(peak_rss_gib(), 2), round(rss_gib(), 2)))
        log(f"{name}: {now - self._start:.1f} s, peak {self.stages[-1].peak_gib:.2f} GiB, "
            f"left {self.stages[-1].end_gib:.2f} GiB")
        if self.per_stage_peaks:
            _reset_peak()
        self._start = time.perf_counter()   # the reset itself is not charged to the next stage

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.stages), 2)

    @property
    def peak_gib(self) -> float:
        """The process's peak over all stages (the per-stage peaks are disjoint windows)."""
        return max((s.peak_gib for s in self.stages), default=round(peak_rss_gib(), 2))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the engines (child processes)

def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str), encoding="utf-8")


def engine_generate(args: argparse.Namespace) -> dict:
    """``canbao generate`` of ``--persons`` into ``--data``."""
    from resolver.synth import generate

    meter = StageMeter()
    summary = generate(persons=args.persons, seed=args.seed, as_of=args.as_of, out_dir=args.data)
    meter("generate")
    return {"rows": summary.records, "persons_with_records": summary.persons_with_records,
            "stages": [asdict(s) for s in meter.stages]}


def engine_canbao(args: argparse.Namespace) -> dict:
    """The whole pipeline into a fresh store under ``--work``; links and persons stay in the store."""
    from resolver.pipeline import run_pipeline

    store = args.work / "store"
    shutil.rmtree(store, ignore_errors=True)
    meter = StageMeter()
    outcome = run_pipeline(args.data, str(store), args.as_of, on_stage=meter)
    return {"records": len(outcome.records), "rows_in": outcome.ingest.rows_in,
            "rejected": len(outcome.rejected), "persons": len(outcome.persons),
            "resolution_counts": {k: int(v) for k, v in outcome.resolution.counts.items()},
            "per_stage_peaks": meter.per_stage_peaks, "stages": [asdict(s) for s in meter.stages]}


def engine_canbao_resolve(args: argparse.Namespace) -> dict:
    """Resolution alone on the stored canonical records (what Splink is given), links to --work."""
    from resolver.compare import MATCH_COLUMNS
    from resolver.matching_config import load_matching_config
    from resolver.resolve import resolve

    import pyarrow.parquet as pq

    meter = StageMeter()
    records_file = args.work / "store" / "records.parquet"
    present = set(pq.read_schema(records_file).names)
    records = pd.read_parquet(records_file, columns=[c for c in MATCH_COLUMNS if c in present])
    meter("load")
    resolution = resolve(records, load_matching_config(),
                         progress=lambda stage, counts: meter(f"resolve.{stage}"))
    links = resolution.links[["source", "record_id", "person_id"]]
    figures = {"records": len(records), "per_stage_peaks": meter.per_stage_peaks,
               "stages": [asdict(s) for s in meter.stages]}
    links.to_parquet(args.work / "canbao-resolve_links.parquet", index=False)
    _canbao_sweep(records, resolution, _thresholds(args.canbao_sweep), args.work)
    return figures


def _thresholds(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",") if t.strip())


def _canbao_sweep(records: pd.DataFrame, resolution, thresholds: tuple[float, ...], work: Path) -> None:
    """Untimed: canbao's links with the same trained model at other accept thresholds (policy what-ifs)."""
    from resolver.matching_config import load_matching_config
    from resolver.resolve import resolve

    config = load_matching_config()
    for accept in thresholds:
        changed = config.model_copy(update={"thresholds": config.thresholds.model_copy(
            update={"accept": accept, "review": min(config.thresholds.review, accept)})})
        links = resolve(records, changed, model=resolution.model).links[["source", "record_id", "person_id"]]
        links.to_parquet(work / f"canbao-resolve_links_accept_{accept}.parquet", index=False)


def engine_splink(args: argparse.Namespace) -> dict:
    """Splink on the stored canonical records; links (and, untimed, statuses by canbao's rules) to --work."""
    import logging

    from splink_baseline import SplinkOptions, read_records, run_splink

    logging.getLogger("splink").setLevel(logging.ERROR)   # its untrained-level notes would drown the figures

    meter = StageMeter()
    records_file = args.work / "store" / "records.parquet"
    records = read_records(records_file)
    meter("load")
    options = SplinkOptions(threshold=args.splink_threshold, memory_limit=args.splink_memory_limit)
    labels, facts = run_splink(records, options, args.work / "splink-spill",
                               pairs_file=args.work / "splink_pairs.parquet", stage=meter)
    figures = {**facts, "per_stage_peaks": meter.per_stage_peaks, "stages": [asdict(s) for s in meter.stages]}
    del records
    _splink_persons(records_file, labels, args.as_of, args.work)
    return figures


def _splink_persons(records_file: Path, labels: pd.DataFrame, as_of: dt.date, work: Path) -> None:
    """Splink's clusters as links, and persons with statuses by canbao's own rules (not timed)."""
    from resolver.pipeline import build_persons

    records = pd.read_parquet(records_file)
    cluster = labels.set_index("record_key")["cluster_id"].reindex(records["record_key"]).to_numpy()
    # Splink lists every input record in its clusters; a record it left out would be its own person.
    records["person_id"] = np.where(pd.isna(cluster), "single:" + records["record_key"].astype(str),
                                    "S" + pd.Series(cluster).astype(str))
    records[["record_key", "source", "record_id", "person_id"]].to_parquet(work / "splink_links.parquet", index=False)
    persons = build_persons(records, as_of, {})
    persons[["person_id", "status", "flags"]].to_parquet(work / "splink_persons.parquet", index=False)


CHILDREN: dict[str, Callable[[argparse.Namespace], dict]] = {
    "generate": engine_generate,
    "canbao": engine_canbao,
    "canbao-resolve": engine_canbao_resolve,
    "splink": engine_splink,
}


def run_child(engine: str, args: argparse.Namespace) -> dict:
    """Run one engine in its own process; its figures, plus its ru_maxrss as the parent saw it."""
    out = args.work / f"{engine}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--engine", engine, "--persons", str(args.persons),
               "--data", str(args.data), "--work", str(args.work), "--seed", str(args.seed),
               "--as-of", args.as_of.isoformat(), "--splink-threshold", str(args.splink_threshold),
               "--splink-memory-limit", args.splink_memory_limit, "--canbao-sweep", args.canbao_sweep]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log(f"start {engine}")
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    figures = json.loads(out.read_text(encoding="utf-8"))
    figures["wall_seconds"] = round(time.perf_counter() - started, 1)
    figures["children_max_rss_gib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GIB, 2)
    return figures


# ---------------------------------------------------------------- accuracy

def _main_cluster(counts: pd.DataFrame, of: str, pick: str) -> pd.Series:
    """For each ``of`` label, the ``pick`` label holding most of its records (ties: smallest label)."""
    ordered = counts.sort_values([of, "n", pick], ascending=[True, False, True])
    return ordered.drop_duplicates(of).set_index(of)[pick]


def unenrolled_scores(links: pd.DataFrame, persons: pd.DataFrame, truth_records: pd.DataFrame,
                      truth_persons: pd.DataFrame) -> dict[str, float | int]:
    """Precision and recall of the UNENROLLED list (the survey targets), matched through the records.

    A true UNENROLLED person is found when its main predicted person (the one holding most of
    its records) is UNENROLLED. A predicted UNENROLLED person is right when its main true person
    is UNENROLLED and it is that person's main predicted person, so a duplicate survey visit of
    one person counts as a false positive. bench/README.md states the same.
    """
    key = ["source", "record_id"]
    joined = links[key + ["person_id"]].astype(str).merge(
        truth_records[key + ["person_id"]].astype(str), on=key, suffixes=("", "_true"))
    counts = joined.groupby(["person_id", "person_id_true"]).size().rename("n").reset_index()
    main_of_true = _main_cluster(counts, of="person_id_true", pick="person_id")
    main_true_of = _main_cluster(counts, of="person_id", pick="person_id_true")
    predicted_status = persons.set_index("person_id")["status"]
    true_status = truth_persons.set_index("person_id")["status"]

    true_targets = true_status.index[true_status == UNENROLLED].intersection(main_of_true.index)
    found = int((predicted_status.reindex(main_of_true[true_targets]).to_numpy() == UNENROLLED).sum())
    predicted_targets = predicted_status.index[predicted_status == UNENROLLED]
    truth_person = main_true_of.reindex(predicted_targets)
    right = (true_status.reindex(truth_person).to_numpy() == UNENROLLED) & (
        main_of_true.reindex(truth_person).to_numpy() == predicted_targets.to_numpy())
    return {
        "true_unenrolled": len(true_targets), "predicted_unenrolled": len(predicted_targets),
        "precision": float(right.sum() / len(predicted_targets)) if len(predicted_targets) else 1.0,
        "recall": found / len(true_targets) if len(true_targets) else 1.0,
    }


@dataclass
class Truth:
    records: pd.DataFrame
    persons: pd.DataFrame


def read_truth(data: Path) -> Truth:
    truth = data / "truth"
    if not (truth / "records.csv").exists():
        raise SystemExit(f"{truth}: no truth/records.csv — is --data a folder written by `canbao generate`?")
    return Truth(records=pd.read_csv(truth / "records.csv", dtype=str, usecols=["source", "record_id", "person_id"]),
                 persons=pd.read_csv(truth / "persons.csv", dtype=str, usecols=["person_id", "status"]))


def trusted_id_numbers(records_file: Path) -> pd.DataFrame:
    """source, record_id, trusted_id: each canonical record's valid or converted ID number (else null)."""
    from resolver.schema import TRUSTED_ID_STATUSES

    records = pd.read_parquet(records_file, columns=["source", "record_id", "id_number", "id_status"])
    trusted = records["id_status"].isin(TRUSTED_ID_STATUSES).to_numpy()
    return pd.DataFrame({"source": records["source"].astype(str), "record_id": records["record_id"].astype(str),
                         "trusted_id": records["id_number"].where(trusted)})


def within_rules(links: pd.DataFrame, truth: Truth, trusted: pd.DataFrame) -> dict:
    """Pairwise P/R/F1 leaving out the pairs of two different trusted ID numbers: the rules
    (issue 3, clustering) forbid linking those without a steward, so canbao sends them to review."""
    from resolver.evaluate import pairwise_scores

    key = ["source", "record_id"]
    joined = (links[key + ["person_id"]].astype({"source": str, "record_id": str})
              .merge(truth.records, on=key, suffixes=("", "_true")).merge(trusted, on=key, how="left"))
    scores = pairwise_scores(joined["person_id"], joined["person_id_true"], apart=joined["trusted_id"])
    return {"precision": round(scores.precision, 6), "recall": round(scores.recall, 6), "f1": round(scores.f1, 6)}


def accuracy(links: pd.DataFrame, persons: pd.DataFrame | None, truth: Truth, trusted: pd.DataFrame) -> dict:
    """Pairwise P/R/F1 (also within the ID-number rule), status accuracy and UNENROLLED precision/recall
    of one engine's output."""
    from resolver.evaluate import evaluate

    persons_frame = persons if persons is not None else pd.DataFrame({"person_id": links["person_id"].unique()})
    evaluation = evaluate(links, persons_frame, truth.records, truth.persons)
    p = evaluation.pairwise
    out: dict = {"precision": round(p.precision, 6), "recall": round(p.recall, 6), "f1": round(p.f1, 6),
                 "within_rules": within_rules(links, truth, trusted),
                 "predicted_persons": evaluation.clusters["predicted_persons"],
                 "true_persons": evaluation.clusters["true_persons"],
                 "unmatched_records": evaluation.unmatched}
    if persons is not None and len(evaluation.status):
        overall = evaluation.status[evaluation.status["status"] == "(all)"].iloc[0]
        out["status_accuracy"] = round(float(overall["accuracy"]), 6)
        out["unenrolled"] = unenrolled_scores(links, persons, truth.records, truth.persons)
    return out


def canbao_sweep(work: Path, truth: Truth, thresholds: tuple[float, ...]) -> dict:
    """Pairwise F1 of canbao's links at the other accept thresholds _canbao_sweep wrote."""
    from resolver.evaluate import pairwise_scores

    out = {}
    for accept in thresholds:
        links = pd.read_parquet(work / f"canbao-resolve_links_accept_{accept}.parquet")
        joined = links.merge(truth.records, on=["source", "record_id"], suffixes=("", "_true"))
        out[str(accept)] = round(pairwise_scores(joined["person_id"], joined["person_id_true"]).f1, 6)
    return out


def splink_sweep(work: Path, truth: Truth, thresholds: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)) -> dict:
    """Splink's pairwise F1 when its predictions are clustered at other thresholds (its best case; untimed)."""
    from resolver.evaluate import pairwise_scores
    from splink_baseline import clusters_at

    pairs = pd.read_parquet(work / "splink_pairs.parquet")
    links = pd.read_parquet(work / "splink_links.parquet", columns=["record_key", "source", "record_id"])
    true_person = links.astype({"source": str, "record_id": str}).merge(
        truth.records, on=["source", "record_id"], how="left")["person_id"]
    known = true_person.notna().to_numpy()
    out = {}
    for threshold in thresholds:
        label = clusters_at(pairs, links["record_key"].to_numpy(), threshold)
        out[str(threshold)] = round(pairwise_scores(pd.Series(label[known]), true_person[known]).f1, 6)
    return out


# ---------------------------------------------------------------- report

def stage_table(name: str, figures: dict, records: int) -> list[str]:
    """Rows: engine, stage, seconds, records/s, peak GiB, GiB held after the stage."""
    rows = []
    for stage in figures["stages"]:
        rate = f"{records / stage['seconds']:,.0f}" if stage["seconds"] >= 0.05 else "–"
        rows.append(f"| {name} | {stage['name']} | {stage['seconds']:,.1f} | {rate} | {stage['peak_gib']:.2f} "
                    f"| {stage['end_gib']:.2f} |")
    total = sum(s["seconds"] for s in figures["stages"])
    peak = max(s["peak_gib"] for s in figures["stages"])
    rows.append(f"| {name} | **total** | **{total:,.1f}** | **{records / total:,.0f}** | **{peak:.2f}** | |")
    return rows


def _seconds(figures: dict, prefix: str = "") -> float:
    return sum(s["seconds"] for s in figures["stages"] if s["name"].startswith(prefix))


def _peak(figures: dict, prefix: str = "") -> float:
    return max((s["peak_gib"] for s in figures["stages"] if s["name"].startswith(prefix)), default=0.0)


def report(result: dict) -> str:
    """The Markdown tables bench/README.md carries."""
    records = result["records"]
    lines = [f"### {result['persons']:,} persons, {records:,} records — {result['date']}, {result['machine']}", "",
             "| engine | stage | seconds | records/s | peak RSS GiB | RSS after GiB |", "|---|---|---:|---:|---:|---:|"]
    for engine in ENGINES:
        if engine in result["engines"]:
            lines += stage_table(engine, result["engines"][engine], records)
    lines += ["", "| engine | seconds | peak RSS GiB | precision | recall | pairwise F1 | F1 within the ID rule "
              "| status accuracy | UNENROLLED precision | UNENROLLED recall |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for engine, figures in result["engines"].items():
        acc = result["accuracy"].get(engine, {})
        unenrolled = acc.get("unenrolled", {})
        seconds = _seconds(figures) - _seconds(figures, "load")
        peak = _peak(figures)

        def fmt(value) -> str:
            return f"{value:.5f}" if isinstance(value, float) else "–"

        lines.append(f"| {engine} | {seconds:,.1f} | {peak:.2f} | {fmt(acc.get('precision'))} | "
                     f"{fmt(acc.get('recall'))} | {fmt(acc.get('f1'))} | {fmt(acc.get('within_rules', {}).get('f1'))} | "
                     f"{fmt(acc.get('status_accuracy'))} | "
                     f"{fmt(unenrolled.get('precision'))} | {fmt(unenrolled.get('recall'))} |")
    if "ratio" in result:
        lines += ["", "Splink / canbao on the same records (resolution only, loading excluded): "
                  f"time ×{result['ratio']['time']:.2f}, peak memory ×{result['ratio']['memory']:.2f}, "
                  f"F1 {result['ratio']['f1_canbao']:.5f} vs {result['ratio']['f1_splink']:.5f}."]
    if result.get("canbao_sweep"):
        sweep = ", ".join(f"{t}: {f:.5f}" for t, f in result["canbao_sweep"].items())
        policy = result.get("accept_threshold")
        lines.append(f"canbao F1 with the same model at other accept thresholds (untimed; policy is {policy}): {sweep}.")
    if "splink_sweep" in result:
        sweep = ", ".join(f"{t}: {f:.5f}" for t, f in result["splink_sweep"].items())
        lines.append(f"Splink F1 if clustered at other thresholds (untimed): {sweep}.")
    return "\n".join(lines)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="a folder written by `canbao generate` (else one is generated)")
    parser.add_argument("--work", type=Path, help="scratch folder for the store and outputs (default /tmp/city/run-N)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {ENGINES}")
    parser.add_argument("--splink-threshold", type=float, default=0.95)
    parser.add_argument("--splink-memory-limit", default="8GB")
    parser.add_argument("--canbao-sweep", default="0.9,0.99",
                        help="other accept thresholds to score canbao at, untimed (comma-separated; '' for none)")
    parser.add_argument("--engine", choices=sorted(CHILDREN), help=argparse.SUPPRESS)   # child mode
    args = parser.parse_args(argv)
    args.data = (args.data or Path(f"/tmp/city/gen-{args.persons}")).resolve()
    args.work = (args.work or Path(f"/tmp/city/run-{args.persons}")).resolve()
    return args


def parent(args: argparse.Namespace) -> dict:
    """Generate if needed, run the engines one after another, score them, report."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        raise SystemExit(f"--engines: unknown {unknown}; choose from {list(ENGINES)}")
    if "canbao" not in engines and not (args.work / "store" / "records.parquet").exists():
        raise SystemExit(f"{args.work}/store/records.parquet missing: include the canbao engine once first")
    args.work.mkdir(parents=True, exist_ok=True)
    from resolver.matching_config import load_matching_config

    result: dict = {"persons": args.persons, "data": str(args.data), "date": dt.date.today().isoformat(),
                    "machine": machine(), "engines": {}, "accuracy": {},
                    "accept_threshold": load_matching_config().thresholds.accept}
    if not (args.data / "truth" / "records.csv").exists():
        result["generate"] = run_child("generate", args)
    for engine in engines:
        result["engines"][engine] = run_child(engine, args)
    records_file = args.work / "store" / "records.parquet"
    import pyarrow.parquet as pq

    result["records"] = pq.read_metadata(records_file).num_rows
    truth = read_truth(args.data)
    trusted = trusted_id_numbers(records_file)
    outputs = {
        "canbao": (args.work / "store" / "state" / "links.parquet", args.work / "store" / "persons.parquet"),
        "canbao-resolve": (args.work / "canbao-resolve_links.parquet", None),
        "splink": (args.work / "splink_links.parquet", args.work / "splink_persons.parquet"),
    }
    for engine in engines:
        links_file, persons_file = outputs[engine]
        links = pd.read_parquet(links_file, columns=["source", "record_id", "person_id"])
        persons = pd.read_parquet(persons_file, columns=["person_id", "status", "flags"]) if persons_file else None
        result["accuracy"][engine] = accuracy(links, persons, truth, trusted)
        log(f"accuracy {engine}: {result['accuracy'][engine]}")
    if "canbao-resolve" in engines:
        result["canbao_sweep"] = canbao_sweep(args.work, truth, _thresholds(args.canbao_sweep))
    if "splink" in engines:
        result["splink_sweep"] = splink_sweep(args.work, truth)
        mine = "canbao-resolve" if "canbao-resolve" in engines else ("canbao" if "canbao" in engines else None)
        if mine:
            splink, ours = result["engines"]["splink"], result["engines"][mine]
            prefix = "resolve." if mine == "canbao" else ""
            ours_seconds = _seconds(ours, prefix) - (0 if prefix else _seconds(ours, "load"))
            ours_peak = _peak(ours, prefix) if prefix else _peak(ours)
            result["ratio"] = {"against": mine,
                               "time": (_seconds(splink) - _seconds(splink, "load")) / ours_seconds,
                               "memory": _peak(splink) / ours_peak,
                               "f1_canbao": result["accuracy"][mine]["f1"],
                               "f1_splink": result["accuracy"]["splink"]["f1"]}
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.engine:
        figures = CHILDREN[args.engine](args)
        _write_json(args.work / f"{args.engine}.json", figures)
        return 0
    result = parent(args)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / f"city_{args.persons}.json", result)
    print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
