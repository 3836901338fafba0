"""`canbao`: the command line, a thin shell over the library (resolver/, graph/, api/)."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from resolver.errors import CanbaoError

Handler = Callable[[argparse.Namespace], int]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD (date must be YYYY-MM-DD): {text!r}") from error


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from resolver.synth import generate, load_rates

    summary = generate(
        persons=args.persons,
        seed=args.seed,
        as_of=args.as_of,
        out_dir=Path(args.out),
        rates=load_rates(Path(args.rates) if args.rates else None),
        progress=_progress,
    )
    print(summary)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from resolver.ingest import ingest_folder, write_reports
    from resolver.mapping import load_mappings

    result = ingest_folder(
        Path(args.input), load_mappings(Path(args.sources) if args.sources else None), progress=_progress
    )
    out = Path(args.out)
    write_reports(result, out)
    result.records.to_parquet(out / "records.parquet", index=False)
    print(f"{'文件 file':<34}{'编码 encoding':>14}{'读入 in':>10}{'接收 accepted':>14}{'拒收 rejected':>14}")
    for report in result.files:
        print(f"{report.file:<34}{report.encoding or '-':>14}{report.rows_in:>10}{report.accepted:>14}{report.rejected:>14}")
    print(
        f"合计 total: 读入 {result.rows_in} = 接收 {len(result.records)} + 拒收 {len(result.rejected)}; "
        f"数据质量问题 quality issues {len(result.quality)} → {out}"
    )
    return 0 if result.rows_in == len(result.records) + len(result.rejected) else 1


COMMANDS: list[tuple[str, str, Handler, Callable[[argparse.ArgumentParser], None]]] = []


def command(name: str, help_text: str, handler: Handler) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable]:
    """Register a subcommand; the decorated function adds its arguments."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]) -> Callable:
        COMMANDS.append((name, help_text, handler, add_arguments))
        return add_arguments

    return register


@command("generate", "生成合成的部门数据及真值 (write synthetic department extracts with ground truth)", cmd_generate)
def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--persons", type=int, required=True, help="人数 number of persons")
    parser.add_argument("--seed", type=int, default=20261128, help="随机种子 random seed")
    parser.add_argument("--as-of", type=_date, default=dt.date.today(), help="基准日 reference date YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="输出目录 output folder")
    parser.add_argument("--rates", help="脏数据比例配置 YAML overriding resolver/synth/rates.yaml")


@command("ingest", "读入部门数据并标准化，输出拒收和数据质量报告 (ingest and standardise, with rejection report)", cmd_ingest)
def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="部门数据目录 folder of <source>_<YYYYMM>.csv/.xlsx")
    parser.add_argument("--out", required=True, help="输出目录: records.parquet, rejected.csv, quality.csv")
    parser.add_argument("--sources", help="额外或替换的映射文件目录 folder of source mapping YAML files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canbao",
        description="全民参保登记 实体解析引擎 — universal enrolment registration entity resolution (津人社局发〔2016〕103号)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="子命令 commands")
    for name, help_text, handler, add_arguments in COMMANDS:
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except CanbaoError as error:
        print(f"错误 error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
