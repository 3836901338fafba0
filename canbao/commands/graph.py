"""Graph commands: the analysts' named queries and the neo4j-admin export."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from canbao.commands import audit_read, command


def _persons_in(rows: list[dict]) -> list[str]:
    """Person ids a query's rows show (the person_id columns and cluster members), as the API audits them."""
    return [p for row in rows for column, value in row.items()
            if column.startswith("person_id") or column == "members"
            for p in (value if isinstance(value, list) else [value]) if isinstance(p, str)]


def cmd_query(args: argparse.Namespace) -> int:
    import pandas as pd

    from api.masking import mask_identifier
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
    layout = StoreLayout.for_store(args.store, Path(args.work_dir) if args.work_dir else None)
    with open_store(layout.graph_spec, must_exist=True) as store:
        result = store.run_query(args.name, params)
    rows = result.rows if args.full_id else [{c: mask_identifier(c, v) for c, v in row.items()} for row in result.rows]
    frame = pd.DataFrame(rows, columns=result.columns)
    audit_read(args, layout.work_dir, _persons_in(result.rows[:args.limit]), query=args.name, rows=len(frame),
               full_id=args.full_id)
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
    parser.add_argument("--full-id", action="store_true",
                        help="显示完整身份证号和电话（仅限授权人员，记入审计日志） show full ID numbers and phones "
                             "(authorised staff; audited)")
    parser.add_argument("--work-dir", help="本地状态目录，含审计日志 (for a Neo4j store; default: inside the store folder)")


def cmd_export_neo4j(args: argparse.Namespace) -> int:
    from graph import EmbeddedStore
    from graph.neo4j_import import export_neo4j_import, instructions
    from resolver.pipeline import StoreLayout

    layout = StoreLayout.for_store(args.store)
    audit_read(args, layout.work_dir, [], out=args.out, scope="all persons")
    with EmbeddedStore(layout.graph_spec, must_exist=True) as store:
        bundle = export_neo4j_import(store, Path(args.out), database=args.database)
    print(instructions(bundle, database=args.database))
    return 0


@command("export-neo4j", "导出 neo4j-admin 批量导入 CSV 并打印导入命令 (write neo4j-admin import CSVs)", cmd_export_neo4j)
def _export_neo4j_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="嵌入式图谱库目录 embedded store folder")
    parser.add_argument("--out", required=True, help="输出目录 output folder")
    parser.add_argument("--database", default="neo4j", help="目标数据库名 target Neo4j database")
