"""The subcommand registry: each area module adds its commands with ``@command``."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

COMMANDS: list[tuple[str, str, Handler, AddArguments]] = []

# Area modules, in the order their commands appear in `canbao --help`.
COMMAND_MODULES: tuple[str, ...] = ("canbao.commands.data", "canbao.commands.resolution", "canbao.commands.graph", "canbao.commands.status",
                                      "canbao.commands.api")


def command(name: str, help_text: str, handler: Handler) -> Callable[[AddArguments], AddArguments]:
    """Register a subcommand; the decorated function adds its arguments."""

    def register(add_arguments: AddArguments) -> AddArguments:
        if all(existing[0] != name for existing in COMMANDS):
            COMMANDS.append((name, help_text, handler, add_arguments))
        return add_arguments

    return register


def load_command_modules() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)


def date_argument(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD (date must be YYYY-MM-DD): {text!r}") from error


def progress(message: str) -> None:
    """Progress lines on stderr, so stdout stays the result."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def audit_read(args: argparse.Namespace, work_dir: Path, persons: Iterable[str], **detail: Any) -> None:
    """Append the command's row to the store's audit log (art. 31: the OS user, the command and its arguments,
    the persons shown) before it shows personal data; if the row cannot be written, nothing is shown."""
    from api.audit_store import append_cli_read
    from api.database import DATABASE_FILE, Database
    from graph.errors import StoreBusy, StoreError
    from resolver.errors import InputError

    if not Path(work_dir).is_dir():   # opening the audit database would create the folder of a mistyped --store
        raise InputError(f"{work_dir}: 库中还没有运行结果，文件夹不存在 (no run in this store yet: no such folder) — "
                         "check --store, or run `canbao run` into it first")
    database_file = Path(work_dir) / DATABASE_FILE
    try:
        append_cli_read(Database(database_file).transaction, args.command, getattr(args, "argv", [])[1:],
                        list(persons), detail)
    except (OSError, sqlite3.Error) as error:
        busy = isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
        raise (StoreBusy if busy else StoreError)(
            str(database_file), "审计日志写入 audit write", f"{error}; 不显示个人数据 (cannot write the audit log, so "
            "no personal data is shown)", retryable=busy) from None
