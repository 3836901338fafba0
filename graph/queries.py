"""The analysts' catalogue of named Cypher queries (`canbao query`, the API), runnable on both stores.

Each query declares its parameters with defaults. Optional text filters default to ``''``,
meaning "any" (LadybugDB cannot type a null parameter, so the texts test ``$x = ''``).
Where LadybugDB's dialect differs, ``embedded`` holds its text beside the Neo4j one.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from graph.cypher import Dialect
from graph.errors import QueryError

ParamKind = Literal["text", "int", "float"]


@dataclass(frozen=True)
class QueryParam:
    """A named query's parameter: its type, default and what it means (Chinese, with English)."""

    name: str
    kind: ParamKind
    default: str | int | float
    description: str


@dataclass(frozen=True)
class NamedQuery:
    """A catalogued analyst query: title and description for people, Cypher for each store."""

    name: str
    title: str
    description: str
    params: tuple[QueryParam, ...]
    neo4j: str
    embedded: str | None = None

    def text(self, dialect: Dialect) -> str:
        """The Cypher text for one store's dialect."""
        return self.embedded if dialect == "embedded" and self.embedded is not None else self.neo4j


def _area(prefix: str = "p") -> str:
    return (f"($district_code = '' OR {prefix}.district_code = $district_code) "
            f"AND ($street = '' OR {prefix}.street = $street) "
            f"AND ($community = '' OR {prefix}.community = $community)")


_DISTRICT = QueryParam("district_code", "text", "", "区代码，如 120104 (district code; empty = all)")
_STREET = QueryParam("street", "text", "", "街道/镇名称，如 华苑街道 (street or town; empty = all)")
_COMMUNITY = QueryParam("community", "text", "", "社区/村名称 (community or village; empty = all)")
_SKIP = QueryParam("skip", "int", 0, "跳过前 N 行，用于分页 (rows to skip, for paging)")
_LIMIT = QueryParam("limit", "int", 100, "最多返回行数 (maximum rows returned)")
_AREA = (_DISTRICT, _STREET, _COMMUNITY)

_PERSON_COLUMNS = (
    "p.person_id AS person_id, p.name AS name, p.id_number AS id_number, p.gender AS gender, "
    "p.birth_date AS birth_date, p.district_code AS district_code, p.street AS street, "
    "p.community AS community")

QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        name="unenrolled_persons",
        title="未参保人员名单（按区/街道/社区）",
        description="状态为 UNENROLLED 的调查对象，按派发地址筛选并分页 "
                    "(survey targets with status UNENROLLED, filtered by dispatch district/street/community, paged)",
        params=(*_AREA, _SKIP, _LIMIT),
        neo4j=(f"MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND {_area()} "
               f"RETURN {_PERSON_COLUMNS}, p.flags AS flags "
               "ORDER BY district_code, street, community, person_id SKIP $skip LIMIT $limit"),
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
        neo4j=("MATCH (p:Person) WHERE p.status = 'UNENROLLED' AND p.district_code IS NULL "
               "RETURN p.person_id AS person_id, p.name AS name, p.id_number AS id_number, "
               "p.dispatch_reason AS dispatch_reason ORDER BY person_id SKIP $skip LIMIT $limit"),
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
        params=(QueryParam("min_members", "int", 2, "最少成员数 (minimum members)"), _LIMIT),
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
        params=(QueryParam("min_probability", "float", 0.0, "最低匹配概率 (minimum match probability)"),
                _SKIP, _LIMIT),
        neo4j=("MATCH (a:Record)-[m:POSSIBLE_MATCH]->(b:Record) "
               "WHERE m.match_probability >= $min_probability "
               "AND NOT EXISTS { MATCH (a)-[d:STEWARD_DECISION]-(b) WHERE d.decision IN ['match', 'not_match'] } "
               "RETURN a.record_key AS record_key_l, b.record_key AS record_key_r, "
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


def _coerce(query: NamedQuery, param: QueryParam, value: object) -> str | int | float:
    if param.kind == "text":
        return "" if value is None else str(value)
    try:
        return int(value) if param.kind == "int" else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QueryError(f"查询 {query.name} 的参数 {param.name} 应为 {param.kind} (must be {param.kind}): {value!r}") from None


def bind_params(query: NamedQuery, given: Mapping[str, object]) -> dict[str, str | int | float]:
    """Every declared parameter with its value (given or default), typed; unknown names are refused."""
    declared = {p.name: p for p in query.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise QueryError(f"查询 {query.name} 不接受参数 (takes no parameter) {', '.join(unknown)}；"
                         f"可用 (accepted): {', '.join(declared) or '无 (none)'}")
    bound = {name: _coerce(query, p, given.get(name, p.default)) for name, p in declared.items()}
    if query.name == "person_360" and not bound["person_id"]:
        raise QueryError("查询 person_360 需要参数 person_id (required): --param person_id=…")
    for name in ("skip", "limit"):
        if name in bound and int(bound[name]) < 0:
            raise QueryError(f"参数 {name} 不能为负 (must not be negative): {bound[name]}")
    return bound


def catalogue_text() -> str:
    """The catalogue as `canbao query --list` prints it."""
    lines = []
    for q in QUERIES:
        lines.append(f"{q.name}  —  {q.title}")
        lines.append(f"    {q.description}")
        for p in q.params:
            lines.append(f"    --param {p.name}=…  ({p.kind}, 默认 default {p.default!r}): {p.description}")
    return "\n".join(lines)
