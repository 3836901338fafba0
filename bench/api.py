"""Benchmark the REST API on a resolved store: POST /v1/resolve latency under concurrent clients, and how soon
a confirmed survey shows in the person view.

    PYTHONPATH=. .venv/bin/python bench/api.py --store runs/bench-100000-store
    PYTHONPATH=. .venv/bin/python bench/api.py --persons 100000        # generates and resolves a store first

Runs `canbao serve` as its own process on a copy of the store (unless --in-place) and drives it over HTTP
from this process: a single-client baseline, --clients closed-loop clients (once with httpx, once with a lean
keep-alive client that leaves the shared cores to the server), the same clients paced at one
request each every --paced seconds (surveyors at doors); then --surveys surveys go
submit → approve → confirm, timing confirm-to-visible (the confirmation's answer, then GET /v1/persons/{id}
showing the survey record). Writes bench/results/api_<persons>.json (api_<persons>_graph_in_process.json with
--graph-in-process). Both processes share the machine's cores; the server's CPU includes its graph worker's.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/api.py: run as a script, its folder comes first on sys.path and `import api` would find
# this file instead of the api package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from resolver.pipeline import StoreLayout  # noqa: E402  (after the sys.path fix above)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_store(persons: int, seed: int, as_of: dt.date) -> Path:
    """runs/bench-<persons>-store, generated and resolved unless it exists."""
    from resolver.pipeline import run_pipeline
    from resolver.synth import generate, load_rates

    data, store = ROOT / "runs" / f"bench-{persons}", ROOT / "runs" / f"bench-{persons}-store"
    if not (data / "truth" / "records.csv").exists():
        generate(persons=persons, seed=seed, as_of=as_of, out_dir=data, rates=load_rates(None), progress=log)
    if not (store / "state" / "state.json").exists():
        run_pipeline(data, str(store), as_of, progress=log)
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process and its running children (the graph worker) have used (Linux /proc;
    None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) or 0.0 for child in children)


def cpu_probe_ms() -> float:
    """CPU time of a fixed pure-Python loop (10M additions). This virtual machine's speed drifts by up to
    twice between runs, so each result records it beside the latencies."""
    started, total = time.process_time(), 0
    for i in range(10_000_000):
        total += i
    return round((time.process_time() - started) * 1000, 1)


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


def fragments(store: Path, count: int, seed: int) -> list[dict[str, str]]:
    """Field fragments from stored records, a quarter each, interleaved: ID number alone, name + birth date,
    name + phone, name + address (the residence address, else the household one, as written: what a surveyor
    has at a door); each kind drawn from the records that hold its fields."""
    columns = ["name", "id_number", "id_status", "birth_date", "phones", "residence_address_raw",
               "household_address_raw"]
    records = pd.read_parquet(StoreLayout.for_store(str(store)).records_file, columns=columns)
    records = records[records["name"].notna()]
    address = records["residence_address_raw"].fillna(records["household_address_raw"])
    first_phone = records["phones"].str.split("|").str[0]
    kinds = [
        (records["id_status"] == "valid", lambda i: {"id_number": records["id_number"].iat[i]}),
        (records["birth_date"].notna(),
         lambda i: {"name": records["name"].iat[i], "birth_date": str(pd.Timestamp(records["birth_date"].iat[i]).date())}),
        (first_phone.fillna("") != "", lambda i: {"name": records["name"].iat[i], "phone": first_phone.iat[i]}),
        (address.notna(), lambda i: {"name": records["name"].iat[i], "address": address.iat[i]}),
    ]
    rng = np.random.default_rng(seed)
    per_kind = -(-count // len(kinds))
    drawn = [[make(int(i)) for i in rng.choice(np.flatnonzero(mask.to_numpy()), size=per_kind, replace=False)]
             for mask, make in kinds]
    return [drawn[k][j] for j in range(per_kind) for k in range(len(kinds))][:count]


def fragment_kind(body: dict) -> str:
    """name+address, id_number, … : the fields a lookup body holds."""
    return "+".join(sorted(body))


class RawConnection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads a Content-Length answer: the load generator's
    client when it must not compete with the server for the machine (httpx spends ~0.6 ms of CPU per request;
    this ~0.1 ms). Only what uvicorn answers /v1/resolve with is understood."""

    def __init__(self, url: str, token: str):
        parsed = httpx.URL(url)
        self.host, self.port, self.token = parsed.host, parsed.port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict) -> int:
        """The answer's HTTP status (the body is read and dropped)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body, ensure_ascii=False).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                          f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"{path}: answer without Content-Length (status {status})")
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(url: str, token: str, bodies: list[dict], clients: int,
               interval: float = 0.0, lean: bool = False) -> tuple[list[float], float, dict[int, int]]:
    """``clients`` workers each send their share of ``bodies``: back to back (closed loop), or one every
    ``interval`` seconds each (paced, like surveyors at doors), starting staggered. Each worker is one
    connection: httpx's, or with ``lean`` a RawConnection."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as client:
        async def worker(number: int) -> None:
            raw = RawConnection(url, token) if lean else None
            next_at = time.perf_counter() + interval * number / clients
            try:
                while True:
                    if interval:
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                        next_at += interval
                    try:
                        body = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    t0 = time.perf_counter()
                    if raw is not None:
                        status = await raw.post("/v1/resolve", body)
                    else:
                        status = (await client.post("/v1/resolve", json=body)).status_code
                    latencies.append((time.perf_counter() - t0) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
            finally:
                if raw is not None:
                    await raw.close()

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        return latencies, time.perf_counter() - started, statuses


def survey_targets(store: Path, count: int, seed: int) -> list[dict]:
    """UNENROLLED persons placed in a district with a police residence address and a valid ID."""
    layout = StoreLayout.for_store(str(store))
    persons = pd.read_parquet(layout.persons_file, columns=["person_id", "status", "district_code", "id_number",
                                                            "name", "gender"])
    persons = persons[(persons["status"] == "UNENROLLED") & persons["district_code"].notna()
                      & persons["id_number"].notna()]
    chosen = persons.sample(n=min(count * 5, len(persons)), random_state=seed)
    records = pd.read_parquet(layout.records_file, columns=["record_key", "source", "id_number",
                                                          "residence_address_raw", "residence_district_code"])
    police = records[records["source"] == "police_resident"].drop_duplicates("id_number").set_index("id_number")
    out = []
    for p in chosen.itertuples(index=False):
        if p.id_number in police.index and police.loc[p.id_number, "residence_district_code"] == p.district_code:
            out.append({"person_id": p.person_id, "district": p.district_code, "name": p.name,
                        "gender": "男" if p.gender == "M" else "女", "id_number": p.id_number,
                        "address": police.loc[p.id_number, "residence_address_raw"]})
        if len(out) == count:
            break
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a resolved store folder (else --persons builds one)")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 28))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="resolve requests under load")
    parser.add_argument("--paced", type=float, default=1.0,
                        help="also: each client one request every PACED seconds (0: skip)")
    parser.add_argument("--paced-seconds", type=float, default=30, help="how long the paced run lasts")
    parser.add_argument("--surveys", type=int, default=10)
    parser.add_argument("--in-place", action="store_true", help="serve the store itself, not a copy")
    parser.add_argument("--graph-in-process", action="store_true",
                        help="serve with the embedded graph in the server process (no worker), for comparison")
    args = parser.parse_args()

    source = args.store or build_store(args.persons, args.seed, args.as_of)
    work = Path(tempfile.mkdtemp(prefix="canbao-bench-api-"))
    store = source if args.in_place else work / "store"
    if not args.in_place:
        t0 = time.perf_counter()
        shutil.copytree(source, store, ignore=shutil.ignore_patterns("api.sqlite*"))
        log(f"copied the store in {time.perf_counter() - t0:.1f} s")
    persons = len(pd.read_parquet(StoreLayout.for_store(str(store)).persons_file, columns=["person_id"]))
    result: dict = {"persons": persons, "store": str(source), "clients": args.clients, "cpus": os.cpu_count(),
                    "graph_worker": not args.graph_in_process, "cpu_probe_ms": cpu_probe_ms()}
    log(f"machine speed probe: {result['cpu_probe_ms']} ms for 10M Python additions")

    from api.database import Database
    from api.settings import DATABASE_FILE
    from api.security import Users

    users = Users(Database(StoreLayout.for_store(str(store)).work_dir / DATABASE_FILE))
    stamp = time.strftime("%H%M%S")
    admin = users.add(f"bench_admin_{stamp}", "admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "canbao.cli", "serve", "--store", str(store), "--port", str(port),
                               "--flush-seconds", "5", *(["--graph-in-process"] if args.graph_in_process else [])], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    try:
        t0 = time.perf_counter()
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"canbao serve exited: see {work / 'server.log'}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        result["startup_s"] = round(time.perf_counter() - t0, 1)
        log(f"server up in {result['startup_s']} s (state loaded, match index built)")

        bodies = fragments(store, 2 * args.requests + 200, args.seed)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as client:
            single, by_kind = [], {}
            for number, body in enumerate(bodies[:200]):
                t0 = time.perf_counter()
                client.post("/v1/resolve", json=body).raise_for_status()
                single.append((time.perf_counter() - t0) * 1000)
                if number >= 20:
                    by_kind.setdefault(fragment_kind(body), []).append(single[-1])
        result["resolve_single_client"] = percentiles(single[20:])
        result["resolve_single_client_by_fragments"] = {kind: percentiles(ms) for kind, ms in sorted(by_kind.items())}
        log(f"one client: {result['resolve_single_client']}")
        for kind, figures in result["resolve_single_client_by_fragments"].items():
            log(f"  {kind}: {figures}")
        # The closed loop twice: with httpx, then with the lean client. The load generator shares the two cores with
        # the server, and httpx's own CPU per request (measured here too) delays the server's answers.
        # Each run has its own fragments, so the second does not find the first's pages cached.
        for run, (key, lean) in enumerate((("resolve_concurrent_httpx", False), ("resolve_concurrent", True))):
            share = bodies[200 + run * args.requests:200 + (run + 1) * args.requests]
            cpu_before, own_before = cpu_seconds(server.pid), time.process_time()
            latencies, seconds, statuses = asyncio.run(load(url, admin, share, args.clients, lean=lean))
            cpu_after, own_after = cpu_seconds(server.pid), time.process_time()
            cpu_ms = round((cpu_after - cpu_before) * 1000 / len(latencies), 2) if cpu_before is not None else None
            result[key] = {**percentiles(latencies), "requests_per_s": round(len(latencies) / seconds, 1),
                           "server_cpu_ms_per_request": cpu_ms,
                           "client_cpu_ms_per_request": round((own_after - own_before) * 1000 / len(latencies), 2),
                           "statuses": statuses}
            log(f"{args.clients} clients ({'lean client' if lean else 'httpx'}): {result[key]}")
        if args.paced:
            paced = bodies[200:200 + int(args.clients * args.paced_seconds / args.paced)]
            latencies, seconds, statuses = asyncio.run(load(url, admin, paced, args.clients, args.paced, lean=True))
            result["resolve_paced"] = {**percentiles(latencies), "interval_s": args.paced,
                                       "requests_per_s": round(len(latencies) / seconds, 1), "statuses": statuses}
            log(f"{args.clients} clients, one request each every {args.paced} s: {result['resolve_paced']}")

        visible = []
        confirm_server = []
        for i, target in enumerate(survey_targets(store, args.surveys, args.seed)):
            d = target["district"]
            tokens = {role: users.add(f"bench_{role}_{d}_{stamp}_{i}", role, d)
                      for role in ("surveyor", "street_reviewer", "district_reviewer")}
            h = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
            survey_id = f"BENCH-{stamp}-{i}"
            with httpx.Client(base_url=url, timeout=60) as client:
                client.post("/v1/surveys", headers=h["surveyor"], json={
                    "survey_id": survey_id, "name": target["name"], "gender": target["gender"],
                    "id_number": target["id_number"], "residence_address": target["address"],
                    "unenrolled_reason": "灵活就业未参保", "survey_date": "2026-11-20",
                }).raise_for_status()
                client.post(f"/v1/surveys/{survey_id}/review", headers=h["street_reviewer"],
                            json={"action": "approve"}).raise_for_status()
                t0 = time.perf_counter()
                confirmed = client.post(f"/v1/surveys/{survey_id}/review", headers=h["district_reviewer"],
                                        json={"action": "confirm"})
                confirmed.raise_for_status()
                view = client.get(f"/v1/persons/{confirmed.json()['person_id']}", headers=h["surveyor"]).json()
                elapsed = (time.perf_counter() - t0) * 1000
                keys = {r["record_key"] for rs in view["records_by_source"].values() for r in rs}
                if f"survey:{survey_id}" not in keys:
                    raise RuntimeError(f"survey {survey_id} not visible after confirmation")
                visible.append(elapsed)
                confirm_server.append(confirmed.elapsed.total_seconds() * 1000)
        result["survey_confirm_to_visible"] = percentiles(visible)
        result["survey_confirm_request"] = percentiles(confirm_server)
        result["survey_confirm_each_ms"] = [round(v, 1) for v in visible]   # in order: a slow one shows when
        log(f"confirm → visible: {result['survey_confirm_to_visible']}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=600)
        except subprocess.TimeoutExpired:
            server.kill()
    out = ROOT / "bench" / "results" / f"api_{persons}{'_graph_in_process' if args.graph_in_process else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if not args.in_place:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
