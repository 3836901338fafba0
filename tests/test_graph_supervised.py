"""The supervised store: the embedded graph in a worker process that a crash of LadybugDB takes down alone.

The crashes are real: LadybugDB 0.22.0 segfaults on ``ORDER BY … SKIP n LIMIT m`` with n past
the last row, and here that query runs in the worker, so this test process lives on. The
store-agnostic bodies of tests/test_graph_embedded.py (the writes: steward decisions, upserts,
status updates) and of tests/test_named_queries.py (reads) run again through the worker.
"""
from __future__ import annotations

import os
import pickle
import shutil
import signal
from datetime import datetime

import pytest

from graph import (
    EmbeddedStore, GraphCrashed, QueryError, StewardDecision, StoreBusy, StoreError, StoreUnavailable, open_store,
)
from graph.supervised import CRASH_WINDOW_SECONDS, SupervisedStore, exit_reason
from test_graph_embedded import (  # noqa: F401  (collected here again: the writes, through the worker)
    test_a_decision_on_an_unknown_record_is_refused, test_a_status_update_changes_status_flags_and_provenance,
    test_a_status_update_for_an_unknown_person_is_refused, test_a_steward_decision_takes_the_pair_off_the_queue,
    test_an_unsure_decision_keeps_the_pair_on_the_queue, test_person_360_groups_records_by_source_and_explains_the_status,
    test_upserting_a_survey_record_links_it_to_the_person, test_upserting_an_existing_record_moves_it_to_another_person,
)
from test_graph_sample import sample_run
from test_named_queries import (  # noqa: F401
    test_an_empty_result_still_names_its_columns, test_conflicts_show_the_competing_id_numbers,
    test_person_360_lists_every_record_and_marks_the_deciding_one, test_unenrolled_persons_page_through_skip_and_limit,
    test_unenrolled_persons_of_one_street, test_uncertain_links_leave_out_decided_pairs,
)

# Segfaults LadybugDB 0.22.0 (and Kùzu 0.11.3): a top-k sort skipping past the last row. Every time when it is
# the first statement of a fresh worker; later, after some other queries (e.g. with parameters), it may return
# no rows instead, so the tests send it to a fresh worker.
CRASHING = "MATCH (p:Person) RETURN p.person_id AS x ORDER BY x SKIP 100000000 LIMIT 10"


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    """The sample run landed once by an in-process store; each test serves a copy of it."""
    folder = tmp_path_factory.mktemp("supervised") / "graph"
    with EmbeddedStore(folder, buffer_pool_mb=128) as writer:
        writer.write_run(sample_run())
    return folder


@pytest.fixture
def graph_copy(landed, tmp_path):
    return shutil.copytree(landed, tmp_path / "graph")


@pytest.fixture
def loaded(graph_copy):
    s = SupervisedStore(graph_copy, must_exist=True, threads=1, buffer_pool_mb=128)
    yield s
    s.close()


@pytest.fixture(scope="module")
def queried(landed):
    s = SupervisedStore(landed, must_exist=True, buffer_pool_mb=128)
    yield s
    s.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_query_that_crashes_the_database_fails_alone_and_the_next_call_gets_a_fresh_worker(loaded, caplog):
    first = loaded.worker_pid
    with pytest.raises(GraphCrashed) as crashed:
        loaded._rows(CRASHING, {}, "query crash_probe")
    error = crashed.value
    assert error.operation == "query crash_probe" and "SIGSEGV" in error.detail and not error.retryable
    assert isinstance(error, StoreError)
    assert not loaded.ready and loaded.worker_pid is None and not _alive(first)
    assert any("died (SIGSEGV) during query crash_probe" in r.getMessage() for r in caplog.records)
    # this process is alive (we are here), and the next call is answered by a new worker
    assert loaded.person("P2").status == "UNENROLLED"
    assert loaded.ready and loaded.worker_pid not in (None, first)
    assert (loaded.starts, loaded.crash_count) == (2, 1)


def test_a_write_through_the_worker_lands_and_outlives_the_worker(loaded):
    loaded.record_decision(StewardDecision("police_resident:R4", "survey:S6", "match", "steward-test-02",
                                           datetime(2026, 10, 1, 9, 0), "同一人 (same person)"))
    pid = loaded.worker_pid
    os.kill(pid, signal.SIGKILL)   # the worker dies right after the commit
    with pytest.raises(GraphCrashed, match="SIGKILL"):
        loaded.review_queue()
    assert loaded.review_queue().total == 0   # read by the next worker: the decision was committed
    assert set(loaded.decisions()["steward"]) == {"steward-test-01", "steward-test-02"}


def test_database_errors_come_back_typed_and_leave_the_worker_running(loaded):
    pid = loaded.worker_pid
    with pytest.raises(StoreError, match="bad_statement") as refused:
        loaded._rows("MATCH (p:Nowhere) RETURN p", {}, "bad_statement")
    assert not isinstance(refused.value, GraphCrashed)
    with pytest.raises(QueryError, match="unknown query"):
        loaded.run_query("no_such_query")
    assert loaded.worker_pid == pid and loaded.person("P1") is not None


def test_a_crash_loop_is_stopped_then_lifted_after_a_minute(graph_copy):
    store = SupervisedStore(graph_copy, must_exist=True, buffer_pool_mb=128, restarts_per_minute=1)
    try:
        for _ in range(2):
            with pytest.raises(GraphCrashed):
                store._rows(CRASHING, {}, "crash")
        with pytest.raises(StoreUnavailable, match="crashed 2 times in a minute") as refused:
            store.person("P1")
        assert refused.value.retryable and store.starts == 2
        store.worker.crashes[0] -= CRASH_WINDOW_SECONDS + 1   # a minute later: the older crash has left the window
        assert store.person("P1") is not None and store.starts == 3
    finally:
        store.close()


def test_a_folder_without_a_run_is_refused_at_open_and_leaves_no_worker(tmp_path):
    with pytest.raises(StoreUnavailable, match="canbao run"):
        SupervisedStore(tmp_path / "never-written", must_exist=True)
    with pytest.raises(StoreUnavailable, match="canbao run"):
        open_store(str(tmp_path / "never-written"), must_exist=True, worker_restarts=5)


def test_close_ends_the_worker_and_later_calls_are_refused(graph_copy):
    store = open_store(str(graph_copy), must_exist=True, worker_restarts=5)
    assert isinstance(store, SupervisedStore)
    pid = store.worker_pid
    store.close()
    assert not _alive(pid)
    with pytest.raises(StoreUnavailable, match="closed"):
        store.person("P1")
    store.close()   # twice is harmless


def test_handles_on_one_store_in_one_process_share_its_worker(graph_copy):
    # LadybugDB lets one process at a time open the file: a second worker would find it locked.
    first = SupervisedStore(graph_copy, must_exist=True, buffer_pool_mb=128)
    second = SupervisedStore(graph_copy, must_exist=True, buffer_pool_mb=128)
    pid = first.worker_pid
    assert second.worker is first.worker and second.worker_pid == pid
    first.close()
    assert second.person("P1") is not None and _alive(pid)
    second.close()
    assert not _alive(pid)


def test_a_whole_run_is_landed_by_canbao_run_not_through_the_worker(loaded):
    with pytest.raises(StoreError, match="canbao run"):
        loaded.write_run(sample_run("run-test-2"))
    assert loaded.runs()[-1].run_id == "run-test-1"


def test_persons_by_id_match_one_by_one_lookups(loaded):
    asked = ["P3", "P1", "P-NOBODY", "P1", "P6"]
    found = loaded.persons(asked)
    assert sorted(found) == ["P1", "P3", "P6"]
    assert all(found[p] == loaded.person(p) for p in found)
    assert loaded.persons([]) == {}


def test_store_errors_cross_the_pipe_whole():
    busy = StoreBusy("嵌入式图库 embedded store /x", "record_decision", "另一进程正在写入", retryable=True)
    back = pickle.loads(pickle.dumps(busy))
    assert type(back) is StoreBusy and str(back) == str(busy) and back.retryable
    assert (back.store, back.operation, back.detail) == (busy.store, busy.operation, busy.detail)


def test_exit_reasons_name_the_signal():
    assert exit_reason(-signal.SIGSEGV) == "SIGSEGV" and exit_reason(-signal.SIGKILL) == "SIGKILL"
    assert exit_reason(3) == "exit code 3" and exit_reason(None) == "unknown"
