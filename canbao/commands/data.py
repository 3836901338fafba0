"""Data commands: generate synthetic extracts, ingest department files."""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from canbao.commands import command, date_argument, progress

def cmd_generate(args: argparse.Namespace) -> int:
    from resolver.synth import generate, load_rates

    summary = generate(
        persons=args.persons,
        seed=args.seed,
        as_of=args.as_of,
        out_dir=Path(args.out),
        rates=load_rates(Path(args.rates) if args.rates else None),
        progress=progress,
    )
    print(summary)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from resolver.ingest import ingest_folder, write_reports
    from resolver.mapping import load_mappings

    result = ingest_folder(
        Path(args.input), load_mappings(Path(args.sources) if args.sources else None), progress=progress
    )
    out = Path(args.out)
    write_reports(result, out)
    result.records.to_parquet(out / "records.parquet", index=False)
    print(f"{'文件 file':<34}{'编码 encoding':>14}{'读入 in':>10}{'接收 accepted':>14}{'拒收 rejected':>14}")
    for report in result.files:
        print(f"{report.file:<34}{report.encoding or '-':>14}{report.rows_in:>10}{report.accepted:>14}{report.rejected:>14}")
    print(
        f"合计 total: 读入 {result.rows_in} = 接收 {len(result.records)} + 拒收 {len(result.rejected)}; "
        f"整体拒收文件 files rejected whole {len(result.rejected_files)}; "
        f"数据质量问题 quality issues {len(result.quality)} → {out}"
    )
    return 0 if result.rows_in == len(result.records) + len(result.rejected) else 1



@command("generate", "生成合成的部门数据及真值 (write synthetic department extracts with ground truth)", cmd_generate)
def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--persons", type=int, required=True, help="人数 number of persons")
    parser.add_argument("--seed", type=int, default=20261128, help="随机种子 random seed")
    parser.add_argument("--as-of", type=date_argument, default=dt.date.today(), help="基准日 reference date YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="输出目录 output folder")
    parser.add_argument("--rates", help="脏数据比例配置 YAML overriding resolver/synth/rates.yaml")


@command("ingest", "读入部门数据并标准化，输出拒收和数据质量报告 (ingest and standardise, with rejection report)", cmd_ingest)
def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="部门数据目录 folder of <source>_<YYYYMM>.csv/.xlsx")
    parser.add_argument("--out", required=True, help="输出目录: records.parquet, rejected.csv, rejected_files.csv, quality.csv")
    parser.add_argument("--sources", help="额外或替换的映射文件目录 folder of source mapping YAML files")
