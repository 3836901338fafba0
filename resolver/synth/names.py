"""Names sampled in bulk: Han names from Faker zh_CN's weighted lists, Uyghur dotted names, Latin names.

Faker's ``name()`` runs at 18k/s (shared/notes/chinese-identity.md §5), so its lists are
sampled directly with numpy. Faker's given names are of the older generations; people born
from 1990 also draw from a list of modern given names, and a share of names is composed
from two characters of the pools, so that a city does not have only 52k distinct names.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
from faker.providers.person.de_DE import Provider as _German
from faker.providers.person.en_US import Provider as _English
from faker.providers.person.fr_FR import Provider as _French
from faker.providers.person.it_IT import Provider as _Italian
from faker.providers.person.ja_JP import Provider as _Japanese
from faker.providers.person.zh_CN import Provider as _Chinese

SURNAMES: np.ndarray = np.array(list(_Chinese.last_names), dtype=object)
SURNAME_WEIGHTS: np.ndarray = np.array(list(_Chinese.last_names.values()), dtype=float)
SURNAME_WEIGHTS /= SURNAME_WEIGHTS.sum()

_OLD_MALE = np.array(_Chinese.first_names_male, dtype=object)
_OLD_FEMALE = np.array(_Chinese.first_names_female, dtype=object)
# Given names common since the 1990s (not in Faker's zh_CN lists).
_MODERN_MALE = np.array(
    "子轩 浩然 宇轩 梓豪 俊熙 一鸣 博文 子墨 浩宇 皓轩 明哲 天佑 思远 宇航 睿 泽 辰 逸 航 煜 嘉懿 铭 梓睿 承泽".split(),
    dtype=object,
)
_MODERN_FEMALE = np.array(
    "子涵 欣怡 梓涵 诗涵 雨桐 一诺 可馨 语嫣 思琪 佳怡 梦瑶 雨欣 若曦 紫萱 梓萱 欣妍 涵 萱 悦 琪 诗雨 静怡 芷若 婉清".split(),
    dtype=object,
)


def _characters(*lists: np.ndarray) -> np.ndarray:
    return np.array(sorted({c for names in lists for name in names for c in name}), dtype=object)


_NAME_CHARACTERS = frozenset(_characters(_OLD_MALE, _OLD_FEMALE, _MODERN_MALE, _MODERN_FEMALE))
_OLD_MALE_CHARS = _characters(_OLD_MALE)
_OLD_FEMALE_CHARS = _characters(_OLD_FEMALE)
_MODERN_MALE_CHARS = _characters(_MODERN_MALE, _OLD_MALE)
_MODERN_FEMALE_CHARS = _characters(_MODERN_FEMALE, _OLD_FEMALE)

# The names the "same name, same birthday" hard case is made of: (surname, given name, gender).
COMMON_NAMES: tuple[tuple[str, str, str], ...] = (
    ("张", "伟", "M"), ("王", "伟", "M"), ("王", "芳", "F"), ("李", "娜", "F"), ("刘", "洋", "M"),
    ("张", "敏", "F"), ("李", "静", "F"), ("王", "静", "F"), ("张", "丽", "F"), ("李", "强", "M"),
)

# Characters outside GBK met in real given names (CJK Ext. A/B/E); a file holding one needs GB18030.
RARE_CHARACTERS: tuple[str, ...] = ("䶮", "𬌗", "𫖮", "𬭚", "𬘭", "𬍛", "𬳵", "𬣞", "𬇙", "䴖")

# Uyghur names are the own name and the father's name joined by a middle dot (买买提·艾力).
UYGHUR_MALE: tuple[str, ...] = (
    "买买提", "艾力", "阿不都", "吐尔逊", "依明", "艾买提", "阿里木", "亚森", "司马义", "吾买尔",
    "卡德尔", "热合曼", "努尔", "伊力哈木", "阿布来提", "麦麦提", "艾尼", "玉素甫",
)
UYGHUR_FEMALE: tuple[str, ...] = (
    "古丽", "阿依古丽", "热依拉", "帕提古丽", "玛依拉", "迪丽拜尔", "努尔古丽", "阿依努尔", "再努尔",
    "祖丽皮亚", "米热古丽", "古再丽努尔",
)
MIDDLE_DOT = "·"
OTHER_DOTS: tuple[str, ...] = ("•", "・", ".", "")


def sample_surnames(count: int, rng: np.random.Generator) -> np.ndarray:
    """Surnames by their national frequency."""
    return SURNAMES[rng.choice(len(SURNAMES), size=count, p=SURNAME_WEIGHTS)]


def _pick(pool: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return pool[rng.integers(0, len(pool), size=count)]


def _given_for(pool: np.ndarray, chars: np.ndarray, count: int, listed: float, rng: np.random.Generator) -> np.ndarray:
    """A share ``listed`` taken whole from ``pool``, the rest composed of two pool characters."""
    whole = _pick(pool, count, rng)
    composed = _pick(chars, count, rng) + _pick(chars, count, rng)
    return np.where(rng.random(count) < listed, whole, composed)


def sample_given_names(male: np.ndarray, birth_years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Given names matching gender and generation."""
    count = len(male)
    modern = birth_years >= 1990
    old_male = _given_for(_OLD_MALE, _OLD_MALE_CHARS, count, 0.5, rng)
    old_female = _given_for(_OLD_FEMALE, _OLD_FEMALE_CHARS, count, 0.5, rng)
    new_male = np.where(rng.random(count) < 0.5, _pick(_MODERN_MALE, count, rng),
                        _given_for(_OLD_MALE, _MODERN_MALE_CHARS, count, 0.4, rng))
    new_female = np.where(rng.random(count) < 0.5, _pick(_MODERN_FEMALE, count, rng),
                          _given_for(_OLD_FEMALE, _MODERN_FEMALE_CHARS, count, 0.4, rng))
    return np.where(male, np.where(modern, new_male, old_male), np.where(modern, new_female, old_female))


def twin_given_name(given: str, male: bool, rng: np.random.Generator) -> str:
    """A twin's given name: same first character (思远 → 思齐), or another single character."""
    chars = _MODERN_MALE_CHARS if male else _MODERN_FEMALE_CHARS
    for _ in range(20):
        other = str(chars[int(rng.integers(0, len(chars)))])
        candidate = given[0] + other if len(given) >= 2 else other
        if candidate != given:
            return candidate
    return given + "二"


def with_rare_character(given: str, rng: np.random.Generator) -> str:
    """The given name with its last character replaced by one outside GBK."""
    rare = RARE_CHARACTERS[int(rng.integers(0, len(RARE_CHARACTERS)))]
    return given[:-1] + rare if len(given) >= 2 else given + rare


def uyghur_names(male: np.ndarray, fathers: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Dotted Uyghur names: own name · father's name (``fathers`` gives each one's father name, or None)."""
    count = len(male)
    own = np.where(male, _pick(np.array(UYGHUR_MALE, dtype=object), count, rng),
                   _pick(np.array(UYGHUR_FEMALE, dtype=object), count, rng))
    father = fathers if fathers is not None else _pick(np.array(UYGHUR_MALE, dtype=object), count, rng)
    return own + MIDDLE_DOT + father


@dataclass(frozen=True)
class Nationality:
    """A foreign workers' nationality: share, name lists and passport number layout (A letter, 9 digit)."""

    name: str
    weight: float
    given_male: tuple[str, ...]
    given_female: tuple[str, ...]
    family: tuple[str, ...]
    passport: str
    family_first: bool = False


def _ascii(names) -> tuple[str, ...]:
    """Names as a passport's machine-readable zone writes them: no accents."""
    folded = (unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode("ascii") for n in names)
    return tuple(sorted({n for n in folded if n.isalpha()}))


_KOREAN_FAMILY = ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Shin")
_KOREAN_MALE = ("Minjun", "Seojun", "Dohyun", "Jiho", "Junseo", "Hyunwoo", "Jihoon", "Sungmin", "Taeyang", "Youngho")
_KOREAN_FEMALE = ("Seoyeon", "Jiwoo", "Minseo", "Hayoon", "Jiyoung", "Soyeon", "Eunji", "Yujin", "Hyejin", "Sumin")
_RUSSIAN_FAMILY = ("Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov", "Volkov", "Sokolov", "Lebedev", "Morozov")
_RUSSIAN_MALE = ("Ivan", "Dmitry", "Sergey", "Alexei", "Nikolai", "Andrei", "Mikhail", "Pavel", "Vladimir")
_RUSSIAN_FEMALE = ("Anna", "Elena", "Olga", "Natalia", "Irina", "Tatiana", "Svetlana", "Maria", "Ekaterina")

NATIONALITIES: tuple[Nationality, ...] = (
    Nationality("韩国", 0.25, _KOREAN_MALE, _KOREAN_FEMALE, _KOREAN_FAMILY, "M99999999", family_first=True),
    Nationality("日本", 0.2, _ascii(_Japanese.first_romanized_names_male), _ascii(_Japanese.first_romanized_names_female),
                _ascii(_Japanese.last_romanized_names), "AA9999999", family_first=True),
    Nationality("美国", 0.15, _ascii(_English.first_names_male), _ascii(_English.first_names_female),
                _ascii(_English.last_names), "999999999"),
    Nationality("德国", 0.1, _ascii(_German.first_names_male), _ascii(_German.first_names_female),
                _ascii(_German.last_names), "C99999999"),
    Nationality("英国", 0.07, _ascii(_English.first_names_male), _ascii(_English.first_names_female),
                _ascii(_English.last_names), "999999999"),
    Nationality("法国", 0.06, _ascii(_French.first_names_male), _ascii(_French.first_names_female),
                _ascii(_French.last_names), "99AA99999"),
    Nationality("意大利", 0.05, _ascii(_Italian.first_names_male), _ascii(_Italian.first_names_female),
                _ascii(_Italian.last_names), "AA9999999"),
    Nationality("俄罗斯", 0.06, _RUSSIAN_MALE, _RUSSIAN_FEMALE, _RUSSIAN_FAMILY, "759999999"),
    Nationality("澳大利亚", 0.03, _ascii(_English.first_names_male), _ascii(_English.first_names_female),
                _ascii(_English.last_names), "A9999999"),
    Nationality("加拿大", 0.03, _ascii(_English.first_names_male), _ascii(_English.first_names_female),
                _ascii(_English.last_names), "AA999999"),
)


def passport_number(layout: str, rng: np.random.Generator) -> str:
    """A passport number following a layout where A is a letter and 9 a digit."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return "".join(
        letters[int(rng.integers(0, len(letters)))] if c == "A"
        else str(int(rng.integers(0, 10))) if c == "9" else c
        for c in layout
    )


def foreign_name(nationality: Nationality, male: bool, rng: np.random.Generator) -> tuple[str, str]:
    """(display name as on the work permit, e.g. 'John Smith' or 'Kim Minjun', family name)."""
    given_pool = nationality.given_male if male else nationality.given_female
    given = given_pool[int(rng.integers(0, len(given_pool)))]
    family = nationality.family[int(rng.integers(0, len(nationality.family)))]
    return (f"{family} {given}" if nationality.family_first else f"{given} {family}"), family


def _toneless(reading: str) -> str:
    return unicodedata.normalize("NFD", reading.replace("ü", "v")).encode("ascii", "ignore").decode("ascii")


@cache
def homophones() -> dict[str, tuple[str, ...]]:
    """Character → other common characters (GB2312 level 1) with the same toneless pinyin."""
    from pypinyin.pinyin_dict import pinyin_dict

    groups: dict[str, list[str]] = {}
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                char = bytes([high, low]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            # A heteronym counts by its first (most common) reading: 丽 lì, not lí.
            reading = pinyin_dict.get(ord(char), "").split(",")[0]
            if reading:
                groups.setdefault(_toneless(reading), []).append(char)
    return {
        char: tuple(c for c in members if c != char)
        for members in groups.values() if len(members) > 1 for char in members
    }


def homophone_typo(name: str, surname: str, rng: np.random.Generator) -> str | None:
    """The name with one given-name character swapped for a same-sounding one (王丽 → 王莉), or None."""
    table = homophones()
    given = name[len(surname):]
    positions = [i for i, c in enumerate(given) if c in table]
    if not positions:
        return None
    position = positions[int(rng.integers(0, len(positions)))]
    options = table[given[position]]
    # Typists pick a character that also looks like a name (王丽 → 王莉 rather than 王力) when one exists.
    in_names = tuple(c for c in options if c in _NAME_CHARACTERS)
    options = in_names or options
    swapped = given[:position] + options[int(rng.integers(0, len(options)))] + given[position + 1:]
    return surname + swapped
