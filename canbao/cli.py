"""`canbao`: the command line, a thin shell over the library (resolver/, graph/, api/).

Each area's subcommands live in canbao/commands/<area>.py and register themselves with
``command``; this module only builds the parser and runs the chosen handler.

Exit codes: 0 done; 1 an operation failed that is not the user's doing (a database crash, a full disk, an audit
chain found broken); 2 the user's mistake (a missing or unreadable file or folder, a malformed value, an unknown
name, a store without a run), told in one line ``错误 error: …`` naming the input and the fix; 75 (EX_TEMPFAIL)
the store is busy or out of reach for now, try again. Never a traceback for any of them.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from canbao.commands import COMMANDS, load_command_modules
from resolver.errors import CanbaoError, ConfigError, InputError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RETRY = 75   # sysexits.h EX_TEMPFAIL: a scheduler may run the command again later


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors in one line, like every other error of the CLI (still exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"错误 error: {self.prog}: {message} — 用法见 (see) `{self.prog} --help`\n")


def exit_code(error: CanbaoError) -> int:
    """The exit code of an error the library raised on purpose (the convention of this module's docstring)."""
    from graph.errors import QueryError, StoreError, StoreSpecError, StoreUnavailable   # graph imports pandas

    if isinstance(error, StoreError) and error.retryable:
        return EXIT_RETRY
    # The error tree's classes that name the user's input: a file, a folder, a value, a store; a store that
    # cannot be opened for good is a --store that names the wrong place.
    if isinstance(error, (InputError, ConfigError, StoreSpecError, QueryError, StoreUnavailable)):
        return EXIT_USAGE
    return EXIT_FAILED


def one_line(message: str) -> str:
    """A message in one line (a foreign library's text may span several), its lines joined by ' | '."""
    return " | ".join(line.strip() for line in message.splitlines() if line.strip())


def build_parser() -> argparse.ArgumentParser:
    load_command_modules()
    parser = Parser(
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
        return EXIT_USAGE
    try:
        return args.handler(args)
    except CanbaoError as error:
        print(f"错误 error: {one_line(str(error))}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
