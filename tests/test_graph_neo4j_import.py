"""The neo4j-admin export: typed headers, one file per label and relationship type, the exact command."""
from __future__ import annotations

import csv

import pytest

from graph.embedded import EmbeddedStore
from graph.neo4j_import import export_neo4j_import, instructions, node_header, rel_header
from test_graph_sample import sample_run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    with EmbeddedStore(root / "graph", buffer_pool_mb=256) as store:
        store.write_run(sample_run())
        return export_neo4j_import(store, root / "neo4j-import")


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_person_header_types_dates_and_flag_lists():
    header = node_header("Person")
    assert header[0] == "person_id:ID(Person)"
    assert {"birth_date:date", "flags:string[]", "status_records:string[]"} <= set(header)


def test_relationships_use_the_labels_id_spaces():
    assert rel_header("BELONGS_TO", "Record", "Person")[:2] == [":START_ID(Record)", ":END_ID(Person)"]


def test_every_record_and_link_is_exported(bundle):
    assert bundle.rows["Record"] == 11 and bundle.rows["BELONGS_TO"] == 11
    links = _rows(bundle.rel_files["BELONGS_TO"])
    assert {r[":END_ID(Person)"] for r in links} == {"P1", "P2", "P3", "P4", "P5", "P6"}


def test_flags_are_joined_with_the_array_delimiter(bundle):
    persons = {r["person_id:ID(Person)"]: r for r in _rows(bundle.node_files["Person"])}
    assert persons["P2"]["flags:string[]"] == "TAXPAYER;EMPLOYED"


def test_the_printed_command_names_every_file_and_the_schema_step(bundle):
    text = instructions(bundle)
    assert text.count("--nodes=") == len(bundle.node_files) and text.count("--relationships=") == len(bundle.rel_files)
    assert "neo4j-admin database import full neo4j" in text and "schema.cypher" in text
    assert "Staged" not in bundle.schema_file.read_text(encoding="utf-8")
