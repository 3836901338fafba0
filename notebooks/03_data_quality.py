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
# # 数据质量：拒收、身份证号问题、冲突与待核实 — Data quality
#
# 各部门数据进入人员图谱前后的质量情况：哪些行被拒收及原因，哪些字段有问题，身份证号的可信程度，
# 需要数据管理员裁决的冲突，以及待人工核实的疑似匹配（复核积压）。每一行输入要么成为一条记录，要么
# 进入拒收报告，从不丢失。
#
# How good the departments' data is, before and after it joins the person graph: which rows
# were rejected and why, which fields had problems, how trustworthy the ID numbers are, the
# conflicts a steward must settle, and the backlog of record pairs awaiting review. Every input
# row is either a record or a row of the rejection report, never lost. Figures come from the
# store's reports (written by `resolver.ingest`) and the named queries `conflicts`,
# `uncertain_links` and `unplaced_persons` (`graph/queries.py`).
#
# **运行 How to run**: `CANBAO_STORE` names the store (default `runs/demo`, built by `make demo`;
# for Neo4j a URI plus `CANBAO_WORK_DIR`). 身份证号均已脱敏显示 (ID numbers are shown masked).
# Charts are the report's SVG charts (`resolver.report_charts`), so the Chinese labels render
# with the browser's fonts, offline.

# %% [markdown]
# ## 1. 打开图谱库 Open the store

# %%

import pandas as pd
from IPython.display import SVG, display

from canbao.analyst import ALL_ROWS, query as run_named_query, short_label, store_layout
from graph import open_store
from resolver.ingest import QUALITY_COLUMNS, REJECTED_COLUMNS
from resolver.mapping import load_mappings
from resolver.report_charts import bar_chart_svg, stacked_bar_svg
from resolver.runs import latest_run, load_linked_records
from resolver.schema import ID_STATUSES, TRUSTED_ID_STATUSES
from resolver.standardise.id_number import mask_id_number
from resolver.status import status_labels

layout = store_layout()
ALL = ALL_ROWS
LABELS = status_labels()
DEPARTMENTS = {source: mapping.department for source, mapping in load_mappings().items()}


def query(name: str, **params) -> pd.DataFrame:
    """Run one named query on this notebook's store."""
    return run_named_query(layout, name, **params)


short = short_label


run = latest_run(layout)
print(f"图谱库 store: {layout.graph_spec}\n最近运行 latest run: {run.label}")

# %% [markdown]
# ## 2. 读入与拒收 Rows in, records and rejections
#
# 库中累计的规范化记录（`records.parquet`）与拒收报告（`rejected.parquet`，即导出的 `rejected.csv`）。
# 输入行数 = 记录数 + 拒收行数。
# The store's canonical records and its cumulative rejection report; rows in = records + rejected.

# %%
records = load_linked_records(layout)
rejected = pd.read_parquet(layout.rejected_file, columns=REJECTED_COLUMNS)
print(f"记录 records: {len(records)}\n拒收 rejected: {len(rejected)}\n输入行 rows in: {len(records) + len(rejected)}")

per_source = pd.DataFrame({"记录 records": records["source"].value_counts(),
                           "拒收 rejected": rejected["source"].value_counts()}).fillna(0).astype(int)
per_source["拒收率 rejected share"] = (per_source["拒收 rejected"]
                                      / (per_source["记录 records"] + per_source["拒收 rejected"])).map("{:.2%}".format)
per_source.insert(0, "部门 department", per_source.index.map(lambda s: DEPARTMENTS.get(s, s)))
display(per_source)

# %% [markdown]
# ### 拒收原因 Why rows were rejected
#
# 原因的冒号前是出问题的列（或“整个文件”的原因）。关键字段（`critical`）无法识别时整行拒收，
# 因为参保状态依赖它；改正源文件或映射文件（`resolver/sources/<source>.yaml`）后重跑即可。
# The part of the reason before the colon names the column at fault. A row is rejected when a
# critical field cannot be read, because a status depends on it: fix the extract or its
# mapping file and run again.

# %%
if rejected.empty:
    print("无拒收 (no rejected rows)")
else:
    cause = rejected["reason"].str.split(":", n=1).str[0].str.strip().rename("原因 cause")
    display(pd.crosstab(cause, rejected["source"]))
    reasons = cause.value_counts()
    display(SVG(bar_chart_svg("拒收行数（按原因）", reasons.index.map(short).tolist(),
                              reasons.astype(float).tolist(), lambda v: f"{v:,.0f}", colour="#d9623b")))
    display(rejected.sort_values(["source", "file", "line"]).head(30).reset_index(drop=True))

# %% [markdown]
# ## 3. 字段问题 Field problems that did not cost the row
#
# 非关键字段无法识别时丢弃该值、保留记录，并记入最近一次运行的 `quality.csv`；性别、出生日期与
# 身份证号不一致也记在这里（两边都不改）。
# Problems in non-critical fields drop the value but keep the record; they, and genders or
# birth dates that contradict the ID number, are listed in the latest run's `quality.csv`.

# %%
quality_file = layout.run_dir(run.run_id) / "quality.csv"
quality = (pd.read_csv(quality_file, dtype=str) if quality_file.is_file()
           else pd.DataFrame(columns=QUALITY_COLUMNS))
print(f"字段问题 field problems: {len(quality)}")
if quality.empty:
    print("无 (none)")
else:
    display(quality.groupby(["source", "field", "issue"]).size().rename("记录数 records")
            .sort_values(ascending=False).to_frame().head(30))

# %% [markdown]
# ## 4. 身份证号 ID numbers
#
# 可信的 18 位身份证号（`valid`，及由 15 位升位的 `converted_15`）用于确定性关联；校验位错误、
# 格式错误、缺失的记录只能靠姓名、出生日期、地址等做概率匹配；护照等其他证件原样保留。
# Trusted 18-digit numbers (valid, or converted from 15 digits) link records deterministically;
# the rest can only be matched on name, birth date, address and the like.

# %%
id_table = pd.crosstab(records["source"], records["id_status"]).reindex(columns=list(ID_STATUSES), fill_value=0)
trusted = id_table[[s for s in ID_STATUSES if s in TRUSTED_ID_STATUSES]].sum(axis=1)
id_table["不可信占比 untrusted share"] = (1 - trusted / id_table.sum(axis=1)).map("{:.2%}".format)
display(id_table)
untrusted = [s for s in ID_STATUSES if s not in TRUSTED_ID_STATUSES]
print(f"不可信身份证号的记录 records without a trusted ID number: {int(id_table[untrusted].sum().sum())}")

# %%
display(SVG(stacked_bar_svg("不可信身份证号的记录（按部门）", id_table.index.tolist(),
                            {status: id_table[status].astype(float).tolist() for status in untrusted},
                            ("#d9623b", "#e8a33d", "#9a9a9a", "#6f9fd8"))))

# %% [markdown]
# 记录如何归并到人员：按身份证号确定性关联、概率匹配，或单独成人（未与任何记录关联）。
# How records joined a person: by ID number, by probabilistic match, or alone (singleton).

# %%
display(records["link_method"].value_counts().rename("记录数 records").to_frame())

# %% [markdown]
# ## 5. 冲突 Conflicts a steward must settle
#
# 命名查询 `conflicts`：标记 CONFLICT 的人员，例如一个聚类中出现两个不同的有效身份证号，
# 或死亡后仍有记录。
# Persons flagged CONFLICT (two different valid ID numbers in one cluster, records after death, …)
# with their ID numbers and the departments whose records they hold.

# %%
conflicts = query("conflicts", limit=ALL)
print(f"冲突 CONFLICT: {len(conflicts)}")
if not conflicts.empty:
    display(conflicts.assign(
        status=conflicts["status"].map(lambda s: LABELS.get(s, s)),
        id_numbers=conflicts["id_numbers"].map(lambda ids: "、".join(mask_id_number(i) for i in ids if i)),
        sources=conflicts["sources"].map(lambda sources: "、".join(DEPARTMENTS.get(s, s) for s in sorted(sources))),
    ))

# %% [markdown]
# ## 6. 待人工核实 The review backlog
#
# 命名查询 `uncertain_links`：匹配概率处于复核区间、尚无 match/not_match 决定的记录对，最不确定者在前。
# 数据管理员在 API 中作出决定后，这些记录对离开队列，决定在之后每次运行中保留。
# Record pairs in the review band without a match/not_match decision, most uncertain first. A
# steward's decision (through the API) takes the pair off the queue and holds in every later run.

# %%
backlog = query("uncertain_links", limit=ALL)
print(f"待核实 review backlog: {len(backlog)}")
if not backlog.empty:
    bands = pd.cut(backlog["match_probability"], bins=[0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0], include_lowest=True)
    per_band = bands.value_counts(sort=False)
    display(SVG(bar_chart_svg("待核实记录对（按匹配概率）", [str(band) for band in per_band.index],
                              per_band.astype(float).tolist(), lambda v: f"{v:,.0f}", colour="#9b8ec4")))
    display(backlog[["record_key_l", "name_l", "record_key_r", "name_r", "match_probability"]].head(15))

# %% [markdown]
# 本次运行的解析统计（候选对、复核对、冲突等），来自图谱中的运行节点。
# The run's resolution counts (candidate pairs, review pairs, conflicts …), from its Run node.

# %%
with open_store(layout.graph_spec, must_exist=True) as store:
    run_node = store.run(run.run_id)
if run_node is not None:
    display(pd.Series(run_node.counts, name="数量 count").to_frame())

# %% [markdown]
# ## 7. 无法定位 Survey targets without a place (art. 15)
#
# 命名查询 `unplaced_persons`：地址无法定位到区的未参保人员及原因（UNPLACED 工作清单，从不丢弃）。
# UNENROLLED persons whose address could not be placed in a district, with the reason.

# %%
unplaced = query("unplaced_persons", limit=ALL)
print(f"无法定位 UNPLACED: {len(unplaced)}")
if not unplaced.empty:
    display(unplaced["dispatch_reason"].value_counts().rename("人数 persons").to_frame())
