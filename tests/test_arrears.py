"""Back-payment estimates (art. 26), checked month by month against hand-worked examples."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from resolver.arrears import (
    ContributionPolicy, SchemeRecord, arrears_rows, estimate_arrears, estimate_scheme, load_contribution_policy,
    owed_schemes, scheme_records,
)
from resolver.errors import ConfigError

DOCUMENTS = {"DOC-A": {"title": "test notice A", "date": "2025-01-01"}}


def _year(wage, lower, upper, tiers=None, medical=None) -> dict:
    source = "DOC-A"
    return {
        "average_wage": {"value": wage, "source": source if wage is not None else None},
        "base_lower": {"value": lower, "share": 0.6, "source": source if lower is not None else None},
        "base_upper": {"value": upper, "share": 3.0, "source": source if upper is not None else None},
        "resident_pension_tiers": {"values": tiers, "source": source if tiers else None},
        "resident_medical_individual": {"value": medical, "source": source if medical is not None else None},
    }


def _policy(window: int | None = None, **years: dict) -> ContributionPolicy:
    """A hand-sized policy: 2024 unknown, 2025 wage 8000 (base 4800-24000), 2026 wage 9000 (base 5400-27000)."""
    figures = {2024: _year(None, None, None), 2025: _year(8000, 4800, 24000), 2026: _year(9000, 5400, 27000)}
    figures.update({int(k[1:]): v for k, v in years.items()})
    return ContributionPolicy.model_validate({
        "documents": DOCUMENTS,
        "years": figures,
        "rates": {"企业职工基本养老保险": {
            "individual": [{"from": "2006-01", "value": 0.08, "source": "DOC-A"}],
            "employer": [{"from": "2019-05", "value": 0.16, "source": "DOC-A"}],
            "flexible": [{"from": "2006-01", "value": 0.20, "source": "DOC-A"}],
        }},
        "back_payment_window_months": {"value": window, "source": "DOC-A" if window else None},
        "late_fee_daily": {"value": 0.0005, "source": "DOC-A"},
    })


def _pension(last_paid: str | None, employer: str | None = None, state: str = "暂停缴费",
             scheme: str = "企业职工基本养老保险") -> SchemeRecord:
    return SchemeRecord(scheme, state, employer, "2010-03-01", last_paid, "si_enrolment:s1")


def _lines(estimate) -> list[tuple]:
    return [(l.period, l.amount_low, l.amount_high) for l in estimate.lines]


def test_year_boundary_and_base_change_flexible_worker():
    # Last paid 2025-10, as_of 2026-02: Nov, Dec at 2025's bases, Jan, Feb at 2026's; 20 % flexible rate.
    estimate = estimate_scheme(_pension("202510"), dt.date(2026, 2, 15), _policy())
    assert estimate.payer == "灵活就业"
    assert estimate.first_month_owed == "202511" and estimate.months_owed == 4
    assert _lines(estimate) == [("202511", "960.00", "1600.00"), ("202512", "960.00", "1600.00"),
                                ("202601", "1080.00", "1800.00"), ("202602", "1080.00", "1800.00")]
    assert (estimate.total_low, estimate.total_high) == ("4080.00", "6800.00")
    assert estimate.complete_low and estimate.complete_high and not estimate.missing


def test_a_unit_record_is_estimated_at_individual_plus_employer_rates():
    estimate = estimate_scheme(_pension("202512", employer="某某建筑公司"), dt.date(2026, 1, 31), _policy())
    assert estimate.payer == "单位+个人"
    assert [(l.period, l.rate, l.amount_low, l.amount_high) for l in estimate.lines] == [
        ("202601", "0.24", "1296.00", "2160.00")]
    assert any("滞纳金" in note for note in estimate.notes)


def test_window_caps_the_months_owed():
    # Owed Feb..Dec 2025 (11 months); a 3-month window keeps Oct, Nov, Dec.
    estimate = estimate_scheme(_pension("202501"), dt.date(2025, 12, 1), _policy(window=3))
    assert [l.period for l in estimate.lines] == ["202510", "202511", "202512"]
    assert (estimate.months_owed, estimate.months_beyond_window) == (3, 8)
    assert estimate.total_low == "2880.00"


def test_without_a_window_every_month_counts_and_the_estimate_says_so():
    estimate = estimate_scheme(_pension("202501"), dt.date(2025, 12, 1), _policy())
    assert (estimate.months_owed, estimate.months_beyond_window) == (11, 0)
    assert any("补缴期限未配置" in note for note in estimate.notes)


def test_a_missing_figure_is_named_not_invented():
    # Dec 2024 has no sourced figures; Jan 2025 has.
    estimate = estimate_scheme(_pension("202411"), dt.date(2025, 1, 10), _policy())
    assert _lines(estimate) == [("202412", None, None), ("202501", "960.00", "1600.00")]
    assert estimate.total_low == "960.00" and not estimate.complete_low
    assert "缺少 2024年缴费基数下限 (missing figure)" in estimate.missing
    assert "缺少 2024年全口径城镇单位就业人员月平均工资 (missing figure)" in estimate.missing


def test_a_rate_not_yet_in_force_is_a_missing_figure():
    policy = _policy(y2019=_year(6000, 3600, 18000))
    estimate = estimate_scheme(_pension("201903", employer="某厂"), dt.date(2019, 5, 1), policy)
    assert _lines(estimate) == [("201904", None, None), ("201905", "864.00", "1440.00")]
    assert "缺少 企业职工基本养老保险单位费率 (2019年) (missing figure)" in estimate.missing


def test_resident_pension_is_estimated_per_year_at_the_lowest_and_a_chosen_tier():
    policy = _policy(y2026=_year(9000, 5400, 27000, tiers=[500, 200, 300]))
    record = _pension("202511", scheme="城乡居民基本养老保险")
    assert _lines(estimate_scheme(record, dt.date(2026, 11, 28), policy)) == [
        ("2025", None, None), ("2026", "200.00", "500.00")]
    assert _lines(estimate_scheme(record, dt.date(2026, 11, 28), policy, chosen_tier=2))[1] == ("2026", "200.00",
                                                                                               "300.00")
    missing = estimate_scheme(record, dt.date(2026, 11, 28), policy).missing
    assert missing == ["缺少 2025年城乡居民基本养老保险缴费档次 (missing figure)"]


def test_unreadable_last_paid_month_is_a_missing_figure():
    estimate = estimate_scheme(_pension("2025-13"), dt.date(2026, 1, 1), _policy())
    assert estimate.months_owed == 0 and not estimate.complete_low
    assert estimate.missing == ["缺少 最近缴费月份 (last paid month) (missing figure)"]


def test_a_normally_paid_scheme_of_the_family_owes_nothing():
    old = _pension("201801", state="终止参保", scheme="城乡居民基本养老保险")
    now = SchemeRecord("企业职工基本养老保险", "正常参保", "某厂", "2019-01-01", "202610", "si_enrolment:s2")
    medical = SchemeRecord("职工基本医疗保险", "暂停缴费", None, "2019-01-01", "202608", "si_enrolment:s3")
    assert owed_schemes([old, now, medical]) == [medical]
    person = estimate_arrears([old, now, medical], dt.date(2026, 11, 28), _policy())
    assert [s.scheme for s in person.schemes] == ["职工基本医疗保险"]
    assert person.missing == ["缺少 职工基本医疗保险灵活就业费率 (missing figure)"]


def test_the_list_rows_are_the_person_estimates():
    records = pd.DataFrame([
        {"person_id": "P1", "source": "si_enrolment", "record_key": "si_enrolment:a", "insurance_type": "企业职工基本养老保险",
         "enrolment_status": "暂停缴费", "employer_name": None, "first_enrolment_date": pd.Timestamp("2010-01-01"),
         "last_payment_period": "202510"},
        {"person_id": "P1", "source": "police_resident", "record_key": "police_resident:r"},
        {"person_id": "P2", "source": "si_enrolment", "record_key": "si_enrolment:b", "insurance_type": "企业职工基本养老保险",
         "enrolment_status": "正常参保", "employer_name": "某厂", "first_enrolment_date": pd.NaT,
         "last_payment_period": "202601"},
    ])
    rows = arrears_rows(records, ["P1", "P2"], dt.date(2026, 2, 15), _policy())
    direct = estimate_arrears(scheme_records(records[records["person_id"] == "P1"]), dt.date(2026, 2, 15), _policy())
    assert rows["person_id"].tolist() == ["P1"]
    assert rows.loc[0, "total_low"] == float(direct.total_low) == 4080.0
    assert rows.loc[0, "months_owed"] == 4


def test_the_shipped_policy_loads_and_every_figure_names_a_listed_document():
    policy = load_contribution_policy()
    assert policy.years[2025].base_lower.value == 5124
    assert policy.years[2026].average_wage.value is None   # not sourced: left empty


@pytest.mark.parametrize("change, message", [
    (lambda d: d["years"][2025]["average_wage"].update(source=None), "must name its source"),
    (lambda d: d["years"][2025]["base_lower"].update(source="NOT-LISTED"), "not listed under documents"),
    (lambda d: d["years"][2025]["base_lower"].update(value=99999), "above base_upper"),
    (lambda d: d["rates"]["企业职工基本养老保险"]["individual"][0].update({"from": "2006-13"}), "YYYY-MM"),
    (lambda d: d["years"][2025]["average_wage"].update(value=-1), "years.2025.average_wage.value"),
])
def test_a_bad_policy_file_is_refused_with_the_key(tmp_path, change, message):
    import yaml

    data = yaml.safe_load((Path(__file__).parents[1] / "resolver/config/contributions.yaml").read_text("utf-8"))
    change(data)
    path = tmp_path / "contributions.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        load_contribution_policy(path)
    assert str(path) in str(raised.value)


def _enrolment(person: str, key: str, scheme, state, last_paid, employer=None) -> dict:
    return {"person_id": person, "source": "si_enrolment", "record_key": f"si_enrolment:{key}", "insurance_type": scheme,
            "enrolment_status": state, "employer_name": employer, "first_enrolment_date": pd.NaT,
            "last_payment_period": last_paid}


def test_the_list_rows_choose_the_owed_record_as_the_person_estimate_does():
    # Ties and odd values, where a bulk choice could differ from owed_schemes: each person's rows must be
    # estimate_arrears of that person, scheme by scheme.
    records = pd.DataFrame([
        # tie on the month: scheme order decides (企业职工 before 城乡居民); medical: 暂停缴费 before 终止参保
        _enrolment("P1", "a", "城乡居民基本养老保险", "暂停缴费", "202510"),
        _enrolment("P1", "b", "企业职工基本养老保险", "暂停缴费", "202510"),
        _enrolment("P1", "c", "职工基本医疗保险", "终止参保", "202509", employer="某厂"),
        _enrolment("P1", "d", "职工基本医疗保险", "暂停缴费", "202509"),
        # blanks are absent (a blank unit: flexible), a normally paid family owes nothing
        _enrolment("P2", "e", " 企业职工基本养老保险 ", "终止参保", " 202505 ", employer="  "),
        _enrolment("P2", "f", "职工基本医疗保险", "暂停缴费", "202509"),
        _enrolment("P2", "g", "城乡居民基本医疗保险", "正常参保", "202611"),
        # no readable month on either: 暂停缴费 wins; a later month on a 正常参保 record elsewhere is no arrears
        _enrolment("P3", "h", "企业职工基本养老保险", "终止参保", "2025-13"),
        _enrolment("P3", "i", "企业职工基本养老保险", "暂停缴费", None),
        # the same scheme, state and month twice: the first record key decides whether a unit pays
        _enrolment("P4", "k", "企业职工基本养老保险", "暂停缴费", "202512", employer="某建筑公司"),
        _enrolment("P4", "j", "企业职工基本养老保险", "暂停缴费", "202512"),
        # schemes outside the two families, an unknown one, and a month given as a number
        _enrolment("P5", "l", "失业保险", "暂停缴费", "202501"),
        _enrolment("P5", "m", None, "暂停缴费", "202501"),
        _enrolment("P5", "n", "城乡居民基本医疗保险", "终止参保", 202412),
        {"person_id": "P5", "source": "police_resident", "record_key": "police_resident:r"},
    ])
    as_of, policy = dt.date(2026, 2, 15), _policy(y2026=_year(9000, 5400, 27000, medical=380))
    rows = arrears_rows(records, ["P1", "P2", "P3", "P4", "P5"], as_of, policy)
    expected = []
    for person_id, own in records.groupby("person_id", sort=True):
        for s in estimate_arrears(scheme_records(own), as_of, policy).schemes:
            expected.append((person_id, s.scheme, s.state, s.payer, s.last_paid, s.months_owed, float(s.total_low),
                             float(s.total_high), s.complete_low, s.complete_high, "；".join(s.missing)))
    got = [(r.person_id, r.scheme, r.state, r.payer, r.last_paid, r.months_owed, r.total_low, r.total_high,
            r.complete_low, r.complete_high, r.missing) for r in rows.itertuples()]
    assert got == expected
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [
        ("P1", "企业职工基本养老保险", "暂停缴费", "灵活就业"), ("P1", "职工基本医疗保险", "暂停缴费", "灵活就业"),
        ("P2", "企业职工基本养老保险", "终止参保", "灵活就业"),
        ("P3", "企业职工基本养老保险", "暂停缴费", "灵活就业"),
        ("P4", "企业职工基本养老保险", "暂停缴费", "灵活就业"),
        ("P5", "城乡居民基本医疗保险", "终止参保", "城乡居民个人")]
    assert got[2][4] == "202505" and got[3][4] is None and got[5][4] == "202412"


def test_a_persons_bulk_total_is_the_decimal_sum_not_a_float_sum():
    # 0.20 + 0.10 yuan (resident pension tier + resident medical, 2026): 0.3 exactly, as estimate_arrears adds
    # decimals, not 0.30000000000000004 as two floats would add.
    from resolver.pipeline import person_arrears_low

    policy = _policy(y2026=_year(9000, 5400, 27000, tiers=[0.2], medical=0.1))
    records = pd.DataFrame([_enrolment("P1", "a", "城乡居民基本养老保险", "暂停缴费", "202512"),
                            _enrolment("P1", "b", "城乡居民基本医疗保险", "终止参保", "202512")])
    persons = pd.DataFrame({"flags": ["INTERRUPTED|LAPSED"]}, index=pd.Index(["P1"], name="person_id"))
    bulk = person_arrears_low(records, persons, dt.date(2026, 3, 1), policy)
    assert estimate_arrears(scheme_records(records), dt.date(2026, 3, 1), policy).total_low == "0.30"
    assert bulk.to_dict() == {"P1": 0.3}
