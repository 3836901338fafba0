"""Every Cypher text the stores send, in one place; LadybugDB and Neo4j texts side by side where they differ.

A ``Statement`` holds the Neo4j text and, only when LadybugDB needs something else, its
own text. tests/test_cypher_lint.py lints every Neo4j text (``all_neo4j_statements``) with
Neo4j's front end; the embedded texts run in tests/test_graph_embedded.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graph.model import NODE_KEYS, NODE_PROPERTIES, REL_ENDPOINTS, REL_PROPERTIES, RECORD_PROPERTIES

Dialect = Literal["embedded", "neo4j"]
DIALECTS: tuple[Dialect, ...] = ("embedded", "neo4j")
# Neo4j writes a run under these label prefixes first, then relabels (see neo4j_store.py).
STAGED_PREFIX = "Staged"
# Neo4j's one bookkeeping node: which run is switching or landed.
STATE_LABEL = "CanbaoState"


@dataclass(frozen=True)
class Statement:
    """One Cypher statement: its Neo4j text and, where LadybugDB differs, the embedded text."""

    name: str
    neo4j: str
    embedded: str | None = None

    def text(self, dialect: Dialect) -> str:
        """The text for a dialect (the shared text when the dialects agree)."""
        if dialect == "embedded" and self.embedded is not None:
            return self.embedded
        return self.neo4j


# --- schema -------------------------------------------------------------------------------

def embedded_schema() -> list[str]:
    """LadybugDB DDL for every node and relationship table (idempotent: IF NOT EXISTS)."""
    ddl = []
    for label, props in NODE_PROPERTIES.items():
        columns = ", ".join(f"{name} {kind}" for name, kind in props.items())
        ddl.append(f"CREATE NODE TABLE IF NOT EXISTS {label}({columns}, PRIMARY KEY({NODE_KEYS[label]}))")
    for rel, pairs in REL_ENDPOINTS.items():
        ends = ", ".join(f"FROM {a} TO {b}" for a, b in pairs)
        props = "".join(f", {name} {kind}" for name, kind in REL_PROPERTIES[rel].items())
        ddl.append(f"CREATE REL TABLE IF NOT EXISTS {rel}({ends}{props})")
    return ddl


def neo4j_schema() -> list[Statement]:
    """Neo4j constraints and indexes (idempotent: IF NOT EXISTS), for live and staged labels."""
    out = []
    for prefix in ("", STAGED_PREFIX):
        for label in NODE_PROPERTIES:
            name = f"{prefix}{label}"
            if label == "Record":
                # The natural key, plus a lookup index on the joined key used by edges.
                out.append(Statement(f"constraint_{name}", (
                    f"CREATE CONSTRAINT {name.lower()}_source_record_id IF NOT EXISTS "
                    f"FOR (n:{name}) REQUIRE (n.source, n.record_id) IS UNIQUE")))
                out.append(Statement(f"index_{name}_record_key", (
                    f"CREATE INDEX {name.lower()}_record_key IF NOT EXISTS FOR (n:{name}) ON (n.record_key)")))
            else:
                key = NODE_KEYS[label]
                out.append(Statement(f"constraint_{name}", (
                    f"CREATE CONSTRAINT {name.lower()}_{key} IF NOT EXISTS FOR (n:{name}) REQUIRE n.{key} IS UNIQUE")))
    for label, props in (("Person", ("status",)), ("Person", ("id_number",)),
                         ("Person", ("district_code", "street", "community")), ("Record", ("source",))):
        on = ", ".join(f"n.{p}" for p in props)
        name = f"{label.lower()}_{'_'.join(props)}"
        out.append(Statement(f"index_{name}", f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON ({on})"))
    out.append(Statement("constraint_state", (
        "CREATE CONSTRAINT canbao_state_name IF NOT EXISTS FOR (n:CanbaoState) REQUIRE n.name IS UNIQUE")))
    return out


# --- bulk writes (Neo4j only; LadybugDB uses COPY) ---------------------------------------

def create_nodes(label: str) -> Statement:
    """UNWIND a batch of property maps into new nodes (no MERGE on the bulk path)."""
    return Statement(f"create_nodes_{label}", f"UNWIND $rows AS row CREATE (n:{label}) SET n = row")


def create_rels(rel: str, src: str, dst: str) -> Statement:
    """UNWIND a batch of {from, to, props} into new relationships between keyed nodes."""
    src_key = NODE_KEYS[src.removeprefix(STAGED_PREFIX)]
    dst_key = NODE_KEYS[dst.removeprefix(STAGED_PREFIX)]
    return Statement(f"create_rels_{rel}_{src}_{dst}", (
        f"UNWIND $rows AS row "
        f"MATCH (a:{src} {{{src_key}: row.from}}) "
        f"MATCH (b:{dst} {{{dst_key}: row.to}}) "
        f"CREATE (a)-[r:{rel}]->(b) SET r = row.props"))


def delete_batch(label: str) -> Statement:
    """Delete up to $batch nodes of a label with their edges; returns how many went."""
    return Statement(f"delete_batch_{label}", (
        f"MATCH (n:{label}) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS done"))


def relabel_batch(label: str) -> Statement:
    """Turn up to $batch staged nodes into live ones; returns how many moved."""
    staged = f"{STAGED_PREFIX}{label}"
    return Statement(f"relabel_batch_{label}", (
        f"MATCH (n:{staged}) WITH n LIMIT $batch REMOVE n:{staged} SET n:{label} RETURN count(*) AS done"))


def read_nodes(label: str) -> Statement:
    """Every node of a label as columns in declared order (export)."""
    columns = ", ".join(f"n.{name} AS {name}" for name in NODE_PROPERTIES[label])
    return Statement(f"read_nodes_{label}", f"MATCH (n:{label}) RETURN {columns}")


def read_rels(rel: str, src: str, dst: str) -> Statement:
    """Every relationship of a type between two labels as from/to keys and properties (export)."""
    props = "".join(f", r.{name} AS {name}" for name in REL_PROPERTIES[rel])
    return Statement(f"read_rels_{rel}_{src}_{dst}", (
        f"MATCH (a:{src})-[r:{rel}]->(b:{dst}) "
        f"RETURN a.{NODE_KEYS[src]} AS `from`, b.{NODE_KEYS[dst]} AS `to`{props}"))


SWITCH_BEGIN = Statement("switch_begin", (
    "MERGE (s:CanbaoState {name: 'run_switch'}) SET s.run_id = $run_id, s.state = 'switching'"))
SWITCH_END = Statement("switch_end", (
    "MATCH (s:CanbaoState {name: 'run_switch'}) SET s.state = 'landed'"))
SWITCH_STATE = Statement("switch_state", (
    "MATCH (s:CanbaoState {name: 'run_switch'}) RETURN s.run_id AS run_id, s.state AS state"))
STAGED_RUN = Statement("staged_run", f"MATCH (r:{STAGED_PREFIX}Run {{run_id: $run_id}}) RETURN count(r) AS total")


# --- reads --------------------------------------------------------------------------------

PERSON_BY_ID = Statement("person_by_id", "MATCH (p:Person {person_id: $person_id}) RETURN p AS person")
# Several persons in one query, each found by its key (LadybugDB scans the table for `p.person_id IN $ids`:
# 75 ms at 100k persons, against 0.15-0.5 ms for five keys here).
PERSONS_BY_ID = Statement("persons_by_id", (
    "UNWIND $person_ids AS person_id MATCH (p:Person {person_id: person_id}) RETURN p AS person"))
PERSONS_BY_ID_NUMBER = Statement("persons_by_id_number", (
    "MATCH (p:Person) WHERE p.id_number = $id_number RETURN p AS person ORDER BY p.person_id"))
PERSON_RECORDS = Statement("person_records", (
    "MATCH (r:Record)-[b:BELONGS_TO]->(p:Person {person_id: $person_id}) "
    "RETURN r AS record, b.match_probability AS match_probability, b.method AS method "
    "ORDER BY r.source, r.record_id"))
PERSON_EMPLOYERS = Statement("person_employers", (
    "MATCH (p:Person {person_id: $person_id})-[w:WORKS_FOR]->(e:Employer) "
    "RETURN e.name AS employer_name, e.credit_code AS credit_code, w.source AS source, w.period AS period "
    "ORDER BY w.last_period DESC, e.name"))
PERSON_HOUSEHOLD = Statement("person_household", (
    "MATCH (p:Person {person_id: $person_id})-[:MEMBER_OF]->(h:Household)<-[:MEMBER_OF]-(m:Person) "
    "WHERE m.person_id <> p.person_id "
    "RETURN h.household_id AS household_id, m.person_id AS person_id, m.name AS name, m.status AS status "
    "ORDER BY m.person_id"))
PERSON_OPEN_MATCHES = Statement("person_open_matches", (
    "MATCH (r:Record)-[:BELONGS_TO]->(p:Person {person_id: $person_id}) "
    "MATCH (r)-[m:POSSIBLE_MATCH]-(o:Record) "
    "RETURN r.record_key AS record_key, o.record_key AS other_record_key, "
    "m.match_probability AS match_probability, m.explanation AS explanation "
    "ORDER BY r.record_key, o.record_key"))
RUN_BY_ID = Statement("run_by_id", "MATCH (r:Run {run_id: $run_id}) RETURN r AS run")
RUNS = Statement("runs", "MATCH (r:Run) RETURN r AS run ORDER BY r.landed_at, r.run_id")

_WORK_LIST_FILTER = (
    "MATCH (p:Person) WHERE p.status = 'UNENROLLED' "
    "AND ($district_code = '' OR p.district_code = $district_code) "
    "AND ($street = '' OR p.street = $street) "
    "AND ($community = '' OR p.community = $community) ")
UNENROLLED_PAGE = Statement("unenrolled_page", (
    _WORK_LIST_FILTER
    + "RETURN p AS person ORDER BY p.district_code, p.street, p.community, p.person_id SKIP $skip LIMIT $limit"))
UNENROLLED_COUNT = Statement("unenrolled_count", _WORK_LIST_FILTER + "RETURN count(p) AS total")

_OPEN_PAIRS = (
    "MATCH (a:Record)-[m:POSSIBLE_MATCH]->(b:Record) "
    "WHERE NOT EXISTS { MATCH (a)-[d:STEWARD_DECISION]-(b) WHERE d.decision IN ['match', 'not_match'] } ")
REVIEW_PAGE = Statement("review_page", (
    _OPEN_PAIRS
    + "OPTIONAL MATCH (a)-[:BELONGS_TO]->(pa:Person) "
    "OPTIONAL MATCH (b)-[:BELONGS_TO]->(pb:Person) "
    "RETURN a.record_key AS record_key_l, b.record_key AS record_key_r, "
    "m.match_probability AS match_probability, m.explanation AS explanation, "
    "a.name AS name_l, b.name AS name_r, a.id_number AS id_number_l, b.id_number AS id_number_r, "
    "pa.person_id AS person_id_l, pb.person_id AS person_id_r "
    "ORDER BY abs(m.match_probability - 0.5), a.record_key, b.record_key SKIP $skip LIMIT $limit"))
REVIEW_COUNT = Statement("review_count", _OPEN_PAIRS + "RETURN count(m) AS total")

DECISIONS = Statement("decisions", (
    "MATCH (a:Record)-[d:STEWARD_DECISION]->(b:Record) "
    "RETURN a.record_key AS record_key_l, b.record_key AS record_key_r, d.decision AS decision, "
    "d.steward AS steward, d.decided_at AS decided_at, d.note AS note "
    "ORDER BY d.decided_at, a.record_key, b.record_key"))
COUNT_LABEL = {label: Statement(f"count_{label}", f"MATCH (n:{label}) RETURN count(n) AS total")
               for label in NODE_PROPERTIES}


# --- incremental upserts -------------------------------------------------------------------

def upsert_record(present: frozenset[str] | set[str]) -> Statement:
    """Replace a record's properties by $props; ``present`` names the non-null ones.

    LadybugDB has no ``SET n = map`` and cannot type a null struct field, so its text sets
    each present property from $props and every other declared one to NULL.
    """
    assignments = ", ".join(
        f"r.{name} = $props.{name}" if name in present else f"r.{name} = NULL"
        for name in RECORD_PROPERTIES if name != "record_key")
    return Statement(
        "upsert_record",
        neo4j="MERGE (r:Record {source: $source, record_id: $record_id}) SET r = $props",
        embedded=f"MERGE (r:Record {{record_key: $record_key}}) SET {assignments}",
    )


UNLINK_RECORD = Statement("unlink_record", (
    "MATCH (r:Record {record_key: $record_key})-[b:BELONGS_TO]->(:Person) DELETE b"))
LINK_RECORD = Statement("link_record", (
    "MATCH (r:Record {record_key: $record_key}) MATCH (p:Person {person_id: $person_id}) "
    "CREATE (r)-[:BELONGS_TO {match_probability: $match_probability, method: $method}]->(p)"))
RECORD_DECISION = Statement("record_decision", (
    "MATCH (a:Record {record_key: $record_key_l}) MATCH (b:Record {record_key: $record_key_r}) "
    "CREATE (a)-[:STEWARD_DECISION {decision: $decision, steward: $steward, decided_at: $decided_at, note: $note}]->(b) "
    "RETURN count(*) AS created"))
UPDATE_PERSON_STATUS = Statement("update_person_status", (
    "MATCH (p:Person {person_id: $person_id}) "
    "SET p.status = $status, p.flags = $flags, p.status_rule = $status_rule, "
    "p.status_records = $status_records, p.run_id = $run_id "
    "RETURN count(p) AS updated"))
# A person first met through an upserted record exists bare (no status) until update_person_status.
ENSURE_PERSON = Statement("ensure_person", (
    "MERGE (p:Person {person_id: $person_id}) ON CREATE SET p.run_id = $run_id"))


def all_neo4j_statements() -> dict[str, str]:
    """Every text Neo4jStore can send, by name: what the lint test checks."""
    from graph.queries import CATALOGUE

    statements: list[Statement] = [
        *neo4j_schema(), SWITCH_BEGIN, SWITCH_END, SWITCH_STATE, STAGED_RUN,
        PERSON_BY_ID, PERSONS_BY_ID, PERSONS_BY_ID_NUMBER, PERSON_RECORDS, PERSON_EMPLOYERS, PERSON_HOUSEHOLD,
        PERSON_OPEN_MATCHES, RUN_BY_ID, RUNS, UNENROLLED_PAGE, UNENROLLED_COUNT, REVIEW_PAGE, REVIEW_COUNT,
        DECISIONS, *COUNT_LABEL.values(), upsert_record(frozenset()), UNLINK_RECORD, LINK_RECORD, RECORD_DECISION,
        UPDATE_PERSON_STATUS, ENSURE_PERSON,
    ]
    for label in NODE_PROPERTIES:
        for name in (label, f"{STAGED_PREFIX}{label}"):
            statements += [create_nodes(name), delete_batch(name)]
        statements.append(relabel_batch(label))
    statements.append(delete_batch(STATE_LABEL))
    for rel, pairs in REL_ENDPOINTS.items():
        for src, dst in pairs:
            statements.append(create_rels(rel, f"{STAGED_PREFIX}{src}", f"{STAGED_PREFIX}{dst}"))
    out = {s.name: s.neo4j for s in statements}
    out.update({f"query_{q.name}": q.text("neo4j") for q in CATALOGUE.values()})
    out.update({f"query_{q.name}_count": q.count for q in CATALOGUE.values() if q.count})
    return out
