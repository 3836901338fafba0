"""Ingestion reads every department file as delivered and loses no row."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from resolver.errors import ConfigError, InputError
from resolver.ingest import ingest_folder
from resolver.mapping import load_mappings, parse_mapping
from resolver.standardise.id_number import check_digit

RESIDENT_HEADER = "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质"


def synthetic_id(area: str = "120104", birth: str = "19850302", order: str = "123") -> str:
    body = area + birth + order
    return body + check_digit(body)


def write_csv(folder: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def resident_line(record_id: str, name: str, id_number: str, address: str = "天津市南开区华苑街道日华里3-2-401") -> str:
    return f"{record_id},{name},男,汉族,{id_number},1985-03-02,{address},{address},13800000000,非农业"


def reconciles(result) -> bool:
    return result.rows_in == len(result.records) + len(result.rejected)


def test_gbk_file_is_detected_and_decoded(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, resident_line("R1", "张伟", synthetic_id())], "gbk")
    result = ingest_folder(tmp_path)
    assert result.files[0].encoding == "gb18030"
    assert result.records.loc[0, "name"] == "张伟"
    assert result.records.loc[0, "household_district_code"] == "120104"


def test_utf8_with_bom_keeps_the_first_header(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, resident_line("R1", "张伟", synthetic_id())],
              "utf-8-sig")
    result = ingest_folder(tmp_path)
    assert result.files[0].encoding == "utf-8-sig"
    assert result.records.loc[0, "record_id"] == "R1"


def test_undecodable_file_is_rejected_line_by_line_with_the_reason(tmp_path: Path):
    path = tmp_path / "police_resident_202610.csv"
    path.write_bytes(RESIDENT_HEADER.encode() + b"\nR1,\xff\xfe\xfd\xff,\n")
    result = ingest_folder(tmp_path)
    assert len(result.records) == 0
    assert result.rejected.loc[0, "line"] == 2
    assert "无法识别文件编码" in result.rejected.loc[0, "reason"]
    assert reconciles(result)


def test_missing_required_column_rejects_the_file_naming_column_and_mapping(tmp_path: Path):
    header = RESIDENT_HEADER.replace("公民身份号码", "身份证")
    write_csv(tmp_path, "police_resident_202610.csv", [header, resident_line("R1", "张伟", synthetic_id())])
    result = ingest_folder(tmp_path)
    reason = result.rejected.loc[0, "reason"]
    assert "police_resident_202610.csv" in reason and "公民身份号码" in reason
    assert "resolver/sources/police_resident.yaml" in reason
    assert reconciles(result)


def test_bad_rows_are_rejected_alone_with_a_reason(tmp_path: Path):
    write_csv(tmp_path, "si_enrolment_202610.csv", [
        "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份",
        f"S1,李娜,{synthetic_id(order='124')},职工基本医疗保险,正常参保,某公司,2010-01-01,202610",
        f"S2,王芳,{synthetic_id(order='126')},职工基本医疗保险,冻结,某公司,2010-01-01,202610",
        ",,,职工基本医疗保险,正常参保,某公司,2010-01-01,202610",
    ])
    result = ingest_folder(tmp_path)
    assert list(result.records["record_id"]) == ["S1"]
    reasons = dict(zip(result.rejected["line"], result.rejected["reason"]))
    assert "参保状态" in reasons[3] and "冻结" in reasons[3]
    assert "既无姓名也无证件号码" in reasons[4]
    assert reconciles(result)


def test_unparseable_release_date_rejects_the_prison_row(tmp_path: Path):
    write_csv(tmp_path, "prison_inmate_202610.csv", [
        "罪犯编号,罪犯姓名,身份证号,性别,出生日期,户籍地,所在监狱,入监日期,刑满日期",
        f"J1,赵强,{synthetic_id()},男,1985-03-02,天津市河西区,某监狱,2020-01-01,2021-13-45",
    ])
    result = ingest_folder(tmp_path)
    assert len(result.records) == 0
    assert result.rejected.loc[0, "reason"].startswith("刑满日期")


def test_unparseable_birth_date_is_a_quality_issue_not_a_rejection(tmp_path: Path):
    line = resident_line("R1", "张伟", synthetic_id()).replace("1985-03-02", "1985-02-30")
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, line])
    result = ingest_folder(tmp_path)
    assert len(result.records) == 1 and pd.isna(result.records.loc[0, "birth_date"])
    assert (result.quality["field"] == "birth_date").any()


def test_row_with_too_many_fields_is_rejected_with_its_line(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        resident_line("R1", "张伟", synthetic_id()),
        resident_line("R2", "李娜", synthetic_id(order="124")) + ",多余",
        resident_line("R3", "王芳", synthetic_id(order="126")),
    ])
    result = ingest_folder(tmp_path)
    assert list(result.records["record_id"]) == ["R1", "R3"]
    assert list(result.records["line"]) == [2, 4]
    assert result.rejected.loc[0, "line"] == 3 and "列数不符" in result.rejected.loc[0, "reason"]


def test_empty_or_repeated_record_ids_fall_back_to_file_and_line(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        resident_line("", "张伟", synthetic_id()),
        resident_line("R2", "李娜", synthetic_id(order="124")),
        resident_line("R2", "王芳", synthetic_id(order="126")),
        resident_line("R4", "刘洋", synthetic_id(order="128")),
    ])
    result = ingest_folder(tmp_path)
    assert list(result.records["record_id"]) == [
        "police_resident_202610.csv:2", "police_resident_202610.csv:3", "police_resident_202610.csv:4", "R4"
    ]
    assert result.records["record_key"].is_unique


def test_extra_columns_are_kept_as_raw_attributes(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER + ",备注", resident_line("R1", "张伟", synthetic_id()) + ",新迁入"
    ])
    result = ingest_folder(tmp_path)
    assert json.loads(result.records.loc[0, "raw"]) == {"备注": "新迁入"}


def test_a_later_period_supersedes_the_same_record(tmp_path: Path):
    header = "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份"
    row = f"S1,李娜,{synthetic_id()},职工基本医疗保险,{{status}},某公司,2010-01-01,{{period}}"
    write_csv(tmp_path, "si_enrolment_202609.csv", [header, row.format(status="正常参保", period="202609")])
    write_csv(tmp_path, "si_enrolment_202610.csv", [header, row.format(status="终止参保", period="202610")])
    result = ingest_folder(tmp_path)
    assert list(result.records["enrolment_status"]) == ["终止参保"]
    assert result.rejected.loc[0, "file"] == "si_enrolment_202609.csv"
    assert "si_enrolment_202610.csv" in result.rejected.loc[0, "reason"]
    assert reconciles(result)


def test_xlsx_with_excel_serial_dates_and_numeric_ids(tmp_path: Path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["许可证号", "姓名", "国籍", "护照号码", "性别", "出生日期", "工作单位", "有效期至"])
    sheet.append(["W1", "smith john", "英国", "e1234567", "M", 31108, "某外资公司", "2027-06-30"])
    sheet.append(["W2", "JOHN SMITH", "英国", "E1234567", "男", 31108.0, "某外资公司", 46568])
    workbook.save(tmp_path / "hr_foreign_202610.xlsx")
    result = ingest_folder(tmp_path)
    records = result.records
    assert list(records["line"]) == [2, 3]
    assert (records["birth_date"] == pd.Timestamp("1985-03-02")).all()
    assert records.loc[1, "permit_valid_until"] == pd.Timestamp("2027-06-30")
    assert set(records["id_status"]) == {"other_certificate"}
    assert records.loc[0, "id_number"] == records.loc[1, "id_number"] == "E1234567"
    assert records.loc[0, "name_key"] == records.loc[1, "name_key"]


def test_tax_returns_with_a_passport_are_not_read_as_resident_ids(tmp_path: Path):
    write_csv(tmp_path, "tax_iit_202610.csv", [
        "申报流水号,纳税人姓名,证件类型,证件号码,扣缴义务人名称,扣缴义务人统一社会信用代码,所属期,收入额",
        "T1,JOHN SMITH,护照,E1234567,某外资公司,91120000000000000X,2026年10月,\"12,000.50\"",
        f"T2,张伟,居民身份证,{synthetic_id()},某公司,91120000000000001X,2026-10,8000",
    ])
    records = ingest_folder(tmp_path).records.set_index("record_id")
    assert records.loc["T1", "cert_type"] == "passport" and records.loc["T1", "id_status"] == "other_certificate"
    assert records.loc["T2", "id_status"] == "valid"
    assert records.loc["T1", "tax_period"] == "202610" and records.loc["T1", "income"] == 12000.5


def test_file_of_an_unknown_department_is_rejected_whole(tmp_path: Path):
    write_csv(tmp_path, "water_bill_202610.csv", ["户号,户主", "1,张伟", "2,李娜"])
    result = ingest_folder(tmp_path)
    assert len(result.rejected) == 2 and "water_bill" in result.rejected.loc[0, "reason"]


def test_gender_disagreeing_with_the_id_number_is_recorded_not_fixed(tmp_path: Path):
    female_id = synthetic_id(order="122")
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, resident_line("R1", "张伟", female_id)])
    result = ingest_folder(tmp_path)
    assert result.records.loc[0, "gender"] == "M" and result.records.loc[0, "id_gender"] == "F"
    assert (result.quality["record_key"] == "police_resident:R1").any()


def test_empty_folder_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="没有找到"):
        ingest_folder(tmp_path)


def test_mapping_with_unknown_field_names_file_and_key():
    with pytest.raises(ConfigError, match=r"my_source\.yaml.*columns\.姓名.*unknown field 'fullname'"):
        parse_mapping(
            {"source": "my_source", "department": "测试", "record_id": "编号", "columns": {"姓名": "fullname"}},
            "sources/my_source.yaml",
        )


def test_a_new_department_is_onboarded_by_a_mapping_file(tmp_path: Path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "disability_fed.yaml").write_text(
        "source: disability_fed\ndepartment: 残联\nrecord_id: 残疾证号\ncolumns:\n  姓名: name\n  身份证号: id_number\n",
        "utf-8",
    )
    data = tmp_path / "in"
    data.mkdir()
    write_csv(data, "disability_fed_202610.csv", ["残疾证号,姓名,身份证号", f"D1,张伟,{synthetic_id()}"])
    result = ingest_folder(data, load_mappings(sources))
    assert result.records.loc[0, "record_key"] == "disability_fed:D1"


@pytest.mark.parametrize("ending", ["", "\n"])
def test_a_file_with_only_its_header_gives_no_rows_and_no_error(tmp_path: Path, ending: str):
    (tmp_path / "police_resident_202610.csv").write_text(RESIDENT_HEADER + ending, "utf-8")
    write_csv(tmp_path, "si_enrolment_202610.csv", [
        "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份",
        f"S1,李娜,{synthetic_id(order='124')},职工基本医疗保险,正常参保,某公司,2010-01-01,202610",
    ])
    result = ingest_folder(tmp_path)
    assert list(result.records["record_id"]) == ["S1"]
    assert result.files[0].rows_in + result.files[1].rows_in == 1
    assert reconciles(result)


# ---------------------------------------------------------------- accounting: rows in = records + rejected rows

def test_empty_file_and_garbage_xlsx_are_files_rejected_whole_not_rows(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, resident_line("R1", "张伟", synthetic_id())])
    (tmp_path / "civil_assistance_202610.csv").write_bytes(b"")
    (tmp_path / "hr_foreign_202610.xlsx").write_bytes(b"not a workbook at all")
    result = ingest_folder(tmp_path)
    assert result.rows_in == 1 and len(result.records) == 1 and len(result.rejected) == 0
    files = result.rejected_files.set_index("file")
    assert sorted(files.index) == ["civil_assistance_202610.csv", "hr_foreign_202610.xlsx"]
    assert (files["rows"] == 0).all()
    assert "表头" in files.loc["civil_assistance_202610.csv", "reason"]
    assert "Excel" in files.loc["hr_foreign_202610.xlsx", "reason"]
    assert result.summary() == ("1 行 rows → 1 条记录 records + 0 行拒收 rejected rows; "
                                "2 个文件整体拒收 files rejected whole")


def test_header_only_file_is_neither_a_row_nor_a_rejected_file(tmp_path: Path):
    (tmp_path / "police_resident_202610.csv").write_text(RESIDENT_HEADER + "\n", "utf-8")
    result = ingest_folder(tmp_path)
    assert result.rows_in == 0 and len(result.rejected) == 0 and result.rejected_files.empty


def test_a_bare_carriage_return_in_a_quoted_cell_is_one_row(tmp_path: Path):
    rows = [resident_line(f"R{i}", "张伟", synthetic_id(order=f"{100 + 2 * i}")) for i in range(1, 4)]
    rows[1] = rows[1].replace(",张伟,", ',"张\r伟",')
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, *rows])
    result = ingest_folder(tmp_path)
    assert result.rows_in == 3 and len(result.records) == 3 and reconciles(result)
    # The same file under a name nobody maps: rejected whole, still one rejection per row (not per \r).
    (tmp_path / "police_resident_202610.csv").rename(tmp_path / "water_bill_202610.csv")
    result = ingest_folder(tmp_path)
    assert result.rows_in == 3 and len(result.rejected) == 3 and reconciles(result)
    assert result.rejected_files.loc[0, "rows"] == 3


def test_a_quoted_line_break_keeps_the_line_numbers_of_later_rows(tmp_path: Path):
    rows = [resident_line(f"R{i}", "张伟", synthetic_id(order=f"{100 + 2 * i}")) for i in range(1, 4)]
    rows[0] = rows[0].replace("天津市南开区华苑街道日华里3-2-401,", '"天津市南开区华苑街道\n日华里3-2-401",', 1)
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, *rows])
    result = ingest_folder(tmp_path)
    assert list(result.records["line"]) == [2, 4, 5]


def test_a_bare_carriage_return_outside_quotes_ends_a_line_and_never_raises(tmp_path: Path):
    rows = [resident_line(f"R{i}", "张伟", synthetic_id(order=f"{100 + 2 * i}")) for i in range(1, 3)]
    path = tmp_path / "police_resident_202610.csv"
    path.write_bytes((RESIDENT_HEADER + "\n" + rows[0] + "\n" + rows[1].replace(",张伟,", ",张\r伟,") + "\n").encode())
    result = ingest_folder(tmp_path)
    assert list(result.records["line"]) == [2]
    assert list(result.rejected["line"]) == [3, 4] and reconciles(result)


# ---------------------------------------------------------------- field length limits

def test_a_5000_character_name_address_or_employer_is_dropped_and_noted(tmp_path: Path):
    huge = "张" * 5000
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        resident_line("R1", huge, synthetic_id()),
        resident_line("R2", "李娜", synthetic_id(order="124"), address="天津市" + "南" * 5000),
    ])
    write_csv(tmp_path, "housing_fund_202610.csv", [
        "个人账号,职工姓名,证件号码,单位名称,缴存状态,开户日期,最近缴存月份",
        f"H1,王芳,{synthetic_id(order='126')},{'某' * 5000}公司,正常,2015-01-01,202610",
    ])
    result = ingest_folder(tmp_path)
    records = result.records.set_index("record_id")
    assert sorted(records.index) == ["H1", "R1", "R2"] and reconciles(result)
    assert pd.isna(records.loc["R1", "name"]) and records.loc["R1", "id_status"] == "valid"
    assert pd.isna(records.loc["R2", "household_district_code"]) and pd.isna(records.loc["R2", "residence_district_code"])
    assert pd.isna(records.loc["H1", "employer_name"])
    issues = result.quality.set_index(["record_key", "field"])["issue"]
    assert issues.loc[("police_resident:R1", "name")] == "超过最大长度 60 个字符 (longer than 60 characters: 5000)"
    assert "longer than 200 characters: 5003" in issues.loc[("police_resident:R2", "household_address")]
    assert "longer than 200 characters: 5003" in issues.loc[("police_resident:R2", "residence_address")]
    assert "longer than 100 characters: 5002" in issues.loc[("housing_fund:H1", "employer_name")]
    assert result.quality["issue"].str.len().max() < 200


def test_a_5000_character_value_in_a_critical_field_rejects_the_row_naming_field_and_limit(tmp_path: Path):
    write_csv(tmp_path, "housing_fund_202610.csv", [
        "个人账号,职工姓名,证件号码,单位名称,缴存状态,开户日期,最近缴存月份",
        f"H1,王芳,{synthetic_id(order='126')},某公司,{'正' * 5000},2015-01-01,202610",
        f"H2,张伟,{synthetic_id()},某公司,正常,2015-01-01,202610",
    ])
    result = ingest_folder(tmp_path)
    assert list(result.records["record_id"]) == ["H2"] and reconciles(result)
    assert result.rejected["reason"].tolist() == [
        "缴存状态 (fund_status): 超过最大长度 20 个字符 (longer than 20 characters: 5000)"]


def test_a_name_with_neither_a_usable_name_nor_an_id_is_rejected(tmp_path: Path):
    write_csv(tmp_path, "police_resident_202610.csv", [RESIDENT_HEADER, resident_line("R1", "张" * 5000, "")])
    result = ingest_folder(tmp_path)
    assert len(result.records) == 0 and "既无姓名也无证件号码" in result.rejected.loc[0, "reason"]


def test_field_limits_cover_every_field_and_are_validated(tmp_path: Path):
    from resolver.fields import INPUT_FIELDS, field_limits, load_field_limits

    assert set(field_limits()) == set(INPUT_FIELDS)
    bad = tmp_path / "limits.yaml"
    bad.write_text("max_length:\n  name: 0\n  nickname: 10\n", "utf-8")
    with pytest.raises(ConfigError, match=r"limits\.yaml.*max_length"):
        load_field_limits(bad)


# ---------------------------------------------------------------- invisible and pictographic characters in names

def test_zero_width_bidi_bom_and_emoji_in_a_name_are_dropped_at_ingestion(tmp_path: Path):
    dressed = ["张\u200b伟", "\u202e张伟\u202c", "\ufeff张伟", "张伟\U0001f600", "张\u2066伟\u2069\U0001f44d\U0001f3fd"]
    write_csv(tmp_path, "police_resident_202610.csv", [
        RESIDENT_HEADER,
        *(resident_line(f"R{i}", name, synthetic_id(order=f"{100 + 2 * i}")) for i, name in enumerate(dressed)),
        resident_line("R9", "\U0001f600\u200b", ""),
    ])
    result = ingest_folder(tmp_path)
    assert set(result.records["name"]) == {"张伟"} and set(result.records["name_key"]) == {"张伟"}
    assert set(result.records["name_pinyin"]) == {"zhang wei"}
    # A "name" of emoji and zero-width characters names nobody: without an ID the row cannot be linked.
    assert result.rejected["line"].tolist() == [7] and "既无姓名也无证件号码" in result.rejected.loc[0, "reason"]
