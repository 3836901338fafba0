"""Builders of small canonical record frames for the resolution tests (no tests here).

Values are obviously synthetic: ID numbers are computed here with the GB 11643 check
digit from made-up bodies; names are common textbook names.
"""
from __future__ import annotations

import pandas as pd

from resolver.schema import ADDRESS_PARTS, CANONICAL_COLUMNS
from resolver.standardise.address import parse_address
from resolver.standardise.id_number import check_digit, standardise_id_number
from resolver.standardise.names import NAME_COLUMNS, standardise_name


def resident_id(area: str, birth: str, order: str) -> str:
    """A well-formed 18-digit number: area code + YYYYMMDD + 3-digit order + GB 11643 check digit."""
    body = f"{area}{birth.replace('-', '')}{order}"
    return body + check_digit(body)


def record(
    source: str,
    record_id: str,
    name: str | None,
    id_number: str | None = None,
    birth_date: str | None = None,
    gender: str | None = None,
    phones: str | None = None,
    household: dict | None = None,
    residence: dict | None = None,
    cert_type: str = "resident_id",
) -> dict:
    """One canonical row built with the project's standardisers (name, ID number)."""
    row: dict = {"record_key": f"{source}:{record_id}", "source": source, "record_id": record_id}
    number = standardise_id_number(id_number, cert_type)
    row.update(cert_type=cert_type, id_number_raw=id_number, id_number=number.number, id_status=number.status,
               id_birth_date=pd.Timestamp(number.birth_date) if number.birth_date else None,
               id_gender=number.gender, id_area_code=number.area_code)
    standard = standardise_name(name)
    row.update({column: getattr(standard, attribute) for attribute, column in NAME_COLUMNS.items()})
    row["name_raw"] = name
    row["birth_date"] = pd.Timestamp(birth_date) if birth_date else None
    row["gender"] = gender
    row["phones"] = phones
    for role, parts in (("household", household), ("residence", residence)):
        for part, value in (parts or {}).items():
            row[f"{role}_{part}"] = value
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical DataFrame with every schema column (missing ones null)."""
    table = pd.DataFrame(rows).reindex(columns=list(CANONICAL_COLUMNS))
    for column in ("birth_date", "id_birth_date"):
        table[column] = pd.to_datetime(table[column])
    return table


def parsed(text: str) -> dict:
    """Address parts from the project's Tianjin address parser."""
    parts = parse_address(text)
    return {part: getattr(parts, part) for part in ADDRESS_PARTS}
