"""Masking by default (art. 33): what a caller sees of a person or record they may not see in full.

    ID number   120101********123X   (resolver.standardise.id_number.mask_id_number)
    phone       138****5678          (resolver.standardise.phones.mask_phone)
    address     to community level: 南开区华苑街道日华里社区 (no road, number, building, room)
    name        surname kept: 张**;  birth date: the year only

A masked record keeps only the fields a duty without identification needs (source,
status-relevant attributes, places to community level); everything else is left out.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from graph.model import DISTRICT_NAMES
from resolver.standardise.id_number import mask_id_number
from resolver.standardise.phones import mask_phone

ROLES = ("household", "residence")
# Record fields shown when masked (besides the masked identity and address fields).
MASKED_RECORD_FIELDS: frozenset[str] = frozenset({
    "record_key", "source", "record_id", "period", "cert_type", "id_status", "gender", "hukou_type", "ethnicity",
    "nationality", "insurance_type", "enrolment_status", "first_enrolment_date", "last_payment_period",
    "insured_province_code", "insured_province_name", "national_status", "fund_status", "fund_last_period",
    "hr_business_type", "hr_business_date", "assistance_category", "school_stage", "tax_period",
    "permit_valid_until", "unenrolled_reason", "survey_date", "link_method", "match_probability",
    *(f"{role}_{part}" for role in ROLES for part in ("in_tianjin", "district_code", "street", "community")),
})
# Fields never shown, masked or not: matching internals, not facts about the person.
INTERNAL_FIELDS: frozenset[str] = frozenset({
    "name_key", "name_pinyin", "name_pinyin_folded", "surname_pinyin", "name_script", "run_id", "file", "line",
})


def mask_name(name: str | None) -> str | None:
    """Keep the first character (the surname of a Chinese name; the initial of a Latin one)."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_birth(value: Any) -> str | None:
    """The year only."""
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{value.year}"
    return str(value)[:4]


def iso(value: Any) -> Any:
    """Dates as YYYY-MM-DD text, other values unchanged."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def community_address(district_code: str | None, street: str | None, community: str | None) -> str | None:
    """An address cut to community level from its parsed parts (None when it was never placed)."""
    parts = [DISTRICT_NAMES.get(district_code or "", ""), street or "", community or ""]
    text = "".join(parts)
    return text or None


def record_fields(fields: Mapping[str, Any], unmasked: bool) -> dict[str, Any]:
    """A record's fields as the caller may see them."""
    if unmasked:
        return {k: iso(v) for k, v in fields.items() if k not in INTERNAL_FIELDS and v is not None}
    shown = {k: iso(v) for k, v in fields.items() if k in MASKED_RECORD_FIELDS and v is not None}
    if fields.get("id_number"):
        shown["id_number"] = mask_id_number(str(fields["id_number"]))
    if fields.get("name"):
        shown["name"] = mask_name(str(fields["name"]))
    for key in ("phones", "guardian_phone"):
        if fields.get(key):
            shown[key] = mask_phone(str(fields[key]))
    for key in ("birth_date", "id_birth_date"):
        if fields.get(key) is not None:
            shown[key] = mask_birth(fields[key])
    for role in ROLES:
        if fields.get(f"{role}_address_raw"):
            shown[f"{role}_address"] = community_address(
                fields.get(f"{role}_district_code"), fields.get(f"{role}_street"), fields.get(f"{role}_community"),
            ) or "***"
    return shown


def mask_identifier(column: str, value: Any) -> Any:
    """A named query's cell with ID numbers and phones masked by column name, as `canbao explain` and
    `canbao query` show them without --full-id; other cells unchanged."""
    if value is None:
        return None
    if isinstance(value, list):
        return [mask_identifier(column, v) for v in value]
    if "id_number" in column:
        return mask_id_number(str(value))
    if "phone" in column:
        return mask_phone(str(value))
    return value


def mask_value(column: str, value: Any) -> Any:
    """A named query's cell as an analyst sees it: identity columns masked by their name."""
    if value is None:
        return None
    if isinstance(value, list):
        return [mask_value(column, v) for v in value]
    if "id_number" in column or "phone" in column:
        return mask_identifier(column, value)
    if column in ("name", "record_name", "name_l", "name_r") or column.endswith("_name") and column not in (
            "province_name", "employer_name", "district_name"):
        return mask_name(str(value))
    if column == "birth_date":
        return mask_birth(value)
    return iso(value)
