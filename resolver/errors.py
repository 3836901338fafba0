"""The project's error tree, drawn once.

CanbaoError
├── ConfigError        a mapping, rule or settings file is invalid (names file and key)
├── InputError         a department file cannot be read as a whole (names file, column, mapping)
└── GraphError         the graph store's errors, drawn in graph/errors.py

The CLI and the API catch CanbaoError and show its message; anything else is a bug.
Row-level problems are not exceptions: they become rows of the rejection report.
"""
from __future__ import annotations


class CanbaoError(Exception):
    """Base of every error canbao raises on purpose."""


class ConfigError(CanbaoError):
    """A configuration file is invalid; the message names the file, the key and the fix."""


class InputError(CanbaoError):
    """An input file cannot be ingested at all; the message names the file and what to edit."""
