"""No caller can page LadybugDB into a crash; every numeric parameter has a range, refused by name.

LadybugDB 0.22.0 (like Kùzu 0.11.3) dies with SIGSEGV on ``ORDER BY … SKIP n LIMIT m`` when n
lies far past the last row; the process goes with it (issue 13 §1). Whatever can crash runs in a
child process (tests/paging_child.py); the parent checks how the child ended.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graph import CATALOGUE, EmbeddedStore, QueryError, catalogue_text
from graph.queries import MAX_LIMIT, MAX_SKIP, bind_params, check_page, get_query
from test_api import sample_store_copy

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).resolve().parent / "paging_child.py"
# A safety net for a child that hangs; never an assertion about speed.
CHILD_TIMEOUT = 600


def _child(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT,
                          cwd=ROOT)


def _last_case(progress: Path) -> str:
    lines = progress.read_text(encoding="utf-8").splitlines() if progress.exists() else []
    return lines[-1] if lines else "(none)"


def _assert_survived(done: subprocess.CompletedProcess[str], progress: Path) -> None:
    """The child ended on its own: not by a signal (crash), and without a failed assertion."""
    assert done.returncode >= 0, (
        f"child died by signal {signal.Signals(-done.returncode).name}; last parameters tried: {_last_case(progress)}\n"
        f"{done.stderr[-3000:]}")
    assert done.returncode == 0, f"child failed; last parameters tried: {_last_case(progress)}\n{done.stderr[-5000:]}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the resolved sample (the API writes its own files into the store folder)."""
    copy = sample_store_copy(tmp_path_factory, "paging")
    return copy


# --- the LadybugDB bug itself -----------------------------------------------------------------

LADYBUG_CRASH = textwrap.dedent("""
    import sys, tempfile, ladybug
    db = ladybug.Database(tempfile.mkdtemp() + "/g.lbug")
    conn = ladybug.Connection(db)
    conn.execute("CREATE NODE TABLE T(k STRING, a STRING, b STRING, c STRING, PRIMARY KEY(k))")
    conn.execute("CREATE (:T {k: 'k1', a: 'a', b: 'b', c: 'c'})")
    order = "MATCH (t:T) RETURN t.k ORDER BY t.a, t.b, t.c, t.k"
    assert conn.execute(order + " SKIP 0 LIMIT 50").get_all() == [["k1"]]
    print("inside the rows: fine", flush=True)
    conn.execute(order + " SKIP 5000 LIMIT 50").get_all()
    print("past the end: fine", flush=True)
""")


def test_ladybug_still_segfaults_on_order_by_skip_past_the_end():
    """The minimal reproduction (the work list's four sort keys, one row). This test FAILS the day a LadybugDB
    upgrade stops crashing: the count-first guard in GraphStore._page can then be reconsidered (keep it for
    older installs until the pinned version moves)."""
    done = _child(["-c", LADYBUG_CRASH])
    assert "inside the rows: fine" in done.stdout, done.stderr
    assert done.returncode == -signal.SIGSEGV, (
        f"LadybugDB no longer segfaults on ORDER BY … SKIP past the end (exit {done.returncode}, "
        f"stdout {done.stdout!r}): the bug is fixed upstream — reconsider the guard in GraphStore._page "
        "and update this test and the README's paging note")


# --- the guard ----------------------------------------------------------------------------------

def test_the_issue_request_a_surveyor_work_list_at_skip_5000_answers_an_empty_page(store: Path, tmp_path: Path):
    progress = tmp_path / "progress.jsonl"
    done = _child([str(CHILD), str(store), str(progress), "worklist-past-end"])
    _assert_survived(done, progress)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    assert answer["body"]["items"] == [] and answer["body"]["total"] > 0 and answer["body"]["skip"] == 5000


def test_every_named_query_survives_hostile_parameters_in_a_child(store: Path, tmp_path: Path):
    progress = tmp_path / "progress.jsonl"
    done = _child([str(CHILD), str(store), str(progress), "named"])
    _assert_survived(done, progress)
    tried = progress.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["query"] for line in tried} == set(CATALOGUE)


def test_every_paged_endpoint_survives_hostile_parameters_in_a_child(store: Path, tmp_path: Path):
    progress = tmp_path / "progress.jsonl"
    done = _child([str(CHILD), str(store), str(progress), "api"])
    _assert_survived(done, progress)
    paths = {json.loads(line)["path"] for line in progress.read_text(encoding="utf-8").splitlines()}
    assert {"/v1/worklists", "/v1/review/queue", "/v1/changes", "/v1/queries/unenrolled_persons"} <= paths


def test_a_page_past_the_end_is_empty_with_the_total_and_inside_it_is_unchanged(store: Path):
    """In-process only with offsets LadybugDB survives unguarded too (≤ the total), plus the guarded far end
    (which would crash this process without the guard: the child tests above prove the same for every caller)."""
    with EmbeddedStore(store / "graph", must_exist=True, threads=1) as graph:
        whole = graph.unenrolled_work_list(limit=1000)
        assert whole.total == len(whole.items) > 2
        last = graph.unenrolled_work_list(skip=whole.total - 1, limit=50)
        assert [p.person_id for p in last.items] == [whole.items[-1].person_id]
        for skip in (whole.total, whole.total + 1, MAX_SKIP):
            page = graph.unenrolled_work_list(skip=skip, limit=50)
            assert page.items == [] and page.total == whole.total
        queue = graph.review_queue(skip=MAX_SKIP, limit=MAX_LIMIT)
        assert queue.items == [] and queue.total == graph.review_queue().total
        rows = graph.run_query("unenrolled_persons", {"skip": MAX_SKIP}).rows
        assert rows == []


def test_every_paged_named_query_counts_exactly_the_rows_it_pages(store: Path):
    """A count that disagreed with its page's MATCH/WHERE would let a SKIP past the end through."""
    with EmbeddedStore(store / "graph", must_exist=True, threads=1) as graph:
        for query in (q for q in CATALOGUE.values() if q.paged):
            assert query.count, query.name
            for params in ({}, {"district_code": "120104"}, {"min_probability": 0.6}):
                params = {k: v for k, v in params.items() if k in {p.name for p in query.params}}
                bound = bind_params(query, {**params, "limit": MAX_LIMIT})
                every = graph.run_query(query.name, bound).rows
                total = graph._rows(query.count, bound, "test")[0]["total"]
                assert total == len(every), (query.name, params)


# --- ranges ---------------------------------------------------------------------------------------

def test_every_numeric_parameter_of_every_named_query_has_a_range_within_int64():
    for query in CATALOGUE.values():
        for param in query.params:
            if param.kind != "text":
                assert param.minimum is not None and param.maximum is not None, (query.name, param.name)
                assert -(2**63) < param.minimum <= param.default <= param.maximum < 2**63, (query.name, param.name)


@pytest.mark.parametrize(("query", "param", "value"), [
    ("unenrolled_persons", "skip", "99999999999999999999999"),
    ("unenrolled_persons", "skip", 2**63),
    ("unenrolled_persons", "skip", -1),
    ("unenrolled_persons", "skip", MAX_SKIP + 1),
    ("unenrolled_persons", "limit", "+100000000"),
    ("unenrolled_persons", "limit", 0),
    ("mixed_status_households", "min_members", "-99999999999999999999"),
    ("mixed_status_households", "min_members", "9" * 5000),
    ("uncertain_links", "min_probability", "nan"),
    ("uncertain_links", "min_probability", "inf"),
    ("uncertain_links", "min_probability", 10**400),
    ("uncertain_links", "min_probability", "1.5"),
])
def test_an_out_of_range_value_is_refused_naming_the_parameter_and_its_range(query, param, value):
    with pytest.raises(QueryError) as refused:
        bind_params(get_query(query), {param: value})
    assert refused.value.param == param
    declared = next(p for p in get_query(query).params if p.name == param)
    assert f"参数 {param}" in str(refused.value) and f"{declared.minimum} … {declared.maximum}" in str(refused.value)
    assert len(str(refused.value)) < 300   # the hostile value is cut short


@pytest.mark.parametrize("value", ["1_000", "0x10", "١٢", "1e3", "5.5", True, [5], "12 34"])
def test_what_is_not_a_plain_integer_is_refused_for_an_int_parameter(value):
    with pytest.raises(QueryError, match="limit") as refused:
        bind_params(get_query("unenrolled_persons"), {"limit": value})
    assert refused.value.param == "limit"


def test_in_range_values_are_typed_as_given():
    bound = bind_params(get_query("unenrolled_persons"), {"skip": "+5", "limit": " 7 "})
    assert (bound["skip"], bound["limit"]) == (5, 7)
    assert bind_params(get_query("uncertain_links"), {"min_probability": "0.75"})["min_probability"] == 0.75


def test_a_huge_text_filter_is_refused():
    with pytest.raises(QueryError, match="district_code"):
        bind_params(get_query("unenrolled_persons"), {"district_code": "1" * 10_000})


def test_the_work_list_and_review_queue_refuse_offsets_outside_their_range():
    for skip, limit, name in ((-1, 50, "skip"), (MAX_SKIP + 1, 50, "skip"), (0, 0, "limit"), (0, MAX_LIMIT + 1, "limit"),
                              ("5", 50, "skip"), (True, 50, "skip")):
        with pytest.raises(QueryError) as refused:
            check_page(skip, limit)  # type: ignore[arg-type]
        assert refused.value.param == name


def test_the_catalogue_shows_every_numeric_range():
    text = catalogue_text()
    assert f"--param skip=…  (int 0 … {MAX_SKIP}" in text
    assert "--param min_probability=…  (float 0.0 … 1.0" in text


# --- the API's answers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(store: Path, tmp_path_factory):
    from paging_child import _client

    # A copy of its own: the API's graph worker holds its store's database file while the module runs.
    copy = tmp_path_factory.mktemp("api") / "store"
    shutil.copytree(store, copy)
    client, headers = _client(str(copy))
    with client:
        yield client, headers


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/v1/queries/mixed_status_households", {"min_members": "-99999999999999999999"}, "min_members"),
    ("/v1/queries/unenrolled_persons", {"skip": "99999999999999999999999"}, "skip"),
    ("/v1/queries/unenrolled_persons", {"limit": "+100000"}, "limit"),
    ("/v1/queries/unenrolled_persons", {"limit": "100000"}, "limit"),
    ("/v1/queries/uncertain_links", {"min_probability": "nan"}, "min_probability"),
    ("/v1/queries/unenrolled_persons", {"skiip": "5"}, "skiip"),
])
def test_the_api_answers_422_naming_the_parameter(api, path, params, field):
    client, headers = api
    response = client.get(path, params=params, headers=headers["analyst"])
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [field] and field in error["fields"][0]["message"]


def test_the_api_catalogue_shows_each_numeric_range_with_the_api_cap_on_limit(api):
    client, headers = api
    catalogue = {q["name"]: {p["name"]: p for p in q["params"]}
                 for q in client.get("/v1/queries", headers=headers["analyst"]).json()}
    assert (catalogue["unenrolled_persons"]["skip"]["minimum"], catalogue["unenrolled_persons"]["skip"]["maximum"]) \
        == (0, MAX_SKIP)
    assert catalogue["unenrolled_persons"]["limit"]["maximum"] == 1000
    assert catalogue["uncertain_links"]["min_probability"]["maximum"] == 1.0
    assert catalogue["unenrolled_persons"]["district_code"]["minimum"] is None


def test_the_api_pages_a_named_query_past_its_end_to_no_rows(api):
    client, headers = api
    response = client.get("/v1/queries/unplaced_persons", params={"skip": str(MAX_SKIP)}, headers=headers["analyst"])
    assert response.status_code == 200 and response.json()["rows"] == []


# --- the CLI ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("param", "name"), [("skip=99999999999999999999999", "skip"), ("limit=0", "limit"),
                                              ("min_probability=nan", "min_probability")])
def test_the_cli_refuses_an_out_of_range_parameter_in_one_line_with_exit_2(store: Path, capsys, param, name):
    from canbao.cli import main

    query = "uncertain_links" if name == "min_probability" else "unenrolled_persons"
    assert main(["query", query, "--store", str(store), "--param", param]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"参数 {name}" in err and "Traceback" not in err


def test_the_cli_pages_a_named_query_past_its_end_to_no_rows(store: Path, capsys):
    from canbao.cli import main

    assert main(["query", "unenrolled_persons", "--store", str(store), "--param", f"skip={MAX_SKIP}"]) == 0
    assert "(0 行 rows)" in capsys.readouterr().out


def test_count_and_page_see_one_snapshot_while_a_writer_shrinks_the_set(store: Path, tmp_path: Path):
    """A write between the count and the page must not move the page past the end: both read one snapshot."""
    import ladybug

    from graph.cypher import UNENROLLED_COUNT

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    area = {"district_code": "120104", "street": "", "community": ""}
    with EmbeddedStore(copy / "graph", must_exist=True, threads=1) as graph:
        count = UNENROLLED_COUNT.text(graph.dialect)

        def count_write_count(read):
            before = read(count, area)[0]["total"]
            writer = ladybug.Connection(graph._db)   # another connection to the same database, as a writer uses
            writer.execute("MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND p.district_code = '120104' "
                           "DETACH DELETE p")
            return before, read(count, area)[0]["total"]

        before, after = graph._snapshot_reads(count_write_count, "test")
        assert before == after > 0
        assert graph.unenrolled_work_list("120104").total == 0   # the write did land, for the next reader
