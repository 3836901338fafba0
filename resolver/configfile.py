"""Configuration files a policy officer edits: YAML in, a validated model out.

Every loader (source mappings, status rules, matching, generator rates) reads through
here, so every mistake is reported the same way: the file, each dotted key, the problem.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from resolver.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def config_text(path: Path | None, default_file: str) -> tuple[str, str]:
    """(text, origin) of ``path``, or of the shipped resolver/config/<default_file> when no path is given."""
    if path is None:
        text = resources.files("resolver.config").joinpath(default_file).read_text("utf-8")
        return text, f"resolver/config/{default_file}"
    try:
        return Path(path).read_text("utf-8"), str(path)
    except OSError as problem:
        raise ConfigError(f"{path}: 无法读取配置文件 (cannot read the configuration file): {problem.strerror}") from None
    except UnicodeDecodeError as problem:
        raise ConfigError(f"{path}: 配置文件应为 UTF-8 文本 (a configuration file must be UTF-8 text): {problem}") from None


def parse_yaml(text: str, origin: str, error: type[ConfigError] = ConfigError) -> object:
    """The YAML document in ``text``; ``origin`` names the file in the error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise error(f"{origin}: 不是有效的 YAML (invalid YAML): {_yaml_problem(problem)}") from None


def _yaml_problem(problem: yaml.YAMLError) -> str:
    """PyYAML's complaint in one line: where (line, column, 1-based) and what, without its drawing of the text."""
    mark = getattr(problem, "problem_mark", None)
    what = getattr(problem, "problem", None) or str(problem).splitlines()[0]
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列 (line {mark.line + 1}, column {mark.column + 1}): {what}" \
        if mark is not None else what


def validate(model: type[Model], data: object, origin: str, what: str,
             error: type[ConfigError] = ConfigError) -> Model:
    """``data`` as ``model``, or one error listing every offending key of ``origin``."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in invalid.errors()
        )
        raise error(f"{origin}: {what}: {problems}") from None
