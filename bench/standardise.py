"""Throughput of the vectorised identity standardisers on synthetic columns (values/s).

Run: PYTHONPATH=. .venv/bin/python bench/standardise.py [--rows 1000000] [--name-rows 5000000]
Every value is built here from character pools and random digits; nothing is real data.
"""
from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from resolver.standardise.dates import parse_dates, parse_periods
from resolver.standardise.gender import standardise_genders
from resolver.standardise.id_number import CHECK_CHARS, WEIGHTS, standardise_id_numbers
from resolver.standardise.names import standardise_names
from resolver.standardise.phones import standardise_phones

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
SURNAMES += ["欧阳", "司马", "诸葛", "单", "解", "仇", "区", "朴", "覃", "翟"]
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅文辉鑫宇浩然子轩欣怡梓涵晨阳佳琪思雨博瑞")
TIANJIN_AREAS = ["120101", "120102", "120103", "120104", "120105", "120106", "120110", "120111", "120112",
                 "120113", "120114", "120115", "120116", "120117", "120118", "120119", "120107", "120225"]


def synthetic_ids(rng: np.random.Generator, n: int) -> pd.Series:
    """Mostly unique 18-digit numbers with valid check digits, ~8% dirtied (x, spaces, 15-digit, typos)."""
    area = np.array([list(a) for a in TIANJIN_AREAS], dtype=np.int64)[rng.integers(0, len(TIANJIN_AREAS), n)]
    year = rng.integers(1930, 2020, n)
    month, day, order = rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(0, 1000, n)
    digits = np.column_stack(
        [area, year // 1000, year // 100 % 10, year // 10 % 10, year % 10, month // 10, month % 10,
         day // 10, day % 10, order // 100, order // 10 % 10, order % 10]
    )
    checks = np.frombuffer(CHECK_CHARS.encode(), dtype=np.uint8)[(digits @ np.array(WEIGHTS)) % 11]
    text = np.hstack([(digits + ord("0")).astype(np.uint8), checks[:, None]]).view("S18").ravel().astype(str)
    values = text.astype(object)
    kind = rng.random(n)
    values[kind < 0.03] = [v.lower()[:6] + " " + v[6:] for v in values[kind < 0.03]]
    legacy = (kind >= 0.03) & (kind < 0.06)
    values[legacy] = [v[:6] + v[8:17] for v in values[legacy]]
    typo = (kind >= 0.06) & (kind < 0.08)
    values[typo] = [v[:17] + ("0" if v[17] != "0" else "1") for v in values[typo]]
    return pd.Series(values)


def synthetic_names(n: int, distinct: int, seed: int) -> pd.Series:
    """n names drawn (Zipf-like) from `distinct` generated ones, a few traditional/dotted/Latin."""
    random.seed(seed)
    pool = {random.choice(SURNAMES) + "".join(random.choices(GIVEN, k=random.choice((1, 2)))) for _ in range(distinct)}
    pool |= {"張偉", "買買提·艾力", "买买提•艾力", "SMITH JOHN", "john smith"}
    pool_list = sorted(pool)
    weights = 1.0 / np.arange(1, len(pool_list) + 1) ** 0.8
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool_list), size=n, p=weights / weights.sum())
    return pd.Series(np.array(pool_list, dtype=object)[picks])


def synthetic_dates(rng: np.random.Generator, n: int) -> pd.Series:
    """Birth-date-like values in every notation, including Excel serials as numbers and text."""
    days = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 29000, n), unit="D")
    kind = rng.integers(0, 5, n)
    iso = days.strftime("%Y-%m-%d").to_numpy(dtype=object)
    compact = days.strftime("%Y%m%d").to_numpy(dtype=object)
    chinese = days.strftime("%Y年%m月%d日").to_numpy(dtype=object)
    serial = ((days - pd.Timestamp("1899-12-30")).days).to_numpy()
    values = np.where(kind == 0, iso, np.where(kind == 1, compact, chinese)).astype(object)
    values[kind == 3] = serial[kind == 3]
    values[kind == 4] = serial[kind == 4].astype(str)
    return pd.Series(values)


def synthetic_periods(rng: np.random.Generator, n: int) -> pd.Series:
    """所属期-like months 2010-2026 as 202103, 2021-03, 2021年3月 and the number 202103."""
    year, month = rng.integers(2010, 2027, n), rng.integers(1, 13, n)
    kind = rng.integers(0, 4, n)
    values = np.empty(n, dtype=object)
    for k, render in enumerate((lambda y, m: f"{y}{m:02d}", lambda y, m: f"{y}-{m:02d}",
                                lambda y, m: f"{y}年{m}月", lambda y, m: y * 100 + m)):
        rows = np.flatnonzero(kind == k)
        values[rows] = [render(int(y), int(m)) for y, m in zip(year[rows], month[rows])]
    return pd.Series(values)


def synthetic_phones(rng: np.random.Generator, n: int) -> pd.Series:
    """Mostly clean mobiles, ~20% with prefixes, landlines, several numbers or garbage."""
    mobiles = (13_000_000_000 + rng.integers(0, 6_999_999_999, n)).astype(str).astype(object)
    kind = rng.random(n)
    values = mobiles.copy()
    values[kind < 0.05] = ["+86 " + m for m in mobiles[kind < 0.05]]
    landline = (kind >= 0.05) & (kind < 0.10)
    values[landline] = [f"022-{x}" for x in rng.integers(20_000_000, 99_999_999, landline.sum())]
    several = (kind >= 0.10) & (kind < 0.18)
    landlines = rng.integers(20_000_000, 99_999_999, several.sum())
    values[several] = [f"{m}/{x}" for m, x in zip(mobiles[several], landlines)]
    values[(kind >= 0.18) & (kind < 0.20)] = "无"
    return pd.Series(values)


def timed(label: str, function: Callable[[pd.Series], object], values: pd.Series) -> None:
    start = time.perf_counter()
    function(values)
    elapsed = time.perf_counter() - start
    distinct = values.nunique(dropna=True)
    print(
        f"{label:<36} {len(values):>9,} rows {distinct:>9,} distinct "
        f"{elapsed:7.2f} s {len(values) / elapsed:>12,.0f} values/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--name-rows", type=int, default=5_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(20161103)

    timed("standardise_id_numbers", standardise_id_numbers, synthetic_ids(rng, args.rows))
    names = synthetic_names(args.name_rows, distinct=300_000, seed=1)
    timed("standardise_names (repeated)", standardise_names, names)
    unique_names = pd.Series(names.unique())
    timed("standardise_names (distinct only)", standardise_names, unique_names)
    timed("parse_dates", parse_dates, synthetic_dates(rng, args.rows))
    timed("parse_periods", parse_periods, synthetic_periods(rng, args.rows))
    timed("standardise_phones", standardise_phones, synthetic_phones(rng, args.rows))
    genders = pd.Series(rng.choice(np.array(["男", "女", "1", "2", "M", "f", None], dtype=object), args.rows))
    timed("standardise_genders", standardise_genders, genders)


if __name__ == "__main__":
    main()
