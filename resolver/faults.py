"""Fault injection for tests and operators: ``CANBAO_CRASH_AT=<stage>`` ends `canbao run` right after a stage.

The process ends itself with ``os._exit(137)`` (what a SIGKILL'd process reports), so no ``finally``
block, context manager or atexit hook runs: what the store holds afterwards is what a real crash
(power loss aside) at that moment would leave.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from resolver.errors import ConfigError

CRASH_ENV = "CANBAO_CRASH_AT"
CRASH_EXIT_CODE = 137
# Every crash point of a run, in the order they are passed, with what the store holds when it fires.
RUN_STAGES: dict[str, str] = {
    "ingest": "extracts read; nothing written to the store",
    "resolve": "records resolved into persons; nothing written",
    "status": "statuses and dispatch places derived; nothing written",
    "graph": "the run's graph snapshot written but not current",
    "save": "state, parquet files, run folder and run index written under staged names",
    "land": "landing manifest written (the commit point): the next opener rolls the run forward",
    "switch": "the graph switched to the new run; parquet files and state not yet moved",
    "moved": "every file moved into place; the manifest not yet removed",
}


def crash_stage(env: Mapping[str, str] | None = None) -> str | None:
    """The stage CANBAO_CRASH_AT names (None when unset); an unknown name is a ConfigError listing the known ones."""
    value = (os.environ if env is None else env).get(CRASH_ENV, "").strip()
    if not value:
        return None
    if value not in RUN_STAGES:
        raise ConfigError(f"{CRASH_ENV}={value!r}: 未知阶段 (unknown stage); 可用 (known): {', '.join(RUN_STAGES)}")
    return value


def crash_point(stage: str) -> None:
    """End the process with exit code 137 if CANBAO_CRASH_AT names ``stage`` (called as the stage completes)."""
    if stage not in RUN_STAGES:
        raise ValueError(f"crash_point({stage!r}) is not one of {', '.join(RUN_STAGES)}")
    if crash_stage() == stage:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)


def stages_help() -> str:
    """The crash points for `canbao run --help`."""
    return "; ".join(f"{name}: {what}" for name, what in RUN_STAGES.items())
