"""API commands: `canbao serve` (the REST service), `canbao user add|list` (tokens), `canbao audit` (the audit log).

Whoever can run these on the store's folder administers it: `user` and `audit` need
filesystem access to the store, which is the admin boundary (arts. 31-33).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from canbao.commands import command, date_argument, progress

BEIJING = dt.timezone(dt.timedelta(hours=8))


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="图谱库 store folder or neo4j URI (as for `canbao run`)")
    parser.add_argument("--work-dir", help="本地状态目录 (for a Neo4j store; default: inside the store folder)")


def _database(args: argparse.Namespace):
    from api.database import Database
    from api.settings import DATABASE_FILE
    from resolver.errors import InputError
    from resolver.pipeline import StoreLayout

    layout = StoreLayout.for_store(args.store, Path(args.work_dir) if args.work_dir else None)
    if not layout.work_dir.is_dir():
        raise InputError(f"--store {args.store}: 文件夹不存在 (folder does not exist) — run `canbao run` into it first")
    return Database(layout.work_dir / DATABASE_FILE)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api import create_app, load_settings

    settings = load_settings({
        "store": args.store, "work_dir": args.work_dir, "host": args.host, "port": args.port, "as_of": args.as_of,
        "max_body_bytes": args.max_body_kb * 1024 if args.max_body_kb else None, "flush_seconds": args.flush_seconds,
        "matching": args.matching, "sources": args.sources, "graph_worker": False if args.graph_in_process else None,
    })
    progress(f"打开库 opening {settings.store}（建立匹配索引 building the match index）…")
    loop, http = _server_stack()
    # One worker: the resolver state lives in this process's memory (api/engine.py).
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, workers=1, log_level="info",
                loop=loop, http=http)
    return 0


def _server_stack() -> tuple[str, str]:
    """uvloop and httptools (dependencies) where they install: a fifth less server CPU per request than asyncio
    and h11 (bench/api.py), which on a small machine decides how many surveyors it serves; else those two."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    if (loop, http) != ("uvloop", "httptools"):
        progress(f"未安装 uvloop/httptools，使用 {loop}/{http}（较慢） uvloop or httptools missing: serving on {loop}/{http}, "
                 "slower")
    return loop, http


@command("serve", "启动 REST 服务（/v1，文档见 /docs） run the REST API for the survey app, stewards and analysts",
         cmd_serve)
def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--host", default=None, help="监听地址 listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="监听端口 port (default 8000)")
    parser.add_argument("--as-of", type=date_argument, default=None, help="基准日 (default: the latest run's)")
    parser.add_argument("--max-body-kb", type=int, default=None, help="请求体上限 KB request body limit (default 64)")
    parser.add_argument("--flush-seconds", type=float, default=None,
                        help="变更写回匹配状态的延迟秒数 seconds before changes are saved to the resolver state (default 5)")
    parser.add_argument("--matching", help="匹配配置 matching YAML")
    parser.add_argument("--sources", help="映射文件目录 folder of source mapping YAML files")
    parser.add_argument("--graph-in-process", action="store_true",
                        help="嵌入式图库在服务进程内运行（无崩溃隔离，用于基准对比） run the embedded graph in this process, "
                             "not in a supervised worker (no crash isolation; for comparisons)")


def cmd_user(args: argparse.Namespace) -> int:
    from api.security import ROLE_LABELS, Users

    users = Users(_database(args))
    if args.user_action == "add":
        token = users.add(args.name, args.role, args.district, args.street)
        print(f"已创建用户 created user {args.name} ({args.role}"
              f"{' ' + args.district if args.district else ''}{' ' + args.street if args.street else ''})")
        print("令牌只显示这一次，请妥善保存 (the token is shown once; keep it safe):")
        print(token)
        return 0
    for user in users.list():
        place = " ".join(p for p in (user.district, user.street) if p) or "全市 citywide"
        state = "" if user.active else "停用 inactive"
        print("\t".join(x for x in (user.name, user.role.value, ROLE_LABELS[user.role], place, user.created_at,
                                    state) if x))
    return 0


@command("user", "API 用户：add 发放令牌（只显示一次）、list 列出 (API users and their bearer tokens)", cmd_user)
def _user_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="user_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="新增用户并打印令牌（最后一行） add a user; the token is printed on the last line")
    _store_arguments(add)
    add.add_argument("--name", required=True, help="用户名 user name")
    add.add_argument("--role", required=True,
                     choices=["surveyor", "street_reviewer", "district_reviewer", "steward", "analyst", "admin"],
                     help="角色 role")
    add.add_argument("--district", help="所属区代码（调查员与审核员必填） district code, e.g. 120104")
    add.add_argument("--street", help="所属街道（仅街道审核员，可选） street, for a street_reviewer")
    listing = actions.add_parser("list", help="列出用户（不含令牌） list users (never the tokens)")
    _store_arguments(listing)


def _since_argument(text: str) -> dt.datetime:
    """YYYY-MM-DD or an ISO date-time; without a zone, Beijing time."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"应为 YYYY-MM-DD 或 ISO 时间 (must be YYYY-MM-DD or an ISO date-time): {text!r}") from error
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def _beijing(at: str) -> str:
    """A stored UTC time as Beijing time; a value that is no time is shown as stored."""
    try:
        return dt.datetime.fromisoformat(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError):
        return at


def _verify(database) -> int:
    from api.audit_store import verify

    with database.connect() as conn:
        result = verify(conn)
    if result.ok:
        print(f"审计日志完整 audit log intact: {result.rows} 条 rows; 链尾 head seq {result.head_seq} "
              f"hash {result.head_hash} (记下它，以后对比 note it down and compare later: a truncated or wholly "
              "rewritten log shows only there)")
        return 0
    first = result.breaks[0]
    print(f"审计日志被改动 AUDIT LOG BROKEN at seq {first.seq} ({_beijing(str(first.at))}): {first.reason}")
    for other in result.breaks[1:]:
        print(f"  seq {other.seq} ({_beijing(str(other.at))}): {other.reason}")
    shown = len(result.breaks)
    more = f" (first {shown} listed)" if result.broken_rows > shown else ""
    print(f"共 {result.rows} 条，{result.broken_rows} 条不符 {result.broken_rows} of {result.rows} rows do not fit "
          f"the chain{more}")
    return 1


def cmd_audit(args: argparse.Namespace) -> int:
    from api.audit import AuditLog

    database = _database(args)
    if args.verify:
        return _verify(database)
    if args.since is None:
        print("错误 error: 需要 --since 起始时间 或 --verify (give --since DATE, or --verify to check the chain)",
              file=sys.stderr)
        return 2
    entries = AuditLog(database).since(args.since, user=args.user, person=args.person, limit=args.limit)
    malformed = 0
    for e in entries:
        malformed += bool(e.malformed)
        if args.json:
            print(json.dumps(vars(e), ensure_ascii=False))
            continue
        persons = ",".join(e.persons[:10]) + (f" …(+{len(e.persons) - 10})" if len(e.persons) > 10 else "")
        target = f"{e.method} {e.path}" + (f"?{e.query}" if e.query and e.method != "CLI" else "")
        if e.method == "CLI":
            target = f"{e.path} {e.query or ''}".rstrip()
        status = {0: "intended" if e.detail.get("phase") == "intended" else "cli"}.get(e.status, str(e.status))
        flag = f"\t格式错误 MALFORMED: {', '.join(e.malformed)}" if e.malformed else ""
        print(f"{_beijing(e.at)}\t{e.user or '-'}\t{e.role or '-'}\t{target}\t{status}\t{persons}{flag}")
    print(f"共 {len(entries)} 条 entries (since {args.since.isoformat()})"
          + (f"; {malformed} 条格式错误，可能被篡改 malformed (forged?) — run `canbao audit --verify`"
             if malformed else ""))
    return 0


@command("audit", "查看或校验审计日志：谁在何时读取或修改了哪些人员的数据 (the append-only, hash-chained audit log, "
                  "admins)", cmd_audit)
def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--since", type=_since_argument,
                        help="起始时间 YYYY-MM-DD 或 ISO 时间（默认北京时间） start, Beijing time unless zoned")
    parser.add_argument("--verify", action="store_true",
                        help="校验哈希链，退出码 1 并指出第一条不符的记录 check the hash chain; exit 1 naming the "
                             "first row that breaks it")
    parser.add_argument("--user", help="只看某用户 one user only")
    parser.add_argument("--person", help="只看涉及某人员的记录 entries touching one person id")
    parser.add_argument("--limit", type=int, default=1000, help="最多条数 maximum entries (default 1000)")
    parser.add_argument("--json", action="store_true", help="每行一个 JSON one JSON object per line")
