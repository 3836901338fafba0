"""Candidate pairs from a union of blocking rules, by columnar sort-and-group (no recordlinkage index).

Records holding a trusted ID number (valid / converted_15) are linked deterministically,
so an ordinary rule never pairs two of them. Two kinds of rule do, between two different
numbers: the ID-number neighbourhood rule looks for typos (one substitution or one adjacent
transposition in the 17-digit body), and a rule marked `between_id_numbers` pairs the
numbers whose holders share its key (e.g. name and birth date: a sequence code keyed wrong). Keys are built from the value codes of
`compare.Features`, so one survey record gets exactly the keys it would get in bulk.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resolver.compare import ADDRESS_KEY_PARTS, NULL, Features, compare_levels
from resolver.matching_config import (
    ADDRESS_KEY_FIELDS,
    FIELD_LEVELS,
    NEIGHBOURHOOD_FIELD,
    BlockingRule,
    MatchingConfig,
)

_BODY = 17
_ROLES = 2            # household and residence address
# splitmix64's constants, shared by the column form (_mix) and the one-record form (_mix_one).
_GOLDEN, _MIX_1, _MIX_2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class CandidatePairs:
    """Record position pairs (left < right) and, per pair, a bit per rule that produced it."""

    left: np.ndarray
    right: np.ndarray
    rule_mask: np.ndarray                     # uint64, bit i = config.blocking.rules[i]
    rule_names: tuple[str, ...]
    pairs_per_rule: dict[str, int] = field(default_factory=dict)
    skipped_blocks: dict[str, int] = field(default_factory=dict)   # blocks over max_block_size

    def __len__(self) -> int:
        return len(self.left)


def _mix(parts: list[np.ndarray]) -> np.ndarray:
    """One uint64 key per row from several int64 codes (splitmix64 rounds; order matters)."""
    key = np.full(len(parts[0]), _GOLDEN, dtype=np.uint64)
    for part in parts:
        key = key ^ part.astype(np.uint64)
        key = key + np.uint64(_GOLDEN)
        key = (key ^ (key >> np.uint64(30))) * np.uint64(_MIX_1)
        key = (key ^ (key >> np.uint64(27))) * np.uint64(_MIX_2)
        key = key ^ (key >> np.uint64(31))
    return key


def _single_codes(features: Features, name: str) -> np.ndarray:
    """Codes (-1 missing) of a one-valued key field."""
    if name == "birth_date":
        ymd = features.birth.astype(np.int64)
        return np.where(ymd[:, 0] > 0, ymd[:, 0] * 10000 + ymd[:, 1] * 100 + ymd[:, 2], -1)
    if name == "gender":
        return np.where(features.gender > 0, features.gender.astype(np.int64), -1)
    return {
        "id_number": features.id_code, "name_key": features.name_code, "name_pinyin": features.pinyin_code,
        "name_pinyin_folded": features.folded_pinyin_code, "surname": features.surname_code,
        "surname_pinyin": features.surname_pinyin_code, "employer": features.employer[:, 0],
    }[name]


def rule_keys(features: Features, rule: BlockingRule) -> tuple[np.ndarray, np.ndarray]:
    """(record positions, uint64 keys) of one ordinary rule; a record may have several keys.

    Address parts of one rule come from the same address (household or residence); each of
    a record's phones gives a key of its own.
    """
    single = {name: _single_codes(features, name) for name in rule.fields
              if name not in ADDRESS_KEY_FIELDS and name != "phone"}
    roles = range(_ROLES) if any(name in ADDRESS_KEY_FIELDS for name in rule.fields) else [None]
    slots = range(features.phones.shape[1]) if "phone" in rule.fields else [None]
    variants: list[tuple[np.ndarray, np.ndarray]] = []     # (complete, key) per record, one per role × phone
    for role in roles:
        for slot in slots:
            parts = []
            for name in rule.fields:
                if name in single:
                    parts.append(single[name])
                elif name == "phone":
                    parts.append(features.phones[:, slot])
                else:
                    parts.append(features.address[:, role, ADDRESS_KEY_PARTS.index(name)])
            variants.append((np.logical_and.reduce([part >= 0 for part in parts]), _mix(parts)))
    all_positions, all_keys = [], []
    for i, (complete, key) in enumerate(variants):
        # A record with the same key twice (one building as household and residence) counts once.
        keep = complete.copy()
        for earlier_complete, earlier_key in variants[:i]:
            keep &= ~(earlier_complete & (earlier_key == key))
        all_positions.append(np.flatnonzero(keep))
        all_keys.append(key[keep])
    return np.concatenate(all_positions), np.concatenate(all_keys)


def _mix_one(parts: list[int]) -> int:
    """_mix for one row, in Python integers (wrapped to 64 bits as numpy's uint64 arithmetic wraps)."""
    key = _GOLDEN
    for part in parts:
        key = ((key ^ (part & _MASK)) + _GOLDEN) & _MASK
        key = ((key ^ (key >> 30)) * _MIX_1) & _MASK
        key = ((key ^ (key >> 27)) * _MIX_2) & _MASK
        key ^= key >> 31
    return key


def rule_keys_one(features: Features, rule: BlockingRule) -> list[int]:
    """rule_keys of a one-record Features (the survey app's lookup), each key once, in plain Python.

    Numpy's fixed cost per call on one-element arrays made rule_keys a third of a lookup; the keys are
    the same (a test compares the two over every sample record).
    """
    single = {name: int(_single_codes(features, name)[0]) for name in rule.fields
              if name not in ADDRESS_KEY_FIELDS and name != "phone"}
    roles = range(_ROLES) if any(name in ADDRESS_KEY_FIELDS for name in rule.fields) else [None]
    slots = range(features.phones.shape[1]) if "phone" in rule.fields else [None]
    phones = features.phones[0].tolist()
    address = features.address[0].tolist()
    keys: list[int] = []
    for role in roles:
        for slot in slots:
            parts = [single[name] if name in single
                     else phones[slot] if name == "phone"
                     else address[role][ADDRESS_KEY_PARTS.index(name)]
                     for name in rule.fields]
            if all(part >= 0 for part in parts):
                key = _mix_one(parts)
                if key not in keys:
                    keys.append(key)
    return keys


def pairs_within_groups(positions: np.ndarray, keys: np.ndarray, first: np.ndarray,
                        max_block_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs inside each key group that include at least one `first` record.

    Within a group, `first` records are sorted ahead and each pairs with every later
    member, so pairs of two non-`first` records are never produced. Groups bigger than
    max_block_size are skipped; their number is returned.
    """
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    # Keys held once form no pair: drop them by hashing (linear) before the sort.
    shared = pd.Series(keys).duplicated(keep=False).to_numpy()
    positions, keys = positions[shared], keys[shared]
    order = np.lexsort((positions, ~first[positions], keys))
    keys, positions = keys[order], positions[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    too_big = int((sizes > max_block_size).sum())
    group_size = np.repeat(sizes, sizes)
    offset = np.arange(len(keys)) - np.repeat(starts, sizes)
    partners = np.where(first[positions] & (group_size <= max_block_size), group_size - 1 - offset, 0)
    total = int(partners.sum())
    left_index = np.repeat(np.arange(len(keys)), partners)
    step = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    right_index = left_index + 1 + step
    return positions[left_index], positions[right_index], too_big


def _body_keys(digits: np.ndarray) -> list[np.ndarray]:
    """Keys shared by numbers one body substitution, one check-character change or one
    adjacent transposition apart: one key array per masked position / swapped pair."""
    body = digits[:, :_BODY].astype(np.int64)
    powers = 10 ** np.arange(_BODY - 1, -1, -1, dtype=np.int64)
    value = body @ powers
    keys = [value - body[:, p] * powers[p] for p in range(_BODY)]   # body substitution at p
    keys.append(value)                                               # check character only
    for p in range(_BODY - 1):                                       # adjacent transposition at p, p+1
        low, high = np.minimum(body[:, p], body[:, p + 1]), np.maximum(body[:, p], body[:, p + 1])
        keys.append(value - body[:, p] * powers[p] - body[:, p + 1] * powers[p + 1]
                    + low * powers[p] + high * powers[p + 1])
    return keys


def typo_variants(number: str) -> np.ndarray:
    """17-digit bodies (as int64) one body substitution or adjacent transposition from `number`'s body,
    plus the body itself (numbers differing only in the check character)."""
    digits = np.frombuffer(number[:_BODY].encode("ascii"), dtype=np.uint8).astype(np.int64) - ord("0")
    powers = 10 ** np.arange(_BODY - 1, -1, -1, dtype=np.int64)
    body = int(digits @ powers)
    substituted = body + (np.arange(10)[None, :] - digits[:, None]) * powers[:, None]        # (17, 10)
    p = np.arange(_BODY - 1)
    transposed = body + (digits[p + 1] - digits[p]) * powers[p] + (digits[p] - digits[p + 1]) * powers[p + 1]
    return np.unique(np.concatenate([substituted.ravel(), transposed, [body]]))


def _bodies(digits: np.ndarray) -> np.ndarray:
    """int64 17-digit bodies of rows of 18 ASCII ID characters."""
    powers = 10 ** np.arange(_BODY - 1, -1, -1, dtype=np.int64)
    return (digits[:, :_BODY].astype(np.int64) - ord("0")) @ powers


def id_bodies(features: Features) -> tuple[np.ndarray, np.ndarray]:
    """(positions, int64 17-digit bodies) of the records holding an 18-character ID number."""
    positions = np.flatnonzero(features.id_has18)
    return positions, _bodies(features.id_digits[positions])


def neighbourhood_pairs(features: Features) -> tuple[np.ndarray, np.ndarray]:
    """Record pairs whose 18-character ID numbers differ by exactly one typo (not equal numbers)."""
    usable = np.flatnonzero(features.id_has18)
    uniques, first, codes = np.unique(features.id_code[usable], return_index=True, return_inverse=True)
    if len(uniques) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    digits = features.id_digits[usable[first]].astype(np.int64) - ord("0")
    ids = np.arange(len(uniques))
    found_l, found_r = [], []
    everyone = np.ones(len(uniques), dtype=bool)
    for keys in _body_keys(digits):
        l, r, _ = pairs_within_groups(ids, keys, everyone, max_block_size=len(uniques))
        found_l.append(l)
        found_r.append(r)
    number_pairs = np.unique(np.stack([np.concatenate(found_l), np.concatenate(found_r)], axis=1), axis=0)
    if len(number_pairs) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Expand each number pair to all record pairs of the two numbers.
    return _cross_pairs(usable, codes.ravel(), number_pairs[:, 0], number_pairs[:, 1])


def _cross_pairs(positions: np.ndarray, cell: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every record pair between cells a[i] and b[i] (`cell` per record of `positions`), via a CSR over cells."""
    order = positions[np.argsort(cell, kind="stable")]
    sizes = np.bincount(cell, minlength=int(cell.max(initial=-1)) + 1)
    starts = np.cumsum(sizes) - sizes
    per_pair = sizes[a] * sizes[b]
    pair = np.repeat(np.arange(len(a)), per_pair)
    within = np.arange(int(per_pair.sum())) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    i, j = within // sizes[b][pair], within % sizes[b][pair]
    return order[starts[a][pair] + i], order[starts[b][pair] + j]


def between_numbers_pairs(features: Features, rule: BlockingRule, max_block_size: int
                          ) -> tuple[np.ndarray, np.ndarray, int]:
    """Record pairs holding two different trusted ID numbers that share area code and birth date, and
    whose records share a key of `rule`.

    One representative per (key, number) is grouped by key, so a person's many records under one
    number never pair among themselves; each pair of numbers is expanded to all their records
    with that key (the evidence of every department's record counts).
    """
    positions, keys = rule_keys(features, rule)
    keep = features.trusted[positions]
    positions, keys = positions[keep], keys[keep]
    if len(positions) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    cell_key = _mix([keys.view(np.int64), features.id_code[positions]])
    _, first, cell = np.unique(cell_key, return_index=True, return_inverse=True)
    cell = cell.ravel()
    everyone = np.ones(len(first), dtype=bool)
    a, b, too_big = pairs_within_groups(np.arange(len(first)), keys[first], everyone, max_block_size)
    # Only numbers sharing area code and birth date (the first 14 digits) can be one number keyed wrong.
    rep_a, rep_b = positions[first[a]], positions[first[b]]
    both18 = features.id_has18[rep_a] & features.id_has18[rep_b]
    keep = both18 & (features.id_digits[rep_a, :14] == features.id_digits[rep_b, :14]).all(axis=1)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), too_big
    left, right = _cross_pairs(positions, cell, a, b)
    return left, right, too_big


def candidate_pairs(features: Features, config: MatchingConfig, only_with: np.ndarray | None = None) -> CandidatePairs:
    """The union of all blocking rules over coded records, each pair once with its rule bits.

    `only_with` (bool per record) keeps pairs touching at least one marked record: an
    incremental run marks the new records and blocks them against the stored ones.
    """
    not_trusted = ~features.trusted
    n = features.n
    rules = config.blocking.rules
    all_l, all_r, all_bits = [], [], []
    pairs_per_rule: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for bit, rule in enumerate(rules):
        if rule.fields == (NEIGHBOURHOOD_FIELD,):
            left, right = neighbourhood_pairs(features)
            too_big = 0
        elif rule.between_id_numbers:
            left, right, too_big = between_numbers_pairs(features, rule, config.blocking.max_block_size)
        else:
            positions, keys = rule_keys(features, rule)
            if rule.fields == ("id_number",):
                # Equal trusted numbers are already one person; skip them here.
                keep = not_trusted[positions]
                positions, keys = positions[keep], keys[keep]
            if only_with is not None:
                keep = np.isin(keys, np.unique(keys[only_with[positions]]))
                positions, keys = positions[keep], keys[keep]
            left, right, too_big = pairs_within_groups(positions, keys, not_trusted, config.blocking.max_block_size)
        if only_with is not None:
            touching = only_with[left] | only_with[right]
            left, right = left[touching], right[touching]
        low, high = np.minimum(left, right), np.maximum(left, right)
        distinct = low != high
        all_l.append(low[distinct])
        all_r.append(high[distinct])
        all_bits.append(np.full(int(distinct.sum()), np.uint64(1) << np.uint64(bit), dtype=np.uint64))
        pairs_per_rule[rule.name] = int(distinct.sum())
        skipped[rule.name] = too_big
    left, right, bits = np.concatenate(all_l), np.concatenate(all_r), np.concatenate(all_bits)
    pair_code = left * np.int64(n) + right
    unique_codes, inverse = np.unique(pair_code, return_inverse=True)
    mask = np.zeros(len(unique_codes), dtype=np.uint64)
    np.bitwise_or.at(mask, inverse, bits)
    return CandidatePairs(
        left=unique_codes // n if n else unique_codes,
        right=unique_codes % n if n else unique_codes,
        rule_mask=mask,
        rule_names=tuple(r.name for r in rules),
        pairs_per_rule=pairs_per_rule,
        skipped_blocks=skipped,
    )


def _pair_count(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def blocking_report(pairs: CandidatePairs, features: Features, true_person: pd.Series) -> pd.DataFrame:
    """Per rule: pairs generated, true pairs covered and true pairs only this rule finds.

    `true_person` gives each record's true person (aligned with the coded records, null when
    unknown). Counted against the true pairs the probabilistic pass must find, i.e.
    all true pairs except those already joined by an equal trusted ID number.
    """
    truth = pd.Series(true_person.to_numpy(), dtype=object)
    truth_codes = pd.factorize(truth, use_na_sentinel=True)[0]
    known = truth_codes >= 0
    id_codes = np.where(features.trusted, features.id_code, -1)
    all_true = _pair_count(np.bincount(truth_codes[known]))
    both = known & (id_codes >= 0)
    cells = pd.Series(1, index=pd.MultiIndex.from_arrays([truth_codes[both], id_codes[both]])).groupby(level=[0, 1]).size()
    deterministic_true = _pair_count(cells.to_numpy())
    needed = all_true - deterministic_true
    is_true = (truth_codes[pairs.left] == truth_codes[pairs.right]) & (truth_codes[pairs.left] >= 0)
    rows = []
    for bit, name in enumerate(pairs.rule_names):
        has = (pairs.rule_mask & (np.uint64(1) << np.uint64(bit))) != 0
        only = pairs.rule_mask == (np.uint64(1) << np.uint64(bit))
        rows.append({
            "rule": name,
            "pairs": int(has.sum()),
            "true_pairs_covered": int((has & is_true).sum()),
            "true_pairs_only_this_rule": int((only & is_true).sum()),
            "skipped_blocks": pairs.skipped_blocks.get(name, 0),
        })
    rows.append({
        "rule": "(all rules)",
        "pairs": len(pairs),
        "true_pairs_covered": int(is_true.sum()),
        "true_pairs_only_this_rule": 0,
        "skipped_blocks": sum(pairs.skipped_blocks.values()),
    })
    report = pd.DataFrame(rows)
    report["true_pairs_needed"] = needed
    report["recall"] = report["true_pairs_covered"] / needed if needed else float("nan")
    report.attrs["deterministic_true_pairs"] = deterministic_true
    return report


def true_pairs_to_find(features: Features, true_person: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Record pairs of one true person not already joined by an equal trusted number (those blocking must find).

    Pairs with an untrusted record come from grouping by person; pairs of two different trusted numbers
    from one representative per (person, number), expanded, so a person's many same-number records
    are never listed pair by pair.
    """
    truth_codes = pd.factorize(pd.Series(true_person.to_numpy(), dtype=object), use_na_sentinel=True)[0]
    known = np.flatnonzero(truth_codes >= 0)
    keys = truth_codes[known].astype(np.uint64)
    left, right, _ = pairs_within_groups(known, keys, ~features.trusted, max_block_size=len(known) + 1)
    held = known[features.trusted[known]]
    cell_key = _mix([truth_codes[held], features.id_code[held]])
    _, first, cell = np.unique(cell_key, return_index=True, return_inverse=True)
    if len(first) > 1:
        a, b, _ = pairs_within_groups(np.arange(len(first)), truth_codes[held][first].astype(np.uint64),
                                      np.ones(len(first), dtype=bool), max_block_size=len(first) + 1)
        if len(a):
            l2, r2 = _cross_pairs(held, cell.ravel(), a, b)
            left, right = np.r_[left, l2], np.r_[right, r2]
    return np.minimum(left, right), np.maximum(left, right)


def missed_true_pairs(pairs: CandidatePairs, features: Features, true_person: pd.Series, config: MatchingConfig,
                      sources: np.ndarray | None = None, top: int = 20) -> pd.DataFrame:
    """The true pairs no rule brings together, grouped by what their records share (the comparison level of
    each field, and the two sources), most frequent first: a missing blocking rule shows as a big group."""
    left, right = true_pairs_to_find(features, true_person)
    n = np.int64(max(features.n, 1))
    found = np.isin(left * n + right, pairs.left * n + pairs.right)
    left, right = left[~found], right[~found]
    columns = ["shares", "sources", "missed_pairs"]
    if len(left) == 0:
        return pd.DataFrame(columns=columns)
    levels = compare_levels(features, left, right, config)
    parts = []
    for name, values in levels.items():
        names = np.array([*FIELD_LEVELS[name], "missing"], dtype=object)
        parts.append(name + "=" + names[np.where(values == NULL, len(FIELD_LEVELS[name]), values)])
    shares = parts[0]
    for part in parts[1:]:
        shares = shares + " " + part
    if sources is not None:
        pair_sources = np.sort(np.stack([sources[left], sources[right]], axis=1).astype(str), axis=1)
        source_text = pair_sources[:, 0].astype(object) + "+" + pair_sources[:, 1].astype(object)
    else:
        source_text = np.full(len(left), "", dtype=object)
    table = pd.DataFrame({"shares": shares, "sources": source_text})
    grouped = table.groupby(["shares", "sources"]).size().rename("missed_pairs").reset_index()
    return grouped.sort_values(["missed_pairs", "shares", "sources"], ascending=[False, True, True]).head(top) \
        .reset_index(drop=True)[columns]
