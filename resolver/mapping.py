"""Source mappings: one YAML file per department maps its Chinese headers to canonical fields.

Onboarding a department or following a renamed column is an edit of
resolver/sources/<source>.yaml (or a file in a folder given with --sources);
this module loads and validates those files, naming file and key on any error.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from resolver.configfile import config_text, parse_yaml, validate
from resolver.errors import ConfigError
from resolver.fields import INPUT_FIELDS
from resolver.schema import CERT_TYPES


class ColumnSpec(BaseModel):
    """How one delivered column is read."""

    model_config = ConfigDict(extra="forbid")
    field: str
    required: bool = True
    values: list[str] | None = None
    critical: bool = False

    @field_validator("field")
    @classmethod
    def _known_field(cls, field: str) -> str:
        if field not in INPUT_FIELDS:
            raise ValueError(f"unknown field {field!r}; known fields are listed in resolver/fields.py")
        return field


class SourceMappingModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    department: str
    record_id: str
    cert_type: str | None = None
    columns: dict[str, ColumnSpec]

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, columns: object) -> object:
        # `姓名: name` is short for `姓名: {field: name}`.
        if isinstance(columns, dict):
            return {h: {"field": spec} if isinstance(spec, str) else spec for h, spec in columns.items()}
        return columns

    @field_validator("cert_type")
    @classmethod
    def _known_cert_type(cls, cert_type: str | None) -> str | None:
        if cert_type is not None and cert_type not in CERT_TYPES.values():
            raise ValueError(f"unknown cert_type {cert_type!r}; known: {', '.join(CERT_TYPES.values())}")
        return cert_type


@dataclass(frozen=True)
class SourceMapping:
    """A validated mapping: header → column spec, plus where it came from (for messages)."""

    source: str
    department: str
    record_id_header: str
    cert_type: str | None
    columns: dict[str, ColumnSpec]
    origin: str

    def required_headers(self) -> list[str]:
        return [self.record_id_header] + [h for h, spec in self.columns.items() if spec.required]

    def header_of(self, field: str) -> str | None:
        return next((h for h, spec in self.columns.items() if spec.field == field), None)


def parse_mapping(data: object, origin: str) -> SourceMapping:
    """Validate one mapping document; ``origin`` names the file in error messages."""
    model = validate(SourceMappingModel, data, origin, "映射文件有误 (invalid source mapping)")
    columns = dict(model.columns)
    fields = [spec.field for spec in columns.values()]
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    if repeated:
        raise ConfigError(f"{origin}: 同一字段被映射了多次 (field mapped twice): {', '.join(repeated)}")
    if "name" not in fields and "id_number" not in fields:
        raise ConfigError(f"{origin}: 至少要映射 name 或 id_number (map at least name or id_number)")
    if model.record_id in columns:
        raise ConfigError(f"{origin}: record_id 列 {model.record_id} 不能同时出现在 columns 中")
    expected_stem = Path(origin).stem
    if Path(origin).suffix in {".yaml", ".yml"} and expected_stem != model.source:
        raise ConfigError(f"{origin}: source 应与文件名一致 (source must equal the file name): {model.source!r}")
    return SourceMapping(
        source=model.source,
        department=model.department,
        record_id_header=model.record_id,
        cert_type=model.cert_type,
        columns=columns,
        origin=origin,
    )


def load_mapping_file(path: Path) -> SourceMapping:
    text, origin = config_text(path, "")
    return parse_mapping(parse_yaml(text, origin), origin)


def load_mappings(folder: Path | None = None) -> dict[str, SourceMapping]:
    """All mappings: the shipped defaults, overridden or extended by ``folder``'s *.yaml files."""
    mappings: dict[str, SourceMapping] = {}
    shipped = resources.files("resolver.sources")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            origin = f"resolver/sources/{entry.name}"
            mapping = parse_mapping(parse_yaml(entry.read_text("utf-8"), origin), origin)
            mappings[mapping.source] = mapping
    if folder is not None:
        if not Path(folder).is_dir():
            raise ConfigError(f"--sources {folder}: 映射文件目录不存在 (no such folder of mapping files) — pass the "
                              "folder holding your <source>.yaml files, or leave --sources out for the shipped ones")
        for path in sorted(Path(folder).glob("*.yaml")):
            mapping = load_mapping_file(path)
            mappings[mapping.source] = mapping
    return mappings
