"""The catalogue of input fields a mapping file may target, and the kind of each.

A mapping maps a Chinese header to one of these fields; the kind decides which
standardiser turns the delivered text into canonical columns (resolver/schema.py).
Each field also has a longest accepted value (resolver/config/field_limits.yaml).
"""
from __future__ import annotations

from enum import Enum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, PositiveInt, field_validator

from resolver.configfile import config_text, parse_yaml, validate


class Kind(str, Enum):
    """How a delivered value is standardised."""

    TEXT = "text"                # trimmed text, kept as is
    NAME = "name"                # → name, name_key, name_pinyin, surname …
    ID_NUMBER = "id_number"      # → id_number, id_status, id_birth_date …
    CERT_TYPE = "cert_type"      # 证件类型 → resident_id / passport / …
    GENDER = "gender"            # → M / F
    DATE = "date"                # → datetime64
    PERIOD = "period"            # → "YYYYMM"
    PHONE = "phone"              # → normalised numbers joined with |
    ADDRESS = "address"          # → <role>_district_code, <role>_street …
    PROVINCE = "province"        # "13 河北省" → insured_province_code, insured_province_name
    NUMBER = "number"            # → float


# input field → kind. Date/period/text fields land in the canonical column of the same name.
INPUT_FIELDS: dict[str, Kind] = {
    "name": Kind.NAME,
    "id_number": Kind.ID_NUMBER,
    "cert_type": Kind.CERT_TYPE,
    "gender": Kind.GENDER,
    "birth_date": Kind.DATE,
    "ethnicity": Kind.TEXT,
    "nationality": Kind.TEXT,
    "hukou_type": Kind.TEXT,
    "phone": Kind.PHONE,
    "household_address": Kind.ADDRESS,
    "residence_address": Kind.ADDRESS,
    "employer_name": Kind.TEXT,
    "employer_credit_code": Kind.TEXT,
    "permit_issue_date": Kind.DATE,
    "permit_valid_until": Kind.DATE,
    "assistance_category": Kind.TEXT,
    "assistance_date": Kind.DATE,
    "death_date": Kind.DATE,
    "tax_period": Kind.PERIOD,
    "income": Kind.NUMBER,
    "school_name": Kind.TEXT,
    "school_stage": Kind.TEXT,
    "guardian_name": Kind.TEXT,
    "guardian_phone": Kind.PHONE,
    "prison_name": Kind.TEXT,
    "prison_entry_date": Kind.DATE,
    "prison_release_date": Kind.DATE,
    "fund_status": Kind.TEXT,
    "fund_open_date": Kind.DATE,
    "fund_last_period": Kind.PERIOD,
    "hr_business_type": Kind.TEXT,
    "hr_business_date": Kind.DATE,
    "hr_agency": Kind.TEXT,
    "insurance_type": Kind.TEXT,
    "enrolment_status": Kind.TEXT,
    "first_enrolment_date": Kind.DATE,
    "last_payment_period": Kind.PERIOD,
    "insured_province": Kind.PROVINCE,
    "national_status": Kind.TEXT,
    "unenrolled_reason": Kind.TEXT,
    "surveyor_id": Kind.TEXT,
    "survey_date": Kind.DATE,
}

# Canonical column that receives a phone field's normalised numbers.
PHONE_COLUMNS: dict[str, str] = {"phone": "phones", "guardian_phone": "guardian_phone"}
# Address field → role prefix of its parsed columns.
ADDRESS_ROLES: dict[str, str] = {"household_address": "household", "residence_address": "residence"}


class _FieldLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_length: dict[str, PositiveInt]

    @field_validator("max_length")
    @classmethod
    def _every_field_once(cls, limits: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(limits) - set(INPUT_FIELDS))
        missing = [name for name in INPUT_FIELDS if name not in limits]
        if unknown:
            raise ValueError(f"unknown fields {unknown}; the fields are listed in resolver/fields.py")
        if missing:
            raise ValueError(f"no limit for {missing}; give every field of resolver/fields.py a limit")
        return limits


def load_field_limits(path: Path | None = None) -> dict[str, int]:
    """Longest accepted value per input field (resolver/config/field_limits.yaml unless ``path``), validated."""
    text, origin = config_text(path, "field_limits.yaml")
    model = validate(_FieldLimits, parse_yaml(text, origin), origin, "字段长度上限有误 (invalid field limits)")
    return dict(model.max_length)


@cache
def field_limits() -> dict[str, int]:
    """The shipped field limits, read once per process."""
    return load_field_limits()
