"""`canbao export-neo4j`: the embedded graph as `neo4j-admin database import full` CSVs, plus the command.

A first load of a city-scale graph into Neo4j is far faster offline than through the
driver. Each label and relationship type gets one CSV with a typed neo4j-admin header;
``schema.cypher`` holds the constraints and indexes to run once the database is started.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from graph.cypher import STAGED_PREFIX, neo4j_schema, read_nodes, read_rels
from graph.embedded import EmbeddedStore
from graph.model import NODE_KEYS, NODE_PROPERTIES, REL_ENDPOINTS, REL_PROPERTIES
from resolver.table_files import output_folder

# Model type → neo4j-admin header type (string is the default and left implicit).
_ADMIN_TYPES = {"STRING": "", "DATE": "date", "TIMESTAMP": "localdatetime", "DOUBLE": "double",
                "INT64": "long", "BOOLEAN": "boolean", "STRING[]": "string[]"}
ARRAY_DELIMITER = ";"


@dataclass(frozen=True)
class ImportBundle:
    """The files written for neo4j-admin and the exact command that loads them."""

    out_dir: Path
    node_files: dict[str, Path]
    rel_files: dict[str, Path]
    schema_file: Path
    command: str
    rows: dict[str, int]


def node_header(label: str) -> list[str]:
    """neo4j-admin header of a label's CSV: its key as ID in the label's id space, typed properties."""
    out = []
    for name, kind in NODE_PROPERTIES[label].items():
        if name == NODE_KEYS[label]:
            out.append(f"{name}:ID({label})")
        else:
            out.append(f"{name}:{_ADMIN_TYPES[kind]}" if _ADMIN_TYPES[kind] else name)
    return out


def rel_header(rel: str, src: str, dst: str) -> list[str]:
    """neo4j-admin header of a relationship CSV: start and end ids in their labels' id spaces, properties."""
    props = [f"{n}:{_ADMIN_TYPES[k]}" if _ADMIN_TYPES[k] else n for n, k in REL_PROPERTIES[rel].items()]
    return [f":START_ID({src})", f":END_ID({dst})", *props]


def _cells(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Values as neo4j-admin reads them: lists joined by the array delimiter, times in ISO form."""
    out = frame.copy()
    for name, kind in types.items():
        if kind == "STRING[]":
            out[name] = out[name].map(lambda v: ARRAY_DELIMITER.join(v) if isinstance(v, list) and v else None)
        elif kind == "TIMESTAMP":
            out[name] = pd.to_datetime(out[name]).map(lambda v: None if pd.isna(v) else v.isoformat())
        elif kind == "DATE":
            out[name] = pd.to_datetime(out[name]).map(lambda v: None if pd.isna(v) else v.date().isoformat())
        elif kind == "BOOLEAN":
            out[name] = out[name].map(lambda v: None if v is None or pd.isna(v) else ("true" if v else "false"))
    return out


def import_command(database: str, node_files: dict[str, Path], rel_files: dict[str, Path]) -> str:
    """The `neo4j-admin database import full` command line for these files."""
    parts = ["neo4j-admin", "database", "import", "full", database, "--overwrite-destination=true",
             f"--array-delimiter={ARRAY_DELIMITER}", "--multiline-fields=true"]
    parts += [f"--nodes={label}={path}" for label, path in node_files.items()]
    parts += [f"--relationships={name.split(':')[0]}={path}" for name, path in rel_files.items()]
    return " ".join(shlex.quote(p) for p in parts)


def export_neo4j_import(store: EmbeddedStore, out_dir: str | Path, database: str = "neo4j") -> ImportBundle:
    """Write one CSV per label and relationship type of the landed run, schema.cypher, and the command."""
    out = Path(out_dir)
    output_folder(out)
    node_files, rel_files, rows = {}, {}, {}
    for label, types in NODE_PROPERTIES.items():
        frame = pd.DataFrame(store._rows(read_nodes(label).text("embedded"), {}, f"export {label}"),
                             columns=list(types))
        path = out / f"nodes_{label}.csv"
        _cells(frame, types).to_csv(path, index=False, header=node_header(label))
        node_files[label], rows[label] = path, len(frame)
    for rel, pairs in REL_ENDPOINTS.items():
        for src, dst in pairs:
            types = {"from": "STRING", "to": "STRING", **REL_PROPERTIES[rel]}
            frame = pd.DataFrame(store._rows(read_rels(rel, src, dst).text("embedded"), {}, f"export {rel}"),
                                 columns=list(types))
            name = rel if len(pairs) == 1 else f"{rel}:{src}->{dst}"
            path = out / f"rels_{rel}_{src}_{dst}.csv"
            _cells(frame, types).to_csv(path, index=False, header=rel_header(rel, src, dst))
            rel_files[name], rows[name] = path, len(frame)
    schema = out / "schema.cypher"
    live = [s.neo4j for s in neo4j_schema() if STAGED_PREFIX not in s.neo4j]
    schema.write_text(";\n".join(live) + ";\n", encoding="utf-8")
    command = import_command(database, node_files, rel_files)
    return ImportBundle(out, node_files, rel_files, schema, command, rows)


def instructions(bundle: ImportBundle, database: str = "neo4j") -> str:
    """What `canbao export-neo4j` prints: the import command, then the schema step (Chinese with English)."""
    return "\n".join([
        f"已写出 (written) {len(bundle.node_files)} 个节点文件与 {len(bundle.rel_files)} 个关系文件到 {bundle.out_dir}",
        "1. 停止 Neo4j 后导入 (stop Neo4j, then import):",
        f"   {bundle.command}",
        "2. 启动 Neo4j 后建立约束与索引 (start Neo4j, then create constraints and indexes):",
        f"   cypher-shell -d {shlex.quote(database)} -f {shlex.quote(str(bundle.schema_file))}",
    ])
