"""Benchmark the embedded graph store: bulk write of a city-scale run and person-360 lookups.

    .venv/bin/python bench/graph.py                  # 1M persons, ~5M records
    .venv/bin/python bench/graph.py --persons 20000  # a quick look

Targets (issue 4): the whole write under 2 minutes on this 2-core machine; person_360 p95
under 20 ms. The data is synthetic (fake ID numbers starting 99, names 测试…), built with numpy.
Results are printed and written to bench/results/graph.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

if not __package__:  # run as a file, this folder would shadow the graph package: use the repo root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from graph.embedded import EmbeddedStore
from graph.model import DISTRICT_NAMES, RunData, RunInfo, graph_frames
from resolver.schema import SOURCES

STATUSES = np.array(["UNENROLLED", "ENROLLED", "INSURED_ELSEWHERE", "OUT_OF_SCOPE", "DECEASED"])
STATUS_WEIGHTS = [0.15, 0.7, 0.05, 0.08, 0.02]
EMPLOYER_SOURCES = np.array(["tax_iit", "hr_labour", "housing_fund", "si_enrolment"])


def _text(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    return prefix + pd.Series(numbers).astype(str).str.zfill(width)


def synthetic_run(n_persons: int, records_per_person: float, seed: int = 7) -> RunData:
    """A fake city: persons with statuses and places, records spread over the 13 sources."""
    rng = np.random.default_rng(seed)
    districts = np.array(sorted(DISTRICT_NAMES))
    p_district = districts[rng.integers(0, len(districts), n_persons)]
    p_street_no = rng.integers(0, 15, n_persons)
    p_comm_no = rng.integers(0, 20, n_persons)
    person_ids = _text("P", np.arange(n_persons), 8)
    id_numbers = _text("99", np.arange(n_persons), 16)
    names = _text("测试", rng.integers(0, 50_000, n_persons), 5)
    status = STATUSES[rng.choice(len(STATUSES), n_persons, p=STATUS_WEIGHTS)]
    flag_pool = np.array(["", "", "", "TAXPAYER", "EMPLOYED", "TAXPAYER|EMPLOYED", "STUDENT", "LOW_INCOME"])
    persons = pd.DataFrame({
        "person_id": person_ids, "id_number": id_numbers, "name": names,
        "gender": np.where(rng.random(n_persons) < 0.5, "M", "F"),
        "birth_date": pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 25_000, n_persons), unit="D"),
        "status": status, "flags": flag_pool[rng.integers(0, len(flag_pool), n_persons)],
        "status_rule": pd.Series(status).str.lower(), "status_records": None,
        "district_code": p_district,
        "street": _text("街道", p_street_no, 2).values,
        "community": _text("社区", p_comm_no, 2).values,
        "dispatch_reason": None,
    })

    n_records = int(n_persons * records_per_person)
    owner = np.sort(rng.integers(0, n_persons, n_records))
    owner[:n_persons] = np.arange(n_persons)  # everyone has at least one record
    sources = np.array(SOURCES)[rng.integers(0, len(SOURCES), n_records)]
    record_ids = _text("R", np.arange(n_records), 9)
    keys = pd.Series(sources) + ":" + record_ids
    employer_no = rng.integers(0, 50_000, n_records)
    has_employer = np.isin(sources, EMPLOYER_SOURCES)
    household = owner // 3  # about three persons share a flat
    building = household % 30 + 1
    room = household // 30 % 1700 + 101
    records = pd.DataFrame({
        "record_key": keys, "source": sources, "record_id": record_ids,
        "file": pd.Series(sources) + "_202609.csv", "line": np.arange(n_records) % 100_000 + 2,
        "id_number": id_numbers.values[owner], "id_status": "valid", "name": names.values[owner],
        "gender": persons["gender"].values[owner], "birth_date": persons["birth_date"].values[owner],
        "phones": np.where(rng.random(n_records) < 0.4, _text("199", household, 8), None),
        "residence_district_code": p_district[owner],
        "residence_street": persons["street"].values[owner],
        "residence_community": persons["community"].values[owner],
        "residence_address_raw": "天津市测试路" + pd.Series(owner % 300).astype(str) + "号",
        "residence_road": "测试路", "residence_number": (household // 51_000).astype(str),
        "residence_building": building.astype(str), "residence_unit": "1", "residence_room": room.astype(str),
        "employer_name": np.where(has_employer, _text("测试单位", employer_no, 5), None),
        "employer_credit_code": np.where(has_employer & (sources == "tax_iit"), _text("91TEST", employer_no, 12), None),
        "tax_period": np.where(sources == "tax_iit", "202608", None),
        "raw": "{}",
        "person_id": person_ids.values[owner],
        "match_probability": np.where(rng.random(n_records) < 0.9, 1.0, rng.uniform(0.8, 1.0, n_records)),
        "link_method": np.where(rng.random(n_records) < 0.9, "id_number", "probabilistic"),
    })
    n_pairs = max(1, n_records // 100)
    left, right = rng.integers(0, n_records, n_pairs), rng.integers(0, n_records, n_pairs)
    matches = pd.DataFrame({"record_key_l": keys.values[left], "record_key_r": keys.values[right],
                            "match_probability": rng.uniform(0.3, 0.8, n_pairs), "explanation": "{}"})
    decided = matches.iloc[: n_pairs // 10]
    decisions = pd.DataFrame({"record_key_l": decided["record_key_l"], "record_key_r": decided["record_key_r"],
                              "decision": "not_match", "steward": "bench-steward", "decided_at": datetime(2026, 9, 1),
                              "note": ""})
    run = RunInfo(run_id="bench", as_of=date(2026, 9, 30), started_at=datetime.now(),
                  counts={"persons": n_persons, "records": n_records}, model_version="bench")
    return RunData(records=records, persons=persons, possible_matches=matches, decisions=decisions, run=run)


def measure(n_persons: int, records_per_person: float, lookups: int, folder: Path) -> dict:
    """Build, write and query once; the figures as a dict."""
    t0 = time.perf_counter()
    run = synthetic_run(n_persons, records_per_person)
    t_generate = time.perf_counter() - t0

    store = EmbeddedStore(folder, buffer_pool_mb=6144)
    t0 = time.perf_counter()
    graph_frames(run)  # the pure part alone, for the breakdown
    t_frames = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = store.write_run(run)  # the public path end to end: history, frames, COPY, switch
    t_write_run = time.perf_counter() - t0

    rng = np.random.default_rng(11)
    ids = run.persons["person_id"].values[rng.integers(0, n_persons, lookups)]
    store.person_360(ids[0])  # warm the connection
    times_360, times_query = [], []
    for pid in ids:
        t = time.perf_counter()
        view = store.person_360(pid)
        times_360.append((time.perf_counter() - t) * 1000)
        assert view is not None and view.records_by_source
    for pid in ids[: lookups // 2]:
        t = time.perf_counter()
        store.run_query("person_360", {"person_id": pid})
        times_query.append((time.perf_counter() - t) * 1000)
    store.close()

    def pct(values: list[float]) -> dict:
        return {"p50_ms": round(float(np.percentile(values, 50)), 2),
                "p95_ms": round(float(np.percentile(values, 95)), 2),
                "max_ms": round(float(np.max(values)), 2)}

    return {
        "persons": n_persons, "records": len(run.records), "generated_s": round(t_generate, 1),
        "graph_frames_s": round(t_frames, 1), "copy_and_switch_s": round(t_write_run - t_frames, 1),
        "write_run_total_s": round(t_write_run, 1), "counts": summary.counts,
        "person_360_api": pct(times_360), "person_360_named_query": pct(times_query), "lookups": lookups,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Embedded graph store benchmark (issue 4)")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--records-per-person", type=float, default=5.0)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--store", type=Path, default=None, help="folder for the store (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canbao-bench-") as tmp:
        folder = args.store or Path(tmp) / "graph"
        result = measure(args.persons, args.records_per_person, args.lookups, folder)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "graph.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
