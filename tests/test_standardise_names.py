"""Person names as department extracts write them: spaces, traditional characters, dots, heteronym surnames."""
import pandas as pd
import pytest

from resolver.schema import IDENTITY_COLUMNS
from resolver.standardise.names import (
    NAME_COLUMNS,
    fold_syllable,
    pinyin_of,
    standardise_name,
    standardise_names,
    surname_table,
    to_simplified,
)


def test_traditional_and_simplified_give_the_same_key():
    assert standardise_name("張偉").key == standardise_name("张伟").key == "张伟"
    assert standardise_name("張偉").name == "张伟"


def test_surrounding_and_inner_spaces_are_removed():
    assert standardise_name(" 张　伟 ").name == "张伟"


def test_full_width_latin_is_half_width():
    assert standardise_name("ＪＯＨＮ　ＳＭＩＴＨ").name == "JOHN SMITH"


@pytest.mark.parametrize(
    "name, surname_reading",
    [("单田芳", "shan"), ("曾国藩", "zeng"), ("解缙", "xie"), ("仇英", "qiu"), ("区志坚", "ou"), ("朴正洙", "piao"),
     ("查良镛", "zha"), ("覃小英", "qin"), ("翟志刚", "zhai"), ("乜小红", "nie"), ("卜凡", "bu")],
)
def test_heteronym_surnames_take_their_surname_reading(name, surname_reading):
    result = standardise_name(name)
    assert result.surname == name[0]
    assert result.surname_pinyin == surname_reading
    assert result.pinyin.split()[0] == surname_reading


def test_surname_reading_applies_only_to_the_surname():
    # 单 as a given-name character keeps its ordinary reading dan.
    assert standardise_name("王单").pinyin == "wang dan"


@pytest.mark.parametrize(
    "name, surname, given_name, surname_pinyin",
    [("欧阳修", "欧阳", "修", "ou yang"), ("司马光", "司马", "光", "si ma"), ("诸葛亮", "诸葛", "亮", "zhu ge"),
     ("尉迟恭", "尉迟", "恭", "yu chi"), ("万俟卨", "万俟", "卨", "mo qi"), ("長孫無忌", "长孙", "无忌", "zhang sun")],
)
def test_compound_surnames_are_split_off(name, surname, given_name, surname_pinyin):
    result = standardise_name(name)
    assert (result.surname, result.given_name, result.surname_pinyin) == (surname, given_name, surname_pinyin)


def test_a_two_character_name_is_never_all_surname():
    result = standardise_name("欧阳")
    assert (result.surname, result.given_name) == ("欧", "阳")


def test_compound_surname_table_holds_the_common_ones():
    compounds = surname_table().compound
    for surname in ["欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "令狐", "慕容", "夏侯", "尉迟", "公孙",
                    "长孙", "宇文", "轩辕", "端木", "西门", "南宫", "独孤", "万俟"]:
        assert surname in compounds
    assert len(surname_table().single) >= 60


@pytest.mark.parametrize("written", ["买买提·艾力", "买买提•艾力", "买买提・艾力", "买买提.艾力", "买买提‧艾力", "买买提艾力", "買買提·艾力"])
def test_middle_dot_variants_share_the_key_and_pinyin(written):
    result = standardise_name(written)
    assert result.key == "买买提艾力"
    assert result.pinyin == "mai mai ti ai li"


def test_middle_dot_is_unified_for_display():
    assert standardise_name("买买提 • 艾力").name == "买买提\u00b7艾力"
    assert standardise_name("·买买提··艾力·").name == "买买提\u00b7艾力"


def test_dotted_name_has_no_han_surname():
    result = standardise_name("买买提·艾力")
    assert (result.surname, result.surname_pinyin) == (None, None)


def test_latin_name_tokens_are_sorted_in_the_key():
    reversed_order = standardise_name("smith john")
    assert reversed_order.key == standardise_name("JOHN  SMITH").key == "JOHN SMITH"
    assert reversed_order.script == "latin"
    assert reversed_order.name == "SMITH JOHN"


def test_latin_key_drops_accents_and_punctuation():
    assert standardise_name("García, José").key == standardise_name("JOSE GARCIA").key


def test_homophones_share_pinyin_but_not_the_key():
    wang_li, wang_li_jasmine = standardise_name("王丽"), standardise_name("王莉")
    assert wang_li.pinyin == wang_li_jasmine.pinyin == "wang li"
    assert wang_li.key != wang_li_jasmine.key


def test_lv_is_folded_like_passport_lyu_and_lu():
    assert standardise_name("吕伟").pinyin == "lv wei"
    assert standardise_name("吕伟").pinyin_folded == standardise_name("LYU WEI").pinyin_folded == "lu wei"
    assert standardise_name("卢伟").pinyin_folded == "lu wei"


@pytest.mark.parametrize(
    "syllable, folded",
    [("zhang", "zan"), ("chen", "cen"), ("shi", "si"), ("cheng", "cen"), ("ning", "lin"), ("nv", "lu"),
     ("lyu", "lu"), ("yun", "un"), ("wang", "wan")],
)
def test_fold_syllable_rules(syllable, folded):
    assert fold_syllable(syllable) == folded


def test_near_homophones_meet_in_the_folded_key():
    assert standardise_name("陈晨").pinyin_folded == standardise_name("程晨").pinyin_folded
    assert standardise_name("张帆").pinyin_folded == standardise_name("臧帆").pinyin_folded


def test_character_without_a_reading_is_kept_as_a_token():
    assert pinyin_of("𠇔伟") == ["𠇔", "wei"]


def test_t2s_keeps_the_surnames_yu_and_qian():
    assert to_simplified("於麗") == "於丽"
    assert to_simplified("乾坤") == "乾坤"
    assert standardise_name("乾伟").surname_pinyin == "qian"


def test_variant_characters_are_folded_in_the_key_only():
    zhong = standardise_name("锺华")
    assert zhong.name == "锺华"
    assert zhong.key == standardise_name("鍾華").key == standardise_name("钟华").key == "钟华"
    assert standardise_name("於丽").key == standardise_name("于丽").key


def test_mixed_script_name():
    result = standardise_name("李Mary")
    assert (result.script, result.name, result.pinyin) == ("mixed", "李MARY", "li mary")


@pytest.mark.parametrize("empty", [None, "", "  ", float("nan"), "·"])
def test_empty_name_is_all_null(empty):
    assert set(vars(standardise_name(empty)).values()) == {None}


def test_vectorised_columns_are_the_schema_columns():
    frame = standardise_names(pd.Series(["張偉", None, "张伟"], index=[3, 4, 5]))
    assert list(frame.columns) == list(NAME_COLUMNS.values())
    assert set(frame.columns) <= set(IDENTITY_COLUMNS)
    assert list(frame.index) == [3, 4, 5]
    assert frame["name_key"].tolist() == ["张伟", None, "张伟"]
    assert frame["name_pinyin"][3] == "zhang wei"


def test_vectorised_equals_the_scalar():
    names = ["单田芳", "欧阳修", "买买提•艾力", "smith john", "王莉", None, "吕伟"]
    frame = standardise_names(pd.Series(names))
    for row, name in zip(frame.itertuples(index=False), names):
        assert tuple(row) == tuple(vars(standardise_name(name)).values())


def test_names_sharing_a_surname_share_one_surname_string():
    zhang_wei, zhang_na = standardise_name("张伟"), standardise_name("张娜")
    assert zhang_wei.surname == "张" and zhang_wei.surname is zhang_na.surname
    assert zhang_wei.surname_pinyin is zhang_na.surname_pinyin


def test_clean_name_text_drops_what_no_name_holds_and_keeps_what_names_hold():
    from resolver.standardise.names import clean_name_text

    assert clean_name_text("张\u200b伟\u200d\ufeff\u202a\u2067") == "张伟"
    assert clean_name_text("张伟\U0001f468\u200d\U0001f469\u200d\U0001f467\U0001f1e8\U0001f1f3\u2764\ufe0f") == "张伟"
    assert clean_name_text("张\x00伟\x7f") == "张伟"
    assert clean_name_text("买买提·艾力") == "买买提·艾力" and clean_name_text("买买提・艾力") == "买买提・艾力"
    assert clean_name_text("JOHN\tSMITH\r\n") == "JOHN SMITH "
    assert clean_name_text("O'BRIEN-SMITH") == "O'BRIEN-SMITH"
    assert standardise_name("\U0001f600\u200b") == standardise_name(None)
