"""Every subcommand answers a user's mistake in one line `错误 error: …` with exit code 2, never a traceback.

CASES holds, for each registered subcommand, a call with a missing folder or file and a call with a malformed
value; a subcommand added without its two cases fails the first test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from canbao.cli import EXIT_FAILED, EXIT_RETRY, EXIT_USAGE, exit_code, main
from canbao.commands import COMMANDS, load_command_modules
from graph.errors import GraphCrashed, QueryError, StoreBusy, StoreError, StoreSpecError, StoreUnavailable
from resolver.errors import CanbaoError, ConfigError, InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"

# {subcommand: {"missing": argv, "malformed": argv}}; in argv, NOWHERE is a path that does not exist, AFILE a
# plain file, BADCSV a folder whose CSVs lack the contract's columns, BADYAML a file that is not valid YAML.
CASES: dict[str, dict[str, list[str]]] = {
    "generate": {"missing": ["generate", "--persons", "5", "--out", "OUT", "--rates", "NOWHERE/rates.yaml"],
                 "malformed": ["generate", "--persons", "五", "--out", "OUT"]},
    "ingest": {"missing": ["ingest", "--input", "NOWHERE", "--out", "OUT"],
               "malformed": ["ingest", "--input", str(SAMPLES), "--out", "OUT", "--sources", "AFILE"]},
    "run": {"missing": ["run", "--input", "NOWHERE", "--store", "OUT/store"],
            "malformed": ["run", "--input", str(SAMPLES), "--store", "OUT/store", "--as-of", "2026-13-01"]},
    "export": {"missing": ["export", "--store", "NOWHERE", "--out", "OUT"],
               "malformed": ["export", "--store", "AFILE", "--out", "OUT"]},
    "evaluate": {"missing": ["evaluate", "--truth", "NOWHERE", "--export", "NOWHERE"],
                 "malformed": ["evaluate", "--truth", "BADCSV", "--export", "BADCSV"]},
    "blocking-report": {"missing": ["blocking-report", "--input", "NOWHERE"],
                        "malformed": ["blocking-report", "--input", str(SAMPLES), "--truth", "BADCSV"]},
    "query": {"missing": ["query", "unenrolled_persons", "--store", "NOWHERE"],
              "malformed": ["query", "unenrolled_persons", "--store", "NOWHERE", "--limit", "ten"]},
    "export-neo4j": {"missing": ["export-neo4j", "--store", "NOWHERE", "--out", "OUT"],
                     "malformed": ["export-neo4j", "--store", "AFILE", "--out", "OUT"]},
    "explain": {"missing": ["explain", "P0027f3185588", "--store", "NOWHERE"],
                "malformed": ["explain", "P0027f3185588", "--store", "unknown://store"]},
    "worklist": {"missing": ["worklist", "--store", "NOWHERE", "--district", "120104", "--out", "OUT/w.csv"],
                 "malformed": ["worklist", "--store", "NOWHERE", "--district", "120104", "--unplaced",
                               "--out", "OUT/w.csv"]},
    "arrears": {"missing": ["arrears", "--store", "NOWHERE", "--out", "OUT/a.csv"],
                "malformed": ["arrears", "--store", "NOWHERE", "--district", "999999", "--out", "OUT/a.csv"]},
    "changes": {"missing": ["changes", "--store", "NOWHERE", "--since", "R1"],
                "malformed": ["changes", "--store", "AFILE", "--since", "R1"]},
    "ledger": {"missing": ["ledger", "--store", "NOWHERE"],
               "malformed": ["ledger", "--store", "NOWHERE", "--next-steps", "BADYAML"]},
    "report": {"missing": ["report", "--store", "NOWHERE", "--month", "2026-11", "--out", "OUT"],
               "malformed": ["report", "--store", "NOWHERE", "--month", "2026-十一", "--out", "OUT"]},
    "serve": {"missing": ["serve", "--store", "NOWHERE", "--host", "127.0.0.1", "--port", "18799"],
              "malformed": ["serve", "--store", "NOWHERE", "--port", "eighty"]},
    "user": {"missing": ["user", "list", "--store", "NOWHERE"],
             "malformed": ["user", "add", "--store", "NOWHERE", "--name", "x", "--role", "boss"]},
    "audit": {"missing": ["audit", "--store", "NOWHERE", "--since", "2026-01-01"],
              "malformed": ["audit", "--store", "NOWHERE", "--since", "yesterday"]},
}

# A command that would block serving if the check were missing runs in a child process, never in the test's.
IN_CHILD = {"serve"}


def test_every_subcommand_has_a_missing_and_a_malformed_case():
    load_command_modules()
    assert sorted(CASES) == sorted(name for name, *_ in COMMANDS)
    assert all(set(cases) == {"missing", "malformed"} for cases in CASES.values())


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    afile = tmp_path / "a_file.txt"
    afile.write_text("不是文件夹 not a folder\n", encoding="utf-8")
    badcsv = tmp_path / "bad_csv"
    badcsv.mkdir()
    for name in ("links.csv", "persons.csv", "records.csv"):
        (badcsv / name).write_text("姓名,电话\n张三,=1+1\n", encoding="utf-8")
    badyaml = tmp_path / "bad.yaml"
    badyaml.write_text("by_status: [unclosed\n", encoding="utf-8")
    return {"NOWHERE": tmp_path / "nowhere", "AFILE": afile, "BADCSV": badcsv, "BADYAML": badyaml,
            "OUT": tmp_path / "out"}


def _argv(template: list[str], paths: dict[str, Path]) -> list[str]:
    words = []
    for word in template:
        for name, path in paths.items():
            if word == name or word.startswith(name + "/"):
                word = str(path) + word[len(name):]
        words.append(word)
    return words


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], in_child: bool) -> tuple[int, str]:
    if in_child:
        done = subprocess.run([sys.executable, "-m", "canbao.cli", *argv], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=300)
        return done.returncode, done.stderr
    try:
        code = main(argv)
    except SystemExit as exit_:   # argparse's own errors exit
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name,kind", [(n, k) for n in CASES for k in ("missing", "malformed")])
def test_a_users_mistake_is_one_line_and_exit_code_2(name, kind, paths, capsys):
    argv = _argv(CASES[name][kind], paths)
    code, err = _run(argv, capsys, name in IN_CHILD)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误 error:"), err
    assert code == EXIT_USAGE, err
    assert not paths["NOWHERE"].exists()   # a mistake creates nothing where it looked
    assert not (paths["OUT"] / "store").exists()


def test_the_error_line_names_the_input(paths, capsys):
    code, err = _run(_argv(CASES["evaluate"]["missing"], paths), capsys, False)
    assert str(paths["NOWHERE"]) in err and "--export" in err
    code, err = _run(_argv(CASES["report"]["malformed"], paths), capsys, False)
    assert "2026-十一" in err and "YYYY-MM" in err


@pytest.mark.parametrize("error,code", [
    (InputError("x"), EXIT_USAGE), (ConfigError("x"), EXIT_USAGE), (StoreSpecError("x"), EXIT_USAGE),
    (QueryError("x"), EXIT_USAGE), (StoreUnavailable("s", "open", "no landed run"), EXIT_USAGE),
    (StoreBusy("s", "run", "locked", retryable=True), EXIT_RETRY),
    (StoreUnavailable("s", "open", "server down", retryable=True), EXIT_RETRY),
    (StoreError("s", "write", "disk full"), EXIT_FAILED), (GraphCrashed("s", "query", "died"), EXIT_FAILED),
    (CanbaoError("x"), EXIT_FAILED),
])
def test_exit_codes_tell_a_mistake_from_a_failure_and_a_busy_store(error, code):
    assert exit_code(error) == code


def test_a_busy_store_is_one_line_saying_retry_and_exit_code_75(tmp_path: Path, capsys):
    from resolver.landing import run_lock
    from resolver.pipeline import StoreLayout

    store = tmp_path / "store"
    store.mkdir()
    with run_lock(StoreLayout.for_store(str(store))):   # another `canbao run` is writing
        code = main(["run", "--input", str(SAMPLES), "--store", str(store), "--as-of", "2026-11-28"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("错误 error:")]
    assert code == EXIT_RETRY
    assert len(errors) == 1 and "retryable" in errors[0] and "重试" in errors[0]
