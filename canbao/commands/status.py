"""Status commands: explain a person, survey work lists, run-to-run changes, the follow-up ledger, monthly report."""
from __future__ import annotations

import argparse
from pathlib import Path

from canbao.commands import audit_read, command

PREVIEW_ROWS = 50


def _layout(args: argparse.Namespace):
    from resolver.pipeline import StoreLayout

    return StoreLayout.for_store(args.store, Path(args.work_dir) if args.work_dir else None)


def _district_names() -> dict[str, str]:
    from resolver.divisions import load_divisions

    return {d.code: d.name for d in load_divisions().districts()}


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="图谱库 store folder or neo4j URI")
    parser.add_argument("--work-dir", help="本地状态目录 (for a Neo4j store; default: inside the store folder)")


def _area_arguments(parser: argparse.ArgumentParser, district_required: bool = False) -> None:
    parser.add_argument("--district", required=district_required, help="区代码 district code, e.g. 120101")
    parser.add_argument("--street", help="街道/镇名称 street or town name, e.g. 劝业场街道")
    parser.add_argument("--community", help="社区/村名称 community or village name")


def _print_preview(table, total: int) -> None:
    preview = table.head(PREVIEW_ROWS).astype(object)
    # where, not fillna: fillna would downcast the object columns it fills (deprecated in pandas 2.2).
    print(preview.where(preview.notna(), "").to_string(index=False))
    if total > PREVIEW_ROWS:
        print(f"…… 共 {total} 行，仅显示前 {PREVIEW_ROWS} 行；用 --out 写出全部 (showing {PREVIEW_ROWS} of {total}; "
              f"use --out for all)")


def cmd_explain(args: argparse.Namespace) -> int:
    from resolver.person_explain import format_explanation, load_person_explanation

    layout = _layout(args)
    explanation = load_person_explanation(layout, args.person_id)
    audit_read(args, layout.work_dir, [args.person_id], full_id=args.full_id)
    print(format_explanation(explanation, _district_names(), full_id=args.full_id))
    return 0


@command("explain", "说明某人的参保状态、标记及其依据记录和匹配证据 (why a person has its status, flags and links)",
         cmd_explain)
def _explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("person_id", metavar="PERSON_ID", help="人员编号 person id, e.g. P0027f3185588")
    _store_arguments(parser)
    parser.add_argument("--full-id", action="store_true",
                        help="显示完整身份证号（仅限授权数据管理员） show the full ID number (authorised stewards)")


def cmd_worklist(args: argparse.Namespace) -> int:
    from resolver.errors import InputError
    from resolver.runs import load_linked_records, load_persons
    from resolver.status import status_labels
    from resolver.table_files import write_table
    from resolver.worklist import (
        UNPLACED_HEADERS, WORKLIST_HEADERS, Area, build_unplaced, build_worklist, with_headers,
    )

    if bool(args.district) == bool(args.unplaced):
        raise InputError("worklist: 请给出 --district 区代码 或 --unplaced 之一 (give either --district or --unplaced)")
    layout = _layout(args)
    persons, records = load_persons(layout), load_linked_records(layout)
    if args.unplaced:
        rows = build_unplaced(persons, records, status_labels())
        audit_read(args, layout.work_dir, rows["person_id"], rows=len(rows), out=args.out)
        path = write_table(with_headers(rows, UNPLACED_HEADERS), Path(args.out), "无法定位 UNPLACED")
        print(f"无法定位名单 UNPLACED list: {len(rows)} 人 persons → {path}")
        return 0
    names = _district_names()
    if args.district not in names:
        raise InputError(f"--district {args.district!r}: 不是天津的区代码 (not a Tianjin district code); "
                         f"可用 (known): {', '.join(f'{c} {n}' for c, n in names.items())}")
    area = Area(args.district, args.street, args.community)
    rows = build_worklist(persons, records, area, status_labels(), names)
    audit_read(args, layout.work_dir, rows["person_id"], rows=len(rows), out=args.out)
    path = write_table(with_headers(rows, WORKLIST_HEADERS), Path(args.out), "入户调查名单")
    where = " ".join(p for p in (args.district, names[args.district], args.street, args.community) if p)
    print(f"入户调查名单 work list {where}: {len(rows)} 人 persons → {path}")
    return 0


@command("worklist", "按区/街道/社区生成未参保人员入户调查名单或无法定位名单 (survey work list, .csv or .xlsx)",
         cmd_worklist)
def _worklist_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    _area_arguments(parser)
    parser.add_argument("--unplaced", action="store_true",
                        help="输出无法定位到区的未参保人员及原因 write the UNPLACED list with reasons instead")
    parser.add_argument("--out", required=True, help="输出文件 output file (.csv UTF-8 with BOM, or .xlsx)")


class _WholeCity:
    """Every person (the arrears list without --district)."""

    @staticmethod
    def contains(persons):
        import numpy as np

        return np.ones(len(persons), dtype=bool)


def cmd_arrears(args: argparse.Namespace) -> int:
    from resolver.arrears import ARREARS_LIST_HEADERS, build_arrears_list, load_contribution_policy
    from resolver.errors import InputError
    from resolver.runs import latest_run, load_linked_records, load_persons
    from resolver.status import status_labels
    from resolver.table_files import write_table
    from resolver.worklist import Area, with_headers

    names = _district_names()
    if args.district is None and (args.street or args.community):
        raise InputError("arrears: --street/--community 需要同时给出 --district (give --district with --street)")
    if args.district is not None and args.district not in names:
        raise InputError(f"--district {args.district!r}: 不是天津的区代码 (not a Tianjin district code); "
                         f"可用 (known): {', '.join(f'{c} {n}' for c, n in names.items())}")
    policy = load_contribution_policy(Path(args.contributions) if args.contributions else None)
    layout = _layout(args)
    as_of = latest_run(layout).as_of
    persons, records = load_persons(layout), load_linked_records(layout)
    area = Area(args.district, args.street, args.community) if args.district else _WholeCity()
    rows = build_arrears_list(persons, records, area, as_of, policy, status_labels(), names)
    audit_read(args, layout.work_dir, rows["person_id"].unique(), rows=len(rows), out=args.out)
    path = write_table(with_headers(rows, ARREARS_LIST_HEADERS), Path(args.out), "中断缴费补缴测算")
    where = " ".join(p for p in (args.district, names.get(args.district or "", ""), args.street, args.community) if p)
    print(f"中断及终止缴费人员补缴测算名单 arrears list {where or '全市 whole city'} (截至 as of {as_of}): "
          f"{rows['person_id'].nunique()} 人 persons, {len(rows)} 行 rows → {path}")
    return 0


@command("arrears", "中断/终止缴费人员名单及补缴测算：险种、最近缴费月份、欠缴月数、测算区间 "
         "(interrupted and lapsed payers with back-payment estimates, art. 26; .csv or .xlsx)", cmd_arrears)
def _arrears_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    _area_arguments(parser)
    parser.add_argument("--contributions",
                        help="缴费测算参数 contribution figures YAML (default resolver/config/contributions.yaml)")
    parser.add_argument("--out", required=True, help="输出文件 output file (.csv UTF-8 with BOM, or .xlsx)")


def cmd_changes(args: argparse.Namespace) -> int:
    from resolver.changes import CHANGE_LABELS, changes_in_district, changes_sheet
    from resolver.runs import changes_since
    from resolver.status import status_labels
    from resolver.table_files import write_table

    layout = _layout(args)
    result = changes_since(layout, args.since, args.until)
    changes = changes_in_district(result.changes, args.district) if args.district else result.changes
    shown = changes if args.out else changes.head(PREVIEW_ROWS)
    audit_read(args, layout.work_dir, shown["person_id"] if "person_id" in shown else [], rows=len(changes),
               out=args.out)
    print(f"自 since {result.since_run_id} (基准日 {result.since_as_of}) 至 until {result.until_run_id} "
          f"(基准日 {result.until_as_of})" + (f"  区 district {args.district}" if args.district else ""))
    counts = changes["change"].value_counts()
    for kind, label in CHANGE_LABELS.items():
        print(f"  {label} {kind}: {int(counts.get(kind, 0))}")
    sheet = changes_sheet(changes, status_labels())
    if args.out:
        print(f"变化清单 changes: {len(sheet)} 行 rows → {write_table(sheet, Path(args.out), '变化清单')}")
    elif len(sheet):
        _print_preview(sheet, len(sheet))
    return 0


@command("changes", "与以前某次运行比较：新增未参保、新参保、死亡、刑满释放、迁移 (run-to-run changes, arts. 28-30)",
         cmd_changes)
def _changes_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--since", required=True, metavar="RUN", help="比较的起点运行编号 the earlier run id")
    parser.add_argument("--until", metavar="RUN", help="终点运行编号（默认最近一次） the later run id (default: latest)")
    parser.add_argument("--district", help="只列出迁入/迁出或位于该区的人员 only persons placed in this district before or after")
    parser.add_argument("--out", help="输出文件 output file (.csv or .xlsx); 不给则打印 (printed when absent)")


def cmd_ledger(args: argparse.Namespace) -> int:
    from resolver.ledger import LEDGER_HEADERS, build_ledger, load_next_steps
    from resolver.runs import load_linked_records, load_persons
    from resolver.status import status_labels
    from resolver.table_files import write_table
    from resolver.worklist import Area, with_headers

    layout = _layout(args)
    steps = load_next_steps(Path(args.next_steps) if args.next_steps else None)
    persons, records = load_persons(layout), load_linked_records(layout)
    if args.district:
        persons = persons[Area(args.district, args.street, args.community).contains(persons)]
    rows = build_ledger(persons, records, steps, status_labels())
    shown = rows if args.out else rows.head(PREVIEW_ROWS)
    audit_read(args, layout.work_dir, shown["person_id"], rows=len(rows), out=args.out)
    ledger = with_headers(rows, LEDGER_HEADERS)
    if args.out:
        print(f"跟踪台账 ledger: {len(ledger)} 人 persons → {write_table(ledger, Path(args.out), '跟踪台账')}")
    else:
        _print_preview(ledger, len(ledger))
    return 0


@command("ledger", "未参保人员跟踪台账：调查次数、结果、原因、下一步 (follow-up ledger per survey target, arts. 28-30)",
         cmd_ledger)
def _ledger_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    _area_arguments(parser)
    parser.add_argument("--next-steps",
                        help="下一步规则表 next-step table YAML (default resolver/config/ledger_next_steps.yaml)")
    parser.add_argument("--out", help="输出文件 output file (.csv or .xlsx); 不给则打印 (printed when absent)")


def cmd_report(args: argparse.Namespace) -> int:
    from resolver.report import load_monthly_report, write_report

    report = load_monthly_report(_layout(args), args.month, _district_names())
    for path in write_report(report, Path(args.out)):
        print(f"写入 written: {path}")
    return 0


@command("report", "月度参保统计：按区、街道的参保率及区排名，HTML 图表与 Excel (monthly statistics, arts. 34-36)",
         cmd_report)
def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--month", required=True, help="统计月份 month YYYY-MM (the latest run with as_of in it)")
    parser.add_argument("--out", required=True, help="输出目录 output folder (report_<month>.html and .xlsx)")
