"""Fellegi–Sunter scoring: u from random pairs, m by EM (or from steward labels), term frequencies.

A model is plain data (`FSModel`) that round-trips through a readable dict/JSON, so a
trained model is kept with the store and reused by incremental runs and the survey app.
Weights are in bits: match weight = log2(λ/(1-λ)) + Σ log2(m/u), probability = 1/(1+2^-w).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from functools import cached_property
from typing import Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resolver.compare import NULL
from resolver.matching_config import FIELD_LEVELS, MatchingConfig

MODEL_FORMAT = "canbao-fs-model/1"
_SMOOTHING = 0.5     # pseudo-count per level when counting u (and labelled m)
_FLOOR = 1e-9        # no probability reaches 0: log2 stays finite


@dataclass
class FSModel:
    """m and u per field level, the match share λ and the name frequencies for TF adjustment."""

    fields: tuple[str, ...]
    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    match_share: float
    name_frequencies: dict[str, float] = field(default_factory=dict)
    rare_name_frequency: float = 1e-6
    min_u: float = 1e-6
    training: dict = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.match_share / (1.0 - self.match_share)))

    def level_weights(self, field_name: str) -> np.ndarray:
        """log2(m/u) of each level of one field."""
        return np.log2(self.m[field_name] / self.u[field_name])

    def name_frequency(self, name_keys: np.ndarray | pa.Array) -> np.ndarray:
        """Share of people bearing each name (the rare-name share for names not in the table)."""
        if not isinstance(name_keys, pa.Array):
            name_keys = pa.array(np.asarray(name_keys, dtype=object), type=pa.string(), from_pandas=True)
        names, shares = self._frequency_table
        found = pc.index_in(name_keys, value_set=names).fill_null(-1).to_numpy(zero_copy_only=False)
        return np.where(found >= 0, shares[np.maximum(found, 0)], self.rare_name_frequency) if len(shares) else \
            np.full(len(found), self.rare_name_frequency)

    @cached_property
    def _frequency_table(self) -> tuple[pa.Array, np.ndarray]:
        """The name table as Arrow (looked up in C++ for a city's pairs) and the shares in the same order."""
        return (pa.array(list(self.name_frequencies), type=pa.string()),
                np.fromiter(self.name_frequencies.values(), dtype=float, count=len(self.name_frequencies)))

    def to_dict(self) -> dict:
        """A JSON-ready, human-readable form (levels named, weights shown)."""
        fields = {}
        for name in self.fields:
            fields[name] = {
                level: {"m": round(float(m), 8), "u": round(float(u), 10), "weight": round(float(np.log2(m / u)), 4)}
                for level, m, u in zip(FIELD_LEVELS[name], self.m[name], self.u[name])
            }
        return {
            "format": MODEL_FORMAT,
            "match_share": self.match_share,
            "prior_weight": round(self.prior_weight, 4),
            "fields": fields,
            "term_frequency": {
                "field": "name",
                "min_u": self.min_u,
                "rare_name_frequency": self.rare_name_frequency,
                "name_frequencies": self.name_frequencies,
            },
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict, origin: str = "<memory>") -> "FSModel":
        """Rebuild a model written by to_dict; errors name the origin and what is wrong."""
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"{origin}: not a canbao model (format {data.get('format')!r}, expected {MODEL_FORMAT!r})")
        fields = tuple(data["fields"])
        unknown = [f for f in fields if f not in FIELD_LEVELS]
        if unknown:
            raise ValueError(f"{origin}: unknown field(s) {unknown} in the model; retrain it with this version")
        m, u = {}, {}
        for name in fields:
            levels = data["fields"][name]
            if tuple(levels) != FIELD_LEVELS[name]:
                raise ValueError(f"{origin}: field {name} has levels {list(levels)}, expected {list(FIELD_LEVELS[name])}")
            m[name] = np.array([levels[level]["m"] for level in FIELD_LEVELS[name]], dtype=float)
            u[name] = np.array([levels[level]["u"] for level in FIELD_LEVELS[name]], dtype=float)
        tf = data.get("term_frequency", {})
        return cls(
            fields=fields,
            m=m,
            u=u,
            match_share=float(data["match_share"]),
            name_frequencies={str(k): float(v) for k, v in tf.get("name_frequencies", {}).items()},
            rare_name_frequency=float(tf.get("rare_name_frequency", 1e-6)),
            min_u=float(tf.get("min_u", 1e-6)),
            training=dict(data.get("training", {})),
        )


def random_pairs(n_records: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` uniformly random pairs of distinct record positions."""
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n_records, size=count)
    right = rng.integers(0, n_records - 1, size=count)
    right = right + (right >= left)
    return left, right


def level_counts(levels: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Pairs per level of each field (missing levels not counted)."""
    return {f: np.bincount(levels[f].to_numpy()[levels[f].to_numpy() != NULL], minlength=len(FIELD_LEVELS[f]))
            for f in fields}


def _smoothed(counts: np.ndarray) -> np.ndarray:
    counts = counts.astype(float) + _SMOOTHING
    return np.maximum(counts / counts.sum(), _FLOOR)


def estimate_u(levels: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """u-probabilities from comparison levels of random pairs (almost all different people)."""
    return {f: _smoothed(c) for f, c in level_counts(levels, fields).items()}


def _patterns(levels: pd.DataFrame, fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct level vectors (sorted) and how many pairs have each (EM runs on these, not on pairs).

    Each vector is read as one number in base 8 (levels -1…6 shifted to 0…7, first field most
    significant), so counting is a bincount or a 1-D unique instead of a row-wise sort.
    """
    table = levels[list(fields)].to_numpy(dtype=np.int64) + 1
    if len(table) == 0:
        return np.zeros((0, len(fields)), dtype=np.int8), np.zeros(0)
    place = 8 ** np.arange(len(fields) - 1, -1, -1, dtype=np.int64)
    number = table @ place
    if 8 ** len(fields) <= 1 << 24:
        counts = np.bincount(number, minlength=8 ** len(fields))
        codes = np.flatnonzero(counts)
        counts = counts[codes]
    else:
        codes, counts = np.unique(number, return_counts=True)
    patterns = (codes[:, None] // place) % 8 - 1
    return patterns.astype(np.int8), counts.astype(float)


def _default_m(fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Starting m: most matches reach the best level, the rest spread over worse levels."""
    start = {}
    for f in fields:
        k = len(FIELD_LEVELS[f])
        tail = 0.2 * 0.5 ** np.arange(k - 1)
        start[f] = np.r_[0.8, 0.2 * tail / tail.sum()]
    return start


def expectation_maximisation(
    levels: pd.DataFrame,
    u: dict[str, np.ndarray],
    fields: tuple[str, ...],
    max_iterations: int,
    tolerance: float,
    initial_match_share: float,
    initial_m: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], float, dict]:
    """m-probabilities and match share by EM with u held fixed (from random pairs).

    Returns (m, λ, info) where info has the iterations run and whether it converged.
    """
    patterns, counts = _patterns(levels, fields)
    m = {f: np.array(v, dtype=float) for f, v in (initial_m or _default_m(fields)).items()}
    share = initial_match_share
    log_u = np.zeros(len(patterns))
    for j, f in enumerate(fields):
        known = patterns[:, j] != NULL
        log_u[known] += np.log(u[f][patterns[known, j]])
    converged, iteration = False, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 — the count is reported after the loop
        log_m = np.zeros(len(patterns))
        for j, f in enumerate(fields):
            known = patterns[:, j] != NULL
            log_m[known] += np.log(m[f][patterns[known, j]])
        # Posterior match probability per pattern, in log space for stability.
        a = np.log(share) + log_m
        b = np.log1p(-share) + log_u
        g = np.exp(a - np.logaddexp(a, b))
        weighted = g * counts
        new_share = float(np.clip(weighted.sum() / counts.sum(), _FLOOR, 1 - _FLOOR))
        change = abs(new_share - share)
        for j, f in enumerate(fields):
            known = patterns[:, j] != NULL
            totals = np.bincount(patterns[known, j], weights=weighted[known], minlength=len(FIELD_LEVELS[f]))
            totals = totals + _SMOOTHING   # an unseen level stays possible, just rare
            new_m = totals / totals.sum()
            change = max(change, float(np.abs(new_m - m[f]).max()))
            m[f] = new_m / new_m.sum()
        share = new_share
        if change < tolerance:
            converged = True
            break
    return m, share, {"iterations": iteration, "converged": converged, "pairs": int(counts.sum()),
                      "patterns": int(len(patterns))}


def term_frequencies(name_keys: pd.Series, top_n: int) -> tuple[dict[str, float], float]:
    """Share of people per name for the top_n commonest names, and the share used for all others.

    Pass one name per person (or per ID group) so a person seen by many departments is counted once.
    """
    counts = name_keys.dropna().value_counts()
    total = max(int(counts.sum()), 1)
    top = counts.head(top_n)
    rare = (top.iloc[-1] if len(top) else 1) / total
    return {str(k): float(v) / total for k, v in top.items()}, float(rare)


LevelTable = Union[pd.DataFrame, Mapping[str, np.ndarray]]   # comparison levels per field, one entry per pair


def weight_arrays(model: FSModel, levels: LevelTable, name_frequency: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each field's weight (bits) per pair; 0 for a missing side. Same-character names get the TF weight."""
    out = {}
    for f in model.fields:
        lv = np.asarray(levels[f])
        w = np.where(lv == NULL, 0.0, model.level_weights(f)[np.maximum(lv, 0)])
        if f == "name" and name_frequency is not None:
            same = lv == 0
            u_name = np.maximum(name_frequency[same], model.min_u)
            w[same] = np.log2(model.m[f][0] / u_name)
        out[f] = w
    return out


def field_weights(model: FSModel, levels: pd.DataFrame, name_frequency: np.ndarray | None = None) -> pd.DataFrame:
    """weight_arrays as a frame aligned with `levels`."""
    return pd.DataFrame(weight_arrays(model, levels, name_frequency), index=levels.index)


def probability(weight: np.ndarray | float) -> np.ndarray:
    """Match probability of a match weight in bits."""
    return 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=float)))


def match_weight(model: FSModel, levels: LevelTable, name_frequency: np.ndarray | None = None) -> np.ndarray:
    """Prior + field weights per pair."""
    weights = weight_arrays(model, levels, name_frequency)
    return model.prior_weight + np.sum(list(weights.values()), axis=0) if weights else \
        np.full(len(levels), model.prior_weight)


def pair_prior(group_sizes: np.ndarray, n_records: int) -> float:
    """Share of all record pairs that are the same person, measured on the trusted-ID groups.

    Σ C(size, 2) / C(records, 2) over records with a valid ID number: the chance that two
    records drawn at random are one person, the prior of a random pair.
    """
    sizes = np.asarray(group_sizes, dtype=np.float64)
    same = float((sizes * (sizes - 1) / 2).sum())
    total = n_records * (n_records - 1) / 2
    return float(np.clip(same / total if total else 0.5, _FLOOR, 0.5))


def train_model(
    training_blocks: dict[str, tuple[pd.DataFrame, set[str]]],
    random_levels: pd.DataFrame,
    person_names: pd.Series,
    prior: float,
    config: MatchingConfig,
) -> FSModel:
    """Unsupervised model: u from random pairs, m by EM in each training block, λ = `prior`.

    `training_blocks` maps a block name to (its pairs' levels, the fields it agrees on by
    construction). EM in a block learns only the other fields; a field learned in several
    blocks gets the mean of their estimates.
    """
    u = estimate_u(random_levels, config.fields)
    em = config.scoring.em
    estimates: dict[str, list[np.ndarray]] = {f: [] for f in config.fields}
    sessions = {}
    for name, (levels, fixed) in training_blocks.items():
        fields = tuple(f for f in config.fields if f not in fixed)
        if len(levels) == 0:
            sessions[name] = {"pairs": 0}
            continue
        m, share, info = expectation_maximisation(levels, u, fields, em.max_iterations, em.tolerance,
                                                  em.initial_match_share)
        for f in fields:
            estimates[f].append(m[f])
        sessions[name] = {**info, "match_share": round(share, 6), "fields": list(fields)}
    missing = [f for f, found in estimates.items() if not found]
    if missing:
        raise ValueError(f"no training pairs to learn {missing}: check scoring.em.training_blocks in matching.yaml "
                         "and that the records hold valid ID numbers")
    m = {f: np.mean(found, axis=0) for f, found in estimates.items()}
    frequencies, rare = term_frequencies(person_names, config.term_frequency.top_n)
    # How many persons (ID groups) the name table counts: a name's share times this is its bearers.
    training = {"method": "em", "random_pairs": int(len(random_levels)), "blocks": sessions,
                "name_persons": int(person_names.notna().sum())}
    return FSModel(fields=config.fields, m=m, u=u, match_share=prior, name_frequencies=frequencies,
                   rare_name_frequency=rare, min_u=config.term_frequency.min_u, training=training)


def train_supervised(levels: pd.DataFrame, is_match: np.ndarray, base: FSModel) -> FSModel:
    """Model from steward-labelled pairs: m from must-links, u from cannot-links (smoothed counts).

    Keeps the base model's term frequencies, so the two can be compared pair for pair.
    """
    is_match = np.asarray(is_match, dtype=bool)
    if is_match.all() or not is_match.any():
        raise ValueError("supervised training needs both must-link and cannot-link decisions")
    m = {f: _smoothed(c) for f, c in level_counts(levels[is_match], base.fields).items()}
    u = {f: _smoothed(c) for f, c in level_counts(levels[~is_match], base.fields).items()}
    return FSModel(fields=base.fields, m=m, u=u, match_share=float(is_match.mean()),
                   name_frequencies=base.name_frequencies, rare_name_frequency=base.rare_name_frequency,
                   min_u=base.min_u, training={"method": "supervised", "pairs": int(len(levels)),
                                               "must_link": int(is_match.sum())})
