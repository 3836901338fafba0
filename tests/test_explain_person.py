"""`canbao explain PERSON_ID`: the status and flags with their rules and records, and the match evidence."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from resolver.mapping import load_mappings
from resolver.person_explain import explain_person, format_explanation, load_person_explanation
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.standardise.id_number import check_digit
from resolver.status import load_status_rules

ZHANG_BODY = "120104" + "19850302" + "123"
ZHANG = ZHANG_BODY + check_digit(ZHANG_BODY)
RULES, MAPPINGS = load_status_rules(), load_mappings()


def zhang(status: str, status_rule: str, status_records: str, flags: str = "", flag_records: dict | None = None,
          **extra) -> pd.Series:
    return pd.Series({"person_id": "P1", "name": "张伟", "id_number": ZHANG, "status": status,
                      "status_label": {"ENROLLED": "已参保", "OUT_OF_SCOPE": "非本市登记范围"}.get(status, status),
                      "status_rule": status_rule, "status_records": status_records, "flags": flags,
                      "flag_records": json.dumps(flag_records or {}, ensure_ascii=False), "district_code": "120104",
                      "street": "华苑街道", "community": "日华里社区", "address_record": "police_resident:R1",
                      "dispatch_reason": None, **extra})


RECORDS = pd.DataFrame([
    {"person_id": "P1", "record_key": "police_resident:R1", "source": "police_resident", "link_method": "id_number",
     "match_probability": 1.0, "household_address_raw": "天津市南开区华苑街道日华里3-2-401"},
    {"person_id": "P1", "record_key": "si_enrolment:S1", "source": "si_enrolment", "link_method": "id_number",
     "match_probability": 1.0, "insurance_type": "城乡居民基本养老保险", "enrolment_status": "暂停缴费",
     "last_payment_period": "202605"},
    {"person_id": "P1", "record_key": "tax_iit:T1", "source": "tax_iit", "link_method": "probabilistic",
     "match_probability": 0.9991, "tax_period": "202610", "employer_name": "某科技公司"},
])


def explained(person: pd.Series):
    return explain_person(person, RECORDS, pd.DataFrame(), None, RULES, MAPPINGS)


def test_the_status_keeps_its_rule_and_deciding_record_with_the_facts():
    text = format_explanation(explained(zhang("ENROLLED", "ENROLLED (已参保, 第五条、第十一条)", "si_enrolment:S1")), {})
    assert "状态 status: 已参保 [ENROLLED]" in text
    assert "规则 rule: ENROLLED (已参保, 第五条、第十一条)" in text
    assert "si_enrolment:S1  社会保险基金管理中心  险种 城乡居民基本养老保险  参保状态 暂停缴费" in text


def test_each_flag_shows_its_article_and_records():
    person = zhang("ENROLLED", "ENROLLED (已参保, 第五条、第十一条)", "si_enrolment:S1", flags="INTERRUPTED|TAXPAYER",
                   flag_records={"INTERRUPTED": "si_enrolment:S1", "TAXPAYER": "tax_iit:T1"})
    flags = {flag.code: flag for flag in explained(person).flags}
    assert flags["TAXPAYER"].rule == "TAXPAYER (纳税人, 第十二条)"
    assert flags["TAXPAYER"].records == ("tax_iit:T1",)
    assert flags["INTERRUPTED"].records == ("si_enrolment:S1",)


def test_a_conflict_raised_by_the_resolver_shows_its_reason_for_the_steward():
    person = zhang("ENROLLED", "ENROLLED (已参保, 第五条、第十一条)", "si_enrolment:S1", flags="CONFLICT",
                   flag_records={"CONFLICT": "resolver:同一聚类含两个有效身份证号，已拆分"})
    text = format_explanation(explained(person), {})
    assert "记录冲突待核查 [CONFLICT]" in text
    assert "解析器说明 resolver: 同一聚类含两个有效身份证号，已拆分" in text


def test_a_status_that_holds_by_absence_says_so():
    person = zhang("OUT_OF_SCOPE", "OUT_OF_SCOPE (非本市登记范围, 第四条)", "")
    text = format_explanation(explained(person), {})
    assert "规则因缺少符合条件的记录而成立" in text and "police_resident、police_permit" in text


def test_every_linked_record_shows_how_it_was_linked():
    text = format_explanation(explained(zhang("ENROLLED", "", "si_enrolment:S1")), {})
    assert "police_resident:R1  公安局 实有人口  身份证号一致（确定性链接）  概率 p=1.00000" in text
    assert "tax_iit:T1  税务局 个人所得税  概率匹配  概率 p=0.99910" in text


def test_the_id_number_is_masked_unless_asked():
    explanation = explained(zhang("ENROLLED", "", ""))
    assert ZHANG not in format_explanation(explanation, {})
    assert ZHANG in format_explanation(explanation, {}, full_id=True)


def test_the_dispatch_place_names_the_district_and_the_address_record():
    text = format_explanation(explained(zhang("ENROLLED", "", "")), {"120104": "南开区"})
    assert "派发地 dispatch: 120104 南开区 华苑街道 日华里社区（地址来自 address from police_resident:R1）" in text


# --- on the committed sample: the waterfall of a probabilistic link -------------------------------

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> StoreLayout:
    store = tmp_path_factory.mktemp("explain") / "store"
    run_pipeline(SAMPLES, str(store), dt.date(2026, 11, 28))
    return StoreLayout.for_store(str(store))


def probabilistic_record(layout: StoreLayout) -> pd.Series:
    links = pd.read_parquet(layout.links_file)
    return links[links["method"] == "probabilistic"].sort_values("record_key").iloc[0]


def test_a_probabilistic_link_shows_the_waterfall_that_scored_it(sample_store):
    link = probabilistic_record(sample_store)
    explanation = load_person_explanation(sample_store, link["person_id"])
    record = next(r for r in explanation.records if r.record_key == link["record_key"])
    assert record.waterfalls, "a probabilistic record keeps at least one scored pair inside its person"
    edges = pd.read_parquet(sample_store.state_dir / "edges.parquet")
    other, waterfall = record.waterfalls[0]
    pair = edges[((edges["record_key_l"] == link["record_key"]) & (edges["record_key_r"] == other))
                 | ((edges["record_key_r"] == link["record_key"]) & (edges["record_key_l"] == other))].iloc[0]
    assert waterfall["match_weight"] == pytest.approx(pair["match_weight"], abs=1e-3)


def test_cli_explain_prints_the_waterfall_in_chinese(sample_store, capsys):
    link = probabilistic_record(sample_store)
    assert main(["explain", link["person_id"], "--store", str(sample_store.work_dir)]) == 0
    printed = capsys.readouterr().out
    assert "关联记录与匹配证据" in printed
    assert "先验 prior" in printed and "bits → 概率" in printed


def test_cli_explain_of_an_unknown_person_names_the_store(sample_store, capsys):
    assert main(["explain", "P000000000000", "--store", str(sample_store.work_dir)]) == 2
    assert "P000000000000" in capsys.readouterr().err


def test_explain_shows_the_schemes_and_the_same_estimate_as_the_arrears_function():
    from resolver.arrears import estimate_arrears, load_contribution_policy, scheme_records

    policy, as_of = load_contribution_policy(), dt.date(2026, 11, 28)
    person = zhang("ENROLLED", "", "si_enrolment:S1", flags="INTERRUPTED")
    explanation = explain_person(person, RECORDS, pd.DataFrame(), None, RULES, MAPPINGS, as_of, policy)
    text = format_explanation(explanation, {})
    assert "城乡居民基本养老保险  暂停缴费  首次参保 —  最近缴费 202605  (si_enrolment:S1)" in text
    assert explanation.arrears == estimate_arrears(scheme_records(RECORDS), as_of, policy)
    assert "城乡居民基本养老保险 [暂停缴费] 最近缴费 202605  缴费方式 城乡居民个人  欠缴 6 个月 months owed" in text
    for missing in explanation.arrears.missing:
        assert missing in text
