"""Why a pair scored what it did: a waterfall from the prior through each field's weight to a probability.

Kept with every review pair and served by the API, so a steward sees e.g.
"name: same_pinyin +9.1, birth_date: exact +11.8, phone: missing 0" and the total.
"""
from __future__ import annotations

import json

import numpy as np

from resolver.compare import NULL, level_name
from resolver.scoring import FSModel, LevelTable, probability, weight_arrays


def explain_levels(model: FSModel, levels: LevelTable, name_frequency: np.ndarray | None = None) -> list[dict]:
    """One waterfall per pair: prior, then per field its level, m, u and weight, then the totals."""
    weights = weight_arrays(model, levels, name_frequency)
    count = len(np.asarray(levels[model.fields[0]])) if model.fields else 0
    totals = (model.prior_weight + np.sum([weights[f] for f in model.fields], axis=0)).tolist() if count else []
    chances = probability(np.asarray(totals)).tolist()
    # Plain Python lists: per-cell pandas access would cost more than the whole comparison.
    level_lists = {f: np.asarray(levels[f]).tolist() for f in model.fields}
    weight_lists = {f: weights[f].tolist() for f in model.fields}
    frequencies = name_frequency.tolist() if name_frequency is not None else None
    prior = round(model.prior_weight, 3)
    out = []
    for i in range(count):
        steps = []
        for f in model.fields:
            level = level_lists[f][i]
            step = {"field": f, "level": level_name(f, level), "weight": round(weight_lists[f][i], 3)}
            if level != NULL:
                step["m"] = round(float(model.m[f][level]), 6)
                step["u"] = round(float(model.u[f][level]), 8)
                if f == "name" and level == 0 and frequencies is not None:
                    step["name_frequency"] = frequencies[i]
            steps.append(step)
        out.append({
            "prior_weight": prior,
            "fields": steps,
            "match_weight": round(totals[i], 3),
            "match_probability": chances[i],
        })
    return out


def explanation_json(model: FSModel, levels: LevelTable, name_frequency: np.ndarray | None = None) -> list[str]:
    """explain_levels as compact JSON strings (Chinese kept readable)."""
    return [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in explain_levels(model, levels, name_frequency)]


def waterfall_text(explanation: dict) -> str:
    """A one-line human summary: 'prior -3.2 | name same_pinyin +9.1 | … = 17.4 bits → 0.99998'."""
    parts = [f"prior {explanation['prior_weight']:+.1f}"]
    parts += [f"{s['field']} {s['level']} {s['weight']:+.1f}" for s in explanation["fields"]]
    return " | ".join(parts) + f" = {explanation['match_weight']:.1f} bits → {explanation['match_probability']:.5f}"
