"""Run-to-run changes (arts. 28-30): who became a survey target, enrolled, died, was released or moved."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from resolver.changes import compare_runs, changes_in_district
from resolver.errors import InputError
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.runs import changes_since, read_run_index
from resolver.standardise.id_number import check_digit

NANKAI, HEXI = "120104", "120103"


def person(person_id: str, status: str, district: str | None = NANKAI, street: str | None = "华苑街道",
           community: str | None = "日华里社区", flags: str = "") -> dict:
    return {"person_id": person_id, "status": status, "flags": flags, "district_code": district,
            "street": street, "community": community}


def snapshot(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def kinds(changes: pd.DataFrame, person_id: str) -> list[str]:
    return changes.loc[changes["person_id"] == person_id, "change"].tolist()


def test_a_person_new_to_the_run_who_is_unenrolled_is_a_new_survey_target():
    changes = compare_runs(snapshot(person("P1", "ENROLLED")),
                           snapshot(person("P1", "ENROLLED"), person("P2", "UNENROLLED")))
    assert kinds(changes, "P2") == ["NEWLY_UNENROLLED"]
    assert changes.loc[changes["person_id"] == "P2", "status_before"].isna().all()


def test_a_lapsed_enrolment_makes_a_new_survey_target():
    changes = compare_runs(snapshot(person("P1", "ENROLLED")), snapshot(person("P1", "UNENROLLED")))
    row = changes.iloc[0]
    assert (row.change, row.status_before, row.status_after) == ("NEWLY_UNENROLLED", "ENROLLED", "UNENROLLED")


def test_a_survey_target_who_enrolled_is_reported_as_enrolled():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED")), snapshot(person("P1", "ENROLLED")))
    assert kinds(changes, "P1") == ["ENROLLED"]


def test_a_newly_seen_enrolled_person_is_not_a_change():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED")),
                           snapshot(person("P1", "UNENROLLED"), person("P2", "ENROLLED")))
    assert changes.empty


def test_a_funeral_record_reports_the_death():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED")), snapshot(person("P1", "DECEASED")))
    assert kinds(changes, "P1") == ["DIED"]


def test_a_prisoner_released_into_the_survey_list_is_released_and_a_new_target():
    changes = compare_runs(snapshot(person("P1", "EXEMPT_PRISONER")), snapshot(person("P1", "UNENROLLED")))
    assert kinds(changes, "P1") == ["NEWLY_UNENROLLED", "RELEASED"]


def test_a_prisoner_who_died_in_prison_is_not_released():
    changes = compare_runs(snapshot(person("P1", "EXEMPT_PRISONER")), snapshot(person("P1", "DECEASED")))
    assert kinds(changes, "P1") == ["DIED"]


def test_a_target_found_insured_in_another_province_leaves_the_work_list():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED")), snapshot(person("P1", "INSURED_ELSEWHERE")))
    assert kinds(changes, "P1") == ["LEFT_WORKLIST"]


def test_a_target_merged_away_by_a_steward_leaves_the_work_list():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED"), person("P2", "UNENROLLED")),
                           snapshot(person("P2", "UNENROLLED")))
    assert kinds(changes, "P1") == ["LEFT_WORKLIST"]
    assert changes.loc[0, "status_after"] is None


def test_a_move_to_another_community_keeps_before_and_after():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED")),
                           snapshot(person("P1", "UNENROLLED", community="长实道社区")))
    row = changes.iloc[0]
    assert row.change == "MOVED"
    assert (row.community_before, row.community_after) == ("日华里社区", "长实道社区")


def test_a_person_who_became_placeable_has_moved_from_nowhere():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED", district=None, street=None, community=None)),
                           snapshot(person("P1", "UNENROLLED")))
    assert kinds(changes, "P1") == ["MOVED"]


def test_an_unchanged_person_with_an_unplaced_address_is_not_a_move():
    unplaced = person("P1", "UNENROLLED", district=None, street=None, community=None)
    assert compare_runs(snapshot(unplaced), snapshot(unplaced)).empty


def test_a_district_sees_persons_moving_out_as_well_as_in():
    changes = compare_runs(snapshot(person("P1", "UNENROLLED", district=NANKAI)),
                           snapshot(person("P1", "UNENROLLED", district=HEXI)))
    assert len(changes_in_district(changes, NANKAI)) == 1
    assert len(changes_in_district(changes, HEXI)) == 1
    assert changes_in_district(changes, "120101").empty


# --- through the pipeline: each run keeps a snapshot and the index ----------------------------

AS_OF = dt.date(2026, 11, 28)


def synthetic_id(area: str, birth: str, order: str) -> str:
    return area + birth + order + check_digit(area + birth + order)


ZHANG = synthetic_id("120104", "19850302", "123")
LI = synthetic_id("120103", "19900715", "124")
WANG = synthetic_id("120116", "19701111", "135")


def write(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture()
def two_runs(tmp_path: Path) -> tuple[str, str, str]:
    """First run: three residents, two of them taxpayers, none enrolled. Second: 张伟 enrols and 王强 dies."""
    store, first_in = str(tmp_path / "store"), tmp_path / "in1"
    write(first_in, "police_resident_202610.csv", [
        "人员编号,姓名,性别,民族,公民身份号码,出生日期,户籍地址,常住地址,联系电话,户口性质",
        f"R1,张伟,男,汉族,{ZHANG},1985-03-02,天津市南开区华苑街道日华里3-2-401,天津市南开区华苑街道日华里3-2-401,"
        "13800000001,非农业",
        f"R2,李娜,女,汉族,{LI},1990-07-15,天津市河西区友谊路10号,天津市河西区友谊路10号,13800000002,非农业",
        f"R3,王强,男,汉族,{WANG},1970-11-11,天津市塘沽区解放路5号,天津市塘沽区解放路5号,13800000003,农业",
    ])
    write(first_in, "tax_iit_202610.csv", [
        "申报流水号,纳税人姓名,证件类型,证件号码,扣缴义务人名称,扣缴义务人统一社会信用代码,所属期,收入额",
        f"T1,李娜,居民身份证,{LI},某贸易公司,91120000000000002X,2026-10,9000",
        f"T2,张伟,居民身份证,{ZHANG},某科技公司,91120000000000003X,2026-10,8000",
    ])
    first = run_pipeline(first_in, store, AS_OF)
    later = write(tmp_path / "in2", "civil_funeral_202611.csv", [
        "火化证号,逝者姓名,身份证号码,性别,死亡日期,户籍地",
        f"F1,王强,{WANG},男,2026-11-01,天津市滨海新区",
    ])
    write(later, "si_enrolment_202611.csv", [
        "参保编号,姓名,社会保障号码,险种,参保状态,参保单位,首次参保日期,最近缴费月份",
        f"S1,张伟,{ZHANG},城乡居民基本养老保险,正常参保,,2026-11-01,202611",
    ])
    second = run_pipeline(later, store, AS_OF)
    return store, first.run_id, second.run_id


def test_each_run_is_indexed_with_its_reference_date(two_runs):
    store, first, second = two_runs
    index = read_run_index(StoreLayout.for_store(store))
    assert [entry.run_id for entry in index] == [first, second]
    assert index[1].as_of == AS_OF and index[1].incremental


def test_changes_since_the_first_run_report_the_enrolment_and_the_death(two_runs):
    store, first, second = two_runs
    result = changes_since(StoreLayout.for_store(store), first)
    assert result.until_run_id == second
    assert result.changes["change"].tolist() == ["ENROLLED", "DIED"]
    assert result.counts() == {"NEWLY_UNENROLLED": 0, "ENROLLED": 1, "DIED": 1, "RELEASED": 0,
                               "LEFT_WORKLIST": 0, "MOVED": 0}


def test_an_unknown_run_is_refused_with_the_known_ones(two_runs):
    store, first, _ = two_runs
    with pytest.raises(InputError, match=first):
        changes_since(StoreLayout.for_store(store), "20990101T000000-000000")


def test_cli_changes_writes_the_list_with_chinese_headers(two_runs, tmp_path: Path):
    store, first, _ = two_runs
    out = tmp_path / "changes.csv"
    assert main(["changes", "--store", store, "--since", first, "--out", str(out)]) == 0
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str).set_index("变化")
    assert table.loc["死亡", "现状态"] == "已死亡"
    assert table.loc["新参保", "原状态"] == "未参保（入户调查对象）"
