"""The subcommand registry: each area module adds its commands with ``@command``."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import time
from collections.abc import Callable

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
