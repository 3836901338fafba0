"""Status and flag rules of shared/spec/status-rules.md on small hand-built persons."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from resolver.errors import ConfigError
from resolver.status import assign_statuses, load_status_rules

AS_OF = dt.date(2026, 11, 28)


def _records(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    frame["record_key"] = frame["source"] + ":" + frame.get("record_id", pd.Series(range(len(frame)))).astype(str)
    for column in (
        "household_in_tianjin", "permit_valid_until", "prison_entry_date", "prison_release_date",
        "enrolment_status", "national_status", "insured_province_code", "tax_period", "fund_status",
        "death_date", "survey_date", "unenrolled_reason", "id_number", "id_status",
    ):
        if column not in frame.columns:
            frame[column] = None
    for column in ("permit_valid_until", "prison_entry_date", "prison_release_date", "death_date", "survey_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _resident(person: str = "p", record_id: str = "r1") -> dict:
    return {"person_id": person, "source": "police_resident", "record_id": record_id, "household_in_tianjin": True}


def status_of(*rows: dict, person: str = "p") -> pd.Series:
    return assign_statuses(_records(*rows), AS_OF).loc[person]


def test_resident_with_no_other_record_is_a_survey_target():
    assert status_of(_resident()).status == "UNENROLLED"


def test_funeral_record_wins_over_everything():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "si_enrolment", "record_id": "s1", "enrolment_status": "正常参保"},
        {"person_id": "p", "source": "civil_funeral", "record_id": "f1", "death_date": "2026-01-05"},
    )
    assert person.status == "DECEASED"
    assert person.status_records == "civil_funeral:f1"


def test_prisoner_whose_sentence_ends_on_as_of_is_still_exempt():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "prison_inmate", "record_id": "j1",
         "prison_entry_date": "2020-01-01", "prison_release_date": AS_OF.isoformat()},
    )
    assert person.status == "EXEMPT_PRISONER"


def test_prisoner_released_the_day_before_as_of_is_not_exempt():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "prison_inmate", "record_id": "j1",
         "prison_entry_date": "2020-01-01", "prison_release_date": "2026-11-27"},
    )
    assert person.status == "UNENROLLED"


def test_prisoner_entering_after_as_of_is_not_exempt_yet():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "prison_inmate", "record_id": "j1",
         "prison_entry_date": "2026-11-29", "prison_release_date": "2030-01-01"},
    )
    assert person.status == "UNENROLLED"


def test_suspended_contributions_count_as_enrolled_but_interrupted():
    person = status_of(
        _resident(), {"person_id": "p", "source": "si_enrolment", "record_id": "s1", "enrolment_status": "暂停缴费"}
    )
    assert person.status == "ENROLLED"
    assert person["flags"] == "INTERRUPTED"


def test_one_normal_enrolment_clears_the_interrupted_flag():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "si_enrolment", "record_id": "s1", "enrolment_status": "暂停缴费"},
        {"person_id": "p", "source": "si_enrolment", "record_id": "s2", "enrolment_status": "正常参保"},
    )
    assert person.status == "ENROLLED" and "INTERRUPTED" not in person["flags"]


def test_terminated_enrolment_is_not_enrolled():
    person = status_of(
        _resident(), {"person_id": "p", "source": "si_enrolment", "record_id": "s1", "enrolment_status": "终止参保"}
    )
    assert person.status == "UNENROLLED"


def test_household_registration_outside_tianjin_without_permit_is_out_of_scope():
    person = status_of({**_resident(), "household_in_tianjin": False})
    assert person.status == "OUT_OF_SCOPE"


def test_permit_expiring_on_as_of_keeps_the_person_in_scope():
    person = status_of(
        {**_resident(), "household_in_tianjin": False},
        {"person_id": "p", "source": "police_permit", "record_id": "z1", "permit_valid_until": AS_OF.isoformat()},
    )
    assert person.status == "UNENROLLED"
    assert person["flags"] == "PERMIT_HOLDER"


def test_permit_expired_the_day_before_as_of_is_out_of_scope():
    person = status_of(
        {**_resident(), "household_in_tianjin": False},
        {"person_id": "p", "source": "police_permit", "record_id": "z1", "permit_valid_until": "2026-11-27"},
    )
    assert person.status == "OUT_OF_SCOPE"


def test_enrolment_comes_before_scope():
    person = status_of(
        {"person_id": "p", "source": "si_enrolment", "record_id": "s1", "enrolment_status": "正常参保"}
    )
    assert person.status == "ENROLLED"


def test_insured_in_hebei_is_insured_elsewhere():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "national_insured", "record_id": "n1",
         "national_status": "正常", "insured_province_code": "13"},
    )
    assert person.status == "INSURED_ELSEWHERE"


def test_national_record_for_tianjin_itself_is_not_elsewhere():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "national_insured", "record_id": "n1",
         "national_status": "正常", "insured_province_code": "12"},
    )
    assert person.status == "UNENROLLED"


def test_terminated_insurance_elsewhere_does_not_count():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "national_insured", "record_id": "n1",
         "national_status": "终止", "insured_province_code": "13"},
    )
    assert person.status == "UNENROLLED"


@pytest.mark.parametrize(
    ("tax_period", "is_taxpayer"),
    [("202611", True), ("202512", True), ("202511", False), ("202612", False)],
)
def test_taxpayer_flag_covers_the_as_of_month_and_the_eleven_before(tax_period, is_taxpayer):
    person = status_of(
        _resident(), {"person_id": "p", "source": "tax_iit", "record_id": "t1", "tax_period": tax_period}
    )
    assert ("TAXPAYER" in person["flags"].split("|")) is is_taxpayer


def test_housing_fund_counts_as_employment_only_while_contributing():
    sealed = status_of(
        _resident(), {"person_id": "p", "source": "housing_fund", "record_id": "h1", "fund_status": "封存"}
    )
    normal = status_of(
        _resident(), {"person_id": "p", "source": "housing_fund", "record_id": "h1", "fund_status": "正常"}
    )
    assert sealed["flags"] == "" and normal["flags"] == "EMPLOYED"


def test_flags_follow_the_spec_order():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "survey", "record_id": "v1", "survey_date": "2026-10-01",
         "unenrolled_reason": "经济困难"},
        {"person_id": "p", "source": "edu_student", "record_id": "e1"},
        {"person_id": "p", "source": "civil_assistance", "record_id": "c1"},
        {"person_id": "p", "source": "hr_labour", "record_id": "l1"},
    )
    assert person["flags"] == "EMPLOYED|LOW_INCOME|STUDENT|SURVEYED"
    assert person.unenrolled_reason == "经济困难"


def test_two_different_valid_id_numbers_in_one_person_raise_conflict():
    person = status_of(
        {**_resident(record_id="r1"), "id_number": "11010519491231002X", "id_status": "valid"},
        {**_resident(record_id="r2"), "id_number": "440524188001010014", "id_status": "valid"},
    )
    assert person["flags"] == "CONFLICT"
    assert person.flag_records["CONFLICT"] == "police_resident:r1|police_resident:r2"


def test_survey_visit_after_the_recorded_death_is_a_conflict_for_a_steward():
    person = status_of(
        _resident(),
        {"person_id": "p", "source": "civil_funeral", "record_id": "f1", "death_date": "2025-03-01"},
        {"person_id": "p", "source": "survey", "record_id": "v1", "survey_date": "2026-06-01"},
    )
    assert person.status == "DECEASED"
    assert "CONFLICT" in person["flags"].split("|")


def test_resolver_flagged_cluster_gets_conflict_with_its_reason():
    statuses = assign_statuses(_records(_resident()), AS_OF, flagged_conflicts={"p": "split two ID numbers"})
    assert statuses.loc["p", "flags"] == "CONFLICT"
    assert "split two ID numbers" in statuses.loc["p", "flag_records"]["CONFLICT"]


def test_every_person_gets_exactly_one_status():
    frame = _records(_resident("a"), _resident("b", "r2"), {**_resident("c", "r3"), "household_in_tianjin": False})
    statuses = assign_statuses(frame, AS_OF)
    assert sorted(statuses.index) == ["a", "b", "c"]
    assert statuses["status"].notna().all()


def test_policy_officer_can_change_the_tax_window(tmp_path: Path):
    text = Path(__file__).parents[1].joinpath("resolver/config/status_rules.yaml").read_text("utf-8")
    changed = tmp_path / "rules.yaml"
    changed.write_text(text.replace("within_months_before_as_of: 12", "within_months_before_as_of: 24"), "utf-8")
    frame = _records(_resident(), {"person_id": "p", "source": "tax_iit", "record_id": "t1", "tax_period": "202501"})
    statuses = assign_statuses(frame, AS_OF, load_status_rules(changed))
    assert statuses.loc["p", "flags"] == "TAXPAYER"


def test_a_rule_file_with_an_unknown_source_names_file_and_key(tmp_path: Path):
    text = Path(__file__).parents[1].joinpath("resolver/config/status_rules.yaml").read_text("utf-8")
    broken = tmp_path / "rules.yaml"
    broken.write_text(text.replace("source: civil_funeral", "source: funeral_home"), "utf-8")
    with pytest.raises(ConfigError, match=r"rules\.yaml.*statuses\.0\.any_record\.0.*funeral_home"):
        load_status_rules(broken)


# ── The payment side: LAPSED, NO_PENSION, NO_MEDICAL (arts. 7, 25-26, 36) ──────────────

def _id_born(birth: str) -> str:
    """A resident ID number (check digit not verified here: id_status says valid) born on ``birth`` (YYYYMMDD)."""
    return "120101" + birth + "123X"


def _scheme(kind: str, state: str = "正常参保", record_id: str = "s1", person: str = "p") -> dict:
    return {"person_id": person, "source": "si_enrolment", "record_id": record_id, "insurance_type": kind,
            "enrolment_status": state}


def _flags_of(*rows: dict, born: str | None = "19800101") -> list[str]:
    extra = [] if born is None else [{"person_id": "p", "source": "hr_labour", "record_id": "h1",
                                      "id_number": _id_born(born), "id_status": "valid"}]
    return status_of(_resident(), *rows, *extra)["flags"].split("|")


def test_terminated_enrolment_alone_makes_a_lapsed_survey_target():
    person = status_of(_resident(), _scheme("城乡居民基本养老保险", "终止参保"))
    assert person.status == "UNENROLLED"
    assert "LAPSED" in person["flags"].split("|")
    assert person["flag_records"]["LAPSED"] == "si_enrolment:s1"


def test_lapsed_is_only_for_survey_targets():
    flags = _flags_of(_scheme("城乡居民基本养老保险", "终止参保", "s1"), _scheme("职工基本医疗保险", "正常参保", "s2"),
                      _scheme("企业职工基本养老保险", "正常参保", "s3"))
    assert "LAPSED" not in flags


def test_work_injury_insurance_alone_is_enrolled_without_pension_or_medical():
    person = status_of(_resident(), _scheme("工伤保险"),
                       {"person_id": "p", "source": "hr_labour", "record_id": "h1", "id_number": _id_born("19800101"),
                        "id_status": "valid"})
    assert person.status == "ENROLLED"
    assert {"NO_PENSION", "NO_MEDICAL"} <= set(person["flags"].split("|"))
    assert person["flag_records"]["NO_PENSION"] == "si_enrolment:s1"


def test_suspended_pension_still_counts_as_a_pension():
    flags = _flags_of(_scheme("企业职工基本养老保险", "暂停缴费", "s1"), _scheme("职工基本医疗保险", "正常参保", "s2"))
    assert "NO_PENSION" not in flags and "NO_MEDICAL" not in flags


def test_terminated_pension_beside_active_medical_is_no_pension():
    flags = _flags_of(_scheme("城乡居民基本养老保险", "终止参保", "s1"), _scheme("城乡居民基本医疗保险", "正常参保", "s2"))
    assert "NO_PENSION" in flags and "NO_MEDICAL" not in flags


@pytest.mark.parametrize("born, flagged", [("20101128", True), ("20101129", False)])
def test_no_pension_starts_on_the_sixteenth_birthday(born, flagged):
    flags = _flags_of(_scheme("城乡居民基本医疗保险"), born=born)
    assert ("NO_PENSION" in flags) is flagged


def test_students_and_persons_of_unknown_age_are_not_no_pension():
    student = {"person_id": "p", "source": "edu_student", "record_id": "e1"}
    assert "NO_PENSION" not in _flags_of(_scheme("城乡居民基本医疗保险"), student)
    assert "NO_PENSION" not in _flags_of(_scheme("城乡居民基本医疗保险"), born=None)


def test_active_record_with_unreadable_scheme_is_not_no_medical():
    assert "NO_MEDICAL" not in _flags_of(_scheme(None))
    assert "NO_MEDICAL" in _flags_of(_scheme("失业保险"))


def test_age_and_exception_are_only_for_flags(tmp_path):
    text = (Path(__file__).parents[1] / "resolver/config/status_rules.yaml").read_text("utf-8")
    bad = tmp_path / "rules.yaml"
    bad.write_text(text.replace("    label: 已死亡\n", "    label: 已死亡\n    min_age_on_as_of: 16\n"), "utf-8")
    with pytest.raises(ConfigError, match="for flags only"):
        load_status_rules(bad)
