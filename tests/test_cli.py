"""The `canbao` command line: help texts, and the graph commands on a real run of the sample."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from canbao.cli import build_parser, main
from resolver.pipeline import run_pipeline

SAMPLES = Path(__file__).parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    store = tmp_path_factory.mktemp("cli") / "store"
    run_pipeline(SAMPLES, str(store), dt.date(2026, 11, 28))
    return str(store)


def test_help_lists_every_subcommand_with_a_description(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    for name in ("generate", "ingest", "run", "export", "evaluate", "blocking-report", "query", "export-neo4j"):
        assert f"    {name}" in printed


def test_every_subcommand_has_its_own_help():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subcommands.items():
        assert sub.format_help().strip(), name
        assert sub.description, f"{name} has no description"


def test_query_list_prints_the_catalogue(capsys):
    assert main(["query", "--list"]) == 0
    assert "unenrolled_persons" in capsys.readouterr().out


def test_query_counts_unenrolled_persons_of_a_district(sample_store: str, capsys):
    assert main(["query", "unenrolled_counts", "--store", sample_store, "--param", "district_code=120104"]) == 0
    printed = capsys.readouterr().out
    assert "120104" in printed and "unenrolled" in printed


def test_query_with_a_malformed_parameter_is_refused_in_chinese(sample_store: str, capsys):
    assert main(["query", "unenrolled_counts", "--store", sample_store, "--param", "district_code"]) == 2
    assert "参数格式应为 k=v" in capsys.readouterr().err


def test_export_neo4j_writes_csvs_and_prints_the_import_command(sample_store: str, tmp_path: Path, capsys):
    assert main(["export-neo4j", "--store", sample_store, "--out", str(tmp_path)]) == 0
    assert "neo4j-admin database import full" in capsys.readouterr().out
    assert (tmp_path / "nodes_Person.csv").exists()


def test_run_on_a_missing_folder_says_so_in_chinese(tmp_path: Path, capsys):
    assert main(["run", "--input", str(tmp_path / "nowhere"), "--store", str(tmp_path / "s")]) == 2
    assert "输入目录不存在" in capsys.readouterr().err


def test_blocking_report_with_truth_lists_the_true_pairs_no_rule_finds(tmp_path, capsys):
    from resolver.synth import generate

    city = tmp_path / "city"
    generate(300, 5, dt.date(2026, 11, 28), city)
    assert main(["blocking-report", "--input", str(city), "--truth", str(city / "truth")]) == 0
    printed = capsys.readouterr().out
    assert "(all rules)" in printed and "name_birth_two_ids" in printed
    assert "true pairs no rule brings together" in printed
    assert "shares" in printed and "missed_pairs" in printed
