"""Every named analyst query on the synthetic sample run, plus the catalogue's parameter handling.

The ``queried`` fixture is overridden in tests/test_graph_neo4j.py to run these on Neo4j.
"""
from __future__ import annotations

import re

import pytest

from graph import CATALOGUE, EmbeddedStore, QueryError, catalogue_text, parse_param_args
from graph.queries import bind_params, get_query
from test_graph_sample import sample_run


@pytest.fixture(scope="module")
def queried(tmp_path_factory):
    store = EmbeddedStore(tmp_path_factory.mktemp("named") / "graph", buffer_pool_mb=256)
    store.write_run(sample_run())
    yield store
    store.close()


def _column(result, name):
    return [row[name] for row in result.rows]


def test_unenrolled_persons_of_one_street(queried):
    result = queried.run_query("unenrolled_persons", {"district_code": "120104", "street": "华苑街道"})
    assert _column(result, "name") == ["李测乙"]


def test_unenrolled_persons_page_through_skip_and_limit(queried):
    first = queried.run_query("unenrolled_persons", {"limit": "2"})
    rest = queried.run_query("unenrolled_persons", {"skip": "2", "limit": "10"})
    assert len(first.rows) == 2
    assert sorted(_column(first, "person_id") + _column(rest, "person_id")) == ["P2", "P4", "P5", "P6"]


def test_unenrolled_counts_per_community(queried):
    result = queried.run_query("unenrolled_counts", {"district_code": "120104"})
    counts = {(r["street"], r["community"]): r["unenrolled"] for r in result.rows}
    assert counts == {("华苑街道", "日华里社区"): 1, ("体育中心街道", "测试社区"): 1}


def test_unplaced_persons_carry_the_reason(queried):
    result = queried.run_query("unplaced_persons")
    assert _column(result, "person_id") == ["P4"]
    assert "无可定位地址" in result.rows[0]["dispatch_reason"]


def test_person_360_lists_every_record_and_marks_the_deciding_one(queried):
    result = queried.run_query("person_360", {"person_id": "P1"})
    assert _column(result, "source") == ["police_resident", "si_enrolment"]
    assert _column(result, "decides_status") == [False, True]
    assert {r["status"] for r in result.rows} == {"ENROLLED"} and result.rows[0]["run_id"] == "run-test-1"


def test_taxpayers_not_enrolled_name_their_withholding_employer(queried):
    result = queried.run_query("taxpayers_not_enrolled")
    assert [(r["name"], r["employers"]) for r in result.rows] == [("李测乙", ["测试科技有限公司"])]


def test_employed_not_enrolled_include_housing_fund_contributors(queried):
    result = queried.run_query("employed_not_enrolled")
    assert _column(result, "person_id") == ["P2", "P5"]


def test_insured_elsewhere_counted_by_province(queried):
    result = queried.run_query("insured_elsewhere_by_province")
    assert [(r["province_code"], r["province_name"], r["persons"]) for r in result.rows] == [("13", "河北省", 1)]
    assert queried.run_query("insured_elsewhere_by_province", {"province_code": "11"}).rows == []


def test_households_with_mixed_statuses(queried):
    result = queried.run_query("mixed_status_households")
    assert len(result.rows) == 1
    assert sorted(result.rows[0]["members"]) == ["P1", "P2"]
    assert sorted(result.rows[0]["statuses"]) == ["ENROLLED", "UNENROLLED"]


def test_employers_ranked_by_unenrolled_workers(queried):
    result = queried.run_query("employers_most_unenrolled")
    top = result.rows[0]
    assert (top["employer_name"], top["unenrolled_workers"]) == ("测试科技有限公司", 2)
    assert sorted(top["sources"]) == ["housing_fund", "hr_labour", "tax_iit"]


def test_uncertain_links_leave_out_decided_pairs(queried):
    result = queried.run_query("uncertain_links")
    assert [(r["record_key_l"], r["record_key_r"]) for r in result.rows] == [("police_resident:R4", "survey:S6")]
    assert queried.run_query("uncertain_links", {"min_probability": "0.9"}).rows == []


def test_conflicts_show_the_competing_id_numbers(queried):
    result = queried.run_query("conflicts")
    assert _column(result, "person_id") == ["P5"]
    assert sorted(result.rows[0]["id_numbers"]) == ["120104000000000015", "120104000000000016"]


def test_an_empty_result_still_names_its_columns(queried):
    result = queried.run_query("unenrolled_persons", {"district_code": "120119"})
    assert result.rows == [] and result.columns[:2] == ["person_id", "name"]


# --- the catalogue ------------------------------------------------------------------------

def test_the_catalogue_covers_the_issue_list():
    wanted = {"unenrolled_persons", "unenrolled_counts", "person_360", "taxpayers_not_enrolled",
              "employed_not_enrolled", "insured_elsewhere_by_province", "mixed_status_households",
              "employers_most_unenrolled", "uncertain_links", "conflicts"}
    assert wanted <= set(CATALOGUE)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_each_query_declares_exactly_the_parameters_its_texts_use(name):
    query = CATALOGUE[name]
    declared = {p.name for p in query.params}
    for dialect in ("embedded", "neo4j"):
        assert set(re.findall(r"\$(\w+)", query.text(dialect))) == declared, dialect
    assert re.search(r"[\u4e00-\u9fff]", query.title) and re.search(r"[A-Za-z]", query.description)


def test_list_text_shows_every_query_and_its_parameters():
    text = catalogue_text()
    assert all(name in text for name in CATALOGUE)
    assert "--param district_code=" in text


def test_cli_params_are_parsed_and_typed():
    bound = bind_params(get_query("unenrolled_persons"), parse_param_args(["district_code=120104", "limit=5"]))
    assert bound == {"district_code": "120104", "street": "", "community": "", "skip": 0, "limit": 5}


def test_an_unknown_query_is_refused_with_the_names_there_are():
    with pytest.raises(QueryError, match="unenrolled_persons"):
        get_query("unenroled")


def test_an_unknown_parameter_is_refused_with_the_accepted_ones():
    with pytest.raises(QueryError, match="district_code"):
        bind_params(get_query("unenrolled_persons"), {"distrct": "120104"})


def test_a_non_numeric_limit_is_refused():
    with pytest.raises(QueryError, match="limit"):
        bind_params(get_query("unenrolled_persons"), {"limit": "many"})


def test_person_360_needs_a_person_id():
    with pytest.raises(QueryError, match="person_id"):
        bind_params(get_query("person_360"), {})


def test_a_param_without_equals_sign_is_refused():
    with pytest.raises(QueryError, match="k=v"):
        parse_param_args(["district_code"])
