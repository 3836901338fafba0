"""Monthly enrolment statistics per district and street, with the district ranking (arts. 34-36).

Definitions (stated in the report too):
- 登记范围人口 population in scope = every person except OUT_OF_SCOPE (no Tianjin household
  registration and no valid residence permit, art. 4); it equals 已参保 + 外省市参保 + 服刑人员
  + 已死亡 + 未参保.
- 参保率 enrolment rate = 已参保 ENROLLED / 登记范围人口.
- 其中 (of which) counts are among 未参保 UNENROLLED persons, by flag; 已入户调查 = SURVEYED.
- 较上月 change since last month = this month's figure minus that of the latest run whose
  as_of falls in the previous month (blank when there is none).
The figures come from a run's person snapshot (runs/<run_id>/persons.parquet).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resolver.errors import InputError
from resolver.report_charts import bar_chart_svg, stacked_bar_svg
from resolver.runs import RunEntry, latest_run_in_month, load_snapshot, read_run_index
from resolver.spreadsheet_safe import Sheet, write_xlsx
from resolver.table_files import output_folder

if TYPE_CHECKING:
    from resolver.pipeline import StoreLayout

COUNT_MEASURES: dict[str, str] = {
    "in_scope": "登记范围人口",
    "enrolled": "已参保",
    "insured_elsewhere": "外省市参保",
    "exempt": "服刑人员（免于调查）",
    "deceased": "已死亡",
    "unenrolled": "未参保",
    "unenrolled_taxpayer": "其中：纳税人",
    "unenrolled_employed": "其中：就业",
    "unenrolled_low_income": "其中：低保特困优抚",
    "unenrolled_student": "其中：在校学生",
    "unenrolled_surveyed": "其中：已入户调查",
}
RATE_MEASURE = ("enrolment_rate", "参保率")
# The payment side (art. 36: 登记及缴费情况).
PAYMENT_MEASURES: dict[str, str] = {
    "pension_coverage": "基本养老保险覆盖率",
    "medical_coverage": "基本医疗保险覆盖率",
    "interrupted": "中断缴费人数",
    "lapsed": "终止参保未接续人数",
    "arrears_low": "测算补缴额（最低基数，元）",
    "interrupted_change": "中断缴费较上月",
    "lapsed_change": "终止未接续较上月",
    "arrears_change": "测算补缴额较上月（元）",
    "pension_coverage_change": "养老覆盖率较上月（百分点）",
    "medical_coverage_change": "医疗覆盖率较上月（百分点）",
}
PENSION_AGE = 16   # as NO_PENSION's min_age_on_as_of in config/status_rules.yaml
CHANGE_MEASURES: dict[str, str] = {
    "enrolled_change": "已参保较上月",
    "unenrolled_change": "未参保较上月",
    "rate_change": "参保率较上月（百分点）",
}
STATUS_OF_MEASURE = {"enrolled": "ENROLLED", "insured_elsewhere": "INSURED_ELSEWHERE", "exempt": "EXEMPT_PRISONER",
                     "deceased": "DECEASED", "unenrolled": "UNENROLLED"}
FLAG_OF_MEASURE = {"unenrolled_taxpayer": "TAXPAYER", "unenrolled_employed": "EMPLOYED",
                   "unenrolled_low_income": "LOW_INCOME", "unenrolled_student": "STUDENT",
                   "unenrolled_surveyed": "SURVEYED"}
UNPLACED_DISTRICT = "UNPLACED"
UNPLACED_LABEL = "无法定位 UNPLACED"
NO_STREET = "（街道未定位）"
TOTAL_LABEL = "全市合计"
DEFINITIONS: tuple[str, ...] = (
    "登记范围人口 = 除“非本市登记范围”（无本市户籍且无有效居住证，第四条）以外的全部人员"
    "（= 已参保 + 外省市参保 + 服刑人员 + 已死亡 + 未参保）。",
    "参保率 = 已参保人数 ÷ 登记范围人口。",
    "“其中”各项均为未参保人员中带有相应标记者：纳税人（近12个月有个税申报，第十二条）、就业（第十三条）、"
    "低保特困优抚、在校学生（第九条）、已入户调查（第十九条）。",
    "较上月 = 本月数 − 上月最后一次运行（基准日在上月）的数；上月无运行时留空。",
    "人员按常住地址、户籍地址、其他记录最新地址的顺序定位到区、街道（第十五条）；无法定位者单列。",
    "区排名按参保率从高到低（第三十五条），并列同名次。",
    "基本养老保险覆盖率 = 有正常参保或暂停缴费的基本养老保险（企业职工或城乡居民）者 ÷ 登记范围内年满16周岁的非在校学生"
    "（第七条、第三十六条）；基本医疗保险覆盖率 = 有基本医疗保险者 ÷ 登记范围人口。",
    "中断缴费 = 已参保但无正常参保险种（INTERRUPTED）；终止参保未接续 = 未参保但曾有终止参保记录（LAPSED，第二十五、二十六条）。",
    "测算补缴额 = 中断及终止人员养老、医疗险种按最低缴费基数（或最低档次）测算的金额之和（resolver/config/contributions.yaml）；"
    "缺少参数的月份不计入，故为下限。",
)


@dataclass(frozen=True)
class MonthlyTables:
    """The report's tables: per district (with the city total), per street, and the district ranking."""

    districts: pd.DataFrame
    streets: pd.DataFrame
    ranking: pd.DataFrame


@dataclass(frozen=True)
class MonthlyReport:
    """One month's statistics and the runs they come from."""

    month: str                 # YYYY-MM
    run: RunEntry
    previous_run: RunEntry | None
    tables: MonthlyTables


def parse_month(text: str) -> tuple[int, int]:
    """'2026-11' → (2026, 11); the error names the value and the expected form."""
    try:
        month = dt.datetime.strptime(text, "%Y-%m")
    except ValueError as error:
        raise InputError(f"月份应为 YYYY-MM (month must be YYYY-MM): {text!r}") from error
    return month.year, month.month


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def area_statistics(persons: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """COUNT_MEASURES and the enrolment rate per group of ``keys`` (pure; persons = a run snapshot)."""
    status = persons["status"]
    flags = persons["flags"].fillna("").str.split("|")
    unenrolled = (status == "UNENROLLED").to_numpy()
    indicators = {"in_scope": (status != "OUT_OF_SCOPE").to_numpy()}
    for measure, code in STATUS_OF_MEASURE.items():
        indicators[measure] = (status == code).to_numpy()
    for measure, flag in FLAG_OF_MEASURE.items():
        indicators[measure] = unenrolled & flags.map(lambda f, flag=flag: flag in f).to_numpy(dtype=bool)
    frame = persons[keys].assign(**{m: v.astype(int) for m, v in indicators.items()})
    table = frame.groupby(keys, sort=True, dropna=False)[list(COUNT_MEASURES)].sum()
    return _with_rate(table)


def payment_statistics(persons: pd.DataFrame, keys: list[str], as_of: dt.date | None) -> pd.DataFrame:
    """PAYMENT_MEASURES (without the changes) per group of ``keys`` (pure; persons = a run snapshot).

    A snapshot without birth dates or estimates (runs before the payment side) gives blanks, not zeros.
    """
    status, flags = persons["status"], persons["flags"].fillna("").str.split("|")

    def flagged(code: str) -> np.ndarray:
        return flags.map(lambda f: code in f).to_numpy(dtype=bool)

    in_scope = (status != "OUT_OF_SCOPE").to_numpy()
    enrolled = (status == "ENROLLED").to_numpy()
    if "birth_date" in persons.columns and as_of is not None:
        born = pd.to_datetime(persons["birth_date"], errors="coerce")
        adult = (born <= pd.Timestamp(as_of) - pd.DateOffset(years=PENSION_AGE)).to_numpy()
    else:
        adult = np.full(len(persons), np.nan)
    pension_base = in_scope & (adult == 1) & ~flagged("STUDENT")
    frame = persons[keys].assign(
        pension_base=pension_base.astype(int),
        pension_covered=(pension_base & enrolled & ~flagged("NO_PENSION")).astype(int),
        medical_base=in_scope.astype(int),
        medical_covered=(in_scope & enrolled & ~flagged("NO_MEDICAL")).astype(int),
        interrupted=flagged("INTERRUPTED").astype(int), lapsed=flagged("LAPSED").astype(int),
        arrears_low=persons["arrears_low"].fillna(0.0).to_numpy() if "arrears_low" in persons.columns else np.nan,
    )
    sums = frame.groupby(keys, sort=True, dropna=False)[
        ["pension_base", "pension_covered", "medical_base", "medical_covered", "interrupted", "lapsed", "arrears_low"]].sum(min_count=1)
    return _payment_rates(sums, known_age=not np.isnan(adult.astype(float)).all() if len(adult) else True)


def _payment_rates(sums: pd.DataFrame, known_age: bool = True) -> pd.DataFrame:
    pension = sums["pension_covered"] / sums["pension_base"].replace(0, np.nan)
    return sums.assign(pension_coverage=pension if known_age else np.nan,
                       medical_coverage=sums["medical_covered"] / sums["medical_base"].replace(0, np.nan))


def _payment_change(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    changes = ["interrupted_change", "lapsed_change", "arrears_change", "pension_coverage_change",
               "medical_coverage_change"]
    if previous is None:
        return current.assign(**{m: np.nan for m in changes})
    before = previous.reindex(current.index)
    return current.assign(
        interrupted_change=current["interrupted"] - before["interrupted"].fillna(0),
        lapsed_change=current["lapsed"] - before["lapsed"].fillna(0),
        arrears_change=current["arrears_low"] - before["arrears_low"],
        pension_coverage_change=(current["pension_coverage"] - before["pension_coverage"]) * 100,
        medical_coverage_change=(current["medical_coverage"] - before["medical_coverage"]) * 100,
    )


def _with_rate(table: pd.DataFrame) -> pd.DataFrame:
    scope = table["in_scope"].replace(0, np.nan)
    return table.assign(enrolment_rate=table["enrolled"] / scope)


def _change(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    if previous is None:
        return current.assign(**{m: np.nan for m in CHANGE_MEASURES})
    before = previous.reindex(current.index)
    counts = before[["enrolled", "unenrolled"]].fillna(0)
    return current.assign(
        enrolled_change=current["enrolled"] - counts["enrolled"],
        unenrolled_change=current["unenrolled"] - counts["unenrolled"],
        rate_change=(current["enrolment_rate"] - before["enrolment_rate"]) * 100,
    )


def _placed(persons: pd.DataFrame) -> pd.DataFrame:
    return persons.assign(district_code=persons["district_code"].fillna(UNPLACED_DISTRICT),
                          street=persons["street"].fillna(NO_STREET))


def _district_table(persons: pd.DataFrame) -> pd.DataFrame:
    table = area_statistics(persons, ["district_code"])
    total = _with_rate(table[list(COUNT_MEASURES)].sum().to_frame(TOTAL_LABEL).T)
    order = [c for c in table.index if c != UNPLACED_DISTRICT] + [c for c in table.index if c == UNPLACED_DISTRICT]
    return pd.concat([table.loc[order], total])


def _payment_district_table(persons: pd.DataFrame, as_of: dt.date | None) -> pd.DataFrame:
    table = payment_statistics(persons, ["district_code"], as_of)
    total = _payment_rates(table.sum(min_count=1).to_frame(TOTAL_LABEL).T.drop(
        columns=["pension_coverage", "medical_coverage"]), known_age=table["pension_coverage"].notna().any())
    order = [c for c in table.index if c != UNPLACED_DISTRICT] + [c for c in table.index if c == UNPLACED_DISTRICT]
    return pd.concat([table.loc[order], total])


def monthly_statistics(current: pd.DataFrame, previous: pd.DataFrame | None,
                       district_names: dict[str, str], as_of: dt.date | None = None,
                       previous_as_of: dt.date | None = None) -> MonthlyTables:
    """Per-district and per-street tables with changes since ``previous``, and the ranking (pure).

    ``as_of`` (and ``previous_as_of``) date the snapshots, for the ages behind pension coverage.
    """
    current, previous = _placed(current), (_placed(previous) if previous is not None else None)
    districts = _change(_district_table(current), _district_table(previous) if previous is not None else None)
    streets = _change(area_statistics(current, ["district_code", "street"]),
                      area_statistics(previous, ["district_code", "street"]) if previous is not None else None)
    districts = districts.join(_payment_change(
        _payment_district_table(current, as_of),
        _payment_district_table(previous, previous_as_of) if previous is not None else None))
    streets = streets.join(_payment_change(
        payment_statistics(current, ["district_code", "street"], as_of),
        payment_statistics(previous, ["district_code", "street"], previous_as_of) if previous is not None else None))
    districts = districts.rename_axis("district_code").reset_index()
    districts.insert(1, "district_name", districts["district_code"].map(
        lambda c: UNPLACED_LABEL if c == UNPLACED_DISTRICT else district_names.get(c, "")))
    districts.loc[districts["district_code"] == TOTAL_LABEL, ["district_code", "district_name"]] = ["", TOTAL_LABEL]
    streets = streets.reset_index()
    streets.insert(1, "district_name", streets["district_code"].map(
        lambda c: UNPLACED_LABEL if c == UNPLACED_DISTRICT else district_names.get(c, "")))
    return MonthlyTables(districts=districts, streets=streets, ranking=district_ranking(districts))


def district_ranking(districts: pd.DataFrame) -> pd.DataFrame:
    """Placed districts by enrolment rate, highest first (art. 35); ties share a rank."""
    placed = districts[~districts["district_code"].isin([UNPLACED_DISTRICT, ""])].copy()
    placed.insert(0, "rank", placed["enrolment_rate"].rank(ascending=False, method="min").astype("Int64"))
    columns = ["rank", "district_code", "district_name", "enrolment_rate", "in_scope", "enrolled", "unenrolled",
               "rate_change"]
    return placed.sort_values(["rank", "district_code"])[columns].reset_index(drop=True)


def load_monthly_report(layout: StoreLayout, month: str, district_names: dict[str, str]) -> MonthlyReport:
    """The month's report from the store's run history (the latest run of the month and of the month before)."""
    year, month_number = parse_month(month)
    entries = read_run_index(layout)
    run = latest_run_in_month(entries, year, month_number)
    if run is None:
        months = sorted({e.as_of.strftime("%Y-%m") for e in entries})
        raise InputError(f"{layout.work_dir}: {month} 没有基准日在该月的运行 (no run with as_of in {month}); "
                         f"有运行的月份 (months with runs): {'、'.join(months) or '无 (none)'}")
    previous = latest_run_in_month(entries, *previous_month(year, month_number))
    tables = monthly_statistics(load_snapshot(layout, run.run_id),
                                load_snapshot(layout, previous.run_id) if previous else None, district_names,
                                run.as_of, previous.as_of if previous else None)
    return MonthlyReport(month=month, run=run, previous_run=previous, tables=tables)


# --- output ---------------------------------------------------------------------------------

DISTRICT_HEADERS: dict[str, str] = {"district_code": "区代码", "district_name": "区", **COUNT_MEASURES,
                                    RATE_MEASURE[0]: RATE_MEASURE[1], **CHANGE_MEASURES, **PAYMENT_MEASURES}
STREET_HEADERS: dict[str, str] = {"district_code": "区代码", "district_name": "区", "street": "街道（镇）",
                                  **COUNT_MEASURES, RATE_MEASURE[0]: RATE_MEASURE[1], **CHANGE_MEASURES,
                                  **PAYMENT_MEASURES}
RANKING_HEADERS: dict[str, str] = {"rank": "排名", "district_code": "区代码", "district_name": "区",
                                   "enrolment_rate": "参保率", "in_scope": "登记范围人口", "enrolled": "已参保",
                                   "unenrolled": "未参保", "rate_change": "参保率较上月（百分点）"}
SHEETS = ("区统计", "街道统计", "区排名", "口径说明")
NOTES_HEADER = "口径说明 definitions"
STATUS_COLOURS = ("#2f8f4e", "#6f9fd8", "#9b8ec4", "#9a9a9a", "#d9623b")


def report_title(report: MonthlyReport) -> str:
    year, month = parse_month(report.month)
    return f"天津市全民参保登记月度统计 {year}年{month}月"


def _source_lines(report: MonthlyReport) -> list[str]:
    previous = report.previous_run.label if report.previous_run else "无 (none)"
    return [f"本月运行 run: {report.run.label}", f"上月运行 previous run: {previous}"]


def write_report(report: MonthlyReport, out_dir: Path) -> list[Path]:
    """Write report_<month>.html and report_<month>.xlsx into ``out_dir``; returns their paths."""
    output_folder(out_dir)
    html_path, xlsx_path = out_dir / f"report_{report.month}.html", out_dir / f"report_{report.month}.xlsx"
    html_path.write_text(render_html(report), encoding="utf-8")
    _write_xlsx(report, xlsx_path)
    return [html_path, xlsx_path]


def _report_sheet(name: str, table: pd.DataFrame, headers: dict[str, str]) -> Sheet:
    """A statistics table with Chinese headers: rates as percentages, changes in points, wider name columns."""
    formats = {"enrolment_rate": "0.00%", "rate_change": "+0.00;-0.00;0.00", "pension_coverage": "0.00%",
               "medical_coverage": "0.00%", "pension_coverage_change": "+0.00;-0.00;0.00",
               "medical_coverage_change": "+0.00;-0.00;0.00", "arrears_low": "#,##0.00",
               "arrears_change": "+#,##0.00;-#,##0.00;0.00"}
    return Sheet(name, table[list(headers)].rename(columns=headers),
                 number_formats={headers[key]: style for key, style in formats.items() if key in headers},
                 widths={label: 16 if key in ("district_name", "street") else 12 for key, label in headers.items()})


def _write_xlsx(report: MonthlyReport, path: Path) -> None:
    tables = ((report.tables.districts, DISTRICT_HEADERS), (report.tables.streets, STREET_HEADERS),
              (report.tables.ranking, RANKING_HEADERS))
    notes = pd.DataFrame({NOTES_HEADER: [report_title(report), *_source_lines(report), *DEFINITIONS]})
    write_xlsx(path, [*(_report_sheet(name, table, headers) for (table, headers), name in zip(tables, SHEETS)),
                      Sheet(SHEETS[3], notes, widths={NOTES_HEADER: 110})])


def _cell(key: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if key in ("enrolment_rate", "pension_coverage", "medical_coverage"):
        return f"{value:.2%}"
    if key in ("rate_change", "pension_coverage_change", "medical_coverage_change"):
        return f"{value:+.2f}"
    if key == "arrears_low":
        return f"{value:,.2f}"
    if key == "arrears_change":
        return f"{value:+,.2f}"
    if key.endswith("_change"):
        return f"{int(value):+d}"
    if isinstance(value, (int, np.integer, float, np.floating)) and key != "rank":
        return f"{int(value):,}"
    return escape(str(value))


def _html_table(table: pd.DataFrame, headers: dict[str, str]) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for label in headers.values())
    rows = []
    for record in table[list(headers)].to_dict("records"):
        total = " class=\"total\"" if record.get("district_name") == TOTAL_LABEL else ""
        rows.append(f"<tr{total}>" + "".join(f"<td>{_cell(k, record[k])}</td>" for k in headers) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _charts(report: MonthlyReport) -> list[str]:
    ranking = report.tables.ranking
    rate_chart = bar_chart_svg("各区参保率（由高到低）", ranking["district_name"].tolist(),
                               ranking["enrolment_rate"].astype(float).tolist(), lambda v: f"{v:.1%}",
                               scale_max=1.0)
    districts = report.tables.districts[report.tables.districts["district_name"] != TOTAL_LABEL]
    series = {COUNT_MEASURES[m]: districts[m].astype(float).tolist()
              for m in ("enrolled", "insured_elsewhere", "exempt", "deceased", "unenrolled")}
    mix_chart = stacked_bar_svg("各区登记范围人口构成（人）", districts["district_name"].tolist(), series,
                                STATUS_COLOURS)
    return [rate_chart, mix_chart]


STYLE = """
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eef2f7; }
td:nth-child(-n+3) { text-align: left; }
tr.total td { font-weight: bold; background: #f7f7f7; }
.chart { margin: 1em 0; }
"""


def render_html(report: MonthlyReport) -> str:
    """The whole report as one self-contained HTML page (inline SVG charts, no external files)."""
    title = escape(report_title(report))
    sources = "".join(f"<li>{escape(line)}</li>" for line in _source_lines(report))
    definitions = "".join(f"<li>{escape(line)}</li>" for line in DEFINITIONS)
    charts = "".join(f'<div class="chart">{svg}</div>' for svg in _charts(report))
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1><ul>{sources}</ul>"
        f"<h2>口径说明 Definitions</h2><ul>{definitions}</ul>"
        f"<h2>图表 Charts</h2>{charts}"
        f"<h2>区排名（第三十五条） District ranking</h2>{_html_table(report.tables.ranking, RANKING_HEADERS)}"
        f"<h2>各区统计 By district</h2>{_html_table(report.tables.districts, DISTRICT_HEADERS)}"
        f"<h2>各街道统计 By street</h2>{_html_table(report.tables.streets, STREET_HEADERS)}"
        "</body></html>"
    )
