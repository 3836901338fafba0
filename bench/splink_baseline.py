"""Splink (DuckDB backend) on canbao's canonical records: the open-source peer bench/city.py measures against.

The configuration is what a careful Splink user would write for this data, following
Splink's own tutorials (v4/v5 API): deduplicate one table; predict on blocking rules over the
ID number, pinyin name + birth date, phone and name + employer; compare ID numbers by
Damerau–Levenshtein, names by exact characters, exact pinyin and Jaro–Winkler on pinyin (term
frequencies on the characters), birth dates with Splink's DateOfBirthComparison, gender, phone,
a hierarchical address and the employer; train the prior from equal ID numbers, u by random
sampling and m by EM on two blocking rules; predict, then cluster by connected components.

Splink sees the same canonical records canbao resolved (records.parquet of the canbao run),
turned into flat string columns here. That preparation is part of Splink's measured time, as
canbao's own feature preparation is part of its resolution time. Splink is an optional bench
dependency: ``pip install -e '.[bench]'``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resolver.compare import address_keys, clean_text, effective_birth_date, effective_gender

# Canonical columns the preparation reads (a subset of records.parquet, so Splink's process never
# holds the wide record frame).
INPUT_COLUMNS: tuple[str, ...] = (
    "record_key", "id_number", "id_status", "id_birth_date", "id_gender", "name_key", "name_pinyin",
    "gender", "birth_date", "phones", "employer_name", "employer_credit_code",
    *(f"{role}_{part}" for role in ("residence", "household")
      for part in ("district_code", "street", "community", "road", "number", "building", "unit", "room")),
)
Stage = Callable[[str], None]


@dataclass(frozen=True)
class SplinkOptions:
    """The few knobs of the baseline; the defaults are the run bench/README.md reports."""

    threshold: float = 0.95            # cluster pairs at or above this match probability
    predict_threshold: float = 0.5     # keep predicted pairs at or above this (the clustering input)
    u_max_pairs: float = 1e7           # Splink's docs: 1e7 "often adequate", 1e8–1e9 best
    deterministic_recall: float = 0.8  # recall guessed for equal ID numbers when estimating the prior
    memory_limit: str = "8GB"          # DuckDB memory_limit: the same budget canbao is held to
    threads: int = 2                   # DuckDB threads (the machine has two cores)
    seed: int = 20161103


def _required_splink():
    try:
        import splink  # noqa: F401
    except ImportError as exc:
        raise SystemExit("splink is not installed: pip install -e '.[bench]' (the optional bench group)") from exc


def read_records(path: Path) -> pd.DataFrame:
    """The canonical columns Splink needs from a records.parquet (absent ones as nulls)."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    if "record_key" not in present:
        raise SystemExit(f"{path}: no record_key column — pass the records.parquet of a canbao run")
    frame = pd.read_parquet(path, columns=[c for c in INPUT_COLUMNS if c in present])
    return frame.reindex(columns=list(INPUT_COLUMNS))


def _text_date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), None)


def splink_input(records: pd.DataFrame) -> pd.DataFrame:
    """One flat row per record: the string columns the Splink settings compare and block on."""
    id_number = clean_text(records["id_number"]).where(records["id_status"].to_numpy() != "missing", None)
    pinyin = clean_text(records["name_pinyin"]).str.replace(" ", "", regex=False)
    first_phone = clean_text(records["phones"]).str.split("|").str[0]
    residence, household = address_keys(records, "residence"), address_keys(records, "household")
    address = residence.where(residence["district"].notna(), household)   # residence, else household
    employer = clean_text(records["employer_credit_code"]).fillna(clean_text(records["employer_name"]))
    return pd.DataFrame({
        "unique_id": records["record_key"].to_numpy(),
        "id_number": id_number.to_numpy(),
        "name_key": clean_text(records["name_key"]).to_numpy(),
        "name_pinyin": pinyin.to_numpy(),
        "birth_date": _text_date(effective_birth_date(records)).to_numpy(),
        "gender": effective_gender(records).to_numpy(),
        "phone": first_phone.to_numpy(),
        "address_district": address["district"].to_numpy(),
        "address_community": address["community"].to_numpy(),
        "address_building": address["building"].to_numpy(),
        "employer": employer.to_numpy(),
    })


def splink_settings():
    """The Splink model settings (blocking for prediction and the comparisons)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_pinyin"),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),   # same characters
            cll.ExactMatchLevel("name_pinyin"),                                 # homophones
            cll.JaroWinklerLevel("name_pinyin", 0.92),
            cll.JaroWinklerLevel("name_pinyin", 0.80),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address_district"),
            cll.ExactMatchLevel("address_building"),
            cll.ExactMatchLevel("address_community"),
            cll.ExactMatchLevel("address_district"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("id_number"),
            block_on("name_pinyin", "birth_date"),
            block_on("phone"),
            block_on("name_key", "employer"),
        ],
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("id_number", [1]),
            name,
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("gender"),
            cl.ExactMatch("phone"),
            address,
            cl.ExactMatch("employer"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def run_splink(records: pd.DataFrame, options: SplinkOptions, spill_dir: Path, pairs_file: Path | None = None,
               stage: Stage = lambda name: None) -> tuple[pd.DataFrame, dict]:
    """Train, predict and cluster; returns (record_key, cluster_id) and facts about the run.

    ``stage(name)`` is called as each step ends (prepare, train_prior, train_u, train_em,
    predict, cluster) so the caller can time it and take its peak memory. After the last
    step, untimed, the predicted pairs are written to ``pairs_file`` (for a threshold sweep).
    """
    _required_splink()
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    frame = splink_input(records)
    n_records = len(frame)
    del records
    stage("prepare")

    spill_dir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    connection.execute(f"SET memory_limit='{options.memory_limit}'")
    connection.execute(f"SET threads={int(options.threads)}")
    connection.execute(f"SET temp_directory='{spill_dir}'")
    db_api = DuckDBAPI(connection)
    table = db_api.register(frame, dataset_display_name="records")
    del frame
    linker = Linker(table, splink_settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_number")], recall=options.deterministic_recall)
    stage("train_prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=options.u_max_pairs, seed=options.seed)
    stage("train_u")
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_pinyin", "birth_date"))
    stage("train_em")
    predictions = linker.inference.predict(threshold_match_probability=options.predict_threshold)
    stage("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=options.threshold)
    labels = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    stage("cluster")
    n_pairs = int(connection.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0])
    if pairs_file is not None:
        connection.execute(f"COPY (SELECT unique_id_l, unique_id_r, match_probability FROM "
                           f"{predictions.physical_name}) TO '{pairs_file}' (FORMAT parquet)")
    facts = {"records": n_records, "predicted_pairs": n_pairs,
             "threshold": options.threshold, "predict_threshold": options.predict_threshold,
             "u_max_pairs": options.u_max_pairs, "memory_limit": options.memory_limit,
             "threads": options.threads}
    connection.close()
    return labels.rename(columns={"unique_id": "record_key"}), facts


def clusters_at(predictions: pd.DataFrame, record_keys: np.ndarray, threshold: float) -> np.ndarray:
    """Connected components of the pairs at or above ``threshold`` (a cheap re-clustering for sweeps)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    position = pd.Series(np.arange(len(record_keys)), index=record_keys)
    kept = predictions[predictions["match_probability"] >= threshold]
    a = position.reindex(kept["unique_id_l"]).to_numpy()
    b = position.reindex(kept["unique_id_r"]).to_numpy()
    n = len(record_keys)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]
