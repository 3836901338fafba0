"""Every Cypher text Neo4jStore can send passes Neo4j's own front end with zero errors.

The linter is @neo4j-cypher/language-support (lintCypherQuery) run by node through
tests/cypher_lint.mjs; `npm ci` in the repo root installs it (.ci/run does).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.cypher import STAGED_PREFIX, all_neo4j_statements
from graph.model import NODE_PROPERTIES, REL_PROPERTIES
from graph.queries import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
LINTER = ROOT / "tests" / "cypher_lint.mjs"
PACKAGE = ROOT / "node_modules" / "@neo4j-cypher" / "language-support"


def _schema() -> dict:
    labels = [*NODE_PROPERTIES, *(f"{STAGED_PREFIX}{label}" for label in NODE_PROPERTIES), "CanbaoState"]
    keys = {k for props in (*NODE_PROPERTIES.values(), *REL_PROPERTIES.values()) for k in props}
    return {"labels": labels, "relationshipTypes": list(REL_PROPERTIES),
            "propertyKeys": sorted(keys | {"name", "state", "run_id"})}


def lint(statements: dict[str, str]) -> dict[str, list[dict]]:
    """Diagnostics per statement name from Neo4j's Cypher front end."""
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        pytest.fail("需要 node 与 npm 包 (needs node and the npm package): 在仓库根目录运行 `npm ci` (run npm ci)")
    payload = {
        "statements": {name: {"text": text, "parameters": {p: "x" for p in re.findall(r"\$(\w+)", text)}}
                       for name, text in statements.items()},
        "schema": _schema(),
    }
    done = subprocess.run([node, str(LINTER)], input=json.dumps(payload), capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_neo4j_statement_lints_without_errors_or_unknown_names():
    statements = all_neo4j_statements()
    findings = {name: diags for name, diags in lint(statements).items() if diags}
    assert findings == {}, json.dumps(findings, ensure_ascii=False, indent=1)


def test_the_catalogue_and_the_store_statements_are_all_linted():
    names = set(all_neo4j_statements())
    assert {f"query_{name}" for name in CATALOGUE} <= names
    assert {"upsert_record", "record_decision", "update_person_status", "review_page", "unenrolled_page"} <= names


def test_linter_reports_a_dialect_only_function_as_an_error():
    # label() is LadybugDB's; Neo4j has labels(). The linter must catch such slips.
    found = lint({"kuzu_only": "MATCH (p:Person) RETURN label(p) AS l"})["kuzu_only"]
    assert [d["severity"] for d in found] == ["error"]
    assert "label" in found[0]["message"]


def test_linter_reports_a_misspelt_clause():
    found = lint({"typo": "MATCH (p:Person) RETRUN p"})["typo"]
    assert any(d["severity"] == "error" for d in found)
