"""Values for the upload schema's custom string formats, for schemathesis (and anyone generating test data).

The survey upload states two rules a pattern cannot: ``gb11643`` (an ID number whose check character is right
and whose embedded birth date is a real day) and ``tianjin-address`` (an address in Tianjin the address parser
places in a district). A fuzzer that does not know a format makes up strings the service rightly refuses, so
this module registers a strategy for each with schemathesis when loaded as its hooks module:

    SCHEMATHESIS_HOOKS=api.contract.schemathesis_hooks st run http://127.0.0.1:8000/openapi.json …

(run from the repository root, or with it on PYTHONPATH). The addresses come from the shipped division
dictionary (resolver/data/tianjin_divisions.json), each checked once against the parser.
"""
from __future__ import annotations

import datetime as dt
from functools import cache

import schemathesis
from hypothesis import strategies as st

from api.models import ADDRESS_FORMAT, ID_FORMAT
from resolver.divisions import load_divisions
from resolver.standardise.address import parse_address
from resolver.standardise.id_number import check_digit

# Birth dates drawn: 1900-2025 for 18-character numbers (the pattern admits 1800-2099; these are the likely
# ones), 1900-1999 for legacy 15-digit numbers (their two-digit year is read as 19YY).
_BORN_18 = (dt.date(1900, 1, 1), dt.date(2025, 12, 31))
_BORN_15 = (dt.date(1900, 1, 1), dt.date(1999, 12, 31))
# Roads and house numbers that name no place of their own (so the street decides the district).
_ROADS = ("建设路", "光明里", "新华道", "幸福大街")


def id_numbers() -> st.SearchStrategy[str]:
    """ID numbers of format gb11643: 18 characters with the right check character, or legacy 15 digits."""
    area = st.from_regex(r"\A[1-6][0-9]{5}\Z")
    order = st.integers(0, 999).map(lambda n: f"{n:03d}")
    eighteen = st.builds(lambda a, born, o: _with_check(f"{a}{born:%Y%m%d}{o}"), area, st.dates(*_BORN_18), order)
    fifteen = st.builds(lambda a, born, o: f"{a}{born:%y%m%d}{o}", area, st.dates(*_BORN_15), order)
    return st.one_of(eighteen, fifteen)


def _with_check(body17: str) -> str:
    return body17 + check_digit(body17)


@cache
def placeable_streets() -> tuple[tuple[str, str, str], ...]:
    """(district code, 天津市<district><street>) prefixes the parser places in that district, one per street."""
    divisions = load_divisions()
    found = []
    for district in divisions.districts():
        for street in divisions.streets(district.code):
            prefix = f"天津市{district.name}{street.name}"
            if parse_address(f"{prefix}{_ROADS[0]}1号").district_code == district.code:
                found.append((district.code, street.code, prefix))
    return tuple(found)


def tianjin_addresses() -> st.SearchStrategy[str]:
    """Addresses of format tianjin-address: a street of the shipped dictionary, a road and a house number."""
    return st.builds(lambda street, road, number: f"{street[2]}{road}{number}号",
                     st.sampled_from(placeable_streets()), st.sampled_from(_ROADS), st.integers(1, 999))


schemathesis.openapi.format(ID_FORMAT, id_numbers())
schemathesis.openapi.format(ADDRESS_FORMAT, tianjin_addresses())
