"""`canbao arrears`: the survey team's art. 26 list, masked and audited like the work list."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pandas as pd

from canbao.cli import main
from resolver.arrears import estimate_arrears, load_contribution_policy, scheme_records
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.runs import load_linked_records
from resolver.standardise.id_number import check_digit

AS_OF = dt.date(2026, 11, 28)
ZHANG = "120104198503021230"[:17]
ZHANG = ZHANG + check_digit(ZHANG)
LI = "120103199007151240"[:17]
LI = LI + check_digit(LI)


def _store(tmp_path) -> str:
    extracts = tmp_path / "in"
    extracts.mkdir()
    (extracts / "police_resident_202611.csv").write_text("\n".join([
        "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质",
        f"R1,张伟,男,汉族,{ZHANG},1985-03-02,天津市南开区华苑街道日华里3-2-401,天津市南开区华苑街道日华里3-2-401,"
        "13800000001,非农业",
        f"R2,李娜,女,汉族,{LI},1990-07-15,天津市河西区友谊路10号,天津市河西区友谊路10号,13800000002,非农业",
    ]) + "\n", encoding="utf-8")
    (extracts / "si_enrolment_202611.csv").write_text("\n".join([
        "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份",
        f"S1,张伟,{ZHANG},企业职工基本养老保险,暂停缴费,,2010-03-01,2025-10",
        f"S2,张伟,{ZHANG},职工基本医疗保险,暂停缴费,,2010-03-01,202510",
        f"S3,李娜,{LI},城乡居民基本养老保险,终止参保,,2015-01-01,202012",
    ]) + "\n", encoding="utf-8")
    store = str(tmp_path / "store")
    run_pipeline(extracts, store, AS_OF)
    return store


def test_the_district_list_has_one_row_per_owed_scheme_with_the_library_estimate(tmp_path):
    store = _store(tmp_path)
    out = tmp_path / "南开区.csv"
    assert main(["arrears", "--store", store, "--district", "120104", "--out", str(out)]) == 0
    sheet = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert sheet["姓名"].tolist() == ["张伟", "张伟"]
    assert sheet["身份证号（脱敏）"].str.contains(r"\*{8}").all()
    assert sheet["联系电话（脱敏）"].tolist() == ["138****0001"] * 2
    records = load_linked_records(StoreLayout.for_store(store))
    zhang = records[records["record_key"] == "si_enrolment:S1"]["person_id"].iloc[0]
    expected = estimate_arrears(scheme_records(records[records["person_id"] == zhang]), AS_OF,
                                load_contribution_policy())
    assert sheet["险种"].tolist() == [s.scheme for s in expected.schemes]
    assert sheet["欠缴月数"].astype(int).tolist() == [13, 13]
    assert [float(v) for v in sheet["测算补缴额（最低基数/档次，元）"]] == [float(s.total_low) for s in expected.schemes]
    assert set(sheet["测算完整"]) == {"否"}   # 2025-11/12 and the 2026 average wage are not sourced
    with sqlite3.connect(tmp_path / "store" / "api.sqlite") as conn:
        endpoint, persons = conn.execute("SELECT endpoint, persons FROM audit ORDER BY rowid DESC LIMIT 1").fetchone()
    assert endpoint == "canbao arrears" and json.loads(persons) == [zhang]


def test_the_city_list_holds_the_lapsed_too_and_a_bad_district_is_refused(tmp_path, capsys):
    store = _store(tmp_path)
    out = tmp_path / "全市.xlsx"
    assert main(["arrears", "--store", store, "--out", str(out)]) == 0
    sheet = pd.read_excel(out, dtype=str)
    assert sorted(set(sheet["姓名"])) == ["张伟", "李娜"]
    assert sheet.loc[sheet["姓名"] == "李娜", "标记"].iloc[0].find("曾参保已终止") >= 0
    assert main(["arrears", "--store", store, "--district", "999999", "--out", str(out)]) == 2
    assert "999999" in capsys.readouterr().err
    assert main(["arrears", "--store", store, "--street", "华苑街道", "--out", str(out)]) == 2
