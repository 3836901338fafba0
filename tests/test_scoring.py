"""Fellegi–Sunter scoring: EM recovers known parameters, TF adjustment, model round trip."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from resolver.matching_config import FIELD_LEVELS, load_matching_config
from resolver.scoring import (
    FSModel,
    estimate_u,
    expectation_maximisation,
    field_weights,
    match_weight,
    probability,
    term_frequencies,
    train_supervised,
)

FIELDS = ("id_number", "name", "birth_date", "phone")
TRUE_M = {
    "id_number": np.array([0.80, 0.05, 0.06, 0.02, 0.07]),
    "name": np.array([0.85, 0.06, 0.04, 0.03, 0.02]),
    "birth_date": np.array([0.93, 0.04, 0.01, 0.02]),
    "phone": np.array([0.6, 0.4]),
}
TRUE_U = {
    "id_number": np.array([0.0005, 0.0001, 0.0002, 0.0001, 0.9991]),
    "name": np.array([0.01, 0.01, 0.03, 0.15, 0.80]),
    "birth_date": np.array([0.02, 0.08, 0.001, 0.899]),
    "phone": np.array([0.02, 0.98]),
}
MISSING_SHARE = {"id_number": 0.3, "name": 0.0, "birth_date": 0.1, "phone": 0.5}


def generated_levels(n: int, match_share: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Comparison vectors drawn from the known m/u, with each field missing at its share."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < match_share
    columns = {}
    for f in FIELDS:
        k = len(FIELD_LEVELS[f])
        drawn = np.where(is_match, rng.choice(k, n, p=TRUE_M[f]), rng.choice(k, n, p=TRUE_U[f]))
        drawn[rng.random(n) < MISSING_SHARE[f]] = -1
        columns[f] = drawn.astype(np.int8)
    return pd.DataFrame(columns), is_match


def test_em_recovers_known_m_and_match_share():
    candidates, _ = generated_levels(300_000, match_share=0.25, seed=1)
    random_pairs, _ = generated_levels(300_000, match_share=0.0, seed=2)
    u = estimate_u(random_pairs, FIELDS)
    m, share, info = expectation_maximisation(candidates, u, FIELDS, max_iterations=200, tolerance=1e-8,
                                              initial_match_share=0.5)
    assert info["converged"]
    assert share == pytest.approx(0.25, abs=0.005)
    for f in FIELDS:
        assert np.abs(m[f] - TRUE_M[f]).max() < 0.01, f


def test_u_from_random_pairs_matches_the_generating_u():
    random_pairs, _ = generated_levels(300_000, match_share=0.0, seed=3)
    u = estimate_u(random_pairs, FIELDS)
    for f in FIELDS:
        assert np.abs(u[f] - TRUE_U[f]).max() < 0.005, f


def test_supervised_training_recovers_m_and_u_from_labels():
    levels, is_match = generated_levels(200_000, match_share=0.3, seed=4)
    base = FSModel(fields=FIELDS, m=TRUE_M, u=TRUE_U, match_share=0.5)
    model = train_supervised(levels, is_match, base)
    assert np.abs(model.m["name"] - TRUE_M["name"]).max() < 0.01
    assert np.abs(model.u["birth_date"] - TRUE_U["birth_date"]).max() < 0.01


def test_supervised_training_needs_both_kinds_of_decision():
    levels, _ = generated_levels(100, match_share=0.3, seed=5)
    base = FSModel(fields=FIELDS, m=TRUE_M, u=TRUE_U, match_share=0.5)
    with pytest.raises(ValueError, match="must-link and cannot-link"):
        train_supervised(levels, np.ones(100, bool), base)


def test_common_name_counts_for_less_than_a_rare_one():
    names = pd.Series(["张伟"] * 50 + ["王芳"] * 20 + [f"罕名{i}" for i in range(930)])
    frequencies, rare = term_frequencies(names, top_n=10)
    model = FSModel(fields=("name",), m={"name": TRUE_M["name"]}, u={"name": TRUE_U["name"]}, match_share=0.1,
                    name_frequencies=frequencies, rare_name_frequency=rare)
    same_name = pd.DataFrame({"name": np.array([0, 0], dtype=np.int8)})
    weights = field_weights(model, same_name, model.name_frequency(np.array(["张伟", "欧阳紫萱"], dtype=object)))
    common, uncommon = weights["name"]
    assert common < uncommon


def test_weights_add_up_from_the_prior():
    model = FSModel(fields=FIELDS, m=TRUE_M, u=TRUE_U, match_share=0.2)
    levels = pd.DataFrame({"id_number": [-1], "name": [1], "birth_date": [0], "phone": [1]}, dtype=np.int8)
    expected = (np.log2(0.2 / 0.8) + np.log2(0.06 / 0.01) + np.log2(0.93 / 0.02) + np.log2(0.4 / 0.98))
    assert match_weight(model, levels)[0] == pytest.approx(expected)
    assert probability(expected) == pytest.approx(2 ** expected / (1 + 2 ** expected))


def test_model_survives_a_json_round_trip():
    model = FSModel(fields=FIELDS, m=TRUE_M, u=TRUE_U, match_share=0.2, name_frequencies={"张伟": 0.003},
                    rare_name_frequency=1e-5, training={"method": "em"})
    again = FSModel.from_dict(json.loads(json.dumps(model.to_dict(), ensure_ascii=False)))
    levels, _ = generated_levels(1000, match_share=0.5, seed=6)
    assert np.allclose(match_weight(again, levels), match_weight(model, levels), atol=1e-4)
    assert again.name_frequencies == {"张伟": 0.003}


def test_a_model_with_renamed_levels_is_refused():
    data = FSModel(fields=("phone",), m={"phone": TRUE_M["phone"]}, u={"phone": TRUE_U["phone"]},
                   match_share=0.2).to_dict()
    data["fields"]["phone"] = {"yes": data["fields"]["phone"]["shared"], "no": data["fields"]["phone"]["none_shared"]}
    with pytest.raises(ValueError, match="field phone has levels"):
        FSModel.from_dict(data, origin="model.json")


def test_config_loads_with_the_engines_levels():
    config = load_matching_config()
    assert config.fields == tuple(FIELD_LEVELS)
    assert config.thresholds.review < config.thresholds.accept
