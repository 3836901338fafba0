"""Clusters from accepted links: connected components, conflict splitting, steward decisions, stable ids.

The graph's nodes are *ID groups* (all records sharing one trusted ID number) and
single records without a trusted number. A cluster may hold at most one ID group
unless a steward joined them (must-link) or the resolver kept two numbers as one person
(an ID join: one number likely keyed wrong; the cluster is flagged CONFLICT and the pair
reviewed, see resolve.kept_id_conflicts); a component holding more is re-clustered
greedily from the strongest link down, refusing any link that would join two ID
groups or two records a steward kept apart (cannot-link). The refused links are the
"weakest links removed" (all go to review); the clusters touched by a refused link between
two ID groups, or by a cannot-link, are flagged CONFLICT.

Person ids (rule, stable across runs):
1. Given the previous run's record → person_id, each cluster inherits the previous id
   held by most of its records; ties go to the smaller id, and an id goes to at most
   one cluster (the one holding most of that person's records; ties: smallest record key).
   So a person keeps its id when records join or leave it; of two merged persons the
   larger keeps its id; of a split person the larger part keeps it.
2. Any other cluster gets "P" + 12 hex digits of a hash of its anchor: its smallest
   trusted ID number, else its smallest record key; a suffix "-2", "-3" … avoids a clash
   with an id in use. A full rerun of the same input thus gives the same ids.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SPLIT_REASON = "同一聚类含两个有效身份证号，已拆分 cluster held two valid ID numbers; weakest links removed"
CANNOT_LINK_REASON = "数据管理员判定不是同一人，已拆分 steward cannot-link split the cluster"
ID_KEPT_REASON = ("两个有效身份证号（同地区码、出生日期，其余一致）疑似录入错误，保持为一人待核实 two valid ID numbers "
                  "sharing area code and birth date, all else agreeing: one likely keyed wrong; kept as one person")


@dataclass(frozen=True)
class Clustering:
    """Cluster label per node, and the constrained outcome."""

    labels: np.ndarray                 # int64 per node, 0..n_clusters-1
    refused_edges: np.ndarray          # indices into the edge arrays of links removed by splitting
    conflict_reasons: dict[int, str]   # cluster label → reason it is flagged CONFLICT


class _Sets:
    """Union–find whose sets remember whether they hold an ID group and their cannot-link nodes."""

    def __init__(self, n: int, terminal: np.ndarray, cannot: dict[int, set[int]]):
        self.parent = list(range(n))
        self.terminal = [bool(t) for t in terminal]
        self.cannot = cannot
        self.members: dict[int, set[int]] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def _cannot_members(self, root: int, node_hint: int) -> set[int]:
        return self.members.get(root, {node_hint} if node_hint in self.cannot else set())

    def allowed(self, a: int, b: int) -> tuple[bool, str]:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True, ""
        if self.terminal[ra] and self.terminal[rb]:
            return False, SPLIT_REASON
        left, right = self._cannot_members(ra, ra), self._cannot_members(rb, rb)
        if any(self.cannot[x] & right for x in left):
            return False, CANNOT_LINK_REASON
        return True, ""

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        self.terminal[ra] = self.terminal[ra] or self.terminal[rb]
        merged = self._cannot_members(ra, ra) | self._cannot_members(rb, rb)
        if merged:
            self.members[ra] = merged
        self.members.pop(rb, None)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_nodes(
    n_nodes: int,
    terminal: np.ndarray,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    edge_weight: np.ndarray,
    node_rank: Callable[[np.ndarray], np.ndarray],
    must_link: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64)),
    cannot_link: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64)),
    id_joins: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64)),
) -> Clustering:
    """Cluster nodes over accepted edges under the ID-group and steward constraints.

    `id_joins` are accepted edges between two ID groups that stay one person (flagged CONFLICT);
    like must-links they count the two groups as one, but a steward's cannot-link still splits them.

    `terminal` marks ID-group nodes; `node_rank(nodes)` ranks the given nodes (e.g. by their
    smallest record key) and breaks ties between equal weights, so the result does not depend on
    input order. It is asked only about the nodes of components that must be split.
    """
    must_a, must_b = (np.asarray(x, dtype=np.int64) for x in must_link)
    cannot_a, cannot_b = (np.asarray(x, dtype=np.int64) for x in cannot_link)
    all_a = np.concatenate([edge_a, must_a]).astype(np.int64)
    all_b = np.concatenate([edge_b, must_b]).astype(np.int64)
    component = _components(n_nodes, all_a, all_b)

    join_a, join_b = (np.asarray(x, dtype=np.int64) for x in id_joins)
    # Terminal groups after steward must-links and ID joins: a joined pair of ID groups counts once.
    must_component = _components(n_nodes, np.concatenate([must_a, join_a]), np.concatenate([must_b, join_b]))
    terminal_groups = pd.Series(must_component[terminal]).groupby(component[terminal]).nunique()
    needs_split = set(terminal_groups.index[terminal_groups.to_numpy() > 1].tolist())
    needs_split |= {int(component[a]) for a, b in zip(cannot_a, cannot_b) if component[a] == component[b]}
    labels = component.astype(np.int64).copy()
    refused: list[int] = []
    reasons: dict[int, str] = {}
    if needs_split:
        in_split = np.isin(component, list(needs_split))
        cannot: dict[int, set[int]] = {}
        for a, b in zip(cannot_a.tolist(), cannot_b.tolist()):
            cannot.setdefault(a, set()).add(b)
            cannot.setdefault(b, set()).add(a)
        sets = _Sets(n_nodes, terminal, cannot)
        for a, b in zip(must_a.tolist(), must_b.tolist()):
            sets.union(a, b)   # stewards win, even over two ID numbers
        for a, b in zip(join_a.tolist(), join_b.tolist()):
            ra, rb = sets.find(a), sets.find(b)
            left, right = sets._cannot_members(ra, ra), sets._cannot_members(rb, rb)
            if not any(sets.cannot[x] & right for x in left):
                sets.union(a, b)   # an ID join gives way only to a steward's cannot-link
        edge_in = np.flatnonzero(in_split[edge_a])
        involved = np.unique(np.concatenate([edge_a[edge_in], edge_b[edge_in]]))
        rank = np.zeros(n_nodes, dtype=np.int64)
        rank[involved] = node_rank(involved)
        order = np.lexsort((rank[edge_b[edge_in]], rank[edge_a[edge_in]], -edge_weight[edge_in]))
        refusal: dict[int, str] = {}
        for e in edge_in[order].tolist():
            a, b = int(edge_a[e]), int(edge_b[e])
            ok, reason = sets.allowed(a, b)
            if ok:
                sets.union(a, b)
            else:
                refused.append(e)
                refusal[e] = reason
        nodes = np.flatnonzero(in_split)
        roots = np.array([sets.find(int(x)) for x in nodes])
        labels[nodes] = labels.max() + 1 + roots
        for e in refused:
            # A link refused between two ID groups is a contradiction a steward settles (CONFLICT); one
            # refused between a record without a trusted number and an ID group (a twin's survey
            # record near both twins) only sends that record to review.
            if refusal[e] == SPLIT_REASON and not (terminal[edge_a[e]] and terminal[edge_b[e]]):
                continue
            for x in (edge_a[e], edge_b[e]):
                reasons.setdefault(int(labels[x]), refusal[e])
    for a, b in zip(join_a.tolist(), join_b.tolist()):
        if labels[a] == labels[b]:
            reasons.setdefault(int(labels[a]), ID_KEPT_REASON)
    uniques, labels = np.unique(labels, return_inverse=True)
    relabel = {int(old): int(new) for new, old in enumerate(uniques)}
    return Clustering(
        labels=labels.astype(np.int64),
        refused_edges=np.array(sorted(refused), dtype=np.int64),
        conflict_reasons={relabel[k]: v for k, v in reasons.items()},
    )


def text_rank(values: np.ndarray) -> np.ndarray:
    """Dense rank (0, 1, …) of each string in code-point order, -1 for nulls.

    Arrow sorts the UTF-8 bytes in C++, and UTF-8 byte order is code-point order, so this
    orders exactly as Python's ``<`` on str does; pandas' ``min`` over object strings is a
    Python loop that costs seconds per million records.
    """
    array = pa.array(values, type=pa.string(), from_pandas=True)
    rank = pc.rank(array, sort_keys="ascending", tiebreaker="dense")   # nulls rank last
    out = rank.to_numpy().astype(np.int64) - 1
    if array.null_count:
        out[array.is_null().to_numpy(zero_copy_only=False)] = -1
    return out


def smallest_text(groups: np.ndarray, values: np.ndarray) -> pd.Series:
    """The smallest non-null string of each group (index: group label, sorted), by text_rank."""
    rank = text_rank(values)
    present = rank >= 0
    best = pd.Series(rank[present]).groupby(groups[present]).min()
    by_rank = np.empty(int(rank.max()) + 1 if present.any() else 0, dtype=object)
    by_rank[rank[present]] = values[present]
    return pd.Series(by_rank[best.to_numpy()], index=best.index, dtype=object)


def _hash_id(anchor: str) -> str:
    return "P" + hashlib.blake2b(anchor.encode("utf-8"), digest_size=6).hexdigest()


def assign_person_ids(
    cluster: np.ndarray,
    record_key: np.ndarray,
    trusted_id: np.ndarray,
    previous: pd.Series | None = None,
) -> np.ndarray:
    """Person id per record following the module's stability rule.

    `trusted_id` holds each record's trusted ID number (None otherwise); `previous`
    maps record_key → person_id from the last run.
    """
    frame = pd.DataFrame({"cluster": cluster, "record_key": record_key, "trusted_id": trusted_id})
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    if previous is not None and len(previous):
        frame["previous"] = frame["record_key"].map(previous)
        known = frame.dropna(subset=["previous"])
        overlap = known.groupby(["cluster", "previous"]).agg(n=("record_key", "size"), first=("record_key", "min"))
        overlap = overlap.reset_index().sort_values(["n", "previous", "first"], ascending=[False, True, True])
        for row in overlap.itertuples(index=False):
            if row.cluster not in chosen and row.previous not in taken:
                chosen[row.cluster] = row.previous
                taken.add(row.previous)
        taken |= set(previous.dropna().unique().tolist())
    rest = frame[~frame["cluster"].isin(chosen)] if chosen else frame
    if len(rest):
        clusters = rest["cluster"].to_numpy()
        by_id = smallest_text(clusters, rest["trusted_id"].to_numpy(dtype=object))
        # Only clusters without a trusted ID number are anchored on a record key: rank just their keys.
        keyed = ~np.isin(clusters, by_id.index.to_numpy())
        by_key = smallest_text(clusters[keyed], rest["record_key"].to_numpy(dtype=object)[keyed])
        anchors = pd.concat([("id:" + by_id), ("rec:" + by_key)]).sort_index()
        chosen.update(_hashed_ids(anchors, taken))
    if not chosen:
        return np.zeros(0, dtype=object)
    labels = np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen))
    ids = np.array(list(chosen.values()), dtype=object)
    order = np.argsort(labels)
    return ids[order][np.searchsorted(labels[order], frame["cluster"].to_numpy())]


def _hashed_ids(anchors: pd.Series, taken: set[str]) -> dict[int, str]:
    """cluster → "P" + hash of its anchor; a suffix "-2", "-3" … in anchor order avoids ids in use.

    Hashes are computed in one pass; only anchors whose hash is already taken or shared with
    another anchor go through the suffix loop, in text order of the anchors, so the outcome
    is that of one loop over all anchors in text order (the smallest anchor keeps the plain id).
    """
    hashes = np.array([_hash_id(anchor) for anchor in anchors.to_numpy()], dtype=object)
    shared = pd.Series(hashes).duplicated(keep=False).to_numpy()
    if taken:
        shared |= np.isin(hashes, np.array(list(taken), dtype=object))
    out = dict(zip(anchors.index[~shared].tolist(), hashes[~shared].tolist()))
    used = taken | set(out.values())
    contested = np.flatnonzero(shared)
    contested = contested[np.argsort(text_rank(anchors.to_numpy(dtype=object)[contested]), kind="stable")]
    for cluster_label, plain in zip(anchors.index[contested].tolist(), hashes[contested].tolist()):
        candidate, n = plain, 1
        while candidate in used:
            n += 1
            candidate = f"{plain}-{n}"
        out[cluster_label] = candidate
        used.add(candidate)
    return out
