"""`canbao`: the command line, a thin shell over the library (resolver/, graph/, api/).

Each area's subcommands live in canbao/commands/<area>.py and register themselves with
``command``; this module only builds the parser and runs the chosen handler.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from canbao.commands import COMMANDS, load_command_modules
from resolver.errors import CanbaoError


def build_parser() -> argparse.ArgumentParser:
    load_command_modules()
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
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv   # the words as typed: a command that shows personal data audits them
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
