"""The person graph's model: what a run hands the store and how it becomes nodes and edges.

``RunData`` is the pipeline's hand-off; ``graph_frames`` turns it, purely, into one
DataFrame per node label and per relationship type (``GraphFrames``), which both
stores write: LadybugDB by ``COPY``, Neo4j by ``UNWIND`` batches, neo4j-admin by CSV.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graph.errors import RunDataError
from resolver.schema import CANONICAL_COLUMNS
from resolver.state import column_view

# What the pipeline adds to each canonical record row.
RECORD_LINK_COLUMNS: tuple[str, ...] = ("person_id", "match_probability", "link_method")
PERSON_COLUMNS: tuple[str, ...] = (
    "person_id", "id_number", "name", "gender", "birth_date", "status", "flags", "status_rule",
    "status_records", "district_code", "street", "community", "dispatch_reason",
)
POSSIBLE_MATCH_COLUMNS: tuple[str, ...] = ("record_key_l", "record_key_r", "match_probability", "explanation")
DECISION_COLUMNS: tuple[str, ...] = ("record_key_l", "record_key_r", "decision", "steward", "decided_at", "note")
DECISIONS: frozenset[str] = frozenset({"match", "not_match", "unsure"})

# Sources whose employer columns say where a person works (tax, HR, housing fund, enrolment).
EMPLOYER_SOURCES: frozenset[str] = frozenset({"tax_iit", "hr_labour", "hr_foreign", "housing_fund", "si_enrolment"})
# A shared address or phone with more persons than this is an institution, not a household.
HOUSEHOLD_MAX_MEMBERS = 8

# GB/T 2260 names of today's Tianjin districts (shared/spec/department-extracts.md).
DISTRICT_NAMES: dict[str, str] = {
    "120101": "和平区", "120102": "河东区", "120103": "河西区", "120104": "南开区",
    "120105": "河北区", "120106": "红桥区", "120110": "东丽区", "120111": "西青区",
    "120112": "津南区", "120113": "北辰区", "120114": "武清区", "120115": "宝坻区",
    "120116": "滨海新区", "120117": "宁河区", "120118": "静海区", "120119": "蓟州区",
}

_DATE_COLUMNS = frozenset({
    "birth_date", "id_birth_date", "permit_issue_date", "permit_valid_until", "assistance_date",
    "death_date", "prison_entry_date", "prison_release_date", "fund_open_date", "hr_business_date",
    "first_enrolment_date", "survey_date",
})


def _record_type(column: str) -> str:
    if column in _DATE_COLUMNS:
        return "DATE"
    if column.endswith("_in_tianjin"):
        return "BOOLEAN"
    if column == "line":
        return "INT64"
    if column in ("income", "match_probability"):
        return "DOUBLE"
    return "STRING"


# Property name → type, per node label and relationship type. LadybugDB needs the schema
# up front; Neo4j and the neo4j-admin CSV headers use the same names and types.
RECORD_PROPERTIES: dict[str, str] = {
    **{c: _record_type(c) for c in CANONICAL_COLUMNS},
    "link_method": "STRING", "match_probability": "DOUBLE", "run_id": "STRING",
}
NODE_PROPERTIES: dict[str, dict[str, str]] = {
    "Person": {
        "person_id": "STRING", "id_number": "STRING", "name": "STRING", "gender": "STRING",
        "birth_date": "DATE", "status": "STRING", "flags": "STRING[]", "status_rule": "STRING",
        "status_records": "STRING[]", "district_code": "STRING", "street": "STRING",
        "community": "STRING", "dispatch_reason": "STRING", "run_id": "STRING",
    },
    "Record": RECORD_PROPERTIES,
    "District": {"code": "STRING", "name": "STRING"},
    "Street": {"key": "STRING", "name": "STRING", "district_code": "STRING"},
    "Community": {"key": "STRING", "name": "STRING", "street": "STRING", "district_code": "STRING"},
    "Employer": {"key": "STRING", "name": "STRING", "credit_code": "STRING"},
    "Address": {"key": "STRING", "text": "STRING", "district_code": "STRING"},
    "Phone": {"number": "STRING"},
    "Household": {"household_id": "STRING", "size": "INT64"},
    "Run": {
        "run_id": "STRING", "as_of": "DATE", "started_at": "TIMESTAMP", "landed_at": "TIMESTAMP",
        "inputs": "STRING[]", "counts": "STRING", "model_version": "STRING",
    },
}
# The first property of each label is its key.
NODE_KEYS: dict[str, str] = {label: next(iter(props)) for label, props in NODE_PROPERTIES.items()}
NODE_KEYS["Record"] = "record_key"

# Relationship type → (from label, to label) pairs and properties.
REL_ENDPOINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "BELONGS_TO": (("Record", "Person"),),
    "LIVES_IN": (("Person", "Community"),),
    "PART_OF": (("Community", "Street"), ("Street", "District")),
    "WORKS_FOR": (("Person", "Employer"),),
    "POSSIBLE_MATCH": (("Record", "Record"),),
    "STEWARD_DECISION": (("Record", "Record"),),
    "HAS_ADDRESS": (("Person", "Address"),),
    "HAS_PHONE": (("Person", "Phone"),),
    "MEMBER_OF": (("Person", "Household"),),
}
REL_PROPERTIES: dict[str, dict[str, str]] = {
    "BELONGS_TO": {"match_probability": "DOUBLE", "method": "STRING"},
    "LIVES_IN": {},
    "PART_OF": {},
    "WORKS_FOR": {"source": "STRING", "period": "STRING", "first_period": "STRING", "last_period": "STRING"},
    "POSSIBLE_MATCH": {"match_probability": "DOUBLE", "explanation": "STRING"},
    "STEWARD_DECISION": {"decision": "STRING", "steward": "STRING", "decided_at": "TIMESTAMP", "note": "STRING"},
    "HAS_ADDRESS": {},
    "HAS_PHONE": {},
    "MEMBER_OF": {},
}


@dataclass(frozen=True)
class RunInfo:
    """One resolution run: when, from what, with which model, and how many of each thing."""

    run_id: str
    as_of: date
    started_at: datetime
    inputs: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    model_version: str = ""
    landed_at: datetime | None = None  # set by the store when the run lands


@dataclass
class RunData:
    """Everything one resolution run hands the graph (the pipeline builds it)."""

    records: pd.DataFrame          # CANONICAL_COLUMNS + RECORD_LINK_COLUMNS
    persons: pd.DataFrame          # PERSON_COLUMNS
    possible_matches: pd.DataFrame  # POSSIBLE_MATCH_COLUMNS
    decisions: pd.DataFrame        # DECISION_COLUMNS
    run: RunInfo


# One family of frames: built together from the same intermediate tables, as (kind, name, frame) in write order.
FrameFamily = Callable[[], list[tuple[str, str, pd.DataFrame]]]


class GraphFrames:
    """A whole run as one frame per node label (key column first) and per relationship type.

    Relationship frames have ``from`` and ``to`` key columns, then properties; PART_OF has
    one frame per endpoint pair, keyed ``PART_OF:Community->Street`` and ``PART_OF:Street->District``.
    Frames come in families built one at a time: ``drain()`` hands them over in write order (every
    relationship after the labels it joins) and keeps none, so a city's derived frames (addresses,
    phones, employers: over a GiB at 1M persons) never sit beside the records' COPY.
    ``nodes`` and ``rels`` build every frame at once, for tests and small runs.
    """

    def __init__(self, families: Sequence[FrameFamily]):
        self._families = list(families)
        self._sizes: dict[tuple[str, str], int] = {}
        self._whole: dict[str, dict[str, pd.DataFrame]] | None = None

    def drain(self) -> Iterator[tuple[str, str, pd.DataFrame]]:
        """(kind "node" or "rel", label or rels key, frame) in write order, each family built when reached."""
        if self._whole is not None:
            for kind in ("node", "rel"):
                for name, frame in self._whole[kind].items():
                    self._sizes[(kind, name)] = len(frame)
                    yield kind, name, frame
            self._whole = None
            return
        while self._families:
            frames = self._families.pop(0)()
            while frames:
                entry = frames.pop(0)
                self._sizes[(entry[0], entry[1])] = len(entry[2])
                yield entry
                del entry   # the writer has let go of it too: the frame is freed here

    def _built(self) -> dict[str, dict[str, pd.DataFrame]]:
        if self._whole is None:
            self._whole = {"node": {}, "rel": {}}
            for family in self._families:
                for kind, name, frame in family():
                    self._whole[kind][name] = frame
            self._families = []
        return self._whole

    @property
    def nodes(self) -> dict[str, pd.DataFrame]:
        return self._built()["node"]

    @property
    def rels(self) -> dict[str, pd.DataFrame]:
        return self._built()["rel"]

    def counts(self) -> dict[str, int]:
        """Rows per label and relationship type, for the run summary (after ``drain``, from what it handed over)."""
        if self._families or self._whole is not None:
            self._built()
            sizes = {(kind, name): len(frame) for kind, frames in self._whole.items() for name, frame in frames.items()}
        else:
            sizes = self._sizes
        out: dict[str, int] = {}
        for (_, name), size in sizes.items():
            key = name.split(":")[0]
            out[key] = out.get(key, 0) + size
        return out


def rel_frame_name(rel: str, src: str, dst: str) -> str:
    """Key of a relationship frame in GraphFrames.rels (pair-qualified only when a type has several pairs)."""
    return rel if len(REL_ENDPOINTS[rel]) == 1 else f"{rel}:{src}->{dst}"


def rel_frame_endpoints(name: str) -> tuple[str, str, str]:
    """(type, from label, to label) of a GraphFrames.rels key."""
    rel, _, pair = name.partition(":")
    if not pair:
        src, dst = REL_ENDPOINTS[rel][0]
        return rel, src, dst
    src, dst = pair.split("->")
    return rel, src, dst


def check_run_data(run: RunData) -> None:
    """Refuse a RunData whose frames lack the columns the graph reads, naming all gaps at once."""
    wanted = {
        "records": ("record_key", "source", "record_id", *RECORD_LINK_COLUMNS),
        "persons": PERSON_COLUMNS,
        "possible_matches": POSSIBLE_MATCH_COLUMNS,
        "decisions": DECISION_COLUMNS,
    }
    problems = []
    for frame_name, columns in wanted.items():
        frame = getattr(run, frame_name)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.append(f"RunData.{frame_name} 缺少列 (missing columns): {', '.join(missing)}")
    if not problems:
        linked = run.records["person_id"]
        orphans = linked[linked.notna() & ~linked.isin(run.persons["person_id"])]   # hashed, not Python sets
        if len(orphans):
            problems.append(f"RunData.records 指向不存在的 person_id (unknown persons): {sorted(set(orphans))[:5]}")
        if run.records["person_id"].isna().any():
            problems.append("RunData.records.person_id 有空值 (every record must be linked, singletons too)")
        bad = set(run.decisions["decision"].dropna()) - DECISIONS
        if bad:
            problems.append(f"RunData.decisions.decision 取值无效 (invalid): {sorted(bad)}; allowed: {sorted(DECISIONS)}")
    if problems:
        raise RunDataError("; ".join(problems) + " — 由 resolver 管道生成 RunData (build it with the pipeline)")


def _clean_text(values: pd.Series) -> pd.Series:
    """Text with blanks and NaN as None (so neither store stores an empty property).

    Canonical text is already trimmed upstream, so this only maps blanks; it stays vectorised.
    """
    values = values if values.dtype == object else values.astype(object)
    return values.where(values.notna() & (values != ""), None)


def _split_list(values: pd.Series) -> pd.Series:
    """'|'-joined text as lists (empty list for null); each distinct text is split once."""
    text = values.where(values.notna(), "").astype(str)
    parts = {v: [p for p in v.split("|") if p] for v in pd.unique(text)}
    return text.map(parts)


_DAY_NS = 86_400_000_000_000


def _midnight_dates(values: pd.Series) -> bool:
    """Whether the values are naive datetime64[ns] at midnight (or NaT): what DATE coercion would give."""
    if values.dtype != np.dtype("datetime64[ns]"):
        return False
    ticks = values.to_numpy().view("i8")
    return bool(np.all((ticks % _DAY_NS == 0) | values.isna().to_numpy()))


def _as_type(values: pd.Series, kind: str) -> pd.Series:
    if kind == "DATE":
        if _midnight_dates(values):
            return values   # canonical dates already are: no copy of a city's date columns
        return pd.to_datetime(values, errors="coerce").dt.normalize()
    if kind == "TIMESTAMP":
        return pd.to_datetime(values, errors="coerce")
    if kind == "DOUBLE":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "INT64":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "BOOLEAN":
        return values.astype("boolean")
    if kind == "STRING[]":
        first = values.dropna().head(1)
        return values if len(first) and isinstance(first.iloc[0], list) else _split_list(values)
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return values  # canonical text is already standardised upstream; NaN reads as null
    return values.map(lambda v: None if pd.isna(v) else str(v)).astype(object)


def typed_frame(frame: pd.DataFrame, properties: dict[str, str]) -> pd.DataFrame:
    """The declared properties the frame has, in declared order, each coerced to its type.

    Absent properties stay absent (writers store them as null) so a wide, sparse record
    frame is not padded with millions of empty cells.
    """
    return column_view({name: _as_type(frame[name], kind) for name, kind in properties.items()
                        if name in frame.columns}, len(frame))


def _key_text(*parts: pd.Series) -> pd.Series:
    """Parts joined with '|' (blank for null), in Arrow's C++ kernels (millions of rows)."""
    arrays = []
    for part in parts:
        array = pa.array(part, from_pandas=True)
        arrays.append(array if array.type == pa.string() else array.cast(pa.string()))
    joined = pc.binary_join_element_wise(*arrays, "|", null_handling="replace", null_replacement="")
    return pd.Series(joined.to_numpy(zero_copy_only=False), index=parts[0].index, dtype=object)


def _geography(persons: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """District, Street and Community nodes, LIVES_IN and PART_OF edges from persons' dispatch places."""
    p = persons[["person_id", "district_code", "street", "community"]].copy()
    for c in ("district_code", "street", "community"):
        p[c] = _clean_text(p[c])
    placed = p[p["district_code"].notna()]
    districts = pd.DataFrame({"code": sorted(set(placed["district_code"]))})
    districts["name"] = districts["code"].map(DISTRICT_NAMES)
    with_street = placed[placed["street"].notna()].copy()
    with_street["street_key"] = _key_text(with_street["district_code"], with_street["street"])
    streets = (with_street.drop_duplicates("street_key")
               .rename(columns={"street_key": "key", "street": "name"})[["key", "name", "district_code"]])
    with_comm = with_street[with_street["community"].notna()].copy()
    with_comm["key"] = _key_text(with_comm["district_code"], with_comm["street"], with_comm["community"])
    communities = (with_comm.drop_duplicates("key")
                   .rename(columns={"community": "name"})[["key", "name", "street", "district_code"]])
    nodes = {"District": districts, "Street": streets, "Community": communities}
    rels = {
        "LIVES_IN": pd.DataFrame({"from": with_comm["person_id"].values, "to": with_comm["key"].values}),
        rel_frame_name("PART_OF", "Community", "Street"): pd.DataFrame({
            "from": communities["key"].values,
            "to": _key_text(communities["district_code"], communities["street"]).values}),
        rel_frame_name("PART_OF", "Street", "District"): pd.DataFrame({
            "from": streets["key"].values, "to": streets["district_code"].values}),
    }
    return nodes, rels


def _employer_period(records: pd.DataFrame) -> pd.Series:
    """The YYYYMM a record shows employment in, per source."""
    period = pd.Series([None] * len(records), index=records.index, dtype=object)
    for column in ("tax_period", "fund_last_period", "last_payment_period", "period"):
        if column in records.columns:
            period = period.where(period.notna(), _clean_text(records[column]))
    missing = period.isna().to_numpy()
    if "hr_business_date" in records.columns and missing.any():
        # Dates are formatted (slow, per value) only where no period column gave one.
        hr_period = pd.to_datetime(records["hr_business_date"][missing], errors="coerce").dt.strftime("%Y%m")
        period[missing] = hr_period.where(hr_period.notna(), None).to_numpy()
    return period


def _employers(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Employer nodes keyed by credit code (else name) and WORKS_FOR edges with period spans."""
    empty_nodes = pd.DataFrame(columns=["key", "name", "credit_code"])
    empty_rels = pd.DataFrame(columns=["from", "to", "source", "period", "first_period", "last_period"])
    if "employer_name" not in records.columns:
        return empty_nodes, empty_rels
    # Only the columns read here, at the employer sources' rows: never a full-width copy of the records.
    wanted = ["person_id", "source", "employer_name", "employer_credit_code", "hr_business_date",
              "tax_period", "fund_last_period", "last_payment_period", "period"]
    r = records.loc[records["source"].isin(EMPLOYER_SOURCES).to_numpy(), [c for c in wanted if c in records.columns]]
    work = pd.DataFrame({
        "person_id": r["person_id"],
        "source": r["source"],
        "name": _clean_text(r["employer_name"]),
        "credit_code": _clean_text(r["employer_credit_code"]) if "employer_credit_code" in r else None,
        "period": _employer_period(r),
    })
    work = work[work["name"].notna() | work["credit_code"].notna()]
    if work.empty:
        return empty_nodes, empty_rels
    # A name seen with a credit code elsewhere (tax returns) takes its most frequent code.
    known = work.dropna(subset=["name", "credit_code"])
    code_by_name = (known.groupby(["name", "credit_code"]).size().rename("n").reset_index()
                    .sort_values(["name", "n", "credit_code"], ascending=[True, False, True])
                    .drop_duplicates("name").set_index("name")["credit_code"])
    work["credit_code"] = work["credit_code"].where(work["credit_code"].notna(), work["name"].map(code_by_name))
    work["key"] = work["credit_code"].where(work["credit_code"].notna(), "name:" + work["name"].fillna(""))
    nodes = (work.sort_values(["key", "name"], na_position="last").drop_duplicates("key")[["key", "name", "credit_code"]])
    # YYYYMM as numbers so the span is a fast numeric min/max.
    work["period_n"] = pd.to_numeric(work["period"], errors="coerce")
    spans = (work.groupby(["person_id", "key", "source"], dropna=False)["period_n"]
             .agg(first_period="min", last_period="max").reset_index())
    for column in ("first_period", "last_period"):
        text = spans[column].astype("Int64").astype("string")
        spans[column] = text.astype(object).where(text.notna(), None)
    spans["period"] = (spans["first_period"] + "-" + spans["last_period"]).where(spans["first_period"].notna(), None)
    rels = spans.rename(columns={"person_id": "from", "key": "to"})[
        ["from", "to", "source", "period", "first_period", "last_period"]]
    return nodes.reset_index(drop=True), rels.reset_index(drop=True)


def _address_keys(records: pd.DataFrame) -> pd.DataFrame:
    """(person_id, key, text, district_code) for every record address precise to the room."""
    frames = []
    for role in ("residence", "household"):
        parts = [f"{role}_{p}" for p in ("district_code", "street", "community", "road", "number", "building", "unit", "room")]
        if not all(c in records.columns for c in parts):
            continue
        wanted = [*parts, f"{role}_address_raw", "person_id"]
        rows = (records[f"{role}_district_code"].notna() & records[f"{role}_room"].notna()).to_numpy()
        sub = records.loc[rows, [c for c in wanted if c in records.columns]]
        if sub.empty:
            continue
        frames.append(pd.DataFrame({
            "person_id": sub["person_id"].values,
            "key": _key_text(*[sub[c] for c in parts]).values,
            "text": sub[f"{role}_address_raw"].values if f"{role}_address_raw" in sub else None,
            "district_code": sub[f"{role}_district_code"].astype("string").values,
        }))
    if not frames:
        return pd.DataFrame(columns=["person_id", "key", "text", "district_code"])
    return pd.concat(frames, ignore_index=True).drop_duplicates(["person_id", "key"])


def _phones(records: pd.DataFrame) -> pd.DataFrame:
    """(person_id, number) for every phone on a person's records."""
    if "phones" not in records.columns:
        return pd.DataFrame(columns=["person_id", "number"])
    r = records[["person_id", "phones"]].dropna()
    r = r.assign(number=r["phones"].astype(str).str.split("|")).explode("number")
    r = r[r["number"].notna() & (r["number"] != "")]
    return r[["person_id", "number"]].drop_duplicates().reset_index(drop=True)


def _households(person_ids: pd.Series, addresses: pd.DataFrame, phones: pd.DataFrame,
                max_members: int) -> pd.DataFrame:
    """(person_id, household_id): persons joined by a shared address or phone, in Python (not in the DB).

    Keys shared by more than ``max_members`` persons (a dormitory, a company switchboard) are ignored.
    """
    links = pd.concat([
        addresses[["person_id", "key"]].assign(key=lambda d: "a:" + d["key"]),
        phones.rename(columns={"number": "key"}).assign(key=lambda d: "p:" + d["key"]),
    ], ignore_index=True)
    links = links.drop_duplicates()
    sizes = links["key"].map(links["key"].value_counts())
    links = links[(sizes >= 2) & (sizes <= max_members)]
    if links.empty:
        return pd.DataFrame(columns=["person_id", "household_id"])
    people = pd.Index(pd.unique(links["person_id"]))
    keys = pd.Index(pd.unique(links["key"]))
    n = len(people) + len(keys)
    rows = people.get_indexer(links["person_id"])
    cols = len(people) + keys.get_indexer(links["key"])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members = pd.DataFrame({"person_id": people, "component": labels[: len(people)]})
    first = members.sort_values("person_id").drop_duplicates("component").set_index("component")["person_id"]
    members["household_id"] = "H:" + members["component"].map(first).astype(str)
    return members[["person_id", "household_id"]]


def _with_run_id(frame: pd.DataFrame, properties: dict[str, str], run_id: str) -> pd.DataFrame:
    """typed_frame plus the run id (the last declared property), without copying the input frame first."""
    typed = typed_frame(frame, {k: v for k, v in properties.items() if k != "run_id"})
    typed["run_id"] = run_id
    return typed


def _records_frame(records: pd.DataFrame, run_id: str) -> pd.DataFrame:
    return _with_run_id(records, RECORD_PROPERTIES, run_id)


def _persons_frame(persons: pd.DataFrame, run_id: str) -> pd.DataFrame:
    return _with_run_id(persons, NODE_PROPERTIES["Person"], run_id)


def run_frame(runs: list[RunInfo], landed_at: datetime) -> pd.DataFrame:
    """Run nodes: the history carried from the store (keeping its landing times) and this run, landed now."""
    rows = [{
        "run_id": r.run_id, "as_of": r.as_of, "started_at": r.started_at, "landed_at": r.landed_at or landed_at,
        "inputs": list(r.inputs), "counts": json.dumps(r.counts, ensure_ascii=False, sort_keys=True),
        "model_version": r.model_version,
    } for r in runs]
    return typed_frame(pd.DataFrame(rows, columns=list(NODE_PROPERTIES["Run"])), NODE_PROPERTIES["Run"])


def graph_frames(run: RunData, *, history: list[RunInfo] | None = None,
                 carried_decisions: pd.DataFrame | None = None, landed_at: datetime | None = None,
                 household_max_members: int = HOUSEHOLD_MAX_MEMBERS) -> GraphFrames:
    """The whole run as graph frames; ``history`` and ``carried_decisions`` come from the previous state.

    The run is checked now; each family of frames is built only when a writer reaches it.
    """
    check_run_data(run)
    run_id = run.run.run_id
    records, persons = run.records, run.persons
    landed_at = landed_at or datetime.now()

    def rel(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        rel_type = rel_frame_endpoints(name)[0]
        props = {"from": "STRING", "to": "STRING", **REL_PROPERTIES[rel_type]}
        return typed_frame(frame, props)

    def people() -> list[tuple[str, str, pd.DataFrame]]:
        runs = run_frame([*(history or []), run.run], landed_at).drop_duplicates("run_id", keep="last")
        return [("node", "Person", _persons_frame(persons, run_id)),
                ("node", "Record", _records_frame(records, run_id)),
                ("node", "Run", runs.reset_index(drop=True))]

    def belongs_to() -> list[tuple[str, str, pd.DataFrame]]:
        return [("rel", "BELONGS_TO", rel(pd.DataFrame({
            "from": records["record_key"].values, "to": records["person_id"].values,
            "match_probability": records["match_probability"].values, "method": records["link_method"].values,
        }), "BELONGS_TO"))]

    def geography() -> list[tuple[str, str, pd.DataFrame]]:
        geo_nodes, geo_rels = _geography(persons)
        return ([("node", label, typed_frame(df, NODE_PROPERTIES[label])) for label, df in geo_nodes.items()]
                + [("rel", name, rel(df, name)) for name, df in geo_rels.items()])

    def employment() -> list[tuple[str, str, pd.DataFrame]]:
        employers, works_for = _employers(records)
        return [("node", "Employer", typed_frame(employers, NODE_PROPERTIES["Employer"])),
                ("rel", "WORKS_FOR", rel(works_for, "WORKS_FOR"))]

    def contacts() -> list[tuple[str, str, pd.DataFrame]]:
        addresses = _address_keys(records)
        phones = _phones(records)
        households = _households(persons["person_id"], addresses, phones, household_max_members)
        household_nodes = households.groupby("household_id").size().rename("size").reset_index()
        return [
            ("node", "Address", typed_frame(addresses.drop_duplicates("key"), NODE_PROPERTIES["Address"])),
            ("node", "Phone", typed_frame(phones.drop_duplicates("number"), NODE_PROPERTIES["Phone"])),
            ("node", "Household", typed_frame(household_nodes, NODE_PROPERTIES["Household"])),
            ("rel", "HAS_ADDRESS", rel(addresses.rename(columns={"person_id": "from", "key": "to"}), "HAS_ADDRESS")),
            ("rel", "HAS_PHONE", rel(phones.rename(columns={"person_id": "from", "number": "to"}), "HAS_PHONE")),
            ("rel", "MEMBER_OF", rel(households.rename(columns={"person_id": "from", "household_id": "to"}),
                                     "MEMBER_OF")),
        ]

    def review() -> list[tuple[str, str, pd.DataFrame]]:
        decisions = run.decisions
        if carried_decisions is not None and len(carried_decisions):
            decisions = pd.concat([carried_decisions, decisions], ignore_index=True)
        decisions = decisions.assign(decided_at=pd.to_datetime(decisions["decided_at"], errors="coerce"))
        decisions = decisions.drop_duplicates(["record_key_l", "record_key_r", "decided_at", "steward", "decision"])
        matches = run.possible_matches
        # Pairs whose records are not in this run cannot be drawn; one membership test for all four columns.
        ends = pd.concat([decisions["record_key_l"], decisions["record_key_r"],
                          matches["record_key_l"], matches["record_key_r"]], ignore_index=True)
        known = ends.isin(records["record_key"]).to_numpy()
        n_dec, n_match = len(decisions), len(matches)
        decisions = decisions[known[:n_dec] & known[n_dec:2 * n_dec]]
        matches = matches[known[2 * n_dec:2 * n_dec + n_match] & known[2 * n_dec + n_match:]]
        return [
            ("rel", "POSSIBLE_MATCH",
             rel(matches.rename(columns={"record_key_l": "from", "record_key_r": "to"}), "POSSIBLE_MATCH")),
            ("rel", "STEWARD_DECISION",
             rel(decisions.rename(columns={"record_key_l": "from", "record_key_r": "to"}), "STEWARD_DECISION")),
        ]

    return GraphFrames([people, belongs_to, geography, employment, contacts, review])
