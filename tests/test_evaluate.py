"""Evaluation against truth: pairwise figures from contingency counts, hard cases, statuses."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from resolver.errors import InputError
from resolver.evaluate import (
    PAYMENT_FLAGS, evaluate, format_evaluation, format_payment_flags, pairwise_scores, payment_flag_accuracy,
)


def brute_force(predicted: list, truth: list) -> tuple[int, int, int]:
    """Predicted, true and shared co-clustered pairs by listing every pair."""
    pairs = list(combinations(range(len(predicted)), 2))
    same_p = {(i, j) for i, j in pairs if predicted[i] == predicted[j]}
    same_t = {(i, j) for i, j in pairs if truth[i] == truth[j]}
    return len(same_p), len(same_t), len(same_p & same_t)


def test_contingency_counts_equal_listing_every_pair():
    rng = np.random.default_rng(7)
    predicted = rng.integers(0, 15, 200).tolist()
    truth = rng.integers(0, 20, 200).tolist()
    scores = pairwise_scores(pd.Series(predicted), pd.Series(truth))
    assert (scores.predicted_pairs, scores.true_pairs, scores.true_positive_pairs) == brute_force(predicted, truth)


def test_one_wrong_merge_costs_precision_not_recall():
    scores = pairwise_scores(pd.Series(["A", "A", "A", "B"]), pd.Series(["p1", "p1", "p2", "p2"]))
    assert scores.recall == pytest.approx(1 / 2)
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def export_and_truth():
    """Four true persons; the export merges the twins p3/p4 and flags nothing."""
    links = pd.DataFrame({
        "source": ["police_resident", "tax_iit", "survey", "police_resident", "police_resident", "survey"],
        "record_id": ["1", "1", "1", "2", "3", "2"],
        "person_id": ["P1", "P1", "P2", "P3", "P3", "P3"],
        "match_probability": [1, 1, 1, 1, 1, 0.99],
    })
    persons = pd.DataFrame({"person_id": ["P1", "P2", "P3"], "status": ["ENROLLED", "UNENROLLED", "ENROLLED"],
                            "flags": ["", "SURVEYED", ""]})
    truth_records = pd.DataFrame({
        "source": ["police_resident", "tax_iit", "survey", "police_resident", "police_resident", "survey", "survey"],
        "record_id": ["1", "1", "1", "2", "3", "2", "9"],
        "person_id": ["p1", "p1", "p1", "p3", "p4", "p4", "p5"],
    })
    truth_persons = pd.DataFrame({
        "person_id": ["p1", "p3", "p4", "p5"],
        "id_number": ["x1", "x3", "x4", "x5"],
        "status": ["ENROLLED", "ENROLLED", "UNENROLLED", "UNENROLLED"],
        "hard_case": ["", "twin", "twin", ""],
    })
    return links, persons, truth_records, truth_persons


def test_merged_twins_are_counted():
    result = evaluate(*export_and_truth())
    assert result.hard_cases["twin_clusters_merged"] == 1
    assert result.hard_cases["namesake_clusters_merged"] == 0


def test_merged_namesakes_are_counted():
    links, persons, truth_records, truth_persons = export_and_truth()
    truth_persons["hard_case"] = ["", "common_name_birthday", "common_name_birthday", ""]
    result = evaluate(links, persons, truth_records, truth_persons)
    assert result.hard_cases["namesake_clusters_merged"] == 1 and result.hard_cases["twin_clusters_merged"] == 0
    assert result.hard_cases["unflagged_clusters_with_two_id_holders"] == 1


def test_flagged_conflicts_are_not_counted_as_unflagged():
    links, persons, truth_records, truth_persons = export_and_truth()
    persons.loc[persons["person_id"] == "P3", "flags"] = "EMPLOYED|CONFLICT"
    result = evaluate(links, persons, truth_records, truth_persons)
    assert result.hard_cases["unflagged_clusters_with_two_id_holders"] == 0
    assert result.hard_cases["flagged_clusters_with_two_id_holders"] == 1


def test_status_accuracy_uses_the_person_holding_most_records():
    status = evaluate(*export_and_truth()).status.set_index("status")
    assert status.loc["ENROLLED", "correct"] == 2      # p1 → P1, p3 → P3
    assert status.loc["UNENROLLED", "correct"] == 0    # p4 → P3 (ENROLLED)
    assert status.loc["(all)", "true_persons"] == 3    # p5 has no exported record


def test_records_missing_from_either_side_are_reported():
    result = evaluate(*export_and_truth())
    assert result.unmatched == {"export_only": 0, "truth_only": 1}


def test_cluster_counts():
    clusters = evaluate(*export_and_truth()).clusters
    assert clusters["predicted_persons"] == 3 and clusters["true_persons"] == 3
    assert clusters["merged_clusters"] == 1 and clusters["split_true_persons"] == 1
    assert clusters["exact_clusters"] == 0


def test_missing_columns_name_the_file():
    links, persons, truth_records, truth_persons = export_and_truth()
    with pytest.raises(InputError, match="truth/records.csv"):
        evaluate(links, persons, truth_records.drop(columns="person_id"), truth_persons)


def test_report_mentions_f1():
    assert "F1" in format_evaluation(evaluate(*export_and_truth()))


def test_pairs_of_two_different_valid_numbers_can_be_left_out_of_the_scores():
    # 王芳's second card number is a typo of the first: the rules leave that pair to a steward.
    predicted = pd.Series(["p1", "p2", "p1", "p3"])
    truth = pd.Series(["t1", "t1", "t1", "t2"])
    trusted_id = pd.Series(["120104198503021234", "120104198503021243", None, None])
    plain = pairwise_scores(predicted, truth)
    within_rules = pairwise_scores(predicted, truth, apart=trusted_id)
    assert (plain.true_pairs, plain.true_positive_pairs) == (3, 1)
    assert (within_rules.predicted_pairs, within_rules.true_pairs, within_rules.true_positive_pairs) == (1, 2, 1)


def test_survey_target_precision_conflict_and_deceased_figures():
    """A funeral record left as its own person: the dead stays a survey target (UNENROLLED precision and
    DECEASED recall fall); a CONFLICT flag counts as right only on a person whose truth has it."""
    links = pd.DataFrame({
        "source": ["police_resident", "civil_funeral", "police_resident", "si_enrolment", "police_resident"],
        "record_id": ["1", "1", "2", "2", "3"],
        "person_id": ["P1", "P9", "P2", "P2", "P3"],
    })
    persons = pd.DataFrame({"person_id": ["P1", "P9", "P2", "P3"],
                            "status": ["UNENROLLED", "DECEASED", "ENROLLED", "UNENROLLED"],
                            "flags": ["", "", "CONFLICT", "CONFLICT"]})
    truth_records = links.assign(person_id=["p1", "p1", "p2", "p2", "p3"])
    truth_persons = pd.DataFrame({"person_id": ["p1", "p2", "p3"], "status": ["DECEASED", "ENROLLED", "UNENROLLED"],
                                  "flags": ["", "CONFLICT", ""]})
    targets = evaluate(links, persons, truth_records, truth_persons).targets
    assert targets["unenrolled_precision"] == pytest.approx(1 / 2)     # P1 is dead, P3 is a true target
    assert targets["deceased_recall"] == 0.0                            # p1's main person P1 is not DECEASED
    assert targets["conflict_precision"] == pytest.approx(1 / 2)       # P2 right, P3 wrong
    assert targets["conflict_recall"] == 1.0
    assert "conflict_precision" in format_evaluation(evaluate(links, persons, truth_records, truth_persons))


def test_the_payment_flag_section_lists_each_flag_with_its_precision_and_recall():
    links = pd.DataFrame({"source": ["police_resident", "si_enrolment"], "record_id": ["1", "2"],
                          "person_id": ["P1", "P2"]})
    persons = pd.DataFrame({"person_id": ["P1", "P2"], "status": ["UNENROLLED", "ENROLLED"],
                            "flags": ["LAPSED", "NO_PENSION|NO_MEDICAL"]})
    truth_records = links.assign(person_id=["p1", "p2"])
    truth_persons = pd.DataFrame({"person_id": ["p1", "p2"], "status": ["UNENROLLED", "ENROLLED"],
                                  "flags": ["LAPSED", "NO_PENSION"]})
    text = format_payment_flags(payment_flag_accuracy(links, persons, truth_records, truth_persons))
    lines = text.splitlines()
    assert lines[0].startswith("缴费标记 payment flags")
    assert [line.split()[0] for line in lines[1:]] == list(PAYMENT_FLAGS)
    no_medical = next(line for line in lines if line.split()[0] == "NO_MEDICAL")
    assert "P 0.0000" in no_medical and "R 1.0000" in no_medical   # flagged, but the truth has no such flag
