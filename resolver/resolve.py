"""Decide which records are the same person: full, incremental and single-record resolution.

Pipeline: trusted ID numbers group records deterministically; blocking finds candidate
pairs for everything else (and for ID typos); pairs are compared and scored with a
Fellegi–Sunter model (trained by EM unless given); links above the accept threshold
are clustered under the ID-number and steward constraints (cluster.py); pairs between
the thresholds, and links removed by conflict splitting, form the review queue.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from resolver.blocking import (
    candidate_pairs,
    id_bodies,
    pairs_within_groups,
    rule_keys,
    rule_keys_one,
    typo_variants,
)
from resolver.cluster import assign_person_ids, cluster_nodes, text_rank
from resolver.compare import ADDRESS_LEVEL_PARTS, MATCH_COLUMNS, NULL, Features, compare_levels, compare_pairs, features_of_one, prepare_features
from resolver.explain import explanation_json
from resolver.matching_config import NEIGHBOURHOOD_FIELD, SAME_ID_BLOCK, BlockingRule, MatchingConfig
from resolver.scoring import (
    FSModel,
    match_weight,
    pair_prior,
    probability,
    random_pairs,
    train_model,
    train_supervised,
)
from resolver.state import ResolverState

LINK_COLUMNS = ("record_key", "source", "record_id", "person_id", "match_probability", "method")
REVIEW_COLUMNS = ("record_key_l", "record_key_r", "person_id_l", "person_id_r", "match_probability", "reason",
                  "explanation")
DECISIONS = ("must_link", "cannot_link")
REVIEW_UNCERTAIN = "介于两个阈值之间 between the review and accept thresholds"
REVIEW_NAMES = "分数高但姓名不一致 high score but the names disagree"
REVIEW_SPLIT = "冲突拆分时移除的链接 link removed when splitting a conflict"
REVIEW_ID_TYPO = "两个有效身份证号疑似录入错误 two valid ID numbers one typo apart"
BORROWED_REASON = ("记录的身份证号属于另一姓名的人（疑为家庭成员的证号），未按证号关联 a record carries the valid ID number "
                   "of someone with another name (a household member's?): not linked on the number")
REVIEW_ID_KEPT = ("两个有效身份证号（同地区码、出生日期）疑似录入错误，已保持为一人，请核实 two valid ID numbers sharing "
                  "area code and birth date, one likely keyed wrong: kept as one person, please confirm")

Progress = Callable[[str, dict], None]
DEATH_SOURCE = "civil_funeral"   # record keys are "<source>:<record id>"


@dataclass
class Resolution:
    """The outcome of a resolution run."""

    links: pd.DataFrame          # one row per record: LINK_COLUMNS
    review_pairs: pd.DataFrame   # REVIEW_COLUMNS, one row per pair of persons to look at
    conflicts: pd.DataFrame      # person_id, reason (persons to flag CONFLICT)
    model: FSModel
    edges: pd.DataFrame          # scored pairs ≥ review threshold (kept in the state)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def state(self, records: pd.DataFrame) -> ResolverState:
        """The state to save after this run (`records` = the records it resolved)."""
        return ResolverState(records=match_columns(records), links=self.links, edges=self.edges,
                             conflicts=self.conflicts, model=self.model)

    @property
    def flagged_conflicts(self) -> dict[str, str]:
        """person_id → reason, in the shape resolver.status.assign_statuses takes."""
        return dict(zip(self.conflicts["person_id"], self.conflicts["reason"]))


class _Stages:
    """Progress reporting and per-stage timing."""

    def __init__(self, progress: Progress | None):
        self.progress = progress or (lambda stage, info: None)
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._start = time.perf_counter()

    def done(self, stage: str, **counts: int) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._start, 3)
        self._start = now
        self.counts.update(counts)
        self.progress(stage, counts)


def match_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The matching columns of canonical records (absent ones as nulls), index reset (one copy, not two)."""
    columns = records.reindex(columns=list(MATCH_COLUMNS))
    return columns if _positional(columns) else columns.reset_index(drop=True)


def _positional(frame: pd.DataFrame) -> bool:
    """Whether the frame's index is already 0, 1, 2, … (so reset_index would only copy)."""
    return isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1


def _check_records(records: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("record_key", "source", "record_id", "id_number", "id_status") if c not in records.columns]
    if missing:
        raise ValueError(f"records lack canonical column(s) {missing}: pass the output of resolver.ingest.ingest_folder")
    # Counted in Arrow (a pandas hash table over a city's key strings takes seconds); named in pandas.
    try:
        keys = pa.array(records["record_key"], type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        keys = pa.array(records["record_key"].astype(str), type=pa.string())
    if pc.count_distinct(keys, mode="all").as_py() != len(keys):
        duplicated = records["record_key"][records["record_key"].duplicated()]
        raise ValueError(f"record_key must be unique; repeated: {duplicated.head(5).tolist()} — fix the ingestion keys")
    if _positional(records):
        return records   # resolution only reads it: no copy of a city's records
    return records.reset_index(drop=True)


# ---------------------------------------------------------------- nodes and pairs

def node_index(features: Features) -> tuple[np.ndarray, np.ndarray]:
    """(node per record, terminal per node): one node per trusted ID number, one per other
    record; terminal nodes are the ID groups."""
    codes = np.full(features.n, -1, dtype=np.int64)
    trusted = np.flatnonzero(features.trusted)
    _, codes[trusted] = np.unique(features.id_code[trusted], return_inverse=True)
    n_id = int(codes.max()) + 1 if len(trusted) else 0
    others = np.flatnonzero(codes < 0)
    codes[others] = n_id + np.arange(len(others))
    terminal = np.arange(n_id + len(others)) < n_id
    return codes, terminal


def borrowed_numbers(features: Features) -> np.ndarray:
    """Records carrying the valid number of someone with another name (a household member's card).

    Within the records of one trusted number, the name held by most records (a record whose delivered
    birth date or gender contradicts the number counts against its name) is the owner's; a record
    with another name (different folded pinyin) is not the owner's. No owner stands out on a tie.
    """
    rows = np.flatnonzero(features.trusted & features.id_has18 & (features.folded_pinyin_code >= 0))
    out = np.zeros(features.n, dtype=bool)
    if len(rows) == 0:
        return out
    digits = features.id_digits[rows].astype(np.int64) - ord("0")
    number_birth = digits[:, 6:10] @ np.array([1000, 100, 10, 1]) * 10000 + \
        (digits[:, 10] * 10 + digits[:, 11]) * 100 + digits[:, 12] * 10 + digits[:, 13]
    stated = features.birth[rows].astype(np.int64)
    stated_birth = stated[:, 0] * 10000 + stated[:, 1] * 100 + stated[:, 2]
    number_gender = np.where(digits[:, 16] % 2 == 1, 1, 2)
    contradicts = ((stated[:, 0] > 0) & (stated_birth != number_birth)) | \
        ((features.gender[rows] > 0) & (features.gender[rows] != number_gender))
    frame = pd.DataFrame({"number": features.id_code[rows], "name": features.folded_pinyin_code[rows],
                          "support": np.where(contradicts, -2, 1)})
    cells = frame.groupby(["number", "name"], sort=False)["support"].sum().reset_index()
    several = cells["number"].duplicated(keep=False)
    cells = cells[several.to_numpy()]
    if cells.empty:
        return out
    best = cells.groupby("number")["support"].transform("max")
    top = cells["support"] == best
    unique_top = top & (top.groupby(cells["number"]).transform("sum") == 1)
    owners = cells[unique_top.to_numpy()].set_index("number")["name"]
    owner = frame["number"].map(owners)
    out[rows[(owner.notna() & (owner != frame["name"])).to_numpy()]] = True
    return out


def without_borrowed_numbers(features: Features) -> tuple[Features, np.ndarray]:
    """Features in which records carrying someone else's number (borrowed_numbers) hold no number at all:
    not joined to the number's owner on the number alone, and the birth date and gender read from that
    number (not delivered with the record) dropped too."""
    borrowed = borrowed_numbers(features)
    if not borrowed.any():
        return features, borrowed
    rows = np.flatnonzero(borrowed)
    digits = features.id_digits[rows].astype(np.int64) - ord("0")
    number_ymd = np.stack([digits[:, 6:10] @ np.array([1000, 100, 10, 1]), digits[:, 10] * 10 + digits[:, 11],
                           digits[:, 12] * 10 + digits[:, 13]], axis=1)
    trusted, id_code, id_has18 = features.trusted.copy(), features.id_code.copy(), features.id_has18.copy()
    birth, gender = features.birth.copy(), features.gender.copy()
    trusted[rows], id_code[rows], id_has18[rows] = False, -1, False
    from_number = (birth[rows].astype(np.int64) == number_ymd).all(axis=1)
    birth[rows[from_number]] = 0
    gender[rows[gender[rows] == np.where(digits[:, 16] % 2 == 1, 1, 2)]] = 0
    return replace(features, trusted=trusted, id_code=id_code, id_has18=id_has18, birth=birth, gender=gender), borrowed


def borrowed_household_pairs(coded: Features, borrowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(borrowed record, record) pairs where the second bears the borrowed record's name (folded pinyin) and
    lives in the same room as the number's owner: the member of the owner's household whose card it was not.

    `coded` are the features before the borrowed numbers were dropped (they still hold them).
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    rows = np.flatnonzero(borrowed)
    if len(rows) == 0:
        return empty
    room = ADDRESS_LEVEL_PARTS.index("room")
    owners = np.flatnonzero(coded.trusted & ~borrowed & np.isin(coded.id_code, coded.id_code[rows]))
    owner_rooms = pd.DataFrame({"number": np.repeat(coded.id_code[owners], 2),
                                "room": coded.address[owners, :, room].ravel()})
    owner_rooms = owner_rooms[owner_rooms["room"] >= 0].drop_duplicates()
    wanted = pd.DataFrame({"l": rows, "number": coded.id_code[rows], "name": coded.folded_pinyin_code[rows]})
    wanted = wanted[wanted["name"] >= 0].merge(owner_rooms, on="number")
    if wanted.empty:
        return empty
    at = np.flatnonzero((np.isin(coded.address[:, :, room], wanted["room"].to_numpy())).any(axis=1))
    residents = pd.DataFrame({"r": np.repeat(at, 2), "room": coded.address[at, :, room].ravel(),
                              "name": np.repeat(coded.folded_pinyin_code[at], 2)})
    found = wanted.merge(residents, on=["room", "name"])
    found = found[(found["l"] != found["r"]) & ~borrowed[found["r"].to_numpy()]
                  & (coded.id_code[found["r"].to_numpy()] != found["number"].to_numpy())]
    found = found[["l", "r"]].drop_duplicates()
    return found["l"].to_numpy(np.int64), found["r"].to_numpy(np.int64)


def _household_scored(coded: Features, features: Features, borrowed: np.ndarray, model: FSModel,
                      config: MatchingConfig, only_with: np.ndarray | None = None) -> pd.DataFrame:
    """Scored pairs of borrowed_household_pairs; the address counts as the owner's room (where the card's holder
    and the record's bearer live), as the borrowed record often carries no address of its own."""
    left, right = borrowed_household_pairs(coded, borrowed)
    if only_with is not None:
        touching = only_with[left] | only_with[right]
        left, right = left[touching], right[touching]
    levels = compare_pairs(features, left, right, config)
    if "address" in levels:
        levels["address"] = np.zeros(len(levels), dtype=levels["address"].dtype)   # same_room
    return _score(features, left, right, levels, model, config)


def trusted_id_numbers(records: pd.DataFrame, trusted: np.ndarray) -> np.ndarray:
    """Each record's ID number where it is trusted (``Features.trusted``), else None (the anchors of new person ids)."""
    return np.where(trusted, records["id_number"].to_numpy(dtype=object), None)


def _node_ranker(node: np.ndarray, record_key: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """node_rank for cluster_nodes: ranks the asked nodes by their smallest record key, a tie-break
    independent of input order. Only the records of the asked nodes are ranked (record keys are
    unique, so ranking them ranks the nodes' smallest keys)."""
    def rank(nodes: np.ndarray) -> np.ndarray:
        positions = np.flatnonzero(np.isin(node, nodes))
        smallest = np.full(len(nodes), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(smallest, np.searchsorted(nodes, node[positions]), text_rank(record_key[positions]))
        out = np.empty(len(nodes), dtype=np.int64)
        out[np.argsort(smallest, kind="stable")] = np.arange(1, len(nodes) + 1)
        return out

    return rank


def two_numbers_one_birth(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pairs holding two different trusted 18-digit numbers with the same area code and birth date (first 14 digits)."""
    both = features.trusted[left] & features.trusted[right] & features.id_has18[left] & features.id_has18[right]
    both &= features.id_code[left] != features.id_code[right]
    return both & (features.id_digits[left, :14] == features.id_digits[right, :14]).all(axis=1)


def _score(features: Features, left: np.ndarray, right: np.ndarray, levels: pd.DataFrame,
           model: FSModel, config: MatchingConfig) -> pd.DataFrame:
    """Levels, name frequency, weight and probability per pair.

    A pair of two valid numbers sharing area code and birth date is scored without the number (its
    level set missing): one of them may be keyed wrong, so only the other evidence counts (status-rules.md).
    """
    two_numbers = two_numbers_one_birth(features, left, right)
    if two_numbers.any() and "id_number" in levels:
        levels = levels.copy()
        levels.loc[two_numbers, "id_number"] = NULL
    name_frequency = model.name_frequency(features.name_keys(left))
    weight = match_weight(model, levels, name_frequency)
    scored = levels.assign(name_frequency=name_frequency, match_weight=weight, match_probability=probability(weight))
    scored.insert(0, "l", left)
    scored.insert(1, "r", right)
    scored["two_numbers"] = two_numbers
    # Rare name: few *other* people bear it. The two numbers in question count as two bearers in the
    # name table (one per ID number), which in a small extract makes every name look common.
    own = 2.0 / model.training.get("name_persons", 0) if model.training.get("name_persons") else 0.0
    scored["rare_name"] = two_numbers & (name_frequency - own <= config.id_conflicts.rare_name_share)
    return scored


def _typo_gate(scored: pd.DataFrame, trusted: np.ndarray) -> pd.DataFrame:
    """Pairs of two valid numbers are only ID-typo candidates when the names agree (same characters,
    same pinyin or similar pinyin): twins share birth date, gender, address and near order codes."""
    both_trusted = trusted[scored["l"].to_numpy()] & trusted[scored["r"].to_numpy()]
    names_agree = scored["name"].between(0, 2).to_numpy() if "name" in scored else np.zeros(len(scored), bool)
    return scored[~both_trusted | names_agree].reset_index(drop=True)


def same_id_pairs(node: np.ndarray, trusted: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of consecutive records inside each trusted-ID group (at most `limit`, sampled)."""
    positions = np.flatnonzero(trusted)
    positions = positions[np.argsort(node[positions], kind="stable")]
    same = node[positions[1:]] == node[positions[:-1]]
    left, right = positions[:-1][same], positions[1:][same]
    if len(left) > limit:
        keep = np.random.default_rng(seed).choice(len(left), size=limit, replace=False)
        left, right = left[keep], right[keep]
    return left, right


def training_pairs(features: Features, rule: BlockingRule, max_block_size: int, limit: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A sample of all pairs one rule blocks together, trusted ID pairs included (EM training only)."""
    positions, keys = rule_keys(features, rule)
    everyone = np.ones(features.n, dtype=bool)
    left, right, _ = pairs_within_groups(positions, keys, everyone, max_block_size)
    if len(left) > limit:
        keep = rng.choice(len(left), size=limit, replace=False)
        left, right = left[keep], right[keep]
    return left, right


def _train(features: Features, node: np.ndarray, config: MatchingConfig) -> FSModel:
    """EM model: u from random record pairs, m by EM per training block, prior from the ID groups."""
    settings = config.scoring
    n = features.n
    if n < 2:
        raise ValueError("at least two records are needed to train a matching model")
    trusted = features.trusted
    left, right = random_pairs(n, settings.u_sample_pairs, settings.seed)
    # Pairs inside one trusted-ID group are known matches, not chance agreement: leave them out of u.
    chance = node[left] != node[right]
    random_levels = compare_pairs(features, left[chance], right[chance], config)
    blocks: dict[str, tuple[pd.DataFrame, set[str]]] = {}
    rng = np.random.default_rng(settings.seed)
    for name in settings.em.training_blocks:
        if name == SAME_ID_BLOCK:
            l, r = same_id_pairs(node, trusted, settings.em_sample_pairs, settings.seed)
            levels = compare_pairs(features, l, r, config)
        else:
            l, r = training_pairs(features, next(x for x in config.blocking.rules if x.name == name),
                                  config.blocking.max_block_size, settings.em_sample_pairs, rng)
            levels = compare_pairs(features, l, r, config)
        blocks[name] = (levels, config.fixed_fields(name))
    # One name per person (ID group) for term frequencies, so many departments don't inflate a name.
    named = features.name_code >= 0
    per_node = pd.DataFrame({"node": node[named], "name": features.name_code[named]}).drop_duplicates()
    names = pd.Series(features.name_keys(np.flatnonzero(named)[per_node.index.to_numpy()])
                      .to_numpy(zero_copy_only=False), dtype=object)
    group_sizes = np.bincount(node[trusted]) if trusted.any() else np.zeros(0)
    prior = pair_prior(group_sizes[group_sizes > 0], int(trusted.sum()))
    return train_model(blocks, random_levels, names, prior, config)


# ---------------------------------------------------------------- clustering and links

def accepted_mask(edges: pd.DataFrame, config: MatchingConfig) -> np.ndarray:
    """Scored pairs linked automatically: above the accept threshold and, if configured, names not disagreeing."""
    accepted = edges["match_probability"].to_numpy() >= config.thresholds.accept
    if config.thresholds.accept_requires_name_agreement and "name" in edges:
        accepted &= edges["name"].to_numpy() < 3   # 3, 4 = surname_only, different; -1 (missing) passes
    return accepted


def _two_number_gate(edges: pd.DataFrame, config: MatchingConfig) -> tuple[np.ndarray, np.ndarray]:
    """(agreeing, namesake_unlikely) for scored pairs of two valid numbers sharing area code and birth date:
    name (same characters or pinyin) and gender agree; and a rare name, or a shared address (same room
    or building), phone or employer."""
    if "two_numbers" not in edges or not len(edges):
        return np.zeros(len(edges), dtype=bool), np.zeros(len(edges), dtype=bool)

    def level(name: str) -> np.ndarray:
        return edges[name].to_numpy() if name in edges else np.full(len(edges), NULL)

    agreeing = edges["two_numbers"].fillna(False).to_numpy(dtype=bool) & np.isin(level("name"), (0, 1)) & \
        (level("gender") == 0)
    rare = edges["rare_name"].fillna(False).to_numpy(dtype=bool) if "rare_name" in edges else \
        edges["name_frequency"].to_numpy() <= config.id_conflicts.rare_name_share
    shared = np.isin(level("address"), (0, 1)) | (level("phone") == 0) | (level("employer") == 0)
    return agreeing, rare | shared


def kept_id_conflicts(edges: pd.DataFrame, config: MatchingConfig) -> np.ndarray:
    """Accepted pairs of two valid numbers that stay one person (status-rules.md, below the flags).

    The numbers share area code and birth date, name and gender agree, the score without the number
    passes `accept`, and a namesake is unlikely (_two_number_gate). Twins differ in name; namesakes
    share only a common name and a birth date: neither passes.
    """
    if not config.id_conflicts.join:
        return np.zeros(len(edges), dtype=bool)
    agreeing, unlikely = _two_number_gate(edges, config)
    return agreeing & unlikely & accepted_mask(edges, config)


def two_people_pairs(edges: pd.DataFrame, config: MatchingConfig) -> np.ndarray:
    """Pairs of two valid numbers sharing area code and birth date that fail _two_number_gate: twins
    (names differ) or namesakes (only a common name and a birth date agree) are two people, neither
    linked, nor sent to review, nor flagged when their numbers meet in a cluster."""
    if "two_numbers" not in edges or not len(edges):
        return np.zeros(len(edges), dtype=bool)
    agreeing, unlikely = _two_number_gate(edges, config)
    return edges["two_numbers"].fillna(False).to_numpy(dtype=bool) & ~(agreeing & unlikely)


def _decision_positions(decisions: pd.DataFrame | None, record_key: pd.Series) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Steward decisions as record position pairs (decisions on unknown records are ignored)."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if decisions is None or decisions.empty:
        return {d: empty for d in DECISIONS}
    unknown = sorted(set(decisions["decision"]) - set(DECISIONS))
    if unknown:
        raise ValueError(f"steward decisions {unknown} not understood: use one of {list(DECISIONS)}")
    position = pd.Series(np.arange(len(record_key)), index=record_key.to_numpy())
    out = {}
    for kind in DECISIONS:
        chosen = decisions[decisions["decision"] == kind]
        l = chosen["record_key_l"].map(position)
        r = chosen["record_key_r"].map(position)
        known = l.notna() & r.notna()
        out[kind] = (l[known].to_numpy(np.int64), r[known].to_numpy(np.int64))
    return out


def _cluster_records(
    records: pd.DataFrame,
    trusted: np.ndarray,
    nodes: tuple[np.ndarray, np.ndarray],
    edges: pd.DataFrame,
    decisions: pd.DataFrame | None,
    previous: pd.Series | None,
    config: MatchingConfig,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Links (LINK_COLUMNS) and conflicts for `records` (`trusted` = their Features.trusted, grouped as
    `nodes` = node_index(features)), from scored `edges` (positions l, r into records)."""
    node, terminal = nodes
    keys = records["record_key"].to_numpy(dtype=object)
    rank = _node_ranker(node, keys)

    accepted = edges[accepted_mask(edges, config) & ~two_people_pairs(edges, config)]
    na, nb = node[accepted["l"].to_numpy()], node[accepted["r"].to_numpy()]
    node_edges = pd.DataFrame({"a": np.minimum(na, nb), "b": np.maximum(na, nb),
                               "w": accepted["match_weight"].to_numpy(), "p": accepted["match_probability"].to_numpy(),
                               "keep": kept_id_conflicts(accepted, config)})
    node_edges = node_edges[node_edges["a"] != node_edges["b"]]
    # Two numbers stay one person when any record pair between them passes the gate.
    keep_pair = node_edges.groupby(["a", "b"])["keep"].transform("max").to_numpy(dtype=bool)
    node_edges = node_edges.assign(keep=keep_pair)
    node_edges = node_edges.sort_values("w", ascending=False, kind="stable").drop_duplicates(["a", "b"])

    decided = _decision_positions(decisions, records["record_key"])
    must = tuple(node[x] for x in decided["must_link"])
    cannot = tuple(node[x] for x in decided["cannot_link"])
    if len(cannot[0]):
        # A steward's cannot-link removes the model's link between exactly those two nodes.
        banned = set(zip(np.minimum(*cannot).tolist(), np.maximum(*cannot).tolist()))
        allowed = np.array([(a, b) not in banned for a, b in zip(node_edges["a"], node_edges["b"])], dtype=bool)
        node_edges = node_edges[allowed]

    edge_a, edge_b = node_edges["a"].to_numpy(np.int64), node_edges["b"].to_numpy(np.int64)
    keep = node_edges["keep"].to_numpy(dtype=bool) & terminal[edge_a] & terminal[edge_b]
    result = cluster_nodes(len(terminal), terminal, edge_a, edge_b, node_edges["w"].to_numpy(), rank, must, cannot,
                           id_joins=(edge_a[keep], edge_b[keep]))
    cluster = result.labels[node]
    person_id = assign_person_ids(cluster, keys, trusted_id_numbers(records, trusted), previous)

    # How each record came to its person, and the probability of the link that brought it.
    kept = np.ones(len(edge_a), dtype=bool)
    kept[result.refused_edges] = False
    best = pd.concat([
        pd.Series(node_edges["p"].to_numpy()[kept], index=edge_a[kept]),
        pd.Series(node_edges["p"].to_numpy()[kept], index=edge_b[kept]),
    ]).groupby(level=0).max()
    steward_nodes = np.concatenate(must) if len(must[0]) else np.zeros(0, np.int64)
    size = pd.Series(cluster).map(pd.Series(cluster).value_counts()).to_numpy()
    node_best = pd.Series(node).map(best).to_numpy(dtype=float)
    method = np.select(
        [size == 1, terminal[node], np.isin(node, steward_nodes)],
        ["singleton", "id_number", "steward"],
        default="probabilistic",
    )
    match_probability = np.where(method == "probabilistic", node_best, 1.0)
    links = pd.DataFrame({
        "record_key": keys,
        "source": records["source"].to_numpy(),
        "record_id": records["record_id"].to_numpy(),
        "person_id": person_id,
        "match_probability": match_probability,
        "method": method,
    })
    person_of_cluster = pd.Series(person_id).groupby(cluster).first()
    conflicts = pd.DataFrame({
        "person_id": [person_of_cluster[c] for c in result.conflict_reasons],
        "reason": list(result.conflict_reasons.values()),
    })
    return links, conflicts, len(result.refused_edges)


def _review_pairs(edges: pd.DataFrame, keys: np.ndarray, person: np.ndarray, trusted: np.ndarray,
                  decisions: pd.DataFrame | None, model: FSModel, config: MatchingConfig) -> pd.DataFrame:
    """Scored pairs ≥ review threshold whose records ended in different persons, best pair per two persons."""
    l, r = edges["l"].to_numpy(), edges["r"].to_numpy()
    apart = person[l] != person[r]
    # Two valid numbers kept as one person are reviewed too (a steward confirms or splits them).
    kept = ~apart & kept_id_conflicts(edges, config)
    chosen = (apart & ~two_people_pairs(edges, config)) | kept
    pairs = edges[chosen].assign(kept=kept[chosen])
    pairs["person_id_l"], pairs["person_id_r"] = person[pairs["l"]], person[pairs["r"]]
    swap = pairs["person_id_l"] > pairs["person_id_r"]
    lo = np.where(swap, pairs["person_id_r"], pairs["person_id_l"])
    hi = np.where(swap, pairs["person_id_l"], pairs["person_id_r"])
    pairs["person_id_l"], pairs["person_id_r"] = lo, hi
    pairs = pairs.sort_values("match_weight", ascending=False, kind="stable").drop_duplicates(["person_id_l", "person_id_r"])
    if decisions is not None and not decisions.empty:
        decided = set(zip(decisions["record_key_l"], decisions["record_key_r"]))
        decided |= {(b, a) for a, b in decided}
        undecided = np.array([(keys[a], keys[b]) not in decided for a, b in zip(pairs["l"], pairs["r"])], dtype=bool)
        pairs = pairs[undecided]
    both_trusted = trusted[pairs["l"].to_numpy()] & trusted[pairs["r"].to_numpy()]
    above = pairs["match_probability"].to_numpy() >= config.thresholds.accept
    reason = np.select([pairs["kept"].to_numpy(dtype=bool), both_trusted, above & ~accepted_mask(pairs, config), above],
                       [REVIEW_ID_KEPT, REVIEW_ID_TYPO, REVIEW_NAMES, REVIEW_SPLIT], default=REVIEW_UNCERTAIN)
    review = pd.DataFrame({
        "record_key_l": keys[pairs["l"].to_numpy()],
        "record_key_r": keys[pairs["r"].to_numpy()],
        "person_id_l": pairs["person_id_l"].to_numpy(),
        "person_id_r": pairs["person_id_r"].to_numpy(),
        "match_probability": pairs["match_probability"].to_numpy(),
        "reason": reason,
        "explanation": explanation_json(model, pairs.reset_index(drop=True), pairs["name_frequency"].to_numpy()),
    })
    # A death changes a status (DECEASED before all else): pairs with a funeral record come first.
    review["death"] = review["record_key_l"].str.startswith(f"{DEATH_SOURCE}:") | \
        review["record_key_r"].str.startswith(f"{DEATH_SOURCE}:")
    return review.sort_values(["death", "match_probability"], ascending=[False, False], kind="stable") \
        .drop(columns="death").reset_index(drop=True)


def _edges_by_key(edges: pd.DataFrame, keys: np.ndarray) -> pd.DataFrame:
    """Scored pairs with record keys instead of positions (the stored form)."""
    out = edges.drop(columns=["l", "r"])
    out.insert(0, "record_key_l", keys[edges["l"].to_numpy()])
    out.insert(1, "record_key_r", keys[edges["r"].to_numpy()])
    return out.reset_index(drop=True)


def _edges_by_position(edges: pd.DataFrame, position: pd.Series) -> pd.DataFrame:
    l = edges["record_key_l"].map(position)
    r = edges["record_key_r"].map(position)
    known = l.notna() & r.notna()
    out = edges[known].drop(columns=["record_key_l", "record_key_r"]).reset_index(drop=True)
    out.insert(0, "l", l[known].to_numpy(np.int64))
    out.insert(1, "r", r[known].to_numpy(np.int64))
    return out


def _with_borrowed(conflicts: pd.DataFrame, links: pd.DataFrame, borrowed: np.ndarray) -> pd.DataFrame:
    """Conflicts plus the persons holding a record with a borrowed number (each person once)."""
    persons = pd.unique(links["person_id"].to_numpy()[borrowed])
    extra = pd.DataFrame({"person_id": persons, "reason": BORROWED_REASON})
    extra = extra[~extra["person_id"].isin(conflicts["person_id"])]
    return pd.concat([conflicts, extra], ignore_index=True) if len(extra) else conflicts


def _stage_counts(links: pd.DataFrame, conflicts: pd.DataFrame, review: pd.DataFrame) -> dict[str, int]:
    return {
        "persons": int(links["person_id"].nunique()),
        "singletons": int((links["method"] == "singleton").sum()),
        "probabilistic_records": int((links["method"] == "probabilistic").sum()),
        "conflicts": len(conflicts),
        "review_pairs": len(review),
    }


# ---------------------------------------------------------------- entry points

def resolve(
    records: pd.DataFrame,
    config: MatchingConfig,
    model: FSModel | None = None,
    decisions: pd.DataFrame | None = None,
    previous: pd.Series | None = None,
    progress: Progress | None = None,
) -> Resolution:
    """Resolve canonical records into persons.

    `model`: a trained model to reuse (else one is trained by EM on these records).
    `decisions`: steward decisions, columns record_key_l, record_key_r, decision (must_link/cannot_link).
    `previous`: record_key → person_id of the last run, so persons keep their ids.
    `progress(stage, counts)` is called after each stage.
    """
    stages = _Stages(progress)
    records = _check_records(records)
    coded = prepare_features(records)
    features, borrowed = without_borrowed_numbers(coded)
    node, terminal = node_index(features)
    trusted = features.trusted
    stages.done("features", records=len(records), trusted_id_records=int(trusted.sum()),
                id_groups=int(terminal.sum()))
    candidates = candidate_pairs(features, config)
    stages.done("blocking", candidate_pairs=len(candidates),
                **{f"pairs_{name}": n for name, n in candidates.pairs_per_rule.items()})
    levels = compare_pairs(features, candidates.left, candidates.right, config)
    stages.done("comparison", compared_pairs=len(levels))
    if model is None:
        model = _train(features, node, config)
        stages.done("training", **{f"em_iterations_{b}": int(info.get("iterations", 0))
                                   for b, info in model.training["blocks"].items()})
    scored = _typo_gate(_score(features, candidates.left, candidates.right, levels, model, config), trusted)
    scored = pd.concat([scored, _household_scored(coded, features, borrowed, model, config)], ignore_index=True)
    del coded
    edges = scored[scored["match_probability"] >= config.thresholds.review].reset_index(drop=True)
    scored_pairs = len(scored)
    # The candidate pairs, their levels and the coded columns (GiBs for a city) are not needed past scoring:
    # let them go before the stage ends, so clustering does not peak on top of them.
    del candidates, levels, scored, features
    stages.done("scoring", scored_pairs=scored_pairs, accepted_links=int(accepted_mask(edges, config).sum()))
    links, conflicts, refused = _cluster_records(records, trusted, (node, terminal), edges, decisions, previous,
                                                 config)
    conflicts = _with_borrowed(conflicts, links, borrowed)
    keys = records["record_key"].to_numpy(dtype=object)
    review = _review_pairs(edges, keys, links["person_id"].to_numpy(), trusted, decisions, model, config)
    stages.done("clustering", refused_links=refused, **_stage_counts(links, conflicts, review))
    return Resolution(links=links, review_pairs=review, conflicts=conflicts, model=model,
                      edges=_edges_by_key(edges, keys), counts=stages.counts, seconds=stages.seconds)


def _affected_records(features: Features, edges: pd.DataFrame, touched: np.ndarray,
                      config: MatchingConfig, must: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Records in any component (over accepted links and must-links) that holds a touched record."""
    node, terminal = node_index(features)
    accepted = edges[accepted_mask(edges, config) & ~two_people_pairs(edges, config)]
    a = np.concatenate([node[accepted["l"].to_numpy()], node[must[0]]])
    b = np.concatenate([node[accepted["r"].to_numpy()], node[must[1]]])
    n = len(terminal)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    component = connected_components(graph, directed=False)[1]
    hit = np.unique(component[node[touched]])
    return np.isin(component[node], hit)


def resolve_incremental(
    new_records: pd.DataFrame,
    state: ResolverState,
    config: MatchingConfig,
    decisions: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> tuple[Resolution, pd.DataFrame]:
    """Resolve new records against a stored state without rescoring old pairs.

    Only pairs touching a new record are blocked and scored (with the stored model);
    only components touching a new record or a steward decision are re-clustered; every
    other person keeps its links and id. Records whose key is already stored are skipped.
    Returns the resolution over all records and the union of matching columns (for the next state).
    """
    stages = _Stages(progress)
    new_records = _check_records(new_records)
    known = new_records["record_key"].isin(state.records["record_key"])
    # Empty parts left out: pandas would let their all-null columns decide the dtypes (a FutureWarning).
    parts = [part for part in (state.records, match_columns(new_records[~known])) if len(part)]
    union = pd.concat(parts, ignore_index=True) if parts else state.records.reset_index(drop=True)
    is_new = np.r_[np.zeros(len(state.records), bool), np.ones(int((~known).sum()), bool)]
    coded = prepare_features(union)
    features, borrowed = without_borrowed_numbers(coded)
    trusted = features.trusted
    stages.done("features", records=len(union), new_records=int(is_new.sum()), already_known=int(known.sum()))
    candidates = candidate_pairs(features, config, only_with=is_new)
    stages.done("blocking", candidate_pairs=len(candidates),
                **{f"pairs_{name}": n for name, n in candidates.pairs_per_rule.items()})
    model = state.model
    levels = compare_pairs(features, candidates.left, candidates.right, config)
    scored = _typo_gate(_score(features, candidates.left, candidates.right, levels, model, config), trusted)
    scored = pd.concat([scored, _household_scored(coded, features, borrowed, model, config, is_new)],
                       ignore_index=True)
    del coded
    new_edges = scored[scored["match_probability"] >= config.thresholds.review]
    position = pd.Series(np.arange(len(union)), index=union["record_key"].to_numpy())
    edges = pd.concat([_edges_by_position(state.edges, position), new_edges], ignore_index=True)
    stages.done("scoring", scored_pairs=len(scored), accepted_links=int(accepted_mask(new_edges, config).sum()))

    decided = _decision_positions(decisions, union["record_key"])
    touched = is_new.copy()
    for l, r in decided.values():
        touched[l] = touched[r] = True
    affected = _affected_records(features, edges, touched, config, decided["must_link"])
    sub_index = np.flatnonzero(affected)
    sub = union.iloc[sub_index].reset_index(drop=True)
    sub_position = np.full(len(union), -1)
    sub_position[sub_index] = np.arange(len(sub_index))
    inside = affected[edges["l"].to_numpy()] & affected[edges["r"].to_numpy()]
    sub_edges = edges[inside].copy()
    sub_edges["l"], sub_edges["r"] = sub_position[sub_edges["l"]], sub_position[sub_edges["r"]]
    previous = state.links.set_index("record_key")["person_id"]
    sub_features = features.take(sub_index)
    links_sub, conflicts_sub, refused = _cluster_records(sub, sub_features.trusted, node_index(sub_features), sub_edges,
                                                         decisions, previous, config)

    old_links = state.links[~state.links["record_key"].isin(sub["record_key"])]
    links = pd.concat([old_links, links_sub], ignore_index=True)
    links = links.set_index("record_key").loc[union["record_key"]].reset_index()[list(LINK_COLUMNS)]
    untouched_persons = set(old_links["person_id"])
    conflicts = pd.concat([state.conflicts[state.conflicts["person_id"].isin(untouched_persons)], conflicts_sub],
                          ignore_index=True)
    conflicts = _with_borrowed(conflicts, links, borrowed)
    keys = union["record_key"].to_numpy(dtype=object)
    review = _review_pairs(edges, keys, links["person_id"].to_numpy(), trusted, decisions, model, config)
    stages.done("clustering", reclustered_records=len(sub), refused_links=refused,
                **_stage_counts(links, conflicts, review))
    resolution = Resolution(links=links, review_pairs=review, conflicts=conflicts, model=model,
                            edges=_edges_by_key(edges, keys), counts=stages.counts,
                            seconds=stages.seconds)
    return resolution, union


def train_from_decisions(records: pd.DataFrame, decisions: pd.DataFrame, model: FSModel,
                         config: MatchingConfig) -> tuple[FSModel, pd.DataFrame]:
    """A supervised model from steward decisions, and both models' probabilities on the decided pairs.

    Returns (supervised model, table record_key_l, record_key_r, decision, p_unsupervised,
    p_supervised) so the two can be compared before switching.
    """
    records = _check_records(records)
    decided = _decision_positions(decisions, records["record_key"])
    left = np.concatenate([decided["must_link"][0], decided["cannot_link"][0]])
    right = np.concatenate([decided["must_link"][1], decided["cannot_link"][1]])
    is_match = np.r_[np.ones(len(decided["must_link"][0]), bool), np.zeros(len(decided["cannot_link"][0]), bool)]
    features = prepare_features(records)
    levels = compare_pairs(features, left, right, config)
    supervised = train_supervised(levels, is_match, model)
    name_frequency = model.name_frequency(features.name_keys(left))
    keys = records["record_key"].to_numpy(dtype=object)
    table = pd.DataFrame({
        "record_key_l": keys[left], "record_key_r": keys[right],
        "decision": np.where(is_match, "must_link", "cannot_link"),
        "p_unsupervised": probability(match_weight(model, levels, name_frequency)),
        "p_supervised": probability(match_weight(supervised, levels, name_frequency)),
    })
    return supervised, table


# ---------------------------------------------------------------- one record (survey app)

@dataclass(frozen=True)
class MatchIndex:
    """The stored records coded once, with their blocking keys sorted, for looking up one record."""

    features: Features                                # value codes of every stored record
    keys: dict[str, tuple[np.ndarray, np.ndarray]]   # rule → (sorted uint64 keys, record positions)
    bodies: tuple[np.ndarray, np.ndarray]             # (sorted 17-digit ID bodies, record positions)
    person: np.ndarray                                # person_id per stored record
    record_key: np.ndarray                            # record_key per stored record


def _sorted(keys: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], positions[order]


def build_match_index(state: ResolverState, config: MatchingConfig) -> MatchIndex:
    """Index the stored records once (kept in state.cache by resolve_one)."""
    records = state.records
    features, _ = without_borrowed_numbers(prepare_features(records))
    keys = {}
    for rule in config.blocking.lookup_rules:
        # A between-numbers rule keys like an ordinary one (the query meets those records there): not indexed twice.
        if rule.fields != (NEIGHBOURHOOD_FIELD,) and not rule.between_id_numbers:
            positions, hashes = rule_keys(features, rule)
            keys[rule.name] = _sorted(hashes, positions)
    positions, bodies = id_bodies(features)
    person = records["record_key"].map(state.links.set_index("record_key")["person_id"]).to_numpy(dtype=object)
    return MatchIndex(features=features, keys=keys, bodies=_sorted(bodies, positions), person=person,
                      record_key=records["record_key"].to_numpy(dtype=object))


def _in_sorted(sorted_keys: np.ndarray, positions: np.ndarray, wanted: np.ndarray, cap: int) -> list[np.ndarray]:
    """Positions whose key is one of `wanted`, skipping keys held by more than `cap` records."""
    lo = np.searchsorted(sorted_keys, wanted, "left")
    hi = np.searchsorted(sorted_keys, wanted, "right")
    return [positions[a:b] for a, b in zip(lo, hi) if 0 < b - a <= cap]


def _lookup(index: MatchIndex, query: Features, config: MatchingConfig) -> np.ndarray:
    """Stored record positions sharing a blocking key with the one coded query record."""
    found = []
    cap = config.blocking.max_block_size
    for rule in config.blocking.lookup_rules:
        if rule.fields == (NEIGHBOURHOOD_FIELD,):
            if query.id_has18[0]:
                # Every body one typo away, looked up directly (compare.id_edit_kind grades them).
                number = query.id_digits[0].tobytes().decode("ascii")
                found += _in_sorted(*index.bodies, typo_variants(number), cap)
            continue
        if rule.between_id_numbers:
            continue
        keys = np.array(sorted(rule_keys_one(query, rule)), dtype=np.uint64)
        found += _in_sorted(*index.keys[rule.name], keys, cap)
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


_NAME_DIFFERENT = 4   # FIELD_LEVELS["name"].index("different")
_SAME_ROOM, _SAME_BUILDING = 0, 1   # FIELD_LEVELS["address"]


def _at_door(query: Features, levels: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """For a door query (an address, perhaps a heard name, no ID number, phone or birth date): which
    candidates live at its flat (its house, for a village or road address without a room) and do not
    have a different name. They are shown below the review threshold too, for the surveyor to pick;
    None for any other query."""
    if query.id_code[0] >= 0 or (query.phones[0] >= 0).any() or query.birth[0, 0] > 0 or "address" not in levels:
        return None
    has_room = bool((query.address[0, :, _SAME_ROOM] >= 0).any())
    if not has_room and not (query.address[0, :, _SAME_BUILDING] >= 0).any():
        return None
    place = levels["address"]
    here = (place == _SAME_ROOM) if has_room else (place >= 0) & (place <= _SAME_BUILDING)
    name = levels.get("name")
    return here if name is None else here & (name != _NAME_DIFFERENT)


def _name_similarity(features: Features, last: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Jaro–Winkler of the query's pinyin with each kept candidate's (0 without a name): ranks a heard name's
    candidates at one address when their match probabilities tie."""
    query = features.name_string[len(features.name_string) - 1].as_py()
    if query is None or len(kept) == 0:
        return np.zeros(len(kept))
    names = features.name_string.take(pa.array(kept)).to_pylist()
    return np.array([JaroWinkler.similarity(query, name) if name else 0.0 for name in names])


# resolve_one's answer when nothing is near enough (copied: building an empty frame costs 0.15 ms).
_NO_CANDIDATES = pd.DataFrame(columns=["person_id", "match_probability", "record_key", "method", "explanation"])


def resolve_one(record_fragment: pd.DataFrame | Mapping[str, object], state: ResolverState, config: MatchingConfig) -> pd.DataFrame:
    """Rank the stored persons a single new canonical record may belong to (the survey app's query).

    Returns person_id, match_probability, record_key (the best matching stored record),
    method ('id_number' for an equal trusted number, else 'probabilistic') and the
    explanation JSON, best first; only candidates at or above the review threshold.
    """
    row = record_fragment if isinstance(record_fragment, Mapping) else record_fragment.iloc[0].to_dict()
    query = features_of_one(row)
    if "match_index" not in state.cache:
        state.cache["match_index"] = build_match_index(state, config)
    index: MatchIndex = state.cache["match_index"]
    found = _lookup(index, query, config)
    if len(found) == 0:
        return _NO_CANDIDATES.copy()
    # The candidates, then the query as the last row: pair i is (query, candidate i).
    features = index.features.take(found).append(query)
    last = np.full(len(found), len(found))
    levels = compare_levels(features, last, np.arange(len(found)), config)
    name_frequency = state.model.name_frequency(features.name_keys(last))
    weight = match_weight(state.model, levels, name_frequency)
    trusted = features.trusted
    same_id = trusted[-1] & trusted[:-1] & (levels["id_number"] == 0) if "id_number" in levels else \
        np.zeros(len(found), bool)
    chance = np.where(same_id, 1.0, probability(weight))
    kept = chance >= config.thresholds.review
    at_door = _at_door(query, levels)
    if at_door is not None:
        kept |= at_door
    kept = np.flatnonzero(kept)
    order = (np.lexsort((-_name_similarity(features, last, kept), -chance[kept])) if at_door is not None
             else np.argsort(-chance[kept], kind="stable"))
    kept = kept[order]
    if len(kept) == 0:
        return _NO_CANDIDATES.copy()
    # The best record of each person, best first (kept is already in that order). A set, not pandas: a handful.
    seen: set[object] = set()
    kept = kept[[not (p in seen or seen.add(p)) for p in index.person[found[kept]].tolist()]]
    # The dict is in column order already (pandas' columns= argument would reindex: 0.15 ms per lookup).
    return pd.DataFrame({
        "person_id": index.person[found[kept]],
        "match_probability": chance[kept],
        "record_key": index.record_key[found[kept]],
        "method": np.where(same_id[kept], "id_number", "probabilistic"),
        "explanation": explanation_json(state.model, {f: v[kept] for f, v in levels.items()}, name_frequency[kept]),
    })
