"""Spreadsheet formula injection: department text in the files people open stays text (issue 13 §2).

The unit tests pin resolver.spreadsheet_safe; the end-to-end tests put hostile names and addresses
into a department file, run the pipeline and every command that writes a file for people, and read
the bytes of the .csv and the XML inside the .xlsx.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from canbao.cli import main
from resolver.pipeline import run_pipeline
from resolver.report import MonthlyReport, monthly_statistics, write_report
from resolver.runs import RunEntry
from resolver.spreadsheet_safe import Sheet, neutralise_cell, neutralise_table, write_csv, write_xlsx
from resolver.table_files import write_table

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
HYPERLINK = '=HYPERLINK("http://evil.example/x","点我")'
DDE = "=cmd|' /C calc'!A0"
# Written out here, not imported: the test states what a spreadsheet takes for a formula start.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


# --- reading a workbook's XML ----------------------------------------------------------------------

@dataclass(frozen=True)
class XlsxCell:
    """One <c> element of a worksheet, with its text resolved from the shared strings."""

    sheet: str
    ref: str
    kind: str           # the t attribute: "s" shared string, "inlineStr", "str" formula text, "n" number, "b"
    text: str | None
    has_formula: bool
    style: int


def _text_of(element: ElementTree.Element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{MAIN}t"))


def xlsx_cells(path: Path) -> list[XlsxCell]:
    """Every cell of every worksheet, read straight from the zip's XML."""
    with zipfile.ZipFile(path) as book:
        names = book.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            shared = [_text_of(si) for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{MAIN}si")]
        cells = []
        for name in sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)):
            for c in ElementTree.fromstring(book.read(name)).iter(f"{MAIN}c"):
                kind, value = c.get("t", "n"), c.find(f"{MAIN}v")
                if kind == "s":
                    text = shared[int(value.text)]
                elif kind == "inlineStr":
                    text = _text_of(c.find(f"{MAIN}is"))
                else:
                    text = value.text if value is not None else None
                cells.append(XlsxCell(name, c.get("r"), kind, text, c.find(f"{MAIN}f") is not None,
                                      int(c.get("s", "0"))))
    return cells


def quote_prefixed_styles(path: Path) -> set[int]:
    """Indexes of the cell styles that carry Excel's quote prefix (the cell stays text when edited)."""
    with zipfile.ZipFile(path) as book:
        styles = ElementTree.fromstring(book.read("xl/styles.xml"))
    xfs = styles.find(f"{MAIN}cellXfs")
    return {i for i, xf in enumerate(xfs.iter(f"{MAIN}xf")) if xf.get("quotePrefix") == "1"}


def assert_no_formula_or_link(path: Path) -> None:
    """No formula element, no hyperlink and no relationship to one anywhere in the workbook."""
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            data = book.read(name)
            assert b"<f>" not in data and b"<f " not in data, name
            assert b"<hyperlink" not in data and b"relationships/hyperlink" not in data, name
    assert not [cell for cell in xlsx_cells(path) if cell.has_formula or cell.kind == "str"]


def assert_text_cell(path: Path, text: str) -> XlsxCell:
    """``text`` is in the workbook as a string cell with the quote-prefix style, exactly as written."""
    found = [cell for cell in xlsx_cells(path) if cell.text == text]
    assert found, f"{text!r} not in {path.name}"
    prefixed = quote_prefixed_styles(path)
    for cell in found:
        assert cell.kind in ("s", "inlineStr") and not cell.has_formula, cell
        assert cell.style in prefixed, cell
    return found[0]


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def assert_no_cell_starts_like_a_formula(path: Path) -> None:
    """Every CSV cell that begins with a formula start is a number the export wrote (e.g. -3)."""
    for line, row in enumerate(csv_rows(path), start=1):
        for cell in row:
            if cell.lstrip(" \u3000\u00a0") and cell.lstrip(" \u3000\u00a0")[0] in TRIGGERS:
                assert not math.isnan(float(cell)), f"{path.name} line {line}: {cell!r}"


# --- neutralise_cell -------------------------------------------------------------------------------

@pytest.mark.parametrize("start", TRIGGERS)
def test_text_starting_with_a_formula_character_gets_an_apostrophe(start: str):
    assert neutralise_cell(start + "1+1") == "'" + start + "1+1"


@pytest.mark.parametrize("text", [" =1+1", "  @SUM(A1)", "\u3000=1+1", "\u00a0-1+1", "\ufeff=1+1", "\u200b+1",
                                  " \t=1"])
def test_blanks_and_invisible_characters_before_a_formula_do_not_hide_it(text: str):
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("text", [HYPERLINK, DDE, "+8613800000001", "-李四", "@张三"])
def test_the_hostile_names_of_the_issue_are_neutralised(text: str):
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["张伟", "天津市南开区华苑街道日华里3-2-401", "a=b", "1+1", "'=1", "", " ", "http://x"])
def test_ordinary_text_is_unchanged(text: str):
    assert neutralise_cell(text) == text


@pytest.mark.parametrize("value", [None, -3, -1.5, 0, np.int64(-2), np.float64(-0.25), True, dt.date(2026, 11, 1)])
def test_values_that_are_not_text_are_unchanged(value: object):
    assert neutralise_cell(value) is value


def test_missing_values_stay_missing():
    assert math.isnan(neutralise_cell(float("nan")))
    assert neutralise_cell(pd.NA) is pd.NA


def test_a_table_keeps_its_numbers_and_neutralises_its_text():
    table = pd.DataFrame({"姓名": [HYPERLINK, "张伟", None], "变化": [-3, 0, 5], "比率": [-0.5, np.nan, 1.0],
                          "电话": pd.Series(["+8613800000001", pd.NA, "022-1"], dtype="string"), "=x": ["a", "b", "c"]})
    safe = neutralise_table(table)
    assert safe["姓名"].tolist() == ["'" + HYPERLINK, "张伟", None]
    assert safe["变化"].tolist() == [-3, 0, 5] and safe["变化"].dtype == table["变化"].dtype
    assert safe["比率"].tolist()[::2] == [-0.5, 1.0]
    assert safe["电话"].tolist()[0] == "'+8613800000001" and safe["电话"].tolist()[2] == "022-1"
    assert list(safe.columns)[-1] == "'=x"
    assert table.loc[0, "姓名"] == HYPERLINK   # the input is not changed


# --- the writers -----------------------------------------------------------------------------------

@pytest.fixture()
def hostile_table() -> pd.DataFrame:
    return pd.DataFrame({"姓名": [HYPERLINK, DDE, "张伟"], "地址": ["http://evil.example/x", "@SUM(1+1)", "天津市"],
                         "变化": [-3, 2, 0], "比率": [-0.125, 0.5, np.nan]})


def test_csv_cells_starting_like_a_formula_are_neutralised_and_numbers_stay_numbers(hostile_table, tmp_path: Path):
    path = write_csv(hostile_table, tmp_path / "t.csv")
    rows = csv_rows(path)
    assert rows[1] == ["'" + HYPERLINK, "http://evil.example/x", "-3", "-0.125"]
    assert rows[2][:2] == ["'" + DDE, "'@SUM(1+1)"]
    assert_no_cell_starts_like_a_formula(path)


def test_xlsx_text_is_string_cells_never_formulas_or_links(hostile_table, tmp_path: Path):
    path = write_table(hostile_table, tmp_path / "t.xlsx", "名单")
    assert_no_formula_or_link(path)
    for text in (HYPERLINK, DDE, "@SUM(1+1)"):
        assert_text_cell(path, text)
    link = [cell for cell in xlsx_cells(path) if cell.text == "http://evil.example/x"]
    assert [cell.kind for cell in link] == ["s"]


def test_xlsx_numbers_stay_numbers_with_their_format(hostile_table, tmp_path: Path):
    path = write_xlsx(tmp_path / "t.xlsx", [Sheet("s", hostile_table, number_formats={"比率": "0.00%"})])
    by_ref = {cell.ref: cell for cell in xlsx_cells(path)}
    assert (by_ref["C2"].kind, by_ref["C2"].text) == ("n", "-3")
    assert (by_ref["D2"].kind, by_ref["D2"].text) == ("n", "-0.125")
    assert "D4" not in by_ref                      # NaN is a blank cell
    back = pd.read_excel(path)
    assert back["变化"].tolist() == [-3, 2, 0] and back["姓名"].tolist()[:2] == [HYPERLINK, DDE]


def test_the_monthly_report_writes_a_hostile_street_as_text_in_xlsx_and_escaped_in_html(tmp_path: Path):
    street = '=HYPERLINK("http://evil.example/x","<script>点我</script>")'
    persons = pd.DataFrame([{"person_id": "P1", "status": "UNENROLLED", "flags": "", "district_code": "120104",
                             "street": street, "community": None},
                            {"person_id": "P2", "status": "ENROLLED", "flags": "", "district_code": "120104",
                             "street": "华苑街道", "community": None}])
    at = dt.datetime(2026, 11, 28, 9, 0)
    run = RunEntry(run_id="r1", as_of=dt.date(2026, 11, 28), started_at=at, finished_at=at, persons=2,
                   incremental=False)
    report = MonthlyReport("2026-11", run, None, monthly_statistics(persons, None, {"120104": "南开区"}))
    html, xlsx = write_report(report, tmp_path)
    assert_no_formula_or_link(xlsx)
    assert_text_cell(xlsx, street)
    page = html.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;点我&lt;/script&gt;" in page


# --- end to end: a department file with hostile names, every people-facing file ---------------------

RESIDENT_A = "R00000108984"          # an UNENROLLED resident of 西青区 (120111) in data/samples
RESIDENT_B = "R00000127165"          # made UNPLACED below: no address of theirs can be placed
B_RESIDENCE = "@SUM(1+1)*cmd|' /C calc'!A0"
B_HOUSEHOLD = "天津市 +cmd|' /C calc'!A0"


def _make_hostile(path: Path) -> None:
    """Give two police_resident rows hostile names and addresses (the name standardiser keeps them)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    for row in rows[1:]:
        if row[0] == RESIDENT_A:
            row[header.index("姓名")] = HYPERLINK
        if row[0] == RESIDENT_B:
            row[header.index("姓名")] = DDE
            row[header.index("户籍地址")], row[header.index("常住地址")] = B_HOUSEHOLD, B_RESIDENCE
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.fixture(scope="module")
def hostile_exports(tmp_path_factory) -> Path:
    """The sample with hostile rows: the files of the first run, then a second run (许杰 dies) and its changes."""
    root = tmp_path_factory.mktemp("hostile")
    first_in, later_in, out = root / "in", root / "in2", root / "out"
    shutil.copytree(SAMPLES, first_in, ignore=shutil.ignore_patterns("truth", "manifest.json"))
    _make_hostile(first_in / "police_resident_202611.csv")
    later_in.mkdir()
    (later_in / "civil_funeral_202612.csv").write_text(
        "火化证号,逝者姓名,身份证号码,性别,死亡日期,户籍地\n"
        "F1,许杰,120111197310025179,男,2026-12-01,天津市西青区\n", encoding="utf-8")
    store = str(root / "store")
    first = run_pipeline(first_in, store, dt.date(2026, 11, 28))
    for suffix in (".csv", ".xlsx"):
        for command in (["worklist", "--district", "120111", "--out", str(out / f"worklist{suffix}")],
                        ["worklist", "--unplaced", "--out", str(out / f"unplaced{suffix}")],
                        ["ledger", "--out", str(out / f"ledger{suffix}")]):
            assert main([*command, "--store", store]) == 0, command
    assert main(["report", "--store", store, "--month", "2026-11", "--out", str(out)]) == 0
    run_pipeline(later_in, store, dt.date(2026, 12, 5))
    for suffix in (".csv", ".xlsx"):
        assert main(["changes", "--store", store, "--since", first.run_id, "--out", str(out / f"changes{suffix}")]) == 0
    assert main(["export", "--store", store, "--out", str(root / "contract")]) == 0
    return out


PEOPLE_FILES = ("worklist", "unplaced", "ledger", "changes")


@pytest.mark.parametrize("name", PEOPLE_FILES)
def test_no_csv_cell_of_a_people_file_starts_like_a_formula(hostile_exports: Path, name: str):
    assert_no_cell_starts_like_a_formula(hostile_exports / f"{name}.csv")


@pytest.mark.parametrize("name", [*PEOPLE_FILES, "report_2026-11"])
def test_no_workbook_people_open_has_a_formula_or_a_link(hostile_exports: Path, name: str):
    assert_no_formula_or_link(hostile_exports / f"{name}.xlsx")


def _row_of(path: Path, person_id: str) -> list[str]:
    rows = [row for row in csv_rows(path) if person_id in row]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_work_list_shows_the_hostile_name_as_text(hostile_exports: Path):
    name = '=HYPERLINK("HTTP://EVIL·EXAMPLE/X","点我")'       # as the name standardiser displays it
    assert "'" + name in _row_of(hostile_exports / "worklist.csv", "P0027f3185588")
    cell = assert_text_cell(hostile_exports / "worklist.xlsx", name)
    row = cell.ref[1:]
    person = [c for c in xlsx_cells(hostile_exports / "worklist.xlsx") if c.ref[1:] == row and c.text == "P0027f3185588"]
    assert person


def test_the_ledger_shows_the_hostile_name_as_text(hostile_exports: Path):
    name = '=HYPERLINK("HTTP://EVIL·EXAMPLE/X","点我")'
    assert "'" + name in _row_of(hostile_exports / "ledger.csv", "P0027f3185588")
    assert_text_cell(hostile_exports / "ledger.xlsx", name)


def test_the_unplaced_list_shows_the_hostile_name_and_addresses_as_text(hostile_exports: Path):
    row = _row_of(hostile_exports / "unplaced.csv", "P0064a8cb06b2")
    assert "'" + DDE.upper() in row
    assert "'" + B_RESIDENCE + "；" + B_HOUSEHOLD in row
    assert_text_cell(hostile_exports / "unplaced.xlsx", DDE.upper())
    assert_text_cell(hostile_exports / "unplaced.xlsx", B_RESIDENCE + "；" + B_HOUSEHOLD)


def test_counts_in_the_files_stay_numbers(hostile_exports: Path):
    cells = xlsx_cells(hostile_exports / "worklist.xlsx")
    header = {cell.ref[:-1]: cell.text for cell in cells if cell.ref.endswith("1") and cell.ref[1:] == "1"}
    column = next(letter for letter, text in header.items() if text == "已调查次数")
    counts = [cell for cell in cells if cell.ref.startswith(column) and cell.ref != f"{column}1"]
    assert counts and all(cell.kind == "n" for cell in counts)
    report = xlsx_cells(hostile_exports / "report_2026-11.xlsx")
    assert sum(cell.kind == "n" for cell in report) > 100


def test_the_changes_list_reports_the_death_of_the_resident_with_the_hostile_name(hostile_exports: Path):
    assert _row_of(hostile_exports / "changes.csv", "P0027f3185588")[1] == "死亡"


# --- no other writer of files people open ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
FILE_WRITERS = re.compile(r"\.to_csv\(|\.to_excel\(|ExcelWriter\(|xlsxwriter|openpyxl|csv\.writer\(|csv\.DictWriter\(")
# Every module that writes .csv/.xlsx outside resolver/spreadsheet_safe.py, and why it may write exact values.
MACHINE_WRITERS: dict[str, str] = {
    "resolver/spreadsheet_safe.py": "the writer of every file people open",
    "resolver/export.py": "canbao export: the evaluation contract, exact values, not for Excel",
    "resolver/ingest.py": "rejected.csv (the spec's contract) and quality.csv beside it",
    "resolver/attach.py": "a one-row temporary file that ingest reads back",
    "graph/neo4j_import.py": "neo4j-admin import files",
    "resolver/synth/writers.py": "synthetic department files (test data)",
    "resolver/synth/generate.py": "the generator's ground truth (test data)",
}


def test_every_file_writer_is_the_safe_one_or_a_named_machine_format():
    """A new export that writes CSV/xlsx by itself fails here: route it through resolver.table_files.write_table."""
    writers = set()
    for folder in ("api", "canbao", "graph", "resolver", "notebooks"):
        for path in (ROOT / folder).rglob("*.py"):
            if FILE_WRITERS.search(path.read_text(encoding="utf-8")):
                writers.add(path.relative_to(ROOT).as_posix())
    assert writers - set(MACHINE_WRITERS) == set()


def test_the_export_contract_keeps_department_values_exact(hostile_exports: Path):
    persons = pd.read_csv(hostile_exports.parent / "contract" / "persons.csv", dtype=str).set_index("person_id")
    assert persons.loc["P0064a8cb06b2", "name"] == DDE.upper()
    assert persons.loc["P0027f3185588", "name"] == '=HYPERLINK("HTTP://EVIL·EXAMPLE/X","点我")'


def test_export_help_says_it_is_a_machine_contract_not_for_excel(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "not for opening in Excel" in " ".join(capsys.readouterr().out.split())   # argparse wraps lines
