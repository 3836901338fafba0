"""The survey team's work list (arts. 15, 29) and the UNPLACED list, on a small hand-built street."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from resolver.errors import InputError
from resolver.pipeline import run_pipeline
from resolver.standardise.id_number import check_digit
from resolver.status import status_labels
from resolver.table_files import write_table
from resolver.worklist import (
    UNPLACED_HEADERS, WORKLIST_HEADERS, Area, build_unplaced, build_worklist, with_headers,
)

NANKAI = "120104"
NAMES = {NANKAI: "南开区"}
ZHANG_BODY = "120104" + "19850302" + "123"
ZHANG = ZHANG_BODY + check_digit(ZHANG_BODY)
LI_BODY = "120103" + "19900715" + "124"
LI = LI_BODY + check_digit(LI_BODY)


def person(person_id: str, name: str, id_number: str | None, status: str = "UNENROLLED", flags: str = "",
           street: str | None = "华苑街道", community: str | None = "日华里社区", district: str | None = NANKAI,
           address_record: str | None = None, dispatch_reason: str | None = None) -> dict:
    return {"person_id": person_id, "name": name, "gender": "M", "id_number": id_number, "status": status,
            "flags": flags, "district_code": district, "street": street, "community": community,
            "address_record": address_record, "dispatch_reason": dispatch_reason}


def record(person_id: str, key: str, phones: str | None = None, period: str = "202610", **fields) -> dict:
    row = {"person_id": person_id, "record_key": key, "source": key.split(":")[0], "period": period,
           "phones": phones, "survey_date": None, "unenrolled_reason": None, "insurance_type": None,
           "surveyor_id": None}
    for role in ("household", "residence"):
        for part in ("address_raw", "district_code", "street", "community"):
            row[f"{role}_{part}"] = None
    row.update(fields)
    return row


def residence(raw: str, street: str = "华苑街道", community: str = "日华里社区") -> dict:
    return {"residence_address_raw": raw, "residence_district_code": NANKAI, "residence_street": street,
            "residence_community": community}


def household(raw: str, street: str = "华苑街道", community: str = "日华里社区") -> dict:
    return {"household_address_raw": raw, "household_district_code": NANKAI, "household_street": street,
            "household_community": community}


def frames(persons: list[dict], records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    records_frame = pd.DataFrame(records)
    records_frame["survey_date"] = pd.to_datetime(records_frame["survey_date"])
    return pd.DataFrame(persons), records_frame


@pytest.fixture()
def street() -> tuple[pd.DataFrame, pd.DataFrame]:
    """张伟 (target, taxpayer, surveyed twice), 李娜 (enrolled), 赵敏 (target, another street)."""
    return frames(
        [person("P1", "张伟", ZHANG, flags="TAXPAYER|SURVEYED", address_record="police_resident:R1"),
         person("P2", "李娜", LI, status="ENROLLED", address_record="police_resident:R2"),
         person("P3", "赵敏", None, street="王顶堤街道", community="龙井里社区", address_record="edu_student:E3")],
        [record("P1", "police_resident:R1", phones="13800000001",
                **household("天津市南开区鞍山西道1号", community="日华里社区"),
                **residence("天津市南开区华苑街道日华里3-2-401")),
         record("P1", "survey:D1", phones="13900000009", survey_date="2026-08-01", unenrolled_reason="不了解政策"),
         record("P1", "survey:D2", survey_date="2026-10-05", unenrolled_reason="经济困难"),
         record("P2", "police_resident:R2", **residence("天津市南开区华苑街道日华里5-1-101")),
         record("P3", "edu_student:E3", **residence("南开区王顶堤龙井里8-3-202", street="王顶堤街道",
                                                     community="龙井里社区"))],
    )


def test_only_survey_targets_of_the_area_are_listed(street):
    rows = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES)
    assert rows["name"].tolist() == ["张伟"]


def test_a_district_list_covers_all_its_streets_in_street_order(street):
    rows = build_worklist(*street, Area(NANKAI), status_labels(), NAMES)
    assert rows["street"].tolist() == ["华苑街道", "王顶堤街道"]
    assert rows["district_name"].unique().tolist() == ["南开区"]


def test_the_id_number_is_masked(street):
    rows = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES)
    assert rows.loc[0, "id_number"] == ZHANG[:6] + "********" + ZHANG[-4:]


def test_the_address_is_the_one_the_person_was_dispatched_by(street):
    rows = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES)
    assert rows.loc[0, "address"] == "天津市南开区华苑街道日华里3-2-401"


def test_phones_are_masked_police_first(street):
    rows = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES)
    assert rows.loc[0, "phone"] == "138****0001|139****0009"


def test_flags_are_shown_in_chinese(street):
    rows = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES)
    assert rows.loc[0, "flags"] == "纳税人、已入户调查"


def test_the_previous_survey_outcome_is_the_latest_survey(street):
    row = build_worklist(*street, Area(NANKAI, street="华苑街道"), status_labels(), NAMES).iloc[0]
    assert (row.surveys_done, row.last_survey_date, row.last_survey_outcome) == (2, "2026-10-05", "经济困难")


def test_a_target_never_surveyed_has_no_previous_outcome(street):
    row = build_worklist(*street, Area(NANKAI, street="王顶堤街道"), status_labels(), NAMES).iloc[0]
    assert row.surveys_done == 0 and pd.isna(row.last_survey_outcome)


def test_a_community_narrows_the_list(street):
    assert build_worklist(*street, Area(NANKAI, "华苑街道", "长实道社区"), status_labels(), NAMES).empty


def test_a_target_without_a_district_goes_to_the_unplaced_list_with_the_reason():
    persons, records = frames(
        [person("P9", "孙磊", None, district=None, street=None, community=None,
                dispatch_reason="地址不在天津 (address outside Tianjin): 河北省廊坊市某路1号")],
        [record("P9", "survey:D9", household_address_raw="河北省廊坊市某路1号", survey_date="2026-09-01")],
    )
    rows = build_unplaced(persons, records, status_labels())
    assert rows["person_id"].tolist() == ["P9"]
    assert rows.loc[0, "reason"].startswith("地址不在天津")
    assert rows.loc[0, "addresses"] == "河北省廊坊市某路1号"
    assert build_worklist(persons, records, Area(NANKAI), status_labels(), NAMES).empty


def test_placed_or_enrolled_persons_are_not_unplaced(street):
    assert build_unplaced(*street, status_labels()).empty


def test_csv_has_a_bom_and_chinese_headers(street, tmp_path: Path):
    rows = build_worklist(*street, Area(NANKAI), status_labels(), NAMES)
    path = write_table(with_headers(rows, WORKLIST_HEADERS), tmp_path / "和平区.csv")
    assert path.read_bytes().startswith("\ufeff区代码,区,街道（镇）".encode("utf-8"))


def test_xlsx_round_trips_the_rows(street, tmp_path: Path):
    rows = build_worklist(*street, Area(NANKAI), status_labels(), NAMES)
    path = write_table(with_headers(rows, WORKLIST_HEADERS), tmp_path / "list.xlsx", "入户调查名单")
    back = pd.read_excel(path, sheet_name="入户调查名单", dtype=str)
    assert back["姓名"].tolist() == ["张伟", "赵敏"]
    assert list(back.columns) == list(WORKLIST_HEADERS.values())


def test_the_household_address_is_shown_when_the_person_was_placed_by_it():
    persons, records = frames(
        [person("P4", "周强", None, street="长虹街道", community="芙蓉南里社区", address_record="police_resident:R4")],
        [record("P4", "police_resident:R4", **household("天津市南开区长虹街道芙蓉南里2-1-301", street="长虹街道",
                                                          community="芙蓉南里社区"),
                residence_address_raw="北京市朝阳区某路9号", residence_in_tianjin=False)],
    )
    rows = build_worklist(persons, records, Area(NANKAI), status_labels(), NAMES)
    assert rows.loc[0, "address"] == "天津市南开区长虹街道芙蓉南里2-1-301"


def test_the_unplaced_list_is_written_with_chinese_headers(tmp_path: Path):
    persons, records = frames([person("P9", "孙磊", None, district=None, street=None, community=None,
                                      dispatch_reason="无任何地址 (no address in any record)")],
                              [record("P9", "tax_iit:T9")])
    path = write_table(with_headers(build_unplaced(persons, records, status_labels()), UNPLACED_HEADERS),
                       tmp_path / "unplaced.csv")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert back.loc[0, "无法定位原因"].startswith("无任何地址")


def test_an_unknown_file_type_is_refused(street, tmp_path: Path):
    with pytest.raises(InputError, match=r"\.csv 或 \.xlsx"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "list.pdf")


# --- the commands on a small store ------------------------------------------------------------


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> str:
    """Two residents of 南开区 and 河西区 with tax records; nobody enrolled."""
    folder = tmp_path_factory.mktemp("worklist")
    extracts = folder / "in"
    extracts.mkdir()
    (extracts / "police_resident_202610.csv").write_text("\n".join([
        "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质",
        f"R1,张伟,男,汉族,{ZHANG},1985-03-02,天津市南开区华苑街道日华里3-2-401,天津市南开区华苑街道日华里3-2-401,"
        "13800000001,非农业",
        f"R2,李娜,女,汉族,{LI},1990-07-15,天津市河西区友谊路10号,天津市河西区友谊路10号,13800000002,非农业",
    ]) + "\n", encoding="utf-8")
    (extracts / "tax_iit_202610.csv").write_text("\n".join([
        "申报流水号,纳税人姓名,证件类型,证件号码,扣缴义务人名称,扣缴义务人统一社会信用代码,所属期,收入额",
        f"T1,李娜,居民身份证,{LI},某贸易公司,91120000000000002X,2026-10,9000",
        f"T2,张伟,居民身份证,{ZHANG},某科技公司,91120000000000003X,2026-10,8000",
    ]) + "\n", encoding="utf-8")
    store = str(folder / "store")
    run_pipeline(extracts, store, dt.date(2026, 11, 28))
    return store


def test_cli_worklist_writes_the_district_list_as_xlsx(small_store: str, tmp_path: Path):
    out = tmp_path / "南开区.xlsx"
    assert main(["worklist", "--store", small_store, "--district", NANKAI, "--out", str(out)]) == 0
    sheet = pd.read_excel(out, dtype=str)
    assert sheet["姓名"].tolist() == ["张伟"]
    assert sheet.loc[0, "标记"] == "纳税人"


def test_cli_worklist_needs_a_district_or_the_unplaced_list(small_store: str, tmp_path: Path, capsys):
    assert main(["worklist", "--store", small_store, "--out", str(tmp_path / "x.csv")]) == 2
    assert "--unplaced" in capsys.readouterr().err


def test_cli_ledger_lists_every_target_with_its_next_step(small_store: str, tmp_path: Path):
    out = tmp_path / "台账.csv"
    assert main(["ledger", "--store", small_store, "--out", str(out)]) == 0
    ledger = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert sorted(ledger["姓名"]) == ["张伟", "李娜"]
    assert set(ledger["调查结果"]) == {"未调查"}
