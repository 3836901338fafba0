"""A run lands whole: a `canbao run` killed at any stage (CANBAO_CRASH_AT, a real process exit) leaves the
previous run or the new one in every part of the store — graph, state, parquet files and run index.

Each crash is a child process ending with os._exit(137); the store is then read by `canbao export`
and compared byte for byte with the export before the run, or with an uninterrupted run's export.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from graph.embedded import CURRENT, SNAPSHOTS, EmbeddedStore
from resolver.faults import CRASH_ENV, RUN_STAGES, crash_stage
from resolver.landing import LANDING_FILE, STAGED_MARK, Landing, apply_manifest, recover
from resolver.errors import ConfigError
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.runs import read_run_index

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
AS_OF = "2026-11-28"
BEFORE_COMMIT = ("ingest", "resolve", "status", "graph", "save")
AFTER_COMMIT = ("land", "switch", "moved")
# The first run lacks the latest enrolment and tax months; the second run (all of data/samples) adds them.
LATER_FILES = ("si_enrolment_202611.csv", "tax_iit_202610.csv")


def canbao(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    """`canbao …` in a child process (the worktree's code), optionally with a crash point."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env["PYTHONPATH"] = str(ROOT)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "canbao.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def run(input_dir: Path, store: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    return canbao("run", "--input", str(input_dir), "--store", str(store), "--as-of", AS_OF, crash_at=crash_at)


def export(store: Path, out: Path) -> dict[str, bytes]:
    """`canbao export` of the store: each contract file's bytes."""
    assert main(["export", "--store", str(store), "--out", str(out)]) == 0
    return {name: (out / name).read_bytes() for name in ("links.csv", "persons.csv", "rejected.csv")}


def store_view(store: Path) -> dict[str, object]:
    """What each part of the store says the latest run is, and how big it is."""
    layout = StoreLayout.for_store(str(store))
    with EmbeddedStore(store / "graph", buffer_pool_mb=64, must_exist=True) as graph:
        runs = graph.runs()
    state = json.loads((layout.state_dir / "state.json").read_text(encoding="utf-8"))
    return {
        "graph_runs": [r.run_id for r in runs],
        "index_runs": [e.run_id for e in read_run_index(layout)],
        "graph_records": runs[-1].counts["records"], "graph_persons": runs[-1].counts["persons"],
        "records_parquet": len(pd.read_parquet(layout.records_file, columns=["record_key"])),
        "state_records": state["records"], "links": len(pd.read_parquet(layout.links_file, columns=["record_key"])),
        "persons_parquet": len(pd.read_parquet(layout.persons_file, columns=["person_id"])),
    }


def assert_one_run_everywhere(view: dict[str, object]) -> None:
    assert view["graph_runs"] == view["index_runs"]
    assert view["graph_records"] == view["records_parquet"] == view["state_records"] == view["links"]
    assert view["graph_persons"] == view["persons_parquet"]


def leftovers(store: Path) -> list[str]:
    """Staged files, a landing manifest, and snapshots neither current nor the previous one."""
    found = [str(p.relative_to(store)) for p in store.rglob(f"*{STAGED_MARK}*")]
    found += [LANDING_FILE] if (store / LANDING_FILE).exists() else []
    snapshots = sorted(p.name for p in (store / "graph" / SNAPSHOTS).iterdir())
    return found + ([f"{len(snapshots)} snapshots"] if len(snapshots) > 2 else [])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A store holding a first run, its export, the second input, and an uninterrupted second run's export."""
    work = tmp_path_factory.mktemp("landing")
    first_input = work / "first_input"
    shutil.copytree(SAMPLES, first_input, ignore=shutil.ignore_patterns("truth", "manifest.json", *LATER_FILES))
    base = work / "base"
    result = run(first_input, base)
    assert result.returncode == 0, result.stderr
    whole = work / "whole"
    shutil.copytree(base, whole)
    run_pipeline(SAMPLES, str(whole), dt.date.fromisoformat(AS_OF))
    first, second = export(base, work / "first_export"), export(whole, work / "second_export")
    assert first != second   # the second run changes the export, so a half landing would show
    return {"base": base, "first": first, "second": second, "first_view": store_view(base),
            "second_view": store_view(whole)}


@pytest.mark.parametrize("stage", BEFORE_COMMIT)
def test_a_run_killed_before_it_lands_leaves_the_previous_run_and_a_rerun_lands_whole(stage, stores, tmp_path,
                                                                                      monkeypatch):
    store = tmp_path / "store"
    shutil.copytree(stores["base"], store)
    crashed = run(SAMPLES, store, crash_at=stage)
    assert crashed.returncode == 137, crashed.stderr
    assert export(store, tmp_path / "after_crash") == stores["first"]
    view = store_view(store)
    assert view == stores["first_view"]
    assert_one_run_everywhere(view)

    monkeypatch.delenv(CRASH_ENV, raising=False)
    run_pipeline(SAMPLES, str(store), dt.date.fromisoformat(AS_OF))
    assert export(store, tmp_path / "after_rerun") == stores["second"]
    view = store_view(store)
    assert len(view["graph_runs"]) == 2 and view["graph_runs"][0] == stores["first_view"]["graph_runs"][0]
    assert_one_run_everywhere(view)
    assert leftovers(store) == []


@pytest.mark.parametrize("stage", AFTER_COMMIT)
def test_a_run_killed_after_its_commit_point_is_rolled_forward_by_the_next_reader(stage, stores, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(stores["base"], store)
    crashed = run(SAMPLES, store, crash_at=stage)
    assert crashed.returncode == 137, crashed.stderr
    assert (store / LANDING_FILE).is_file()   # the crash happened mid-landing
    assert export(store, tmp_path / "after_crash") == stores["second"]
    view = store_view(store)
    assert len(view["graph_runs"]) == 2 and view["graph_runs"][0] == stores["first_view"]["graph_runs"][0]
    assert_one_run_everywhere(view)
    assert leftovers(store) == []


def test_a_store_killed_between_the_graph_switch_and_the_file_moves_is_finished_by_a_query(stores, tmp_path):
    """The issue's half landing (CURRENT new, files old) exists on disk only under a manifest; any opener finishes it."""
    store = tmp_path / "store"
    shutil.copytree(stores["base"], store)
    assert run(SAMPLES, store, crash_at="switch").returncode == 137
    new_snapshot = (store / "graph" / CURRENT).read_text().strip()
    assert read_run_index(StoreLayout(str(store / "graph"), store))[-1].run_id not in new_snapshot  # files still old
    queried = canbao("query", "unenrolled_counts", "--store", str(store))
    assert queried.returncode == 0, queried.stderr
    assert not (store / LANDING_FILE).exists()
    assert_one_run_everywhere(store_view(store))
    assert read_run_index(StoreLayout.for_store(str(store)))[-1].run_id in new_snapshot


@pytest.mark.parametrize("stage", ("ingest", "save"))
def test_a_first_run_killed_leaves_a_store_without_a_run_and_says_so(stage, tmp_path):
    store = tmp_path / "store"
    assert run(SAMPLES, store, crash_at=stage).returncode == 137
    exported = canbao("export", "--store", str(store), "--out", str(tmp_path / "out"))
    assert exported.returncode == 2
    assert "库中还没有运行结果" in exported.stderr and "Traceback" not in exported.stderr
    assert len(exported.stderr.strip().splitlines()) == 1
    assert not (store / "graph" / CURRENT).exists()


def test_a_run_on_a_missing_folder_leaves_no_store_and_an_existing_store_untouched(stores, tmp_path):
    fresh = tmp_path / "fresh"
    failed = run(tmp_path / "nowhere", fresh)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert not fresh.exists()
    store = tmp_path / "store"
    shutil.copytree(stores["base"], store)
    assert run(tmp_path / "nowhere", store).returncode == 2
    assert export(store, tmp_path / "out") == stores["first"]
    assert leftovers(store) == []


def test_an_unknown_crash_stage_is_refused_naming_the_known_ones(stores, tmp_path):
    with pytest.raises(ConfigError, match="ingest, resolve, status, graph, save, land, switch, moved"):
        crash_stage({CRASH_ENV: "grpah"})
    store = tmp_path / "store"
    shutil.copytree(stores["base"], store)
    refused = run(SAMPLES, store, crash_at="grpah")
    assert refused.returncode == 2 and "grpah" in refused.stderr and "Traceback" not in refused.stderr
    assert export(store, tmp_path / "out") == stores["first"]


def test_run_help_lists_every_crash_stage():
    printed = canbao("run", "--help").stdout
    assert CRASH_ENV in printed
    assert all(f"{stage}:" in printed for stage in RUN_STAGES)


def test_a_landing_interrupted_between_two_moves_is_finished_once_by_the_next_opener(tmp_path):
    layout = StoreLayout(graph_spec=str(tmp_path / "graph"), work_dir=tmp_path)
    (tmp_path / "persons.parquet").write_text("old persons")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text("old state")
    landing = Landing(layout, token="t1")
    landing.stage(layout.persons_file).write_text("new persons")
    staged_state = landing.stage_dir(layout.state_dir)
    (staged_state / "links.parquet").write_text("new links")
    (staged_state / "state.json").write_text("new state")
    manifest = landing.manifest(graph=None)
    assert [final for _, final in manifest["moves"]][-1] == "state/state.json"   # the API reloads on it: last
    (tmp_path / LANDING_FILE).write_text(json.dumps(manifest))
    staged, final = manifest["moves"][0]
    os.replace(tmp_path / staged, tmp_path / final)   # the crash came after the first move
    assert recover(layout)
    assert (tmp_path / "persons.parquet").read_text() == "new persons"
    assert (tmp_path / "state" / "links.parquet").read_text() == "new links"
    assert (tmp_path / "state" / "state.json").read_text() == "new state"
    assert not (tmp_path / LANDING_FILE).exists() and not list(tmp_path.rglob(f"*{STAGED_MARK}*"))
    assert not recover(layout)   # nothing left to do
    (tmp_path / LANDING_FILE).write_text(json.dumps(manifest))
    apply_manifest(layout, manifest)   # applying a finished landing again changes nothing
    assert (tmp_path / "state" / "state.json").read_text() == "new state"
