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
# # 扩面线索：纳税、就业未参保人员与用人单位 — Expansion leads
#
# 全民参保登记的扩面重点（津人社局发〔2016〕103号 第十二、十三条）：近 12 个月有个税扣缴记录却未参保的
# 纳税人，有就业登记或公积金正常缴存却未参保的职工，以及未参保职工最多的用人单位；另列出成员参保状态
# 不一的家庭，便于入户时一并动员。
#
# Where enrolment can grow: taxpayers with a tax return in the last 12 months who are not
# enrolled (art. 12), employed persons (HR registration or an active housing fund) who are not
# enrolled (art. 13), the employers with the most unenrolled workers, and households whose
# members have different statuses. Every list is one of the graph's named queries
# (`graph/queries.py`, also `canbao query NAME`); this notebook only counts and charts them.
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
from resolver.divisions import load_divisions
from resolver.mapping import load_mappings
from resolver.report_charts import bar_chart_svg
from resolver.standardise.id_number import mask_id_number
from resolver.status import status_labels

layout = store_layout()
ALL = ALL_ROWS
LABELS = status_labels()
DISTRICT_NAMES = {d.code: d.name for d in load_divisions().districts()}
DEPARTMENTS = {source: mapping.department for source, mapping in load_mappings().items()}


def query(name: str, **params) -> pd.DataFrame:
    """Run one named query on this notebook's store."""
    return run_named_query(layout, name, **params)


short = short_label


def departments(sources: list[str]) -> str:
    """Source codes as the departments' names."""
    return "、".join(DEPARTMENTS.get(source, source) for source in sorted(sources))


def for_display(persons: pd.DataFrame) -> pd.DataFrame:
    """A person list as an analyst reads it: masked ID, district name, employers joined."""
    shown = persons.assign(id_number=persons["id_number"].map(mask_id_number),
                           district_name=persons["district_code"].map(DISTRICT_NAMES),
                           employers=persons["employers"].map("、".join))
    return shown[["person_id", "name", "id_number", "district_code", "district_name", "street", "community",
                  "employers"]]


print(f"图谱库 store: {layout.graph_spec}")

# %% [markdown]
# ## 2. 纳税未参保 Taxpayers not enrolled (art. 12)
#
# 命名查询 `taxpayers_not_enrolled`：状态为未参保、带“纳税人”标记的人员及其扣缴单位。
# UNENROLLED persons flagged TAXPAYER, with the employers that withheld their tax.

# %%
taxpayers = query("taxpayers_not_enrolled", limit=ALL)
print(f"纳税未参保 UNENROLLED TAXPAYER: {len(taxpayers)}")
display(for_display(taxpayers).head(10))

# %%
def by_district(persons: pd.DataFrame) -> pd.Series:
    """Persons per district (name), most first; unplaced ones as UNPLACED."""
    names = persons["district_code"].map(DISTRICT_NAMES).fillna("无法定位 UNPLACED")
    return names.value_counts().rename("人数 persons")


tax_by_district = by_district(taxpayers)
if tax_by_district.empty:
    print("无 (none)")
else:
    display(SVG(bar_chart_svg("纳税未参保人数（按区）", tax_by_district.index.tolist(),
                              tax_by_district.astype(float).tolist(), lambda v: f"{v:,.0f}", colour="#d9623b")))

# %% [markdown]
# ## 3. 就业未参保 Employed but not enrolled (art. 13)
#
# 命名查询 `employed_not_enrolled`：有就业登记或公积金正常缴存、但未参保的人员及其单位。
# 许多人同时是纳税人，下表给出两类线索的重合情况。
# UNENROLLED persons flagged EMPLOYED; many are taxpayers too, so the overlap is shown.

# %%
employed = query("employed_not_enrolled", limit=ALL)
print(f"就业未参保 UNENROLLED EMPLOYED: {len(employed)}")
display(for_display(employed).head(10))

# %%
tax_ids, employed_ids = set(taxpayers["person_id"]), set(employed["person_id"])
overlap = pd.Series({
    "纳税且就业 taxpayer and employed": len(tax_ids & employed_ids),
    "仅纳税 taxpayer only": len(tax_ids - employed_ids),
    "仅就业 employed only": len(employed_ids - tax_ids),
    "线索人员合计 persons with a lead": len(tax_ids | employed_ids),
}, name="人数 persons")
display(overlap.to_frame())

# %% [markdown]
# ## 4. 未参保职工最多的单位 Employers with the most unenrolled workers
#
# 命名查询 `employers_most_unenrolled`：经个税、就业登记、公积金或参保记录与未参保人员相连的单位，
# 按未参保职工人数排序，供扩面稽核。`sources` 为建立联系的部门。
# Employers linked to UNENROLLED persons through tax, HR, housing-fund or enrolment records,
# ranked by those workers: the firms to audit first. `sources` shows the departments whose
# records link them.

# %%
employers = query("employers_most_unenrolled", limit=20)
print(f"有未参保职工的单位（前 20） employers shown: {len(employers)}")
display(employers.assign(sources=employers["sources"].map(departments)))
if not employers.empty:
    display(SVG(bar_chart_svg("未参保职工最多的单位（人）", employers["employer_name"].map(short).tolist(),
                              employers["unenrolled_workers"].astype(float).tolist(), lambda v: f"{v:,.0f}")))

# %% [markdown]
# ## 5. 一个区的线索 One district's leads
#
# 把 `DISTRICT` 改为区代码（如 `"120104"`）即可查看该区；留空则取线索人员最多的区。
# 同一命名查询带 `district_code` 参数即按区筛选。
# Set `DISTRICT` to a district code, or leave it empty for the district with the most leads;
# the same named queries take `district_code`.

# %%
DISTRICT = ""
leads = pd.concat([taxpayers, employed]).drop_duplicates("person_id")
placed_leads = leads.dropna(subset=["district_code"])
district = DISTRICT or (placed_leads["district_code"].value_counts().index[0] if not placed_leads.empty else "")
print(f"区 district: {district} {DISTRICT_NAMES.get(district, '')}")
if district:
    in_district = query("taxpayers_not_enrolled", district_code=district, limit=ALL)
    display(in_district.groupby("street").size().sort_values(ascending=False).rename("纳税未参保 taxpayers").to_frame())
    display(query("employers_most_unenrolled", district_code=district, limit=10)
            .assign(sources=lambda t: t["sources"].map(departments)))

# %% [markdown]
# ## 6. 参保状态不一的家庭 Households with mixed statuses
#
# 命名查询 `mixed_status_households`：共享房间级住址或电话的家庭中成员状态不同者。已参保的家庭成员
# 是动员未参保成员的好帮手。
# Households (persons sharing a room-precise address or a phone) whose members have different
# statuses: an enrolled member helps the survey team reach the others.

# %%
households = query("mixed_status_households", limit=ALL)
print(f"参保状态不一的家庭 mixed-status households: {len(households)}")
with_target = households[households["statuses"].map(lambda statuses: "UNENROLLED" in statuses)]
print(f"其中有未参保成员 with a survey target: {len(with_target)}")


def status_text(statuses: list[str]) -> str:
    return " + ".join(LABELS.get(status, status) for status in sorted(statuses))


if not households.empty:
    display(households["statuses"].map(status_text).value_counts().rename("家庭数 households").to_frame())
    display(with_target.head(10).assign(statuses=with_target["statuses"].map(status_text))
            [["household_id", "member_count", "statuses"]])

# %% [markdown]
# ## 下一步 Next steps
#
# - 区、街道的入户调查工作清单：`canbao worklist --store … --district 120104`（脱敏、含上次调查结果）。
# - 单个人员的全部记录与状态依据：`canbao explain`，或 API 的 person 360 视图（命名查询 `person_360`）。
# - Work lists per district: `canbao worklist`; one person's records and why they have their
#   status: `canbao explain` or the `person_360` named query.
