"""`canbao run` end to end on a small hand-built city: ingest → resolve → status → graph."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from canbao.cli import main
from resolver.pipeline import run_pipeline
from resolver.standardise.id_number import check_digit

AS_OF = dt.date(2026, 11, 28)
RESIDENT_HEADER = "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质"


def synthetic_id(area: str, birth: str, order: str) -> str:
    body = area + birth + order
    return body + check_digit(body)


ZHANG = synthetic_id("120104", "19850302", "123")
LI = synthetic_id("120103", "19900715", "124")
WANG = synthetic_id("120116", "19701111", "135")


def write(folder: Path, name: str, lines: list[str], encoding: str = "utf-8") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(("\n".join(lines) + "\n").encode(encoding))


@pytest.fixture()
def first_extracts(tmp_path: Path) -> Path:
    folder = tmp_path / "in1"
    write(folder, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        f"R1,张伟,男,汉族,{ZHANG},1985-03-02,天津市南开区华苑街道日华里3-2-401,天津市南开区华苑街道日华里3-2-401,13800000001,非农业",
        f"R2,李娜,女,汉族,{LI},1990-07-15,天津市河西区友谊路10号,天津市河西区友谊路10号,13800000002,非农业",
        f"R3,王强,男,汉族,{WANG},1970-11-11,天津市塘沽区解放路5号,天津市塘沽区解放路5号,13800000003,农业",
    ], "gbk")
    write(folder, "si_enrolment_202610.csv", [
        "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份",
        f"S1,張偉,{ZHANG.lower()},职工基本医疗保险,正常参保,某科技公司,2010-01-01,202610",
    ])
    write(folder, "tax_iit_202610.csv", [
        "申报流水号,纳税人姓名,证件类型,证件号码,扣缴义务人名称,扣缴义务人统一社会信用代码,所属期,收入额",
        f"T1,李娜,居民身份证,{LI[:6]} {LI[6:14]} {LI[14:]},某贸易公司,91120000000000002X,2026-10,9000",
        "T2,,,,某贸易公司,91120000000000002X,2026-10,9000",
    ])
    return folder


def test_first_run_links_the_same_person_across_departments(first_extracts: Path, tmp_path: Path):
    outcome = run_pipeline(first_extracts, str(tmp_path / "store"), AS_OF)
    persons = outcome.persons.set_index("id_number")
    assert len(outcome.persons) == 3
    assert persons.loc[ZHANG, "status"] == "ENROLLED"
    assert persons.loc[LI, "status"] == "UNENROLLED" and persons.loc[LI, "flags"] == "TAXPAYER"
    assert persons.loc[WANG, "district_code"] == "120116"


def test_every_row_is_linked_or_rejected(first_extracts: Path, tmp_path: Path):
    outcome = run_pipeline(first_extracts, str(tmp_path / "store"), AS_OF)
    assert outcome.ingest.rows_in == 6
    assert len(outcome.records) + len(outcome.rejected) == 6
    assert outcome.records["person_id"].notna().all()


def test_second_run_resolves_only_new_extracts_and_keeps_person_ids(first_extracts: Path, tmp_path: Path):
    store = str(tmp_path / "store")
    first = run_pipeline(first_extracts, store, AS_OF)
    later = tmp_path / "in2"
    write(later, "civil_funeral_202611.csv", [
        "火化证号,逝者姓名,身份证号码,性别,死亡日期,户籍地",
        f"F1,王强,{WANG},男,2026-11-01,天津市滨海新区",
    ])
    second = run_pipeline(later, store, AS_OF)
    assert second.incremental
    wang_before = first.persons.set_index("id_number").loc[WANG, "person_id"]
    persons = second.persons.set_index("id_number")
    assert persons.loc[WANG, "person_id"] == wang_before
    assert persons.loc[WANG, "status"] == "DECEASED"
    assert len(second.records) == len(first.records) + 1


def test_the_same_folder_run_twice_lists_each_rejection_once(first_extracts: Path, tmp_path: Path):
    (first_extracts / "civil_assistance_202610.csv").write_bytes(b"")
    store = str(tmp_path / "store")
    first = run_pipeline(first_extracts, store, AS_OF)
    second = run_pipeline(first_extracts, store, AS_OF)
    assert second.incremental and len(first.rejected) == 1
    assert len(second.rejected) == 1 and not second.rejected.duplicated(["source", "file", "line"]).any()
    out = tmp_path / "export"
    assert main(["export", "--store", store, "--out", str(out)]) == 0
    assert len((out / "rejected.csv").read_text("utf-8").splitlines()) == 1 + 1
    assert (out / "rejected_files.csv").read_text("utf-8").splitlines() == [
        "source,file,rows,reason", "civil_assistance,civil_assistance_202610.csv,0,"
        "civil_assistance_202610.csv: 第1行没有表头 (no header on line 1)"]
    # Rows in = records + rejected rows, for the store as for the run.
    assert len(second.records) + len(second.rejected) == second.ingest.rows_in == 6


def test_a_corrected_file_takes_its_rows_out_of_the_rejection_report(first_extracts: Path, tmp_path: Path):
    store = str(tmp_path / "store")
    first = run_pipeline(first_extracts, store, AS_OF)
    assert first.rejected[["file", "line"]].values.tolist() == [["tax_iit_202610.csv", 3]]
    corrected = (first_extracts / "tax_iit_202610.csv").read_text("utf-8").replace(
        "T2,,,,", f"T2,王强,居民身份证,{WANG},")
    (first_extracts / "tax_iit_202610.csv").write_text(corrected, "utf-8")
    second = run_pipeline(first_extracts, store, AS_OF)
    assert second.rejected.empty
    # Rows in = records + rejected rows, for the store as for the run.
    assert len(second.records) == second.ingest.rows_in == 6


def test_cli_run_prints_the_summary_per_district(first_extracts: Path, tmp_path: Path, capsys):
    code = main(["run", "--input", str(first_extracts), "--store", str(tmp_path / "store"),
                 "--as-of", AS_OF.isoformat()])
    printed = capsys.readouterr().out
    assert code == 0
    assert "120104 南开区" in printed and "ENROLLED" in printed
