"""``generate``: a synthetic Tianjin population as department extracts plus the answer key.

Pipeline: population → per-source rows (extracts) → planted ID hard cases → rendering with
dirty variants (corrupt) → one file per source and period (writers) → truth/ and manifest.json.
Every random choice comes from a generator derived from (seed, component name), so one seed
always gives the same files.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.divisions import load_divisions
from resolver.errors import ConfigError
from resolver.synth import extracts as ex
from resolver.synth.corrupt import (
    EMPTY, HOUSEHOLD_NUMBER, KEYED_WRONG, LEGACY_15, VALID_TYPO, RenderedSource, add_extra_columns, damage_record_ids, plant_bad_rows, render_source,
)
from resolver.synth.population import FOREIGN_WORKER, Population, build_population
from resolver.synth.rates import SynthRates, load_rates
from resolver.synth.truth import (
    BAD_ROW_COLUMNS, HARD_CASE_TAGS, PERSON_COLUMNS, RECORD_COLUMNS, FileTruth, combine_status_records,
    dispatch_places, file_truth, person_table, resolve_record_ids, statuses,
)
from resolver.synth.writers import FileInfo, write_csv, write_xlsx

Progress = Callable[[str], None]
MAX_PERSONS = 20_000_000


@dataclass(frozen=True)
class GenerationSummary:
    """What ``generate`` wrote."""

    out_dir: Path
    seed: int
    as_of: dt.date
    persons: int                  # persons generated
    persons_with_records: int     # persons behind at least one accepted row (= rows of truth/persons.csv)
    records: int                  # data rows written, bad rows included
    bad_rows: int
    files: tuple[FileInfo, ...]
    status_counts: dict[str, int]
    hard_case_counts: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        """A short report for the command line."""
        statuses = ", ".join(f"{k} {v:,}" for k, v in self.status_counts.items())
        hard = ", ".join(f"{k} {v:,}" for k, v in self.hard_case_counts.items() if v)
        return "\n".join([
            f"输出目录 out: {self.out_dir}  (seed {self.seed}, as_of {self.as_of.isoformat()})",
            f"人口 persons: {self.persons:,}; 有记录者 with records: {self.persons_with_records:,}",
            f"文件 files: {len(self.files)}; 数据行 rows: {self.records:,}; 故意的坏行 bad rows: {self.bad_rows:,}",
            f"参保状态 statuses: {statuses}",
            f"疑难样例 hard cases: {hard}",
            f"用时 time: {self.seconds:.1f} s; 真值 truth: truth/records.csv, truth/persons.csv, truth/bad_rows.csv",
        ])


def _stream(seed: int, component: str) -> np.random.Generator:
    """An independent random generator per component, stable across code changes elsewhere."""
    return np.random.default_rng([seed, zlib.crc32(component.encode("utf-8"))])


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: 输出路径不是目录 (output path is not a folder)")
    if out_dir.exists():
        leftovers = sorted(p.name for p in out_dir.iterdir()
                           if p.suffix.lower() in {".csv", ".xlsx"} or p.name in {"truth", "manifest.json"})
        if leftovers:
            raise ConfigError(
                f"{out_dir}: 输出目录已有生成文件 (folder already holds generated files, e.g. {leftovers[0]}) — "
                "请换一个空目录或先删除旧文件 (choose an empty folder or remove the old files)"
            )


def build_sources(pop: Population, rates: SynthRates, as_of: dt.date, seed: int) -> list[ex.SourceRows]:
    """Every source's rows, in the spec's order."""
    ctx = ex.Context(pop, rates, as_of)
    simple = [
        ex.police_resident, ex.police_permit, ex.civil_assistance, ex.civil_funeral, ex.tax_iit, ex.edu_student,
        ex.prison_inmate, ex.housing_fund, ex.hr_labour, ex.hr_foreign,
    ]
    sources = [builder(ctx, _stream(seed, builder.__name__)) for builder in simple]
    enrolment = ex.decide_enrolment(ctx, _stream(seed, "enrolment"))
    sources.append(ex.si_enrolment(ctx, enrolment, _stream(seed, "si_enrolment")))
    national = ex.national_insured(ctx, enrolment, _stream(seed, "national_insured"))
    sources.append(national)
    sources.append(ex.survey(ctx, enrolment, national, _stream(seed, "survey")))
    return sources


@dataclass(frozen=True)
class PlantedIds:
    """Per source, the ID variant forced on each row ('' = none) and, for HOUSEHOLD_NUMBER rows, the number."""

    variant: dict[str, np.ndarray]
    number: dict[str, np.ndarray]


def plant_identity_cases(sources: list[ex.SourceRows], pop: Population, rates: SynthRates,
                         rng: np.random.Generator) -> PlantedIds:
    """Per source, the ID variant forced on each row: a different valid number, or no number at all.

    Only persons with two or more ID-bearing rows are chosen, so that the other rows still
    carry the true number (a typo on someone's only record is undetectable by design).
    A household-member number is the valid number of another member of the person's household
    (a form filled in with the wrong card); only persons with such a member are chosen for it.
    """
    forced = {rows.source: np.full(len(rows), "", dtype=object) for rows in sources}
    numbers = {rows.source: np.full(len(rows), "", dtype=object) for rows in sources}
    id_sources = [rows for rows in sources
                  if any(c.kind == ex.ID for c in rows.columns.values())]
    person = np.concatenate([rows.person for rows in id_sources])
    which = np.concatenate([np.full(len(rows), i) for i, rows in enumerate(id_sources)])
    row = np.concatenate([np.arange(len(rows)) for rows in id_sources])
    resident = pop.id_number[person] != ""
    person, which, row = person[resident], which[resident], row[resident]
    order = np.argsort(person, kind="stable")
    person, which, row = person[order], which[order], row[order]
    counts = np.bincount(person, minlength=len(pop))
    eligible = np.flatnonzero(counts >= 2)
    rng.shuffle(eligible)
    minimum = rates.hard_cases.minimum_each
    # Another member with a resident number, per person (-1 when none): the next one in the household, cyclically.
    holders = np.flatnonzero(pop.id_number != "")
    holders = holders[np.lexsort((holders, pop.household[holders]))]
    new_household = np.r_[True, pop.household[holders[1:]] != pop.household[holders[:-1]]]
    first_holder = np.flatnonzero(new_household)
    group = np.cumsum(new_household) - 1
    size = np.diff(np.r_[first_holder, len(holders)])[group]
    following = first_holder[group] + (np.arange(len(holders)) - first_holder[group] + 1) % size
    member = np.full(len(pop), -1, dtype=np.int64)
    member[holders] = np.where(size > 1, holders[following], -1)
    cursor = 0
    plan = ((VALID_TYPO, rates.hard_cases.valid_id_typo), (EMPTY, rates.hard_cases.missing_id),
            (KEYED_WRONG, rates.hard_cases.valid_id_keyed_wrong),
            (HOUSEHOLD_NUMBER, rates.hard_cases.household_member_number))
    for variant, rate in plan:
        pool = eligible[cursor:]
        if variant == HOUSEHOLD_NUMBER:
            pool = pool[member[pool] >= 0]
        wanted = min(len(pool), max(minimum, int(round(rate * len(pop)))))
        chosen = pool[:wanted]
        cursor += wanted if variant != HOUSEHOLD_NUMBER else 0
        starts = np.searchsorted(person, chosen)
        picks = starts + (rng.random(len(chosen)) * counts[chosen]).astype(np.int64)
        for source_index, row_index, owner in zip(which[picks], row[picks], chosen):
            source = id_sources[source_index].source
            forced[source][row_index] = variant
            if variant == HOUSEHOLD_NUMBER:
                numbers[source][row_index] = pop.id_number[member[owner]]
    return PlantedIds(variant=forced, number=numbers)


@dataclass(frozen=True)
class FilePlan:
    """One file to write: which rows, how it is named and encoded, what is wrong with it."""

    rows: ex.SourceRows
    period: int
    name: str
    encoding: str                 # csv encoding asked for; 'xlsx' for workbooks
    extra_columns: bool
    record_id_minimum: int        # at least this many empty and repeated record ids


def plan_files(sources: list[ex.SourceRows], rates: SynthRates, seed: int) -> list[FilePlan]:
    """One file per source and period, with encodings and extra columns drawn from the seed."""
    xlsx_sources = set(rates.files.xlsx_sources)
    pairs = [(rows, int(period)) for rows in sources for period in np.unique(rows.period)]
    names = [f"{rows.source}_{period}.{'xlsx' if rows.source in xlsx_sources else 'csv'}" for rows, period in pairs]
    keys = list(rates.files.encodings)
    weights = np.array([rates.files.encodings[k] for k in keys], dtype=float)
    picks = _stream(seed, "encodings").choice(len(keys), size=len(names), p=weights / weights.sum())
    csv_names = [n for n in names if n.endswith(".csv")]
    wanted = min(rates.files.extra_column_files, len(csv_names))
    extra = set(_stream(seed, "extra_columns").choice(csv_names, size=wanted, replace=False)) if wanted else set()
    # At least one empty and one repeated record id, in the largest file, whatever the rates.
    largest = int(np.argmax([int((rows.period == period).sum()) for rows, period in pairs]))
    return [
        FilePlan(rows, period, name, "xlsx" if name.endswith(".xlsx") else keys[pick], name in extra,
                 1 if index == largest else 0)
        for index, ((rows, period), name, pick) in enumerate(zip(pairs, names, picks))
    ]


@dataclass
class Tally:
    """What was written, gathered file by file for truth/ and the manifest."""

    tags: dict[str, np.ndarray]
    files: list[FileInfo] = field(default_factory=list)
    truths: list[FileTruth] = field(default_factory=list)
    id_variants: Counter = field(default_factory=Counter)
    name_variants: Counter = field(default_factory=Counter)


def write_file(plan: FilePlan, rendered: RenderedSource, pop: Population, rates: SynthRates, out_dir: Path,
               as_of: dt.date, rng: np.random.Generator, tally: Tally) -> None:
    """Write one department file and record its truth."""
    rows = plan.rows
    id_header = ex.SPEC_HEADERS[rows.source][0]
    order = rng.permutation(np.flatnonzero(rows.period == plan.period))
    frame = rendered.frame.iloc[order].reset_index(drop=True)
    reasons = plant_bad_rows(rows.source, frame, rates, rng)
    frame[id_header] = damage_record_ids(frame[id_header].to_numpy(dtype=object), rates, plan.record_id_minimum, rng)
    extras: tuple[str, ...] = ()
    if plan.extra_columns:
        frame, extras = add_extra_columns(frame, len(tally.files), as_of, rng)
    path = out_dir / plan.name
    if plan.encoding == "xlsx":
        write_xlsx(frame, path, as_of)
        encoding = "xlsx"
    else:
        encoding = write_csv(frame, path, plan.encoding)
    tally.files.append(FileInfo(plan.name, rows.source, str(plan.period), "xlsx" if encoding == "xlsx" else "csv",
                                encoding, len(frame), tuple(frame.columns), extras))

    accepted = reasons == ""
    person = rows.person[order]
    variants = rendered.ids.variant[order]
    chinese = pop.group[person] != FOREIGN_WORKER
    for tag, variant in (("valid_id_typo", VALID_TYPO), ("missing_id", EMPTY), ("legacy_id_15", LEGACY_15),
                         ("valid_id_keyed_wrong", KEYED_WRONG), ("household_member_number", HOUSEHOLD_NUMBER)):
        tally.tags[tag][person[accepted & chinese & (variants == variant)]] = True
    tally.id_variants.update(variants[accepted].tolist())
    tally.name_variants.update(rendered.name_variant[order][accepted].tolist())
    places = [
        (priority, _tianjin_only(rows.columns[header].values[order], pop, priority))
        for (source, header), priority in ex.ADDRESS_PRIORITY.items() if source == rows.source
    ]
    tally.truths.append(file_truth(
        rows.source, plan.name, person, resolve_record_ids(frame[id_header].to_numpy(dtype=object), plan.name),
        reasons, {key: values[order] for key, values in rows.canonical.items()},
        rendered.ids.id_number[order], rendered.ids.id_status[order], places, pop,
    ))


def generate(
    persons: int,
    seed: int,
    as_of: dt.date,
    out_dir: Path,
    rates: SynthRates | None = None,
    progress: Progress | None = None,
) -> GenerationSummary:
    """Write department extracts for ``persons`` synthetic people, plus truth/ and manifest.json."""
    started = time.perf_counter()
    if not 1 <= persons <= MAX_PERSONS:
        raise ConfigError(f"人数应在 1 到 {MAX_PERSONS:,} 之间 (persons must be 1..{MAX_PERSONS:,}), got {persons}")
    rates = rates or load_rates()
    progress = progress or (lambda message: None)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)

    divisions = load_divisions()
    district_names = {d.code: (d.name, d.short_name) for d in divisions.districts()}
    pop = build_population(persons, as_of, rates, divisions, _stream(seed, "population"))
    progress(f"人口 population: {len(pop):,} 人 persons")
    sources = build_sources(pop, rates, as_of, seed)
    forced = plant_identity_cases(sources, pop, rates, _stream(seed, "identity_cases"))
    plans = plan_files(sources, rates, seed)
    # Tags known from the population now; those about IDs as delivered are set file by file.
    tags = {tag: pop.hard_cases.get(tag, np.zeros(len(pop), dtype=bool)).copy() for tag in HARD_CASE_TAGS}
    tally = Tally(tags=tags)
    for rows in sources:
        rng = _stream(seed, f"render:{rows.source}")
        xlsx = rows.source in rates.files.xlsx_sources
        rendered = render_source(rows, pop, rates, forced.variant[rows.source], district_names, xlsx, rng,
                                 forced.number[rows.source])
        for plan in (p for p in plans if p.rows is rows):
            write_file(plan, rendered, pop, rates, out_dir, as_of, rng, tally)
            progress(f"写入 wrote {plan.name}: {tally.files[-1].rows:,} 行 rows ({tally.files[-1].encoding})")
        del rendered

    progress("计算参保状态 computing statuses …")
    counts = write_truth(tally, pop, as_of, out_dir / "truth")
    write_manifest(out_dir, seed, persons, as_of, rates, tally, counts)
    seconds = time.perf_counter() - started
    progress(f"完成 done: {len(tally.files)} 个文件 files, {counts['records']:,} 行 rows, {seconds:.1f} s")
    return GenerationSummary(
        out_dir=out_dir, seed=seed, as_of=as_of, persons=persons, persons_with_records=counts["persons_with_records"],
        records=counts["records"], bad_rows=counts["bad_rows"], files=tuple(tally.files),
        status_counts=counts["statuses"], hard_case_counts=counts["hard_cases"], seconds=seconds,
    )


def write_truth(tally: Tally, pop: Population, as_of: dt.date, truth_dir: Path) -> dict:
    """truth/records.csv, bad_rows.csv and persons.csv; returns the counts for the manifest."""
    records = pd.concat([t.records for t in tally.truths], ignore_index=True)
    records.to_csv(truth_dir / "records.csv", index=False, columns=RECORD_COLUMNS)
    bad_rows = pd.concat([t.bad_rows for t in tally.truths], ignore_index=True)
    bad_rows.to_csv(truth_dir / "bad_rows.csv", index=False, columns=BAD_ROW_COLUMNS)
    status_records = combine_status_records([t.status_records for t in tally.truths])
    for truth in tally.truths:
        truth.status_records = truth.status_records.iloc[:0]  # free memory before the status rules run
    person_status = statuses(status_records, as_of, pop)
    del status_records
    places = dispatch_places(pd.concat([t.places for t in tally.truths], ignore_index=True), pop)
    persons = person_table(pop, person_status, places, tally.tags)
    persons.to_csv(truth_dir / "persons.csv", index=False, columns=PERSON_COLUMNS)
    tag_counts = persons["hard_case"].str.split("|").explode().value_counts()
    return {
        "records": len(records),
        "bad_rows": len(bad_rows),
        "bad_row_kinds": {k: int(v) for k, v in bad_rows["reason_kind"].value_counts().sort_index().items()},
        "persons_with_records": len(persons),
        "statuses": {k: int(v) for k, v in persons["status"].value_counts().sort_index().items()},
        "hard_cases": {tag: int(tag_counts.get(tag, 0)) for tag in HARD_CASE_TAGS},
        "id_variants": dict(sorted(tally.id_variants.items())),
        "name_variants": dict(sorted(tally.name_variants.items())),
    }


def write_manifest(out_dir: Path, seed: int, persons: int, as_of: dt.date, rates: SynthRates, tally: Tally,
                   counts: dict) -> None:
    """manifest.json: what was asked for, the rates used, every file with its encoding and rows, the counts."""
    manifest = {
        "generator": "canbao synth",
        "seed": seed,
        "persons": persons,
        "as_of": as_of.isoformat(),
        "rates": rates.model_dump(mode="json"),
        "files": [asdict(f) for f in tally.files],
        "truth": {"records": "truth/records.csv", "bad_rows": "truth/bad_rows.csv", "persons": "truth/persons.csv"},
        "counts": counts,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def _tianjin_only(addresses: np.ndarray, pop: Population, priority: int) -> np.ndarray:
    """A police 户籍地址 outside Tianjin does not place a person (the spec falls through to other records)."""
    if priority != ex.POLICE_HOUSEHOLD:
        return addresses
    inside = pop.addresses.in_tianjin[np.maximum(addresses, 0)]
    return np.where((addresses >= 0) & inside, addresses, -1)
