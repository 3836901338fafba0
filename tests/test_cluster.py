"""Clustering under the ID-number and steward constraints, and stable person ids."""
from __future__ import annotations

import numpy as np
import pandas as pd

from resolver.cluster import ID_KEPT_REASON, SPLIT_REASON, assign_person_ids, cluster_nodes


def clusters(n, terminal, edges, must=(), cannot=()):
    """Run cluster_nodes on (a, b, weight) edges; returns the Clustering."""
    a, b, w = (np.array([e[i] for e in edges], dtype=float if i == 2 else np.int64) for i in range(3))
    pair = lambda ps: (np.array([p[0] for p in ps], np.int64), np.array([p[1] for p in ps], np.int64))  # noqa: E731
    return cluster_nodes(n, np.array(terminal, bool), a.astype(np.int64), b.astype(np.int64), w,
                         lambda nodes: nodes, pair(must), pair(cannot))


def together(result, x, y) -> bool:
    return result.labels[x] == result.labels[y]


def test_links_without_conflict_are_connected_components():
    # ID group 0 ← record 1 ← record 2; record 3 alone.
    result = clusters(4, [True, False, False, False], [(0, 1, 20.0), (1, 2, 15.0)])
    assert together(result, 0, 2) and not together(result, 0, 3)
    assert result.conflict_reasons == {}


def test_a_record_linked_to_two_id_numbers_joins_the_stronger_and_nobody_is_flagged():
    # Nodes 0 and 1 hold two valid ID numbers; record 2 (no ID) links to both. After the split each
    # person holds one number: no contradiction stays, the refused link only goes to review.
    result = clusters(3, [True, True, False], [(0, 2, 12.0), (1, 2, 25.0)])
    assert together(result, 1, 2) and not together(result, 0, 2)
    assert result.conflict_reasons == {}
    assert result.refused_edges.tolist() == [0]


def test_a_link_refused_between_two_id_numbers_flags_both_persons():
    result = clusters(3, [True, True, False], [(0, 2, 30.0), (1, 2, 25.0), (0, 1, 12.0)])
    assert not together(result, 0, 1)
    assert set(result.conflict_reasons) == {result.labels[0], result.labels[1]}
    assert set(result.conflict_reasons.values()) == {SPLIT_REASON}


def test_an_id_join_keeps_two_numbers_together_flagged_unless_a_steward_splits_them():
    joined = cluster_nodes(3, np.array([True, True, False]), np.array([0, 1]), np.array([1, 2]), np.array([30.0, 20.0]),
                           lambda nodes: nodes, id_joins=(np.array([0]), np.array([1])))
    assert together(joined, 0, 1) and together(joined, 1, 2)
    assert set(joined.conflict_reasons.values()) == {ID_KEPT_REASON}
    split = cluster_nodes(3, np.array([True, True, False]), np.array([0, 1]), np.array([1, 2]), np.array([30.0, 20.0]),
                          lambda nodes: nodes, cannot_link=(np.array([0]), np.array([1])),
                          id_joins=(np.array([0]), np.array([1])))
    assert not together(split, 0, 1)


def test_twins_linked_through_a_shared_record_are_never_merged():
    # Twin ID groups 0 and 1, each with a survey record (2, 3) that links across at a weak weight.
    edges = [(0, 2, 30.0), (1, 3, 30.0), (2, 3, 11.0), (0, 3, 10.0)]
    result = clusters(4, [True, True, False, False], edges)
    assert not together(result, 0, 1)
    assert together(result, 0, 2) and together(result, 1, 3)


def test_steward_must_link_joins_two_id_numbers_without_conflict():
    result = clusters(3, [True, True, False], [(0, 2, 12.0), (1, 2, 25.0)], must=[(0, 1)])
    assert together(result, 0, 1) and together(result, 1, 2)
    assert result.conflict_reasons == {}


def test_steward_must_link_wins_without_any_model_link():
    result = clusters(3, [False, False, False], [], must=[(0, 2)])
    assert together(result, 0, 2) and not together(result, 0, 1)


def test_steward_cannot_link_splits_a_chain_at_its_weakest_link():
    # 0 - 1 - 2 chained by the model; a steward says 0 and 2 are different people.
    result = clusters(3, [False, False, False], [(0, 1, 30.0), (1, 2, 14.0)], cannot=[(0, 2)])
    assert together(result, 0, 1) and not together(result, 1, 2)
    assert len(result.conflict_reasons) == 2


def test_clustering_does_not_depend_on_edge_order():
    edges = [(0, 2, 12.0), (1, 2, 12.0), (2, 3, 40.0)]
    forward = clusters(4, [True, True, False, False], edges)
    backward = clusters(4, [True, True, False, False], edges[::-1])
    assert pd.Series(forward.labels).factorize()[0].tolist() == pd.Series(backward.labels).factorize()[0].tolist()


# ---- stable person ids

KEYS = np.array(["police_resident:1", "tax_iit:7", "survey:3", "survey:4"], dtype=object)
NO_ID = np.array([None] * 4, dtype=object)


def test_ids_are_reproducible_from_content():
    first = assign_person_ids(np.array([0, 0, 1, 2]), KEYS, NO_ID)
    again = assign_person_ids(np.array([5, 5, 9, 7]), KEYS, NO_ID)
    assert first.tolist() == again.tolist()
    assert len(set(first)) == 3


def test_person_keeps_its_id_when_a_record_joins():
    before = assign_person_ids(np.array([0, 0, 1, 2]), KEYS, NO_ID)
    previous = pd.Series(before, index=KEYS)
    after = assign_person_ids(np.array([0, 0, 0, 2]), KEYS, NO_ID, previous)
    assert after[0] == before[0] and after[2] == before[0]
    assert after[3] == before[3]


def test_person_keeps_its_id_when_its_smallest_record_leaves():
    before = assign_person_ids(np.array([0, 0, 0, 1]), KEYS, NO_ID)
    previous = pd.Series(before, index=KEYS)
    after = assign_person_ids(np.array([1, 0, 0, 2]), KEYS, NO_ID, previous)
    assert after[1] == before[1] == after[2]
    assert after[0] != before[0]
    assert len(set(after)) == 3


def test_of_two_merged_persons_the_larger_keeps_its_id():
    before = assign_person_ids(np.array([0, 1, 1, 2]), KEYS, NO_ID)
    previous = pd.Series(before, index=KEYS)
    after = assign_person_ids(np.array([0, 0, 0, 2]), KEYS, NO_ID, previous)
    assert set(after[:3]) == {before[1]}


def test_trusted_id_number_anchors_a_new_person():
    with_id = np.array(["120104198503021234", None, None, None], dtype=object)
    a = assign_person_ids(np.array([0, 0, 1, 2]), KEYS, with_id)
    b = assign_person_ids(np.array([0, 1, 1, 2]), KEYS, with_id)
    assert a[0] == b[0]
