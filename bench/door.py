"""Finding a person at the door (issue 21): POST /v1/resolve with the fragment pairs a surveyor has.

    PYTHONPATH=. .venv/bin/python bench/door.py --store /tmp/door20k-store --residents 300

Picks N residents at random from the stored police resident rows (those with a name and a residence
or household address) and looks each one up through the API (FastAPI's TestClient, in process, as an
admin: nothing masked) with name + ID number, name + birth date, name + phone, name + address, a heard
name (one homophone character) + address, and the address alone. A lookup is right when the first candidate
is the person the store holds that police row under; a confident wrong match is a first candidate of another
person at or above the accept threshold. For the address alone, right means the person is among the
candidates. Prints a table and writes bench/results/door_<persons>.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from resolver.pipeline import StoreLayout  # noqa: E402

PAIRS = ("name+id_number", "name+birth_date", "name+phone", "name+address", "heard_name+address", "address")
# Same-pinyin characters for a heard name (王莉 for 王丽): a few common given-name characters and one homophone each.
HOMOPHONES = dict(zip("丽伟军芳敏静强磊洋艳勇杰娟涛明超秀霞平刚华红玉英",
                      "莉玮君方民晶墙蕾阳燕永洁涓滔鸣朝绣侠萍钢化宏钰莹"))


def heard(name: str) -> str | None:
    """The name with its last homophone-able given-name character swapped (None when it has none)."""
    for i in range(len(name) - 1, 0, -1):
        if name[i] in HOMOPHONES:
            return name[:i] + HOMOPHONES[name[i]] + name[i + 1:]
    return None


def residents(store: Path, count: int, seed: int) -> pd.DataFrame:
    """Police resident rows with their person, name and an address (residence, else household)."""
    from resolver.runs import load_linked_records

    records = load_linked_records(StoreLayout.for_store(str(store)))
    police = records[(records["source"] == "police_resident") & records["name"].notna()].copy()
    police["address"] = police["residence_address_raw"].fillna(police["household_address_raw"])
    police = police[police["address"].notna()]
    rng = np.random.default_rng(seed)
    return police.iloc[np.sort(rng.choice(len(police), size=min(count, len(police)), replace=False))]


def bodies(row) -> dict[str, dict | None]:
    """The lookup body of each fragment pair for one resident (None when the row lacks the fragment)."""
    phone = row.phones.split("|")[0] if isinstance(row.phones, str) and row.phones else None
    birth = str(pd.Timestamp(row.birth_date).date()) if pd.notna(row.birth_date) else None
    variant = heard(row.name)
    return {
        "name+id_number": {"name": row.name, "id_number": row.id_number}
        if row.id_status in ("valid", "converted_15") else None,
        "name+birth_date": {"name": row.name, "birth_date": birth} if birth else None,
        "name+phone": {"name": row.name, "phone": phone} if phone else None,
        "name+address": {"name": row.name, "address": row.address},
        "heard_name+address": {"name": variant, "address": row.address} if variant else None,
        "address": {"address": row.address, "limit": 20},
    }


def measure(client, token: str, sample: pd.DataFrame, accept: float) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    tally = {pair: {"asked": 0, "right_first": 0, "found": 0, "no_match": 0, "confident_wrong": 0, "rejected": 0,
                    "ms": []} for pair in PAIRS}
    for row in sample.itertuples(index=False):
        for pair, body in bodies(row).items():
            if body is None:
                continue
            t0 = time.perf_counter()
            response = client.post("/v1/resolve", json=body, headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            t = tally[pair]
            if response.status_code == 422:   # a fragment the API refuses (counted, not asked)
                t["rejected"] += 1
                print(f"422 {pair}: {response.json()['error']['message']}", file=sys.stderr)
                continue
            response.raise_for_status()
            candidates = response.json()["candidates"]
            t["asked"] += 1
            t["ms"].append(elapsed)
            persons = [c["person_id"] for c in candidates]
            t["no_match"] += not persons
            t["right_first"] += bool(persons) and persons[0] == row.person_id
            t["found"] += row.person_id in persons
            t["confident_wrong"] += bool(persons) and persons[0] != row.person_id \
                and candidates[0]["match_probability"] >= accept
    out = {}
    for pair, t in tally.items():
        ms = np.asarray(t.pop("ms")) if t["asked"] else np.zeros(1)
        asked = max(t["asked"], 1)
        out[pair] = {**t, "right_first_rate": round(t["right_first"] / asked, 4),
                     "found_rate": round(t["found"] / asked, 4),
                     "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a resolved store folder (copied, not changed)")
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--label", default="", help="a name for this run in the results file (e.g. before/after)")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.database import Database
    from api.security import Users
    from api.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="canbao-bench-door-"))
    store = work / "store"
    shutil.copytree(args.store, store, ignore=shutil.ignore_patterns("api.sqlite*"))
    sample = residents(store, args.residents, args.seed)
    settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    token = Users(Database(settings.database_file)).add("bench_door_admin", "admin")
    with TestClient(create_app(settings)) as client:
        accept = client.app.state.services.engine.config.thresholds.accept
        for row in sample.head(5).itertuples(index=False):   # warm-up: first requests build caches
            client.post("/v1/resolve", json={"name": row.name, "address": row.address},
                        headers={"Authorization": f"Bearer {token}"})
        result = measure(client, token, sample, accept)
    shutil.rmtree(work, ignore_errors=True)
    persons = len(pd.read_parquet(StoreLayout.for_store(str(args.store)).persons_file, columns=["person_id"]))
    print(f"{'pair':<20} {'asked':>6} {'right first':>12} {'found':>7} {'no match':>9} {'conf. wrong':>12} "
          f"{'p50 ms':>7} {'p95 ms':>7}")
    for pair, t in result.items():
        print(f"{pair:<20} {t['asked']:>6} {t['right_first_rate']:>12.3f} {t['found_rate']:>7.3f} {t['no_match']:>9} "
              f"{t['confident_wrong']:>12} {t['p50_ms']:>7} {t['p95_ms']:>7}")
    out = ROOT / "bench" / "results" / f"door_{persons}{'_' + args.label if args.label else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"persons": persons, "residents": len(sample), "pairs": result}, indent=1,
                              ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
