"""Resolution commands: run the pipeline, export, evaluate, blocking report."""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from canbao.commands import audit_read, command, date_argument, progress

def cmd_run(args: argparse.Namespace) -> int:
    from resolver.divisions import load_divisions
    from resolver.mapping import load_mappings
    from resolver.matching_config import load_matching_config
    from resolver.pipeline import format_summary, run_pipeline

    outcome = run_pipeline(
        Path(args.input),
        args.store,
        args.as_of,
        mappings=load_mappings(Path(args.sources) if args.sources else None),
        matching=load_matching_config(Path(args.matching)) if args.matching else None,
        work_dir=Path(args.work_dir) if args.work_dir else None,
        progress=progress,
    )
    names = {d.code: d.name for d in load_divisions().districts()}
    print(format_summary(outcome, names))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from resolver.export import export_store
    from resolver.pipeline import StoreLayout

    # Every person of the store is written: the row lists none, and goes in before the files are written.
    layout = StoreLayout.for_store(args.store, Path(args.work_dir) if args.work_dir else None)
    audit_read(args, layout.work_dir, [], out=args.out, scope="all persons")
    written = export_store(args.store, Path(args.out), Path(args.work_dir) if args.work_dir else None)
    for name, rows in written.items():
        print(f"{name}: {rows} 行 rows")
    return 0


@command("run", "读入、解析、判定参保状态并写入人员图谱（对已有库增量解析） (ingest, resolve, derive statuses, write the graph)", cmd_run)
def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="部门数据目录 folder of <source>_<YYYYMM>.csv/.xlsx")
    parser.add_argument("--store", required=True, help="图谱库: 文件夹 (embedded LadybugDB) 或 neo4j://… / bolt://…")
    parser.add_argument("--as-of", type=date_argument, default=dt.date.today(), help="基准日 reference date YYYY-MM-DD")
    parser.add_argument("--sources", help="额外或替换的映射文件目录 folder of source mapping YAML files")
    parser.add_argument("--matching", help="匹配配置 matching YAML (default resolver/config/matching.yaml)")
    parser.add_argument("--work-dir", help="本地状态目录 (for a Neo4j store; default: inside the store folder)")
    from resolver.faults import CRASH_ENV, stages_help

    parser.epilog = (f"落库 landing: 图、状态、记录文件与运行索引一步落库, 中途崩溃只留下上一次或本次运行 (a run lands "
                     f"graph, state, parquet files and run index in one step; a crash leaves the previous run or "
                     f"this one). 故障注入 fault injection: {CRASH_ENV}=<stage> ends the process with exit code "
                     f"137 right after that stage — {stages_help()}.")


@command("export", "导出评估文件 links.csv、persons.csv、rejected.csv (write the export contract)", cmd_export)
def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("导出评估文件 links.csv、persons.csv、rejected.csv (the evaluation contract). "
                          "机器读取的合同文件，值与库中完全一致，不供 Excel 打开：部门数据中以 = + - @ 开头的文本原样写出。"
                          "供人查看请用 worklist、ledger、changes、report。 "
                          "A machine contract with exact values, not for opening in Excel; for people use "
                          "worklist, ledger, changes or report.")
    parser.add_argument("--store", required=True, help="图谱库 store folder or neo4j URI")
    parser.add_argument("--out", required=True, help="输出目录 output folder")
    parser.add_argument("--work-dir", help="本地状态目录 (for a Neo4j store)")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from resolver.evaluate import (
        dispatch_scores, evaluate, format_dispatch, format_evaluation, format_payment_flags, payment_flag_accuracy,
    )
    from resolver.table_files import read_csv_table

    export, truth = Path(args.export), Path(args.truth)
    export_fix, truth_fix = "--export 应为 `canbao export` 的输出目录 (the folder `canbao export` wrote)", \
        "--truth 应为 `canbao generate` 的 truth 目录 (the truth folder `canbao generate` wrote)"
    frames = (
        read_csv_table(export / "links.csv", export_fix, ("source", "record_id", "person_id")),
        read_csv_table(export / "persons.csv", export_fix, ("person_id",)),
        read_csv_table(truth / "records.csv", truth_fix, ("source", "record_id", "person_id")),
        read_csv_table(truth / "persons.csv", truth_fix, ("person_id",)),
    )
    print(format_evaluation(evaluate(*frames)))
    print(format_payment_flags(payment_flag_accuracy(*frames)))
    if {"district_code", "street", "community"} <= set(frames[1].columns) & set(frames[3].columns):
        print(format_dispatch(dispatch_scores(*frames)))
    return 0


@command("evaluate", "与真值比对：成对精确率/召回率/F1、聚类数、各状态准确率 (evaluate an export against truth)",
         cmd_evaluate)
def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", required=True, help="真值目录 truth folder (records.csv, persons.csv)")
    parser.add_argument("--export", required=True, help="导出目录 export folder (links.csv, persons.csv)")


def cmd_blocking_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from resolver.blocking import blocking_report, candidate_pairs, missed_true_pairs
    from resolver.compare import prepare_features
    from resolver.ingest import ingest_folder
    from resolver.matching_config import load_matching_config
    from resolver.table_files import read_csv_table

    # The small files first: a mistyped --matching or --truth is told before the long ingest, not after.
    config = load_matching_config(Path(args.matching)) if args.matching else load_matching_config()
    truth_records = read_csv_table(Path(args.truth) / "records.csv",
                                   "--truth 应为 `canbao generate` 的 truth 目录 (the truth folder it wrote)",
                                   ("source", "record_id", "person_id")) if args.truth else None
    records = ingest_folder(Path(args.input), progress=progress).records
    truth = pd.Series(None, index=records.index, dtype=object)
    if truth_records is not None:
        truth = records[["source", "record_id"]].merge(truth_records, how="left", on=["source", "record_id"])[
            "person_id"]
    features = prepare_features(records.reset_index(drop=True))
    pairs = candidate_pairs(features, config)
    report = blocking_report(pairs, features, truth)
    print(report.to_string(index=False))
    if args.truth:
        missed = missed_true_pairs(pairs, features, truth, config, records["source"].to_numpy(dtype=object))
        print()
        print("未被任何规则配对的真实配对，按共同点分组 true pairs no rule brings together, by what their records share"
              f" ({int(report['true_pairs_needed'].iat[0] - report['true_pairs_covered'].iat[-1]):,} in all)")
        print(missed.to_string(index=False) if len(missed) else "  (无 none)")
    return 0


@command("blocking-report", "各分块规则产生的候选对及（给定真值时）覆盖的真实配对 (pairs per blocking rule)",
         cmd_blocking_report)
def _blocking_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="部门数据目录 folder of department files")
    parser.add_argument("--truth", help="真值目录 truth folder (records.csv)")
    parser.add_argument("--matching", help="匹配配置 matching YAML")
