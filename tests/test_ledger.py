"""The follow-up ledger (台账, arts. 28-30): surveys done, outcome, reason and next step per survey target."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resolver.errors import ConfigError
from resolver.ledger import REASON_CODES, build_ledger, load_next_steps
from resolver.mapping import load_mappings
from resolver.status import status_labels

STEPS = load_next_steps()


def target(person_id: str, name: str, status: str = "UNENROLLED", flags: str = "") -> dict:
    return {"person_id": person_id, "name": name, "status": status, "flags": flags, "district_code": "120104",
            "street": "华苑街道", "community": "日华里社区"}


def survey(person_id: str, key: str, date: str | None, reason: str | None = None,
           insurance_type: str | None = None, surveyor: str = "DY0001") -> dict:
    return {"person_id": person_id, "record_key": f"survey:{key}", "source": "survey", "survey_date": date,
            "unenrolled_reason": reason, "insurance_type": insurance_type, "surveyor_id": surveyor}


def ledger(persons: list[dict], records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["person_id", "record_key", "source", "survey_date", "unenrolled_reason",
                                           "insurance_type", "surveyor_id"])
    frame["survey_date"] = pd.to_datetime(frame["survey_date"])
    return build_ledger(pd.DataFrame(persons), frame, STEPS, status_labels()).set_index("person_id")


def test_a_target_never_surveyed_is_to_be_visited():
    row = ledger([target("P1", "张伟")], []).loc["P1"]
    assert (row.surveys_done, row.outcome, row.next_step) == (0, "未调查", STEPS.not_surveyed)


def test_economic_hardship_leads_to_the_subsidised_contribution_policy():
    row = ledger([target("P1", "张伟")], [survey("P1", "D1", "2026-10-05", "经济困难")]).loc["P1"]
    assert row.reason == "经济困难"
    assert row.next_step == "宣传城乡居民参保及困难群体代缴政策"


def test_nobody_found_at_the_address_leads_to_checking_registration():
    row = ledger([target("P1", "张伟")], [survey("P1", "D1", "2026-10-05", "查无此人")]).loc["P1"]
    assert row.next_step == "核实户籍与居住信息"


def test_the_latest_survey_decides_and_all_surveys_are_counted():
    row = ledger([target("P1", "张伟")], [survey("P1", "D2", "2026-10-05", "经济困难"),
                                         survey("P1", "D1", "2026-08-01", "不了解政策")]).loc["P1"]
    assert row.surveys_done == 2
    assert row.last_survey_date == "2026-10-05"
    assert row.survey_history == "2026-08-01 不了解政策（调查员 DY0001）；2026-10-05 经济困难（调查员 DY0001）"
    assert row.reason == "经济困难"


def test_a_latest_survey_without_reason_is_not_filled_from_an_older_one():
    row = ledger([target("P1", "张伟")], [survey("P1", "D1", "2026-08-01", "不了解政策"),
                                         survey("P1", "D2", "2026-10-05", None)]).loc["P1"]
    assert (row.outcome, row.next_step) == ("已调查，未填原因", STEPS.no_reason_given)


def test_a_respondent_who_says_they_are_insured_is_to_be_verified():
    row = ledger([target("P1", "张伟")],
                 [survey("P1", "D1", "2026-10-05", insurance_type="城乡居民基本医疗保险")]).loc["P1"]
    assert row.outcome == "自报已参保（城乡居民基本医疗保险）"
    assert row.next_step == STEPS.self_reported_insured


def test_only_unenrolled_persons_have_a_ledger_row():
    rows = ledger([target("P1", "张伟"), target("P2", "李娜", status="ENROLLED")],
                  [survey("P2", "D2", "2026-10-05", "经济困难")])
    assert rows.index.tolist() == ["P1"]


def test_flags_are_shown_in_chinese():
    row = ledger([target("P1", "张伟", flags="TAXPAYER|EMPLOYED")], []).loc["P1"]
    assert row["flags"] == "纳税人、就业"


def test_every_reason_of_the_survey_app_has_a_next_step():
    allowed = load_mappings()["survey"].columns["未参保原因"].values
    assert sorted(REASON_CODES) == sorted(allowed)
    assert sorted(STEPS.by_reason) == sorted(allowed)


def write_steps(tmp_path: Path, by_reason: dict[str, str]) -> Path:
    lines = ["not_surveyed: 安排入户调查", "self_reported_insured: 核实参保信息", "no_reason_given: 补充调查",
             "by_reason:", *(f"  {reason}: {step}" for reason, step in by_reason.items())]
    path = tmp_path / "steps.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_table_missing_a_reason_is_refused_naming_it(tmp_path: Path):
    steps = {reason: "跟进" for reason in REASON_CODES if reason != "出国出境"}
    with pytest.raises(ConfigError, match="steps.yaml.*出国出境"):
        load_next_steps(write_steps(tmp_path, steps))


def test_a_table_with_an_unknown_reason_is_refused_naming_it(tmp_path: Path):
    steps = {**{reason: "跟进" for reason in REASON_CODES}, "没时间": "跟进"}
    with pytest.raises(ConfigError, match="没时间"):
        load_next_steps(write_steps(tmp_path, steps))


def test_an_edited_table_changes_the_next_step(tmp_path: Path):
    steps = {**{reason: "跟进" for reason in REASON_CODES}, "经济困难": "申请困难群体代缴"}
    edited = load_next_steps(write_steps(tmp_path, steps))
    frame = pd.DataFrame([survey("P1", "D1", "2026-10-05", "经济困难")])
    frame["survey_date"] = pd.to_datetime(frame["survey_date"])
    row = build_ledger(pd.DataFrame([target("P1", "张伟")]), frame, edited, status_labels()).iloc[0]
    assert row.next_step == "申请困难群体代缴"
