"""Tianjin address parsing: the notes' examples, the gazetteer traps and building-unit-room forms."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from resolver.divisions import load_divisions
from resolver.schema import ADDRESS_PARTS, address_columns
from resolver.standardise.address import Address, parse_address, parse_addresses


def parts(address: Address, *names: str) -> tuple:
    return tuple(getattr(address, name) for name in names)


def test_address_fields_are_the_schema_parts():
    assert tuple(f.name for f in dataclasses.fields(Address)) == ADDRESS_PARTS


def test_city_district_road_number():
    address = parse_address("天津市和平区南京路100号")
    assert parts(address, "in_tianjin", "district_code", "road", "number") == (True, "120101", "南京路", "100")


def test_road_name_is_not_read_as_the_community_of_the_same_name():
    heping = load_divisions().district_by_name("和平区")
    assert any("南京路社区" in load_divisions().communities(s.code) for s in load_divisions().streets(heping.code))
    assert parse_address("和平区南京路100号").community is None


def test_no_city_prefix_gate_and_room():
    address = parse_address("和平区南京路100号3门201")
    assert parts(address, "in_tianjin", "district_code", "road", "number") == (True, "120101", "南京路", "100")
    assert parts(address, "building", "unit", "room") == (None, "3", "201")


def test_new_area_with_its_street():
    address = parse_address("天津滨海新区塘沽街道解放路5号")
    assert parts(address, "district_code", "legacy_district", "street", "road", "number") == (
        "120116", None, "塘沽街道", "解放路", "5")


def test_abolished_district_maps_to_binhai_and_keeps_its_name():
    address = parse_address("天津市塘沽区解放路5号")
    assert parts(address, "district_code", "legacy_district", "street", "road") == ("120116", "塘沽区", None, "解放路")


@pytest.mark.parametrize("legacy", ["汉沽区", "大港区"])
def test_other_abolished_districts_of_binhai(legacy):
    assert parts(parse_address(f"天津市{legacy}新华路8号"), "district_code", "legacy_district") == ("120116", legacy)


def test_street_community_and_dashed_building_unit_room():
    address = parse_address("天津市南开区华苑街道日华里3-2-401")
    assert parts(address, "district_code", "street", "community") == ("120104", "华苑街道", "日华里社区")
    assert parts(address, "building", "unit", "room") == ("3", "2", "401")


def test_street_and_community_without_their_suffixes():
    address = parse_address("南开区华苑日华里3-2-401")
    assert parts(address, "street", "community") == ("华苑街道", "日华里社区")


def test_community_alone_places_its_street():
    assert parse_address("南开区日华里5-1-302").street == "华苑街道"


def test_hebei_district_is_not_hebei_province_and_zhongshan_road_is_not_zhongshan_city():
    address = parse_address("河北区中山路5号")
    assert parts(address, "in_tianjin", "district_code", "road", "number") == (True, "120105", "中山路", "5")


def test_hedong_district_without_prefix_is_tianjins():
    address = parse_address("河东区大王庄街道6号")
    assert parts(address, "in_tianjin", "district_code", "street", "road", "number") == (
        True, "120102", "大王庄街道", None, "6")


def test_old_county_name_jixian():
    address = parse_address("天津市蓟县渔阳镇府君山")
    assert parts(address, "district_code", "legacy_district", "street") == ("120119", "蓟县", "渔阳镇")


@pytest.mark.parametrize(
    ("county", "code"),
    [("宁河县", "120117"), ("静海县", "120118"), ("武清县", "120114"), ("宝坻县", "120115")],
)
def test_counties_that_became_districts(county, code):
    assert parts(parse_address(f"{county}人民路3号"), "district_code", "legacy_district") == (code, county)


def test_pre_1992_suburb_name():
    assert parts(parse_address("东郊区张贵庄"), "district_code", "legacy_district") == ("120110", "东郊区")


def test_town_and_road_with_dao_suffix():
    address = parse_address("西青区张家窝镇知景道3号")
    assert parts(address, "district_code", "street", "road", "number") == ("120111", "张家窝镇", "知景道", "3")


def test_full_width_text_parses_like_half_width():
    full_width = parse_address("天津市和平区南京路１００号３门２０１")
    half_width = parse_address("天津市和平区南京路100号3门201")
    assert dataclasses.replace(full_width, address_raw=None) == dataclasses.replace(half_width, address_raw=None)
    assert full_width.address_raw == "天津市和平区南京路１００号３门２０１"


def test_spaces_and_traditional_characters():
    address = parse_address("天津市 和平區 南京路 100號")
    assert parts(address, "district_code", "road", "number") == ("120101", "南京路", "100")


@pytest.mark.parametrize(
    "text",
    ["河北省石家庄市长安区中山路5号", "北京市朝阳区建国路88号", "山东省临沂市河东区人民大街5号", "北京朝阳区", "河北保定市莲池区"],
)
def test_other_provinces_are_not_tianjin_and_nothing_else_is_parsed(text):
    assert parse_address(text) == Address(address_raw=text, in_tianjin=False)


def test_district_without_city_prefix_is_tianjin():
    assert parse_address("河西区友谊路5号").in_tianjin is True


def test_road_alone_is_unplaceable_not_nanjing():
    address = parse_address("南京路100号")
    assert parts(address, "in_tianjin", "district_code", "road", "number") == (None, None, "南京路", "100")


def test_road_named_after_a_district_is_not_the_district():
    assert parse_address("和平路100号").district_code is None


def test_bare_hebei_before_a_road_is_ambiguous():
    assert parse_address("河北中山路5号").in_tianjin is None


def test_bare_hebei_before_one_of_its_streets_is_the_district():
    assert parts(parse_address("河北宁园街道5号"), "district_code", "street") == ("120105", "宁园街道")


def test_street_whose_short_name_is_a_road_is_read_as_the_road():
    address = parse_address("河东区富民路12号")
    assert parts(address, "street", "road", "number") == (None, "富民路", "12")


def test_full_community_name_beats_a_short_name_inside_a_zone_name():
    assert parse_address("滨海新区中新天津生态城和风社区5号").community == "和风社区"


def test_city_prefix_with_street_but_no_district():
    assert parts(parse_address("天津市华苑街道日华里3-2-401"), "district_code", "street") == ("120104", "华苑街道")


@pytest.mark.parametrize("tail", ["3-2-401", "3号楼2门401", "3栋2单元401室", "三号楼二门401", "3#楼2门0401"])
def test_building_unit_room_forms_agree(tail):
    address = parse_address(f"南开区华苑街道日华里{tail}")
    assert parts(address, "building", "unit", "room") == ("3", "2", "401")


def test_building_and_room_without_unit():
    address = parse_address("和平区劝业场街道滨江道123号5号楼201室")
    assert parts(address, "number", "building", "unit", "room") == ("123", "5", None, "201")


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_address(missing):
    assert parse_address(missing) == Address(address_raw=None, in_tianjin=None)


def test_vectorised_parse_keeps_index_and_role_columns():
    raw = pd.Series(["天津市塘沽区解放路5号", None, "河北省石家庄市", "天津市塘沽区解放路5号"], index=[10, 11, 12, 13])
    frame = parse_addresses(raw, "residence")
    assert list(frame.columns) == address_columns("residence")
    assert list(frame.index) == [10, 11, 12, 13]
    assert frame["residence_district_code"].tolist() == ["120116", None, None, "120116"]
    assert frame["residence_in_tianjin"].tolist() == [True, None, False, True]
    assert frame["residence_legacy_district"].tolist() == ["塘沽区", None, None, "塘沽区"]


def test_community_whose_name_starts_with_the_street_short_name():
    assert parts(parse_address("南开区华苑新城5-1-302"), "street", "community") == ("华苑街道", "华苑新城社区")


def test_unknown_address_role_is_refused_with_the_roles_to_use():
    with pytest.raises(ValueError, match="household, residence"):
        parse_addresses(pd.Series(["和平区南京路100号"]), "home")


def test_addresses_in_one_building_share_its_part_strings():
    # Millions of distinct addresses, a few hundred building and room numbers: each part is held once.
    frame = parse_addresses(pd.Series(["天津市南开区华苑街道日华里13-12-1402", "南开区华苑街道日华里13-12-1403"]),
                            "residence")
    first, second = frame.iloc[0], frame.iloc[1]
    assert (first["residence_building"], first["residence_unit"]) == ("13", "12")
    assert first["residence_room"] != second["residence_room"]
    for part in ("residence_building", "residence_unit"):
        assert first[part] is second[part], part


# ---------------------------------------------------------------- names the dictionary does not know (issue 16 §1)

def _dictionary_knows(name: str) -> bool:
    divisions = load_divisions()
    return any(name in community for d in divisions.districts() for s in divisions.streets(d.code)
               for community in divisions.communities(s.code))


@pytest.mark.parametrize("raw, community, building, unit, room", [
    ("天津市东丽区华明街道光城南里社区10栋5单元101室", "光城南里社区", "10", "5", "101"),
    ("东丽区华明街道光城南里10号楼5门101", "光城南里社区", "10", "5", "101"),
    ("东丽区华明街道光城南里社区居委会10-5-101", "光城南里社区", "10", "5", "101"),
    ("南开区万兴街道竹明新村社区6-5-1904", "竹明新村社区", "6", "5", "1904"),
    ("南开区万兴街道竹明新村6-5-1904", "竹明新村社区", "6", "5", "1904"),
    ("天津东丽区华明街道锦澜家园3栋2单元401室", "锦澜家园社区", "3", "2", "401"),
])
def test_a_community_or_estate_the_dictionary_lacks_is_read_from_its_shape(raw, community, building, unit, room):
    assert not _dictionary_knows(community.removesuffix("社区"))
    address = parse_address(raw)
    assert parts(address, "community", "estate", "road", "building", "unit", "room") == (
        community, None, None, building, unit, room)


def test_a_village_the_dictionary_lacks_keeps_its_house_number():
    assert not _dictionary_knows("杨家洼")
    address = parse_address("天津市西青区王稳庄镇杨家洼村330号")
    assert parts(address, "district_code", "street", "community", "number", "building") == (
        "120111", "王稳庄镇", "杨家洼村", "330", None)
    assert parse_address("西青区王稳庄镇杨家洼村委会330号").community == "杨家洼村"


def test_the_estate_is_its_own_field_when_it_differs_from_the_community():
    address = parse_address("天津市南开区华苑街道日华里社区碧华园3-2-401")
    assert parts(address, "community", "estate", "building", "room") == ("日华里社区", "碧华园", "3", "401")


def test_the_dictionary_spells_a_name_it_knows():
    assert parse_address("天津市南开区华苑街道日华里3-2-401").community == "日华里社区"


def test_a_longer_shaped_name_beats_a_dictionary_name_inside_it():
    """日华里 is the dictionary short form of 日华里社区; 日华里花园社区 is another community."""
    assert parse_address("天津市南开区华苑街道日华里社区3-2-401").community == "日华里社区"
    assert parse_address("天津市南开区华苑街道日华里花园社区3-2-401").community == "日华里花园社区"


def test_a_road_written_before_the_community_is_not_part_of_its_name():
    assert parse_address("东丽区华明街道卫津路光城南里社区10-5-101").community == "光城南里社区"


@pytest.mark.parametrize("raw", ["和平区南京路100号", "和平区南京路100号3门201", "天津市和平区五大道街道泰安道社区5号"])
def test_roads_are_not_read_as_communities(raw):
    address = parse_address(raw)
    assert address.community in (None, "泰安道社区") and address.estate is None


def test_a_street_written_as_its_road_like_short_form_before_a_name():
    address = parse_address("天津市塘沽区杭州道芳景里社区24号楼2门1104")
    assert parts(address, "district_code", "street", "community") == ("120116", "杭州道街道", "芳景里社区")
    assert parts(parse_address("滨海新区杭州道5号"), "street", "road", "number") == (None, "杭州道", "5")


def test_a_bare_name_before_the_building_is_the_community():
    assert not _dictionary_knows("嘉明")
    address = parse_address("天津市南开区鼓楼街道嘉明5号楼4门1403")
    assert parts(address, "community", "building", "unit", "room") == ("嘉明社区", "5", "4", "1403")
    assert parse_address("东丽区万新街道卫津道188号景汇23-4-402").community == "景汇社区"


def test_a_dictionary_name_inside_a_longer_name_is_not_that_community():
    assert _dictionary_knows("西沟村") and not _dictionary_knows("薛西沟")
    assert parse_address("天津市津南区辛庄镇薛西沟村207号").community == "薛西沟村"
    assert parse_address("静海区华康街道朗湖花园18-2-104").community == "朗湖花园社区"


def test_a_street_name_before_a_dictionary_community_stays_the_street():
    assert parts(parse_address("滨海新区太平大道口村279号"), "street", "community") == ("太平镇", "大道口村")
    assert parse_address("滨海新区中新天津生态城和风社区5号").community == "和风社区"


def test_a_community_named_after_a_road_is_read_before_a_flat_number():
    address = parse_address("天津市河东区唐家口街道长征路21号楼2门604")
    assert parts(address, "community", "road", "building", "room") == ("长征路社区", None, "21", "604")
    assert parts(parse_address("天津市河东区唐家口街道长征路21号"), "community", "road") == (None, "长征路")
