# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 参保覆盖情况：按区、街道 — Enrolment coverage by district and street
#
# 本笔记本读取一个 canbao 图谱库（`canbao run` 的结果），按区、街道统计登记范围人口、已参保、
# 未参保人数与参保率（津人社局发〔2016〕103号 第三十四至三十六条），并给出入户调查对象的
# 派发分布（第十五条）和外省市参保人数（第十四条）。
#
# This notebook reads a canbao store (what `canbao run` writes) and shows, per district and
# street, the population in scope, the enrolled, the survey targets (UNENROLLED) and the
# enrolment rate, then where the survey targets are dispatched and who is insured in another
# province. Every figure comes from the library (`resolver.report`, the monthly statistics)
# or from the graph's named queries (`graph/queries.py`); nothing is recomputed here.
#
# **运行 How to run**: `CANBAO_STORE=runs/demo jupyter lab` (or `jupytext --to ipynb`), or
# execute it headless as the tests do. `CANBAO_STORE` defaults to `runs/demo`, which
# `make demo` builds from `data/samples`; for a Neo4j store give its URI and set
# `CANBAO_WORK_DIR` to the folder holding its local parts.
#
# 图表中的中文由浏览器字体显示（图表为 SVG 文本，不依赖 matplotlib 字体）。
# Charts are the report's own SVG charts (`resolver.report_charts`): their Chinese labels are
# text drawn by the browser's fonts, so they render offline without a CJK font for matplotlib.

# %% [markdown]
# ## 1. 打开图谱库 Open the store
#
# 相对路径按当前目录解析；在 `notebooks/` 中打开时也能找到仓库根目录下的 `runs/demo`。
# A relative path is read from the working directory, or from the repository root when the
# notebook is opened from `notebooks/`.

# %%

import pandas as pd
from IPython.display import SVG, display

from canbao.analyst import query as run_named_query, short_label, store_layout
from resolver.divisions import load_divisions
from resolver.report import (CHANGE_MEASURES, DISTRICT_HEADERS, STATUS_COLOURS, STATUS_OF_MEASURE, STREET_HEADERS,
                             TOTAL_LABEL, load_monthly_report)
from resolver.report_charts import bar_chart_svg, stacked_bar_svg
from resolver.runs import latest_run
from resolver.status import STATUS_ORDER, status_labels

layout = store_layout()


def query(name: str, **params) -> pd.DataFrame:
    """Run one named query on this notebook's store."""
    return run_named_query(layout, name, **params)


short = short_label


LABELS = status_labels()
DISTRICT_NAMES = {d.code: d.name for d in load_divisions().districts()}
pd.set_option("display.max_rows", 60)
print(f"图谱库 store: {layout.graph_spec}")

# %% [markdown]
# ## 2. 最近一次运行 The latest run
#
# 统计以最近一次运行的人员快照为准，月份取其基准日所在月；若上月也有运行，则给出较上月的变化。
# The statistics are those of the latest run's person snapshot, for the month of its
# reference date (`as_of`); when the month before also has a run, the changes are shown.

# %%
run = latest_run(layout)
month = run.as_of.strftime("%Y-%m")
report = load_monthly_report(layout, month, DISTRICT_NAMES)
previous = report.previous_run.label if report.previous_run else "无 (none)"
print(f"本月运行 run: {report.run.label}\n上月运行 previous run: {previous}")

# %% [markdown]
# ## 3. 全市登记范围人口的状态构成 The city's population in scope, by status
#
# 每人只有一个状态（`shared/spec/status-rules.md` 的优先顺序）；“非本市登记范围”者不计入。
# Each person has exactly one status, decided by the first rule that applies; persons out of
# scope (no Tianjin household registration, no valid residence permit) are not counted.

# %%
districts = report.tables.districts
city = districts[districts["district_name"] == TOTAL_LABEL].iloc[0]
status_counts = pd.Series({status: city[measure] for measure, status in STATUS_OF_MEASURE.items()})
status_counts = status_counts.reindex([s for s in STATUS_ORDER if s in status_counts.index])
overview = pd.DataFrame({"状态 label": [LABELS[s] for s in status_counts.index],
                         "人数 persons": status_counts.astype(int).to_numpy()}, index=status_counts.index)
overview.loc["in_scope"] = ["登记范围人口 (population in scope)", int(city["in_scope"])]
display(overview)
print(f"参保率 enrolment rate: {city['enrolment_rate']:.2%}")

# %% [markdown]
# ## 4. 各区统计与排名 Districts and their ranking (arts. 34-35)
#
# 口径见 `resolver/report.py`：登记范围人口不含“非本市登记范围”；参保率 = 已参保 ÷ 登记范围人口；
# “其中”各项为未参保人员中带相应标记者。无法定位的人员单列为 UNPLACED。
# Definitions are the monthly report's: persons out of scope are left out of the population;
# the rate is enrolled ÷ population in scope; the "其中" columns count survey targets by flag.

# %%
def readable(table: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    """Chinese headers and percentages for display; the change columns only when there is a previous month."""
    keys = [k for k in headers if report.previous_run is not None
            or (k not in CHANGE_MEASURES and not k.endswith("_change"))]
    shown = table[keys].copy()
    shown["enrolment_rate"] = shown["enrolment_rate"].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
    return shown.rename(columns=headers).reset_index(drop=True)


display(readable(districts, DISTRICT_HEADERS))

# %%
ranking = report.tables.ranking
display(SVG(bar_chart_svg("各区参保率（由高到低）", ranking["district_name"].tolist(),
                          ranking["enrolment_rate"].astype(float).tolist(), lambda v: f"{v:.1%}", scale_max=1.0)))

# %% [markdown]
# ### 缴费情况：基本养老、基本医疗保险覆盖率 Pension and medical coverage (arts. 7, 36)
#
# 养老覆盖率 = 有基本养老保险（正常参保或暂停缴费）者 ÷ 登记范围内年满16周岁的非在校学生；
# 医疗覆盖率 = 有基本医疗保险者 ÷ 登记范围人口。一个只有工伤保险的人算已参保，但不算覆盖。
# Pension coverage: persons with an active basic pension ÷ persons in scope aged 16+ who are not
# students; medical coverage: persons with a basic medical scheme ÷ persons in scope.

# %%
print(f"基本养老保险覆盖率 pension coverage: {city['pension_coverage']:.2%}")
print(f"基本医疗保险覆盖率 medical coverage: {city['medical_coverage']:.2%}")
print(f"中断缴费 INTERRUPTED: {int(city['interrupted'])}  终止未接续 LAPSED: {int(city['lapsed'])}  "
      f"测算补缴额（最低基数）arrears at the lowest base: {city['arrears_low']:,.2f} 元")
coverage = placed_districts = districts[districts["district_name"] != TOTAL_LABEL]
display(coverage[["district_code", "district_name", "pension_coverage", "medical_coverage", "interrupted", "lapsed",
                  "arrears_low"]].rename(columns=DISTRICT_HEADERS).reset_index(drop=True))
display(SVG(bar_chart_svg("各区基本养老保险覆盖率", coverage["district_name"].tolist(),
                          coverage["pension_coverage"].fillna(0).astype(float).tolist(), lambda v: f"{v:.1%}",
                          scale_max=1.0)))
display(SVG(bar_chart_svg("各区基本医疗保险覆盖率", coverage["district_name"].tolist(),
                          coverage["medical_coverage"].fillna(0).astype(float).tolist(), lambda v: f"{v:.1%}",
                          scale_max=1.0)))

# %% [markdown]
# 各区登记范围人口的状态构成（绿色为已参保，橙色为未参保）。
# The make-up of each district's population in scope, by status.

# %%
placed = districts[districts["district_name"] != TOTAL_LABEL]
mix = {LABELS[status]: placed[measure].astype(float).tolist() for measure, status in STATUS_OF_MEASURE.items()}
display(SVG(stacked_bar_svg("各区登记范围人口构成（人）", placed["district_name"].tolist(), mix, STATUS_COLOURS)))

# %% [markdown]
# ## 5. 街道 Streets
#
# 先看全市未参保人数最多的街道，再看一个区的全部街道。把 `DISTRICT` 改为区代码（如 `"120104"`）
# 即可查看该区；留空则取未参保人数最多的区。
# First the streets with the most survey targets city-wide, then every street of one district:
# set `DISTRICT` to a district code, or leave it empty for the district with the most UNENROLLED.

# %%
streets = report.tables.streets
top_streets = streets.sort_values(["unenrolled", "district_code", "street"], ascending=[False, True, True]).head(15)
display(SVG(bar_chart_svg("未参保人数最多的街道（人）",
                          (top_streets["district_name"] + " " + top_streets["street"]).map(short).tolist(),
                          top_streets["unenrolled"].astype(float).tolist(), lambda v: f"{v:,.0f}",
                          colour=STATUS_COLOURS[-1])))

# %%
DISTRICT = ""
district = DISTRICT or str(placed.sort_values("unenrolled", ascending=False)["district_code"].iloc[0])
print(f"区 district: {district} {DISTRICT_NAMES.get(district, '')}")
display(readable(streets[streets["district_code"] == district].sort_values("enrolment_rate"), STREET_HEADERS))

# %% [markdown]
# ## 6. 入户调查对象的派发 Where the survey targets go (art. 15)
#
# 命名查询 `unenrolled_counts` 直接在图谱上按区、街道、社区统计未参保人员；未能定位者的区为空。
# 图谱中的状态可能在运行后被人工更新（API 的状态更新），因此与运行快照的差异说明有后续更新。
# The named query `unenrolled_counts` counts the survey targets in the graph per district,
# street and community (unplaced ones have no district). The graph may have been updated by
# stewards since the run, so a difference from the run snapshot means later status updates.

# %%
dispatch = query("unenrolled_counts")
unenrolled_total = int(dispatch["unenrolled"].sum())
print(f"未参保 UNENROLLED: {unenrolled_total}")

per_district = (dispatch.assign(district_code=dispatch["district_code"].fillna("UNPLACED"))
                .groupby("district_code")["unenrolled"].sum().rename("图谱 graph"))
snapshot = placed.set_index("district_code")["unenrolled"].rename("运行快照 run snapshot")
check = pd.concat([per_district, snapshot], axis=1).fillna(0).astype(int)
check["差异 difference"] = check["图谱 graph"] - check["运行快照 run snapshot"]
display(check)

# %% [markdown]
# 未参保人数最多的社区（村），即入户调查工作量最大之处。
# The communities with the most survey targets: where the survey teams have most to do.

# %%
display(dispatch.head(20).assign(district_name=lambda t: t["district_code"].map(DISTRICT_NAMES))
        [["district_code", "district_name", "street", "community", "unenrolled"]])

# %% [markdown]
# ## 7. 外省市参保 Insured in another province (art. 14)
#
# 在全国参保库中于外省正常参保、无需本市登记的人数，按省份（命名查询 `insured_elsewhere_by_province`）。
# Persons insured in another province per the national database, counted per province.

# %%
provinces = query("insured_elsewhere_by_province")
print(f"各省合计 sum over provinces: {int(provinces['persons'].sum())}")
if provinces.empty:
    print("无 (none)")
else:
    display(SVG(bar_chart_svg("外省市参保人数（按省份）", provinces["province_name"].fillna(provinces["province_code"]).tolist(),
                              provinces["persons"].astype(float).tolist(), lambda v: f"{v:,.0f}",
                              colour=STATUS_COLOURS[1])))
