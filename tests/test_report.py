"""Monthly statistics (arts. 34-36): per district and street, the change since last month, the ranking, the files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from canbao.cli import main
from resolver.errors import InputError
from resolver.pipeline import StoreLayout, run_pipeline
from resolver.report import (
    DISTRICT_HEADERS, SHEETS, TOTAL_LABEL, area_statistics, load_monthly_report, monthly_statistics, write_report,
)
from resolver.runs import RunEntry, record_run

HEPING, HEXI, NANKAI = "120101", "120103", "120104"
NAMES = {HEPING: "和平区", HEXI: "河西区", NANKAI: "南开区"}


def person(person_id: str, status: str, district: str | None = NANKAI, street: str | None = "华苑街道",
           flags: str = "") -> dict:
    return {"person_id": person_id, "status": status, "flags": flags, "district_code": district, "street": street,
            "community": None}


def snapshot(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


NOVEMBER = snapshot(
    person("P1", "ENROLLED"), person("P2", "ENROLLED"), person("P3", "UNENROLLED", flags="TAXPAYER|SURVEYED"),
    person("P4", "OUT_OF_SCOPE", flags="TAXPAYER"), person("P5", "DECEASED"), person("P6", "EXEMPT_PRISONER"),
    person("P7", "INSURED_ELSEWHERE", flags="EMPLOYED"), person("P8", "UNENROLLED", flags="STUDENT|LOW_INCOME"),
    person("P9", "ENROLLED", district=HEXI, street="友谊路街道"),
    person("P10", "UNENROLLED", district=None, street=None),
)


def test_population_in_scope_leaves_out_only_the_out_of_scope():
    row = area_statistics(NOVEMBER[NOVEMBER["district_code"] == NANKAI], ["district_code"]).loc[NANKAI]
    assert row.in_scope == 7
    assert row.in_scope == row.enrolled + row.insured_elsewhere + row.exempt + row.deceased + row.unenrolled


def test_enrolment_rate_is_enrolled_over_population_in_scope():
    row = area_statistics(NOVEMBER[NOVEMBER["district_code"] == NANKAI], ["district_code"]).loc[NANKAI]
    assert row.enrolment_rate == pytest.approx(2 / 7)


def test_of_which_counts_are_among_the_unenrolled_only():
    row = area_statistics(NOVEMBER[NOVEMBER["district_code"] == NANKAI], ["district_code"]).loc[NANKAI]
    # P4 (out of scope) is a taxpayer and P7 (insured elsewhere) employed: neither counts.
    assert (row.unenrolled_taxpayer, row.unenrolled_employed, row.unenrolled_student, row.unenrolled_low_income,
            row.unenrolled_surveyed) == (1, 0, 1, 1, 1)


def test_unplaced_persons_have_their_own_row_and_the_city_total_adds_up():
    districts = monthly_statistics(NOVEMBER, None, NAMES).districts.set_index("district_name")
    assert districts.loc["无法定位 UNPLACED", "unenrolled"] == 1
    assert districts.loc[TOTAL_LABEL, "in_scope"] == 9
    assert districts.loc[TOTAL_LABEL, "enrolled"] == 3


def test_without_a_previous_month_the_changes_are_blank():
    districts = monthly_statistics(NOVEMBER, None, NAMES).districts
    assert districts["enrolled_change"].isna().all()


def test_change_since_last_month_per_district_and_street():
    october = snapshot(person("P1", "ENROLLED"), person("P2", "UNENROLLED"), person("P3", "UNENROLLED"),
                       person("P9", "UNENROLLED", district=HEXI, street="友谊路街道"))
    tables = monthly_statistics(NOVEMBER, october, NAMES)
    nankai = tables.districts.set_index("district_code").loc[NANKAI]
    assert (nankai.enrolled_change, nankai.unenrolled_change) == (1, 0)
    assert nankai.rate_change == pytest.approx((2 / 7 - 1 / 3) * 100)
    street = tables.streets.set_index(["district_code", "street"]).loc[(HEXI, "友谊路街道")]
    assert (street.enrolled_change, street.unenrolled_change) == (1, -1)


def test_districts_are_ranked_by_enrolment_rate_and_ties_share_a_rank():
    persons = snapshot(person("A1", "ENROLLED", district=HEPING), person("A2", "UNENROLLED", district=HEPING),
                       person("B1", "ENROLLED", district=HEXI), person("B2", "UNENROLLED", district=HEXI),
                       person("C1", "ENROLLED", district=NANKAI))
    ranking = monthly_statistics(persons, None, NAMES).ranking
    assert ranking["district_code"].tolist() == [NANKAI, HEPING, HEXI]
    assert ranking["rank"].tolist() == [1, 2, 2]


# --- from a store's run history ------------------------------------------------------------


def remember(layout: StoreLayout, run_id: str, as_of: dt.date, persons: pd.DataFrame) -> None:
    moment = dt.datetime.combine(as_of, dt.time(8), dt.timezone.utc)
    record_run(layout, RunEntry(run_id, as_of, moment, moment, len(persons), False), persons)


def test_the_month_uses_its_latest_run_and_compares_with_the_previous_month(tmp_path: Path):
    layout = StoreLayout.for_store(str(tmp_path / "store"))
    remember(layout, "r-oct", dt.date(2026, 10, 28), snapshot(person("P1", "UNENROLLED")))
    remember(layout, "r-nov-early", dt.date(2026, 11, 2), snapshot(person("P1", "UNENROLLED")))
    remember(layout, "r-nov", dt.date(2026, 11, 28), snapshot(person("P1", "ENROLLED")))
    report = load_monthly_report(layout, "2026-11", NAMES)
    assert (report.run.run_id, report.previous_run.run_id) == ("r-nov", "r-oct")
    assert report.tables.districts.set_index("district_code").loc[NANKAI, "enrolled_change"] == 1


def test_a_month_without_a_run_is_refused_naming_the_months_with_runs(tmp_path: Path):
    layout = StoreLayout.for_store(str(tmp_path / "store"))
    remember(layout, "r-oct", dt.date(2026, 10, 28), snapshot(person("P1", "UNENROLLED")))
    with pytest.raises(InputError, match="2026-10"):
        load_monthly_report(layout, "2026-11", NAMES)


def test_a_badly_written_month_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="YYYY-MM"):
        load_monthly_report(StoreLayout.for_store(str(tmp_path / "store")), "2026/11", NAMES)


# --- the files, on the committed sample --------------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    store = root / "store"
    run_pipeline(SAMPLES, str(store), dt.date(2026, 11, 28))
    out = root / "out"
    assert main(["report", "--store", str(store), "--month", "2026-11", "--out", str(out)]) == 0
    return store, out


def expected_by_district(persons: pd.DataFrame) -> pd.DataFrame:
    """The report's figures, computed here independently from persons.parquet."""
    persons = persons.assign(district=persons["district_code"].fillna("UNPLACED"))
    counts = pd.crosstab(persons["district"], persons["status"])
    unenrolled = persons[persons["status"] == "UNENROLLED"]
    expected = pd.DataFrame({
        "登记范围人口": counts.drop(columns="OUT_OF_SCOPE").sum(axis=1),
        "已参保": counts["ENROLLED"],
        "未参保": counts["UNENROLLED"],
        "已死亡": counts["DECEASED"],
        "外省市参保": counts["INSURED_ELSEWHERE"],
        "服刑人员（免于调查）": counts["EXEMPT_PRISONER"],
    })
    for flag, header in (("TAXPAYER", "其中：纳税人"), ("EMPLOYED", "其中：就业"), ("LOW_INCOME", "其中：低保特困优抚"),
                         ("STUDENT", "其中：在校学生"), ("SURVEYED", "其中：已入户调查")):
        holders = unenrolled[unenrolled["flags"].str.split("|").map(lambda flags, flag=flag: flag in flags)]
        expected[header] = holders.groupby("district").size().reindex(expected.index, fill_value=0)
    expected["参保率"] = expected["已参保"] / expected["登记范围人口"]
    return expected


def test_both_files_are_written(sample_report):
    _, out = sample_report
    assert sorted(p.name for p in out.iterdir()) == ["report_2026-11.html", "report_2026-11.xlsx"]


def test_xlsx_district_figures_match_an_independent_count(sample_report):
    store, out = sample_report
    expected = expected_by_district(pd.read_parquet(store / "persons.parquet"))
    sheet = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[0], dtype={"区代码": str})
    placed = sheet[sheet["区"] != TOTAL_LABEL].assign(区代码=lambda s: s["区代码"].fillna(""))
    placed = placed.set_index(placed["区代码"].where(~placed["区"].str.startswith("无法定位"), "UNPLACED"))
    assert sorted(placed.index) == sorted(expected.index)
    for column in expected.columns:
        assert placed[column].reindex(expected.index).tolist() == pytest.approx(expected[column].tolist()), column


def test_xlsx_city_total_counts_every_person_in_scope(sample_report):
    store, out = sample_report
    persons = pd.read_parquet(store / "persons.parquet")
    sheet = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[0]).set_index("区")
    assert sheet.loc[TOTAL_LABEL, "登记范围人口"] == (persons["status"] != "OUT_OF_SCOPE").sum()


def test_xlsx_district_sheet_has_the_chinese_headers_in_order(sample_report):
    _, out = sample_report
    sheet = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[0])
    assert list(sheet.columns) == list(DISTRICT_HEADERS.values())


def test_xlsx_street_figures_add_up_to_their_district(sample_report):
    _, out = sample_report
    districts = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[0], dtype={"区代码": str})
    streets = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[1], dtype={"区代码": str})
    by_district = streets.groupby("区代码")["未参保"].sum()
    placed = districts[districts["区代码"].str.fullmatch(r"\d{6}", na=False)].set_index("区代码")["未参保"]
    assert by_district.reindex(placed.index).tolist() == placed.tolist()


def test_xlsx_ranking_is_in_order_of_enrolment_rate(sample_report):
    _, out = sample_report
    ranking = pd.read_excel(out / "report_2026-11.xlsx", sheet_name=SHEETS[2])
    assert ranking["参保率"].is_monotonic_decreasing
    assert len(ranking) == 16


def test_html_is_self_contained_with_charts_and_the_figures(sample_report):
    store, out = sample_report
    html = (out / "report_2026-11.html").read_text(encoding="utf-8")
    expected = expected_by_district(pd.read_parquet(store / "persons.parquet"))
    assert "天津市全民参保登记月度统计 2026年11月" in html
    assert html.count("<svg") == 2
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert f"{expected['登记范围人口'].sum():,}" in html
    assert "参保率 = 已参保人数 ÷ 登记范围人口" in html


def test_write_report_creates_the_folder(tmp_path: Path):
    layout = StoreLayout.for_store(str(tmp_path / "store"))
    remember(layout, "r-nov", dt.date(2026, 11, 28), NOVEMBER)
    paths = write_report(load_monthly_report(layout, "2026-11", NAMES), tmp_path / "a" / "b")
    assert all(path.is_file() for path in paths)


def test_payment_figures_per_district_with_the_month_on_month_change():
    import datetime as _dt

    from resolver.report import payment_statistics

    def snap(rows):
        return pd.DataFrame(rows, columns=["person_id", "status", "flags", "district_code", "street", "community",
                                           "birth_date", "arrears_low"])

    november = snap([
        ["P1", "ENROLLED", "", NANKAI, "华苑街道", None, "1980-01-01", None],
        ["P2", "ENROLLED", "NO_PENSION|NO_MEDICAL", NANKAI, "华苑街道", None, "1990-05-05", None],
        ["P3", "ENROLLED", "INTERRUPTED", NANKAI, "华苑街道", None, "1970-01-01", 1200.5],
        ["P4", "UNENROLLED", "LAPSED", NANKAI, "华苑街道", None, "1985-01-01", 300.0],
        ["P5", "ENROLLED", "STUDENT", NANKAI, "华苑街道", None, "2008-01-01", None],   # student: outside the base
        ["P6", "ENROLLED", "", NANKAI, "华苑街道", None, "2015-01-01", None],          # under 16
        ["P7", "OUT_OF_SCOPE", "", NANKAI, "华苑街道", None, "1980-01-01", None],
    ])
    row = payment_statistics(november, ["district_code"], _dt.date(2026, 11, 28)).loc[NANKAI]
    assert row["pension_coverage"] == pytest.approx(2 / 4)    # P1, P3 of P1-P4
    assert row["medical_coverage"] == pytest.approx(4 / 6)    # P1, P3, P5, P6 of the six in scope
    assert (row["interrupted"], row["lapsed"], row["arrears_low"]) == (1, 1, 1500.5)
    october = november[november["person_id"] != "P3"]
    tables = monthly_statistics(november, october, NAMES, _dt.date(2026, 11, 28), _dt.date(2026, 10, 28))
    nankai = tables.districts.set_index("district_code").loc[NANKAI]
    assert (nankai["interrupted_change"], nankai["arrears_change"]) == (1, 1200.5)
    assert tables.streets.iloc[0]["interrupted"] == 1
    old_run = november.drop(columns=["birth_date", "arrears_low"])   # a snapshot from before the payment side
    assert pd.isna(payment_statistics(old_run, ["district_code"], _dt.date(2026, 11, 28)).loc[NANKAI,
                                                                                               "pension_coverage"])
