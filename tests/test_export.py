"""The export contract of status-rules.md on the committed sample: columns, order, rows reconcile."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from resolver.pipeline import RunOutcome, run_pipeline

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[RunOutcome, Path]:
    root = tmp_path_factory.mktemp("export")
    outcome = run_pipeline(SAMPLES, str(root / "store"), dt.date(2026, 11, 28))
    assert main(["export", "--store", str(root / "store"), "--out", str(root / "out")]) == 0
    return outcome, root / "out"


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def header(folder: Path, name: str) -> str:
    return (folder / name).read_text(encoding="utf-8").splitlines()[0]


def test_links_columns_in_contract_order(exported):
    assert header(exported[1], "links.csv") == "source,record_id,person_id,match_probability"


def test_persons_columns_in_contract_order(exported):
    assert header(exported[1], "persons.csv") == \
        "person_id,id_number,name,status,flags,district_code,street,community"


def test_rejected_columns_in_contract_order(exported):
    assert header(exported[1], "rejected.csv") == "source,file,line,reason"


def test_links_hold_one_row_per_ingested_record(exported):
    outcome, out = exported
    links = read(out, "links.csv")
    assert len(links) == len(outcome.ingest.records)
    assert not links.duplicated(["source", "record_id"]).any()
    ingested = set(zip(outcome.ingest.records["source"], outcome.ingest.records["record_id"]))
    assert set(zip(links["source"], links["record_id"])) == ingested


def test_rows_in_equal_rows_linked_plus_rows_rejected(exported):
    outcome, out = exported
    assert outcome.ingest.rows_in == len(read(out, "links.csv")) + len(read(out, "rejected.csv"))


def test_every_rejected_row_says_why(exported):
    rejected = read(exported[1], "rejected.csv")
    assert len(rejected) > 0
    assert (rejected["reason"] != "").all() and rejected["line"].str.fullmatch(r"\d+").all()


def test_every_linked_person_is_in_persons_and_every_person_has_a_record(exported):
    out = exported[1]
    assert set(read(out, "links.csv")["person_id"]) == set(read(out, "persons.csv")["person_id"])


def test_singletons_are_linked_too(exported):
    links = read(exported[1], "links.csv")
    sizes = links.groupby("person_id").size()
    assert (sizes == 1).any()
    assert (links["match_probability"] != "").all()


def test_flags_are_joined_with_a_bar_from_the_known_flags(exported):
    flags = read(exported[1], "persons.csv")["flags"]
    known = {"INTERRUPTED", "TAXPAYER", "EMPLOYED", "LOW_INCOME", "STUDENT", "PERMIT_HOLDER", "SURVEYED", "CONFLICT",
             "LAPSED", "NO_PENSION", "NO_MEDICAL"}
    used = {flag for joined in flags if joined for flag in joined.split("|")}
    assert used and used <= known
    assert flags.str.contains(r"\|").any()


def test_every_person_has_one_status_of_the_spec(exported):
    persons = read(exported[1], "persons.csv")
    assert not persons["person_id"].duplicated().any()
    assert set(persons["status"]) <= {"DECEASED", "EXEMPT_PRISONER", "ENROLLED", "OUT_OF_SCOPE",
                                       "INSURED_ELSEWHERE", "UNENROLLED"}
