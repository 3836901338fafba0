"""The audit log is tamper-evident: rows are hash-chained, a seq cannot be replaced, `canbao audit --verify` names
the first row that breaks the chain, forged rows are shown not crashed on, and the command line audits its own reads
of personal data with the operating-system user."""
from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from api.audit import AuditLog, AuditNote
from api.audit_store import GENESIS, verify
from api.database import Database
from canbao.cli import main
from resolver.pipeline import StoreLayout
from resolver.runs import load_persons
from test_api import sample_store_copy

ROOT = Path(__file__).resolve().parents[1]
V1_AUDIT = """CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, request_id TEXT NOT NULL, user TEXT, role TEXT,
    district TEXT, method TEXT NOT NULL, endpoint TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
    persons TEXT NOT NULL, detail TEXT NOT NULL, client TEXT)"""


def logged(store: Path, n: int) -> Path:
    """A store folder whose api.sqlite holds ``n`` request rows written by the writer thread."""
    log = AuditLog(Database(store / "api.sqlite"))
    for i in range(n):
        log.append(AuditNote(request_id=f"r{i}", user="steward", persons=[f"P{i}"]), "GET", "/v1/persons/{person_id}",
                   f"/v1/persons/P{i}", 200, "127.0.0.1", query=None)
    log.close()
    return store / "api.sqlite"


def tamper(path: Path, *statements: str) -> None:
    """What someone with write access to the file can do (autocommit, no canbao code involved)."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        for statement in statements:
            conn.execute(statement)


def audit_cli(store: Path, *words: str) -> int:
    return main(["audit", "--store", str(store), *words])


def test_insert_or_replace_of_an_existing_seq_is_refused(tmp_path):
    path = logged(tmp_path, 3)
    for verb in ("INSERT OR REPLACE INTO", "REPLACE INTO", "INSERT OR IGNORE INTO"):
        with pytest.raises(sqlite3.IntegrityError, match="never replaced"):
            tamper(path, f"{verb} audit (seq, at, request_id, method, endpoint, path, status, persons, detail) "
                         "VALUES (2, '2026-01-01T00:00:00+00:00', 'forged', 'GET', '/', '/', 200, '[]', '{}')")
    with pytest.raises(sqlite3.IntegrityError, match="never replaced"):   # an upsert is an insert first
        tamper(path, "INSERT INTO audit (seq, at, request_id, method, endpoint, path, status, persons, detail) "
                     "VALUES (2, 'x', 'forged', 'GET', '/', '/', 200, '[]', '{}') "
                     "ON CONFLICT(seq) DO UPDATE SET request_id = 'forged'")
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT request_id FROM audit ORDER BY seq")] == ["r0", "r1", "r2"]
        assert verify(conn).ok


def test_a_rewritten_row_after_drop_trigger_is_named_by_verify(tmp_path, capsys):
    path = logged(tmp_path, 5)
    assert audit_cli(tmp_path, "--verify") == 0
    assert "5 条 rows" in capsys.readouterr().out
    tamper(path, "DROP TRIGGER audit_no_update", "UPDATE audit SET user = 'someone_else' WHERE seq = 3")
    assert audit_cli(tmp_path, "--verify") == 1
    out = capsys.readouterr().out
    assert "AUDIT LOG BROKEN at seq 3" in out and "hash mismatch" in out
    assert "1 of 5 rows" in out   # the rows after it still chain to its stored hash


def test_a_removed_row_shows_as_a_gap_and_a_broken_link(tmp_path, capsys):
    path = logged(tmp_path, 4)
    tamper(path, "DROP TRIGGER audit_no_delete", "DELETE FROM audit WHERE seq = 2")
    assert audit_cli(tmp_path, "--verify") == 1
    out = capsys.readouterr().out
    assert "AUDIT LOG BROKEN at seq 3" in out and "gap" in out and "broken link" in out


def test_a_forged_row_is_printed_as_malformed_without_a_traceback_and_fails_verify(tmp_path, capsys):
    path = logged(tmp_path, 2)
    tamper(path, "INSERT INTO audit (at, request_id, user, method, endpoint, path, status, persons, detail) "
                 "VALUES ('x', 'forged', 'ghost', 'GET', '/v1/x', '/v1/x', 'two hundred', 'not json', '[1]')")
    assert audit_cli(tmp_path, "--since", "2000-01-01") == 0
    out = capsys.readouterr().out
    forged = next(line for line in out.splitlines() if "ghost" in line)
    assert forged.startswith("x\t") and "MALFORMED: at, status, persons, detail" in forged
    assert "1 条格式错误" in out
    assert audit_cli(tmp_path, "--since", "2000-01-01", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    assert rows[-1]["malformed"] == ["at", "status", "persons", "detail"] and rows[-1]["at"] == "x"
    assert audit_cli(tmp_path, "--verify") == 1
    out = capsys.readouterr().out
    assert "AUDIT LOG BROKEN at seq 3 (x)" in out and "missing hash" in out and "malformed: at" in out


def test_the_writer_threads_batches_form_one_chain(tmp_path):
    log = AuditLog(Database(tmp_path / "api.sqlite"))

    def worker(number: int) -> None:
        for i in range(150):
            log.append(AuditNote(request_id=f"t{number}-{i}"), "GET", "/v1/x", "/v1/x", 200, None)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    with sqlite3.connect(tmp_path / "api.sqlite") as conn:
        result = verify(conn)
        first = conn.execute("SELECT prev_hash FROM audit WHERE seq = 1").fetchone()[0]
    assert (result.ok, result.rows, result.head_seq, first) == (True, 600, 600, GENESIS)


CLI_APPENDER = """
import sys
from api.audit_store import append_cli_read
from api.database import Database
database = Database(sys.argv[1])
for i in range(int(sys.argv[2])):
    append_cli_read(database.transaction, "query", ["conflicts", f"--n={i}"], [f"P{i}"], {})
"""


def test_a_cli_process_and_the_servers_writer_append_to_one_chain(tmp_path):
    path = tmp_path / "api.sqlite"
    log = AuditLog(Database(path))
    cli = subprocess.Popen([sys.executable, "-c", CLI_APPENDER, str(path), "150"], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    while cli.poll() is None:   # the server's rows go in while the other process appends its own
        for _ in range(20):
            log.append(AuditNote(request_id="api"), "GET", "/v1/x", "/v1/x", 200, None)
        log.flush()
    log.close()
    assert cli.returncode == 0
    with sqlite3.connect(path) as conn:
        result = verify(conn)
        roles = [r[0] for r in conn.execute("SELECT role FROM audit")]
    assert result.ok, result.breaks[:3]
    assert roles.count("cli") == 150 and result.rows == len(roles)


def test_a_version_1_log_is_chained_once_when_opened(tmp_path):
    path = tmp_path / "api.sqlite"
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute(V1_AUDIT)
        for i in range(3):
            conn.execute("INSERT INTO audit (at, request_id, user, method, endpoint, path, status, persons, detail) "
                         "VALUES (?, ?, 'old', 'GET', '/v1/x', '/v1/x', 200, '[]', '{}')",
                         (f"2026-01-0{i + 1}T00:00:00.000+00:00", f"old{i}"))
        conn.execute("PRAGMA user_version=1")
    log = AuditLog(Database(path))
    log.append(AuditNote(request_id="new"), "GET", "/v1/x", "/v1/x", 200, None, query="id_number=1")
    log.close()
    Database(path)   # opened again: nothing to migrate, the chain stays
    with sqlite3.connect(path) as conn:
        result = verify(conn)
        rows = conn.execute("SELECT request_id, query FROM audit ORDER BY seq").fetchall()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    assert result.ok and result.rows == 4 and version == 2
    assert rows == [("old0", None), ("old1", None), ("old2", None), ("new", "id_number=1")]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):   # the migration put the trigger back
        tamper(path, "UPDATE audit SET user = 'x' WHERE seq = 1")


# --- the command line's reads (art. 31) ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = sample_store_copy(tmp_path_factory, "cli-audit")
    return path


def cli_rows(store: Path) -> list[dict]:
    with sqlite3.connect(store / "api.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM audit WHERE role = 'cli' ORDER BY seq")]


def test_query_masks_id_numbers_unless_full_id_which_is_audited_with_the_os_user(store, capsys):
    persons = load_persons(StoreLayout.for_store(str(store)))
    unenrolled = persons[persons["status"] == "UNENROLLED"].sort_values("person_id")
    assert main(["query", "unenrolled_persons", "--store", str(store), "--limit", "5"]) == 0
    masked = capsys.readouterr().out
    shown = [line.split()[0] for line in masked.splitlines()[1:6]]
    numbers = persons.set_index("person_id").loc[shown, "id_number"].dropna()
    assert len(numbers) and not any(n in masked for n in numbers)
    assert all(f"{n[:6]}********{n[-4:]}" in masked for n in numbers)
    row = cli_rows(store)[-1]
    assert (row["user"], row["role"], row["method"], row["endpoint"]) == (getpass.getuser(), "cli", "CLI",
                                                                         "canbao query")
    assert row["query"] == f"unenrolled_persons --store {store} --limit 5"
    assert json.loads(row["persons"]) == shown
    detail = json.loads(row["detail"])
    assert detail["uid"] == os.getuid() and detail["full_id"] is False and detail["rows"] >= 5
    assert main(["query", "unenrolled_persons", "--store", str(store), "--limit", "5", "--full-id"]) == 0
    full = capsys.readouterr().out
    assert all(n in full for n in numbers)
    assert json.loads(cli_rows(store)[-1]["detail"])["full_id"] is True
    assert len(unenrolled)


def test_query_masks_phones_with_the_same_function_as_explain(store):
    from api.masking import mask_identifier
    from resolver.standardise.phones import mask_phone

    assert mask_identifier("phones", "13812345678|02227654321") == mask_phone("13812345678|02227654321")
    assert mask_identifier("guardian_phone", ["13812345678"]) == ["138****5678"]
    assert mask_identifier("name", "张伟") == "张伟"


def test_explain_worklist_ledger_and_export_are_audited_before_they_show_anything(store, tmp_path, capsys):
    person = load_persons(StoreLayout.for_store(str(store))).sort_values("person_id")["person_id"].iloc[0]
    before = len(cli_rows(store))
    assert main(["explain", person, "--store", str(store), "--full-id"]) == 0
    assert main(["worklist", "--store", str(store), "--district", "120104", "--out", str(tmp_path / "w.csv")]) == 0
    assert main(["ledger", "--store", str(store), "--district", "120104"]) == 0
    assert main(["export", "--store", str(store), "--out", str(tmp_path / "export")]) == 0
    capsys.readouterr()
    rows = cli_rows(store)[before:]
    assert [r["endpoint"] for r in rows] == ["canbao explain", "canbao worklist", "canbao ledger", "canbao export"]
    assert json.loads(rows[0]["persons"]) == [person] and json.loads(rows[0]["detail"])["full_id"] is True
    worklist = pd.read_csv(tmp_path / "w.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(json.loads(rows[1]["persons"])) == sorted(worklist["人员编号"])
    assert json.loads(rows[1]["detail"])["rows"] == len(worklist)
    assert json.loads(rows[3]["detail"])["scope"] == "all persons"
    assert all(r["user"] == getpass.getuser() for r in rows)
    with sqlite3.connect(store / "api.sqlite") as conn:
        assert verify(conn).ok


def test_nothing_is_shown_when_the_read_cannot_be_audited(store, capsys):
    database = store / "api.sqlite"
    Database(database)
    tamper(database, "CREATE TRIGGER audit_down BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    try:
        assert main(["query", "unenrolled_persons", "--store", str(store), "--limit", "5"]) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and "cannot write the audit log" in captured.err
    finally:
        tamper(database, "DROP TRIGGER audit_down")
