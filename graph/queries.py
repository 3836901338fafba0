"""The analysts' catalogue of named Cypher queries (`canbao query`, the API), runnable on both stores.

Each query declares its parameters with defaults and, for numbers, the range they must lie
in (refused with the parameter's name before anything reaches the database). Optional text
filters default to ``''``, meaning "any" (LadybugDB cannot type a null parameter, so the
texts test ``$x = ''``). Where LadybugDB's dialect differs, ``embedded`` holds its text
beside the Neo4j one. A query that pages with ``SKIP $skip`` also carries ``count``, the
Cypher counting the rows it pages through: the store never sends a SKIP past the last row
(LadybugDB segfaults on it; see GraphStore._page).
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from graph.cypher import Dialect
from graph.errors import QueryError

ParamKind = Literal["text", "int", "float"]

# Offsets and page sizes anywhere in the graph layer (named queries, work list, review queue). Callers may
# cap lower (the API pages at most 5000 rows); the database never sees a value outside these.
MAX_SKIP = 10_000_000
MAX_LIMIT = 10_000_000
# Text filters are place names and ids: a longer value is a mistake, not a filter.
MAX_TEXT = 100
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class QueryParam:
    """A named query's parameter: its type, default, range and what it means (Chinese, with English).

    Numbers must lie in ``minimum``..``maximum`` (both inclusive, both required for int and float);
    text is at most ``MAX_TEXT`` characters.
    """

    name: str
    kind: ParamKind
    default: str | int | float
    description: str
    minimum: int | float | None = None
    maximum: int | float | None = None

    @property
    def range_text(self) -> str:
        """The accepted values in words, e.g. '0 … 10000000' or '≤ 100 字符 characters'."""
        if self.kind == "text":
            return f"≤ {MAX_TEXT} 字符 characters"
        return f"{self.minimum} … {self.maximum}"


@dataclass(frozen=True)
class NamedQuery:
    """A catalogued analyst query: title and description for people, Cypher for each store."""

    name: str
    title: str
    description: str
    params: tuple[QueryParam, ...]
    neo4j: str
    embedded: str | None = None
    count: str | None = None   # both dialects: the rows the query pages through, RETURN count(*) AS total

    def text(self, dialect: Dialect) -> str:
        """The Cypher text for one store's dialect."""
        return self.embedded if dialect == "embedded" and self.embedded is not None else self.neo4j

    @property
    def paged(self) -> bool:
        """Whether the query pages with SKIP (and so must be counted before a page is asked for)."""
        return any(p.name == "skip" for p in self.params)


def _area(prefix: str = "p") -> str:
    return (f"($district_code = '' OR {prefix}.district_code = $district_code) "
            f"AND ($street = '' OR {prefix}.street = $street) "
            f"AND ($community = '' OR {prefix}.community = $community)")


_DISTRICT = QueryParam("district_code", "text", "", "区代码，如 120104 (district code; empty = all)")
_STREET = QueryParam("street", "text", "", "街道/镇名称，如 华苑街道 (street or town; empty = all)")
_COMMUNITY = QueryParam("community", "text", "", "社区/村名称 (community or village; empty = all)")
_SKIP = QueryParam("skip", "int", 0, "跳过前 N 行，用于分页 (rows to skip, for paging)", 0, MAX_SKIP)
_LIMIT = QueryParam("limit", "int", 100, "最多返回行数 (maximum rows returned)", 1, MAX_LIMIT)
_AREA = (_DISTRICT, _STREET, _COMMUNITY)

_PERSON_COLUMNS = (
    "p.person_id AS person_id, p.name AS name, p.id_number AS id_number, p.gender AS gender, "
    "p.birth_date AS birth_date, p.district_code AS district_code, p.street AS street, "
    "p.community AS community")

_UNENROLLED = f"MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND {_area()} "
_UNPLACED = "MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND p.district_code IS NULL "
_UNDECIDED = ("MATCH (a:Record)-[m:POSSIBLE_MATCH]->(b:Record) "
              "WHERE m.match_probability >= $min_probability "
              "AND NOT EXISTS { MATCH (a)-[d:STEWARD_DECISION]-(b) WHERE d.decision IN ['match', 'not_match'] } ")
_TOTAL = "RETURN count(*) AS total"

QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        name="unenrolled_persons",
        title="未参保人员名单（按区/街道/社区）",
        description="状态为 UNENROLLED 的调查对象，按派发地址筛选并分页 "
                    "(survey targets with status UNENROLLED, filtered by dispatch district/street/community, paged)",
        params=(*_AREA, _SKIP, _LIMIT),
        neo4j=(f"{_UNENROLLED}RETURN {_PERSON_COLUMNS}, p.flags AS flags "
               "ORDER BY district_code, street, community, person_id SKIP $skip LIMIT $limit"),
        count=_UNENROLLED + _TOTAL,
    ),
    NamedQuery(
        name="unenrolled_counts",
        title="未参保人数统计（按区/街道/社区）",
        description="各区、街道、社区的未参保人数，未能定位者单列 "
                    "(UNENROLLED persons counted per district/street/community; unplaced ones show null places)",
        params=_AREA,
        neo4j=(f"MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND {_area()} "
               "RETURN p.district_code AS district_code, p.street AS street, p.community AS community, "
               "count(p) AS unenrolled ORDER BY unenrolled DESC, district_code, street, community"),
    ),
    NamedQuery(
        name="unplaced_persons",
        title="无法派发的未参保人员（UNPLACED 工作清单）",
        description="地址无法定位到区的未参保人员及原因 "
                    "(UNENROLLED persons whose address could not be placed in a district, with the reason)",
        params=(_SKIP, _LIMIT),
        neo4j=(f"{_UNPLACED}RETURN p.person_id AS person_id, p.name AS name, p.id_number AS id_number, "
               "p.dispatch_reason AS dispatch_reason ORDER BY person_id SKIP $skip LIMIT $limit"),
        count=_UNPLACED + _TOTAL,
    ),
    NamedQuery(
        name="person_360",
        title="个人全景视图",
        description="一个人的全部部门记录（按来源）、参保状态及其依据、所属运行批次 "
                    "(all of a person's records by source, the status, the rule and records behind it, and the run)",
        params=(QueryParam("person_id", "text", "", "人员编号 (person_id; required)"),),
        neo4j=("MATCH (p:Person {person_id: $person_id}) "
               "OPTIONAL MATCH (r:Record)-[b:BELONGS_TO]->(p) "
               "OPTIONAL MATCH (run:Run {run_id: p.run_id}) "
               "RETURN p.person_id AS person_id, p.name AS name, p.status AS status, p.flags AS flags, "
               "p.status_rule AS status_rule, p.status_records AS status_records, "
               "run.run_id AS run_id, run.as_of AS as_of, "
               "r.source AS source, r.record_id AS record_id, r.name AS record_name, "
               "r.id_number AS record_id_number, b.method AS link_method, b.match_probability AS match_probability, "
               "r.record_key IN p.status_records AS decides_status "
               "ORDER BY source, record_id"),
    ),
    NamedQuery(
        name="taxpayers_not_enrolled",
        title="纳税未参保人员",
        description="近 12 个月有个税扣缴记录但未参保的人员及扣缴单位（第十二条） "
                    "(UNENROLLED persons with a TAXPAYER flag and their withholding employers, art. 12)",
        params=(*_AREA, _LIMIT),
        neo4j=(f"MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND 'TAXPAYER' IN p.flags AND {_area()} "
               "OPTIONAL MATCH (p)-[w:WORKS_FOR {source: 'tax_iit'}]->(e:Employer) "
               f"RETURN {_PERSON_COLUMNS}, collect(DISTINCT e.name) AS employers "
               "ORDER BY district_code, person_id LIMIT $limit"),
    ),
    NamedQuery(
        name="employed_not_enrolled",
        title="就业未参保人员",
        description="有就业登记或公积金正常缴存但未参保的人员及单位（第十三条） "
                    "(UNENROLLED persons with an EMPLOYED flag and their employers, art. 13)",
        params=(*_AREA, _LIMIT),
        neo4j=(f"MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND 'EMPLOYED' IN p.flags AND {_area()} "
               "OPTIONAL MATCH (p)-[w:WORKS_FOR]->(e:Employer) "
               f"RETURN {_PERSON_COLUMNS}, collect(DISTINCT e.name) AS employers "
               "ORDER BY district_code, person_id LIMIT $limit"),
    ),
    NamedQuery(
        name="insured_elsewhere_by_province",
        title="外省市参保人数（按省份）",
        description="在全国参保库中于外省正常参保的人数，按省份统计（第十四条） "
                    "(persons INSURED_ELSEWHERE counted per province of the national database, art. 14)",
        params=(QueryParam("province_code", "text", "", "省份代码，如 13 (2-digit province code; empty = all)"),),
        neo4j=("MATCH (p:Person {status: 'INSURED_ELSEWHERE'})<-[:BELONGS_TO]-(r:Record {source: 'national_insured'}) "
               "WHERE r.national_status = '正常' AND r.insured_province_code <> '12' "
               "AND ($province_code = '' OR r.insured_province_code = $province_code) "
               "RETURN r.insured_province_code AS province_code, r.insured_province_name AS province_name, "
               "count(DISTINCT p) AS persons ORDER BY persons DESC, province_code"),
    ),
    NamedQuery(
        name="mixed_status_households",
        title="成员参保状态不一的家庭",
        description="共享住址或电话的家庭中，成员状态不同者（便于入户时一并动员） "
                    "(households — persons sharing an address or phone — whose members have different statuses)",
        params=(QueryParam("min_members", "int", 2, "最少成员数 (minimum members)", 1, 1000), _LIMIT),
        neo4j=("MATCH (h:Household)<-[:MEMBER_OF]-(p:Person) "
               "WITH h, collect(DISTINCT p.status) AS statuses, collect(p.person_id) AS members, "
               "count(p) AS member_count "
               "WHERE member_count >= $min_members AND size(statuses) > 1 "
               "RETURN h.household_id AS household_id, member_count, statuses, members "
               "ORDER BY member_count DESC, household_id LIMIT $limit"),
    ),
    NamedQuery(
        name="employers_most_unenrolled",
        title="未参保职工最多的单位（扩面线索）",
        description="按未参保职工人数排序的用人单位，供扩面稽核 "
                    "(employers ranked by UNENROLLED workers linked through tax, HR, housing fund or enrolment records)",
        params=(_DISTRICT, _LIMIT),
        neo4j=("MATCH (p:Person {status: 'UNENROLLED'})-[w:WORKS_FOR]->(e:Employer) "
               "WHERE ($district_code = '' OR p.district_code = $district_code) "
               "RETURN e.name AS employer_name, e.credit_code AS credit_code, "
               "count(DISTINCT p) AS unenrolled_workers, collect(DISTINCT w.source) AS sources "
               "ORDER BY unenrolled_workers DESC, employer_name LIMIT $limit"),
    ),
    NamedQuery(
        name="uncertain_links",
        title="待人工核实的疑似匹配",
        description="处于复核区间且尚无 match/not_match 决定的记录对，最不确定者在前 "
                    "(record pairs in the review band without a match/not_match decision, most uncertain first)",
        params=(QueryParam("min_probability", "float", 0.0, "最低匹配概率 (minimum match probability)", 0.0, 1.0),
                _SKIP, _LIMIT),
        count=_UNDECIDED + _TOTAL,
        neo4j=(f"{_UNDECIDED}RETURN a.record_key AS record_key_l, b.record_key AS record_key_r, "
               "a.name AS name_l, b.name AS name_r, m.match_probability AS match_probability, "
               "m.explanation AS explanation "
               "ORDER BY abs(m.match_probability - 0.5), record_key_l, record_key_r SKIP $skip LIMIT $limit"),
    ),
    NamedQuery(
        name="conflicts",
        title="需人工裁决的冲突",
        description="标记 CONFLICT 的人员（如一人名下两个不同的有效身份证号）及其号码 "
                    "(persons flagged CONFLICT, e.g. two different valid ID numbers in one cluster, with the numbers)",
        params=(_DISTRICT, _LIMIT),
        neo4j=("MATCH (p:Person) WHERE 'CONFLICT' IN p.flags "
               "AND ($district_code = '' OR p.district_code = $district_code) "
               "OPTIONAL MATCH (r:Record)-[:BELONGS_TO]->(p) "
               "RETURN p.person_id AS person_id, p.name AS name, p.status AS status, "
               "collect(DISTINCT r.id_number) AS id_numbers, collect(DISTINCT r.source) AS sources "
               "ORDER BY person_id LIMIT $limit"),
    ),
)

CATALOGUE: dict[str, NamedQuery] = {q.name: q for q in QUERIES}


def get_query(name: str) -> NamedQuery:
    """The catalogued query of that name, or an error listing the names there are."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise QueryError(f"未知查询 (unknown query) {name!r}；可用 (available): {', '.join(CATALOGUE)} "
                         "— 运行 `canbao query --list` 查看说明") from None


def parse_param_args(args: Iterable[str]) -> dict[str, str]:
    """`--param k=v` strings as a dict, refusing malformed ones."""
    out = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise QueryError(f"参数格式应为 k=v (parameter must be k=v): {arg!r}")
        out[key.strip()] = value
    return out


def _shown(value: object) -> str:
    """A caller's value for an error message, cut short (a hostile value can be megabytes)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _refuse(query: NamedQuery, param: QueryParam, value: object, what: str) -> QueryError:
    """A QueryError naming the parameter, what is wrong, its accepted values and (cut short) the value given."""
    accepted = f"；可用 (accepted) {param.range_text}" if param.kind != "text" else ""
    return QueryError(f"查询 {query.name} 的参数 {param.name} {what}{accepted}: {_shown(value)}", param=param.name)


def _out_of_range(query: NamedQuery, param: QueryParam, value: object) -> QueryError:
    return _refuse(query, param, value, "超出范围 (out of range)")


def _as_int(query: NamedQuery, param: QueryParam, value: object) -> int:
    """An integer from an int, an integral float or ASCII digits with an optional sign; nothing else."""
    if isinstance(value, str):
        text = value.strip()
        if not _INT.fullmatch(text):
            raise _refuse(query, param, value, "应为整数 (must be an integer)")
        if len(text.lstrip("+-")) > 19:   # beyond int64 whatever the range: never parsed, never sent
            raise _out_of_range(query, param, value)
        return int(text)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool):
        raise _refuse(query, param, value, "应为整数 (must be an integer)")
    try:
        return operator.index(value)  # type: ignore[arg-type]   # int, numpy integers
    except TypeError:
        raise _refuse(query, param, value, "应为整数 (must be an integer)") from None


def _as_float(query: NamedQuery, param: QueryParam, value: object) -> float:
    """A finite float from a number or a plain decimal string (no nan, inf, underscores)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _refuse(query, param, value, "应为数字 (must be a number)")
    if isinstance(value, str) and not _FLOAT.fullmatch(value.strip()):
        raise _refuse(query, param, value, "应为数字 (must be a number)")
    try:
        number = float(value)
    except OverflowError:   # an int beyond any float
        raise _out_of_range(query, param, value) from None
    if not math.isfinite(number):
        raise _out_of_range(query, param, value)
    return number


def _coerce(query: NamedQuery, param: QueryParam, value: object) -> str | int | float:
    """One parameter typed and checked against its range; QueryError naming it otherwise."""
    if param.kind == "text":
        text = "" if value is None else str(value)
        if len(text) > MAX_TEXT:
            raise _refuse(query, param, value, f"过长，最多 {MAX_TEXT} 个字符 (at most {MAX_TEXT} characters)")
        return text
    number = _as_int(query, param, value) if param.kind == "int" else _as_float(query, param, value)
    if not (param.minimum <= number <= param.maximum):  # type: ignore[operator]
        raise _out_of_range(query, param, value)
    return number


def bind_params(query: NamedQuery, given: Mapping[str, object]) -> dict[str, str | int | float]:
    """Every declared parameter with its value (given or default), typed and in range; unknown names are refused."""
    declared = {p.name: p for p in query.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise QueryError(f"查询 {query.name} 不接受参数 (takes no parameter) {', '.join(unknown)}；"
                         f"可用 (accepted): {', '.join(declared) or '无 (none)'}", param=unknown[0])
    bound = {name: _coerce(query, p, given.get(name, p.default)) for name, p in declared.items()}
    if query.name == "person_360" and not bound["person_id"]:
        raise QueryError("查询 person_360 需要参数 person_id (required): --param person_id=…", param="person_id")
    return bound


def check_page(skip: int, limit: int) -> None:
    """Refuse an offset or page size outside 0..MAX_SKIP / 1..MAX_LIMIT (the work list, the review queue)."""
    for name, value, low, high in (("skip", skip, 0, MAX_SKIP), ("limit", limit, 1, MAX_LIMIT)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise QueryError(f"参数 {name} 应在 {low} 到 {high} 之间的整数 (must be an integer between {low} and "
                             f"{high}): {_shown(value)}", param=name)


def catalogue_text() -> str:
    """The catalogue as `canbao query --list` prints it."""
    lines = []
    for q in QUERIES:
        lines.append(f"{q.name}  —  {q.title}")
        lines.append(f"    {q.description}")
        for p in q.params:
            lines.append(f"    --param {p.name}=…  ({p.kind} {p.range_text}, 默认 default {p.default!r}): "
                         f"{p.description}")
    return "\n".join(lines)
