"""Load and validate the matching configuration (resolver/config/matching.yaml).

The file is policy read by people, so every problem is reported at once with the
file and the dotted key to edit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from resolver.configfile import parse_yaml, validate
from resolver.errors import ConfigError

DEFAULT_PATH = Path(__file__).parent / "config" / "matching.yaml"

# Levels per compared field, best first. The engine implements exactly these.
FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "id_number": ("exact", "converted_15", "one_substitution", "adjacent_transposition", "different"),
    "name": ("same_characters", "same_pinyin", "similar_pinyin", "surname_only", "different"),
    "birth_date": ("exact", "one_part_differs", "day_month_swapped", "different"),
    "gender": ("same", "different"),
    "phone": ("shared", "none_shared"),
    "address": ("same_room", "same_building", "same_community", "same_street", "same_district", "different"),
    "employer": ("same", "different"),
}

# Fields a blocking rule may combine. Address parts in one rule come from the same address role.
SINGLE_KEY_FIELDS = frozenset(
    {"id_number", "name_key", "name_pinyin", "name_pinyin_folded", "surname", "surname_pinyin", "birth_date", "gender",
     "employer"}
)
ADDRESS_KEY_FIELDS = frozenset({"district", "street", "community", "building", "room", "street_room"})
MULTI_KEY_FIELDS = frozenset({"phone"}) | ADDRESS_KEY_FIELDS
NEIGHBOURHOOD_FIELD = "id_number_neighbourhood"
KEY_FIELDS = SINGLE_KEY_FIELDS | MULTI_KEY_FIELDS | {NEIGHBOURHOOD_FIELD}

# The compared field a blocking key field agrees on (EM does not learn it in that rule's training block).
KEY_FIELD_COMPARISON: dict[str, str] = {
    "id_number": "id_number", NEIGHBOURHOOD_FIELD: "id_number",
    "name_key": "name", "name_pinyin": "name", "name_pinyin_folded": "name", "surname": "name",
    "surname_pinyin": "name", "birth_date": "birth_date", "gender": "gender", "phone": "phone", "employer": "employer",
    **{f: "address" for f in ADDRESS_KEY_FIELDS},
}
# The training block of record pairs sharing a trusted ID number (not a blocking rule: those link directly).
SAME_ID_BLOCK = "same_id_number"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockingRule(_Strict):
    """One blocking rule: records sharing all `fields` are compared."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    fields: tuple[str, ...] = Field(min_length=1)
    # Pair only records holding two different trusted ID numbers (one department keyed a number wrong);
    # other rules never pair two trusted records.
    between_id_numbers: bool = False

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in fields if f not in KEY_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; choose from {sorted(KEY_FIELDS)}")
        if NEIGHBOURHOOD_FIELD in fields and len(fields) > 1:
            raise ValueError(f"{NEIGHBOURHOOD_FIELD} must be the only field of its rule")
        if len(set(fields)) != len(fields):
            raise ValueError("a field is listed twice")
        return fields

    @model_validator(mode="after")
    def _between_ids_is_ordinary(self) -> "BlockingRule":
        if self.between_id_numbers and (NEIGHBOURHOOD_FIELD in self.fields or "id_number" in self.fields):
            raise ValueError("between_id_numbers pairs different ID numbers: its fields must not include the ID number")
        return self


class Blocking(_Strict):
    max_block_size: int = Field(ge=2)
    rules: tuple[BlockingRule, ...] = Field(min_length=1)
    # Rules only single-record lookups use (POST /v1/resolve at a door): never paired in bulk.
    door_rules: tuple[BlockingRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[BlockingRule, ...]) -> tuple[BlockingRule, ...]:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique, got {names}")
        if len(rules) > 62:
            raise ValueError("at most 62 blocking rules (one bit each in the pair mask)")
        return rules

    @model_validator(mode="after")
    def _door_rules_apart(self) -> "Blocking":
        names = [r.name for r in self.rules + self.door_rules]
        if len(set(names)) != len(names):
            raise ValueError(f"door_rules names must differ from each other and from rules, got {names}")
        if any(NEIGHBOURHOOD_FIELD in r.fields for r in self.door_rules):
            raise ValueError(f"{NEIGHBOURHOOD_FIELD} is looked up directly; it cannot be a door rule")
        return self

    @property
    def lookup_rules(self) -> tuple[BlockingRule, ...]:
        """The rules a single-record lookup uses: every bulk rule, then the door rules."""
        return self.rules + self.door_rules


class FieldComparison(_Strict):
    levels: tuple[str, ...]
    similar_pinyin_threshold: float | None = Field(default=None, gt=0, le=1)


class TermFrequency(_Strict):
    field: Literal["name"] = "name"
    top_n: int = Field(ge=1)
    min_u: float = Field(gt=0, lt=1)


class EMSettings(_Strict):
    training_blocks: tuple[str, ...] = Field(min_length=1)
    max_iterations: int = Field(ge=1)
    tolerance: float = Field(gt=0)
    initial_match_share: float = Field(gt=0, lt=1)


class Scoring(_Strict):
    em: EMSettings
    u_sample_pairs: int = Field(ge=1000)
    em_sample_pairs: int = Field(ge=1000)
    seed: int


class Thresholds(_Strict):
    accept: float = Field(gt=0, lt=1)
    review: float = Field(gt=0, lt=1)
    accept_requires_name_agreement: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.review > self.accept:
            raise ValueError(f"review ({self.review}) must not exceed accept ({self.accept})")
        return self


class IdConflicts(_Strict):
    """When records with two different valid ID numbers stay one person (status-rules.md, CONFLICT)."""

    join: bool = True
    # A name borne by at most this share of people is rare enough that a namesake with the same birth
    # date, area code and gender is unlikely (matching.yaml says why 1 in 5,000).
    rare_name_share: float = Field(default=0.0002, gt=0, lt=1)


class MatchingConfig(_Strict):
    """The whole matching configuration, validated."""

    blocking: Blocking
    comparisons: dict[str, FieldComparison]
    term_frequency: TermFrequency
    scoring: Scoring
    thresholds: Thresholds
    id_conflicts: IdConflicts = IdConflicts()

    @field_validator("comparisons")
    @classmethod
    def _levels_match_engine(cls, comparisons: dict[str, FieldComparison]) -> dict[str, FieldComparison]:
        for name, comparison in comparisons.items():
            if name not in FIELD_LEVELS:
                raise ValueError(f"unknown field {name!r}; choose from {sorted(FIELD_LEVELS)}")
            if comparison.levels != FIELD_LEVELS[name]:
                raise ValueError(f"{name}.levels must be {list(FIELD_LEVELS[name])} (best first), got {list(comparison.levels)}")
        if "name" in comparisons and comparisons["name"].similar_pinyin_threshold is None:
            raise ValueError("name.similar_pinyin_threshold is required")
        return comparisons

    @model_validator(mode="after")
    def _training_blocks_known(self) -> "MatchingConfig":
        rules = {r.name: r for r in self.blocking.rules}
        unknown = [b for b in self.scoring.em.training_blocks if b != SAME_ID_BLOCK and b not in rules]
        if unknown:
            raise ValueError(f"scoring.em.training_blocks: {unknown} are neither {SAME_ID_BLOCK!r} nor a blocking rule name")
        learned = set().union(*(set(self.fields) - self.fixed_fields(b) for b in self.scoring.em.training_blocks))
        never = [f for f in self.fields if f not in learned]
        if never:
            raise ValueError(f"scoring.em.training_blocks: no block learns {never}; add a block that does not block on it")
        return self

    def fixed_fields(self, training_block: str) -> set[str]:
        """Compared fields a training block agrees on by construction (EM leaves them out)."""
        if training_block == SAME_ID_BLOCK:
            return {"id_number"}
        rule = next(r for r in self.blocking.rules if r.name == training_block)
        return {KEY_FIELD_COMPARISON[f] for f in rule.fields}

    @property
    def fields(self) -> tuple[str, ...]:
        """Compared fields in the engine's order."""
        return tuple(f for f in FIELD_LEVELS if f in self.comparisons)

    @property
    def similar_pinyin_threshold(self) -> float:
        return float(self.comparisons["name"].similar_pinyin_threshold or 1.0)


class MatchingConfigError(ConfigError, ValueError):
    """The matching configuration file is invalid; the message lists every problem."""


def parse_matching_config(data: object, source: str = "<memory>") -> MatchingConfig:
    """Validate an already-parsed YAML document; errors name `source` and the dotted key."""
    return validate(MatchingConfig, data, source, "匹配配置无效 (invalid matching configuration)",
                    MatchingConfigError)


def load_matching_config(path: Path | str = DEFAULT_PATH) -> MatchingConfig:
    """Read and validate a matching YAML file (the packaged default when no path is given)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MatchingConfigError(f"{path}: 找不到匹配配置 matching configuration not found — pass an existing file") from None
    return parse_matching_config(parse_yaml(text, str(path), MatchingConfigError), source=str(path))
