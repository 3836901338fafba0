"""The analysts' notebooks run top to bottom on a store built from the committed sample.

Each `notebooks/NN_*.py` (jupytext percent format) is converted with jupytext and executed
by nbclient in a fresh kernel, with ``CANBAO_STORE`` pointing at a store that
``run_pipeline`` builds from ``data/samples`` once for the module. A cell that raises fails
the test with the cell's traceback. Then a figure each notebook prints is compared with the
same figure counted here from the store's files, so a notebook that runs but says the wrong
thing fails too.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path

import jupytext
import pandas as pd
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from resolver.pipeline import RunOutcome, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
AS_OF = dt.date(2026, 11, 28)  # the Makefile's AS_OF for `make demo`
CELL_TIMEOUT = 120  # seconds; each notebook takes about 2 s on the sample


def kernel_manager() -> KernelManager:
    """A kernel of this very interpreter (the venv's python), whatever kernelspecs the machine has.

    With no kernel folders to search, "python3" is ipykernel's built-in spec, whose command is
    ``sys.executable -m ipykernel_launcher``: a user-level python3 kernelspec pointing at another
    interpreter (without canbao installed) cannot be picked up.
    """
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def text_of(notebook) -> str:
    """Everything the notebook printed or displayed as text, in cell order."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                parts.append(output["text"])
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def svg_charts(notebook) -> int:
    return sum("image/svg+xml" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunOutcome]:
    """The sample run into a fresh store folder, as `make demo` does (about 3 s)."""
    path = tmp_path_factory.mktemp("notebooks") / "store"
    return path, run_pipeline(ROOT / "data" / "samples", str(path), AS_OF)


@pytest.fixture(scope="module")
def store(sample_run: tuple[Path, RunOutcome]) -> Path:
    return sample_run[0]


@pytest.fixture(scope="module")
def persons(store: Path) -> pd.DataFrame:
    return pd.read_parquet(store / "persons.parquet")


@pytest.fixture(scope="module")
def executed(store: Path) -> Callable[[str], object]:
    """Execute a notebook by file name (once per module) and return the executed notebook."""
    done: dict[str, object] = {}

    def run(name: str):
        if name not in done:
            notebook = jupytext.read(ROOT / "notebooks" / name)
            client = NotebookClient(notebook, km=kernel_manager(), timeout=CELL_TIMEOUT,
                                    resources={"metadata": {"path": str(ROOT)}})
            env = {**os.environ, "CANBAO_STORE": str(store), "PYTHONPATH": str(ROOT)}
            env.pop("CANBAO_WORK_DIR", None)
            client.execute(env=env)
            done[name] = notebook
        return done[name]

    return run


def flagged_unenrolled(persons: pd.DataFrame, flag: str) -> int:
    flags = persons["flags"].fillna("").str.split("|")
    return int(((persons["status"] == "UNENROLLED") & flags.map(lambda f: flag in f)).sum())


def test_the_kernel_is_this_interpreter():
    assert kernel_manager().kernel_spec.argv[0] == sys.executable


def test_there_are_the_three_notebooks_of_issue_7():
    assert [p.name for p in NOTEBOOKS] == [
        "01_enrolment_coverage.py", "02_expansion_leads.py", "03_data_quality.py"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_runs_top_to_bottom(notebook: Path, executed):
    ran = executed(notebook.name)
    code_cells = [cell for cell in ran.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.get("execution_count") for cell in code_cells)


def test_coverage_notebook_counts_the_survey_targets_and_charts_them(executed, persons):
    ran = executed("01_enrolment_coverage.py")
    unenrolled = int((persons["status"] == "UNENROLLED").sum())
    assert unenrolled > 0
    assert f"未参保 UNENROLLED: {unenrolled}\n" in text_of(ran)
    assert svg_charts(ran) >= 6  # district rates, pension and medical coverage, status mix, top streets, provinces


def test_coverage_notebook_shows_pension_and_medical_coverage(executed, persons):
    import datetime as dt

    from resolver.report import payment_statistics

    city = payment_statistics(persons.assign(city="all"), ["city"], dt.date(2026, 11, 28)).loc["all"]
    text = text_of(executed("01_enrolment_coverage.py"))
    assert f"基本养老保险覆盖率 pension coverage: {city['pension_coverage']:.2%}\n" in text
    assert f"基本医疗保险覆盖率 medical coverage: {city['medical_coverage']:.2%}\n" in text


def test_leads_notebook_lists_every_unenrolled_taxpayer_and_employee(executed, persons):
    text = text_of(executed("02_expansion_leads.py"))
    assert f"纳税未参保 UNENROLLED TAXPAYER: {flagged_unenrolled(persons, 'TAXPAYER')}\n" in text
    assert f"就业未参保 UNENROLLED EMPLOYED: {flagged_unenrolled(persons, 'EMPLOYED')}\n" in text


def test_quality_notebook_accounts_for_every_row_and_conflict(executed, sample_run, persons):
    text = text_of(executed("03_data_quality.py"))
    ingest = sample_run[1].ingest
    assert len(ingest.rejected) > 0
    assert f"拒收 rejected: {len(ingest.rejected)}\n" in text
    assert f"输入行 rows in: {ingest.rows_in}\n" in text
    conflicts = int(persons["flags"].fillna("").str.contains("CONFLICT").sum())
    assert f"冲突 CONFLICT: {conflicts}\n" in text
