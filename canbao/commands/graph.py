"""Graph commands: the analysts' named queries and the neo4j-admin export."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from canbao.commands import command


def cmd_query(args: argparse.Namespace) -> int:
    import pandas as pd

    from graph import QueryError, catalogue_text, open_store, parse_param_args
    from graph.queries import bind_params, get_query
    from resolver.pipeline import StoreLayout

    if args.list or not args.name:
        print(catalogue_text())
        return 0
    if not args.store:
        print("错误 error: 需要 --store (a store folder or neo4j URI)", file=sys.stderr)
        return 2
    if args.limit < 1:
        print(f"错误 error: --limit 应为正整数 (must be ≥ 1): {args.limit}", file=sys.stderr)
        return 2
    try:   # the user's mistakes (unknown query, parameter, value out of range) before the store opens
        params = bind_params(get_query(args.name), parse_param_args(args.param))
    except QueryError as error:
        print(f"错误 error: {error}", file=sys.stderr)
        return 2
    layout = StoreLayout.for_store(args.store)
    with open_store(layout.graph_spec, must_exist=True) as store:
        frame = store.run_query(args.name, params).to_frame()
    with pd.option_context("display.max_rows", args.limit, "display.width", 200, "display.max_columns", None):
        print(frame.head(args.limit).to_string(index=False))
    print(f"({len(frame)} 行 rows)")
    return 0


@command("query", "分析人员的命名查询：--list 列出目录 (run a named analyst query; --list shows the catalogue)", cmd_query)
def _query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="查询名 query name (see --list)")
    parser.add_argument("--list", action="store_true", help="列出全部命名查询 list the catalogue")
    parser.add_argument("--store", help="图谱库 store folder or neo4j URI")
    parser.add_argument("--param", action="append", default=[], metavar="K=V", help="查询参数 query parameter")
    parser.add_argument("--limit", type=int, default=50, help="最多显示行数 rows to print")


def cmd_export_neo4j(args: argparse.Namespace) -> int:
    from graph import EmbeddedStore
    from graph.neo4j_import import export_neo4j_import, instructions
    from resolver.pipeline import StoreLayout

    layout = StoreLayout.for_store(args.store)
    with EmbeddedStore(layout.graph_spec, must_exist=True) as store:
        bundle = export_neo4j_import(store, Path(args.out), database=args.database)
    print(instructions(bundle, database=args.database))
    return 0


@command("export-neo4j", "导出 neo4j-admin 批量导入 CSV 并打印导入命令 (write neo4j-admin import CSVs)", cmd_export_neo4j)
def _export_neo4j_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="嵌入式图谱库目录 embedded store folder")
    parser.add_argument("--out", required=True, help="输出目录 output folder")
    parser.add_argument("--database", default="neo4j", help="目标数据库名 target Neo4j database")
