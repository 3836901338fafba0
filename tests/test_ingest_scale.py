"""City-scale ingestion: standardiser results cached across sources, work shared with a second process,
and one source processed at a time without changing the result."""
from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pandas as pd
import pytest

import resolver.standardise.unique as unique
from resolver.ingest import ingest_folder
from resolver.mapping import load_mappings, parse_mapping
from resolver.standardise.address import address_row
from resolver.standardise.id_number import check_digit
from resolver.standardise.names import standardise_names
from resolver.standardise.unique import ParallelMap, map_unique

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples"
RESIDENT_HEADER = "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质"
STUDENT_HEADER = "学籍号,学生姓名,身份证件号,性别,出生日期,学校名称,学段,家庭住址,监护人姓名,监护人电话"


def synthetic_id(order: str = "123", birth: str = "19850302") -> str:
    body = "120104" + birth + order
    return body + check_digit(body)


def write_csv(folder: Path, name: str, lines: list[str]) -> None:
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_same_ingestion(left, right) -> None:
    for part in ("records", "rejected", "quality"):
        pd.testing.assert_frame_equal(getattr(left, part), getattr(right, part), check_exact=True)
    assert [vars(f) for f in left.files] == [vars(f) for f in right.files]


def test_a_value_seen_in_an_earlier_source_is_not_standardised_again():
    calls: list[str] = []

    def shout(value: str | None) -> str | None:
        calls.append(value)
        return None if value is None else value.upper()

    cache: dict = {}
    police = map_unique(pd.Series(["wang li", "zhang wei", "wang li"]), shout, cache)
    schools = map_unique(pd.Series(["zhang wei", "liu yang", None]), shout, cache)
    assert list(police) == ["WANG LI", "ZHANG WEI", "WANG LI"]
    assert list(schools) == ["ZHANG WEI", "LIU YANG", None]
    assert [c for c in calls if c is not None] == ["wang li", "zhang wei", "liu yang"]


def test_cached_names_give_the_same_columns_as_fresh_ones():
    cache: dict = {}
    standardise_names(pd.Series(["張偉", "买买提·艾力"]), cache)
    later = pd.Series(["张伟", None, "張偉", "买买提•艾力"], index=[7, 8, 9, 10])
    pd.testing.assert_frame_equal(standardise_names(later, cache), standardise_names(later))


def test_addresses_parsed_by_the_worker_process_equal_those_parsed_here():
    addresses = ["天津市南开区华苑街道日华里3-2-401", "天津市塘沽区解放路5号", "河北区中山路5号", "北京市海淀区中关村大街1号",
                 "天津市蓟县渔阳镇府君山", "和平区南京路100号3门201"] * 3
    with ParallelMap(min_values=1, chunk=2) as parallel:
        shared = parallel.map(address_row, addresses)
    assert shared == [address_row(a) for a in addresses]


def _dies_in_a_worker(value: int) -> int:
    if multiprocessing.current_process().name != "MainProcess":
        os._exit(1)  # a worker killed for memory, say
    return value * 2


def test_a_worker_that_dies_leaves_the_work_to_this_process():
    with ParallelMap(min_values=1, chunk=1) as parallel:
        assert parallel.map(_dies_in_a_worker, list(range(6))) == [0, 2, 4, 6, 8, 10]


def test_ingestion_with_a_worker_process_equals_ingestion_without(monkeypatch):
    alone = ingest_folder(SAMPLE, workers=0)
    # Small enough thresholds that the 2,000-person sample really goes through the worker.
    monkeypatch.setattr(unique, "PARALLEL_MIN_VALUES", 1)
    monkeypatch.setattr(unique, "PARALLEL_CHUNK", 50)
    assert_same_ingestion(ingest_folder(SAMPLE, workers=1), alone)


def test_records_keep_file_name_order_when_two_sources_files_interleave(tmp_path: Path):
    # a_202601.csv < a_2026_202601.csv < a_202701.csv: source a's files sit on both sides of source a_2026's.
    mappings = load_mappings()
    for source in ("a", "a_2026"):
        mappings[source] = parse_mapping(
            {"source": source, "department": "测试", "record_id": "编号", "columns": {"姓名": "name", "身份证号": "id_number"}},
            f"{source}.yaml",
        )
    write_csv(tmp_path, "a_202601.csv", ["编号,姓名,身份证号", f"1,张伟,{synthetic_id('123')}"])
    write_csv(tmp_path, "a_2026_202601.csv", ["编号,姓名,身份证号", f"1,李娜,{synthetic_id('124')}"])
    write_csv(tmp_path, "a_202701.csv", ["编号,姓名,身份证号", f"2,王芳,{synthetic_id('126')}"])
    records = ingest_folder(tmp_path, mappings).records
    assert list(records["file"]) == ["a_202601.csv", "a_2026_202601.csv", "a_202701.csv"]
    assert list(records["name"]) == ["张伟", "李娜", "王芳"]


def test_quality_issues_are_listed_check_by_check_then_in_file_order(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        f"R1,张伟,男,汉族,{synthetic_id('123')},1985-02-30,天津市和平区,天津市和平区,电话坏了,非农业",
        f"R2,李强,男,汉族,{synthetic_id('125')},1985-03-02,天津市和平区,天津市和平区,13800000000,非农业",
    ])
    write_csv(tmp_path, "edu_student_202610.csv", [
        STUDENT_HEADER,
        f"E1,刘洋,{synthetic_id('127', '20150101')},男,2015-13-01,某小学,小学,天津市河西区,刘强,没有号码",
    ])
    quality = ingest_folder(tmp_path).quality
    assert list(zip(quality["record_key"], quality["field"])) == [
        ("edu_student:E1", "birth_date"),
        ("police_resident:R1", "birth_date"),
        ("police_resident:R1", "phone"),
        ("edu_student:E1", "guardian_phone"),
    ]


def test_a_source_with_no_rows_does_not_change_the_type_of_another_sources_column(tmp_path: Path):
    write_csv(tmp_path, "prison_inmate_202610.csv", ["罪犯编号,罪犯姓名,身份证号,性别,出生日期,户籍地,所在监狱,入监日期,刑满日期"])
    write_csv(tmp_path, "tax_iit_202610.csv", [
        "申报流水号,纳税人姓名,证件类型,证件号码,扣缴义务人名称,扣缴义务人统一社会信用代码,所属期,收入额",
        f"T1,张伟,居民身份证,{synthetic_id()},某公司,91120000000000001X,2026-10,8000",
    ])
    records = ingest_folder(tmp_path).records
    assert records["income"].dtype == "int64" and records.loc[0, "income"] == 8000


def test_a_parallel_map_without_workers_is_refused():
    with pytest.raises(ValueError, match="at least one worker"):
        ParallelMap(workers=0)
