"""Score an export against the generator's truth: pairwise P/R/F1, clusters, hard cases, statuses.

Pairwise figures come from the contingency table of (predicted person, true person)
record counts, never from listing pairs, so they work at millions of records.
Inputs are frames: the export's links.csv / persons.csv and the truth's records.csv /
persons.csv, read by the caller with every column as text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resolver.errors import InputError

CONFLICT_FLAG = "CONFLICT"


@dataclass(frozen=True)
class PairwiseScores:
    """Co-clustered record pairs: predicted, true, both; and precision, recall, F1."""

    predicted_pairs: int
    true_pairs: int
    true_positive_pairs: int

    @property
    def precision(self) -> float:
        return self.true_positive_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Evaluation:
    """Everything `canbao evaluate` prints."""

    pairwise: PairwiseScores
    clusters: dict[str, int]
    hard_cases: dict[str, int]
    status: pd.DataFrame        # status, true_persons, correct, accuracy (one row per true status + overall)
    unmatched: dict[str, int]   # records only in the export / only in the truth
    targets: dict[str, float] = field(default_factory=dict)   # survey-target and flag precision/recall


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pairwise_scores(predicted: pd.Series, truth: pd.Series, apart: pd.Series | None = None) -> PairwiseScores:
    """Pairwise scores of two labellings of the same records (aligned Series).

    `apart` (aligned, optional) leaves out every pair whose two records hold different non-null
    values of it — e.g. two different trusted ID numbers, which the rules forbid linking without
    a steward — from the predicted, true and correct pairs alike.
    """
    table = pd.DataFrame({"p": predicted.to_numpy(), "t": truth.to_numpy()})
    counts = {
        "predicted_pairs": _grouped_pairs(table, ["p"], apart),
        "true_pairs": _grouped_pairs(table, ["t"], apart),
        "true_positive_pairs": _grouped_pairs(table, ["p", "t"], apart),
    }
    return PairwiseScores(**counts)


def _grouped_pairs(table: pd.DataFrame, by: list[str], apart: pd.Series | None) -> int:
    """Record pairs inside the groups of `by`, less those holding two different `apart` values."""
    pairs = _pairs(table.groupby(by, sort=False).size().to_numpy())
    if apart is None:
        return pairs
    valued = table.assign(a=apart.to_numpy())[apart.notna().to_numpy()]
    # Pairs of valued records in a group, less the pairs that share the value: those holding two values.
    return pairs - (_pairs(valued.groupby(by, sort=False).size().to_numpy())
                    - _pairs(valued.groupby([*by, "a"], sort=False).size().to_numpy()))


def _joined(links: pd.DataFrame, truth_records: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    key = ["source", "record_id"]
    left = links[key + ["person_id"]].astype({"source": str, "record_id": str})
    right = truth_records[key + ["person_id"]].astype({"source": str, "record_id": str})
    joined = left.merge(right, on=key, how="outer", suffixes=("", "_true"), indicator=True)
    unmatched = {
        "export_only": int((joined["_merge"] == "left_only").sum()),
        "truth_only": int((joined["_merge"] == "right_only").sum()),
    }
    return joined[joined["_merge"] == "both"].drop(columns="_merge"), unmatched


def _cluster_counts(joined: pd.DataFrame) -> dict[str, int]:
    true_per_predicted = joined.groupby("person_id")["person_id_true"].nunique()
    predicted_per_true = joined.groupby("person_id_true")["person_id"].nunique()
    size_p = joined.groupby("person_id").size()
    size_t = joined.groupby("person_id_true").size()
    pure = true_per_predicted[true_per_predicted == 1].index
    first_true = joined.groupby("person_id")["person_id_true"].first()
    exact = sum(int(size_p[p] == size_t[first_true[p]]) for p in pure)
    return {
        "predicted_persons": int(len(size_p)),
        "true_persons": int(len(size_t)),
        "exact_clusters": exact,
        "merged_clusters": int((true_per_predicted > 1).sum()),
        "split_true_persons": int((predicted_per_true > 1).sum()),
    }


def _hard_cases(joined: pd.DataFrame, persons: pd.DataFrame, truth_persons: pd.DataFrame) -> dict[str, int]:
    truth = truth_persons.set_index("person_id")
    members = joined[["person_id", "person_id_true"]].drop_duplicates()
    flags = persons.set_index("person_id")["flags"].fillna("") if "flags" in persons else pd.Series(dtype=str)
    flagged = members["person_id"].map(flags).fillna("").str.split("|").map(lambda f: CONFLICT_FLAG in f)
    out: dict[str, int] = {}
    if "hard_case" in truth:
        for tag, key in (("twin", "twin_clusters_merged"), ("common_name_birthday", "namesake_clusters_merged")):
            tagged = members["person_id_true"].map(truth["hard_case"].fillna("").str.contains(tag))
            per_cluster = members[tagged.fillna(False).to_numpy(dtype=bool)].groupby("person_id").size()
            out[key] = int((per_cluster > 1).sum())
    if "id_number" in truth:
        has_id = members["person_id_true"].map(truth["id_number"].fillna("").str.len() > 0).fillna(False)
        with_id = members[has_id.to_numpy() & ~flagged.to_numpy()].groupby("person_id").size()
        out["unflagged_clusters_with_two_id_holders"] = int((with_id > 1).sum())
        flagged_with_id = members[has_id.to_numpy() & flagged.to_numpy()].groupby("person_id").size()
        out["flagged_clusters_with_two_id_holders"] = int((flagged_with_id > 1).sum())
    out["conflict_flagged_persons"] = int(flagged.groupby(members["person_id"].to_numpy()).any().sum())
    return out


def _status_accuracy(joined: pd.DataFrame, persons: pd.DataFrame, truth_persons: pd.DataFrame) -> pd.DataFrame:
    """Per true status: how many true persons got that status on the predicted person holding most of their records."""
    if "status" not in truth_persons or "status" not in persons:
        return pd.DataFrame(columns=["status", "true_persons", "correct", "accuracy"])
    counts = joined.groupby(["person_id_true", "person_id"]).size().reset_index(name="n")
    counts = counts.sort_values(["person_id_true", "n", "person_id"], ascending=[True, False, True])
    main = counts.drop_duplicates("person_id_true").set_index("person_id_true")["person_id"]
    predicted = main.map(persons.set_index("person_id")["status"])
    true = truth_persons.set_index("person_id")["status"].reindex(main.index)
    table = pd.DataFrame({"status": true, "correct": (predicted == true)})
    per = table.groupby("status").agg(true_persons=("correct", "size"), correct=("correct", "sum")).reset_index()
    overall = pd.DataFrame([{"status": "(all)", "true_persons": len(table), "correct": int(table["correct"].sum())}])
    per = pd.concat([per, overall], ignore_index=True)
    per["accuracy"] = per["correct"] / per["true_persons"]
    return per


def _main_persons(joined: pd.DataFrame, by: str, other: str) -> pd.Series:
    """For each person of column `by`, the person of column `other` holding most of its records (ties: smaller id)."""
    counts = joined.groupby([by, other]).size().reset_index(name="n")
    counts = counts.sort_values([by, "n", other], ascending=[True, False, True])
    return counts.drop_duplicates(by).set_index(by)[other]


def _has_flag(flags: pd.Series, flag: str) -> pd.Series:
    return flags.fillna("").str.split("|").map(lambda f: flag in f)


def _targets(joined: pd.DataFrame, persons: pd.DataFrame, truth_persons: pd.DataFrame) -> dict[str, float]:
    """Precision of UNENROLLED (survey targets), precision/recall of CONFLICT, recall of DECEASED.

    A predicted person is judged by the true person holding most of its records, a true person
    by the predicted person holding most of its records (as the status accuracy is).
    """
    if not {"status", "flags"} <= set(persons.columns) or not {"status", "flags"} <= set(truth_persons.columns):
        return {}
    predicted = persons.drop_duplicates("person_id").set_index("person_id")
    truth = truth_persons.drop_duplicates("person_id").set_index("person_id")
    true_of = _main_persons(joined, "person_id", "person_id_true")
    predicted_of = _main_persons(joined, "person_id_true", "person_id")
    p_status = predicted["status"].reindex(true_of.index)
    t_status_of_p = true_of.map(truth["status"])
    t_status = truth["status"].reindex(predicted_of.index)
    p_status_of_t = predicted_of.map(predicted["status"])
    p_conflict = _has_flag(predicted["flags"], CONFLICT_FLAG).reindex(true_of.index, fill_value=False)
    t_conflict_of_p = true_of.map(_has_flag(truth["flags"], CONFLICT_FLAG)).fillna(False).astype(bool)
    t_conflict = _has_flag(truth["flags"], CONFLICT_FLAG).reindex(predicted_of.index, fill_value=False)
    p_conflict_of_t = predicted_of.map(_has_flag(predicted["flags"], CONFLICT_FLAG)).fillna(False).astype(bool)

    def share(hit: pd.Series, of: pd.Series) -> float:
        return float(hit[of].mean()) if of.any() else 1.0

    unenrolled = p_status == "UNENROLLED"
    return {
        "unenrolled_predicted": int(unenrolled.sum()),
        "unenrolled_precision": share(t_status_of_p == "UNENROLLED", unenrolled),
        "unenrolled_recall": share(p_status_of_t == "UNENROLLED", t_status == "UNENROLLED"),
        "conflict_predicted": int(p_conflict.sum()),
        "conflict_true": int(t_conflict.sum()),
        "conflict_precision": share(t_conflict_of_p, p_conflict),
        "conflict_recall": share(p_conflict_of_t, t_conflict),
        "deceased_recall": share(p_status_of_t == "DECEASED", t_status == "DECEASED"),
    }


def evaluate(links: pd.DataFrame, persons: pd.DataFrame, truth_records: pd.DataFrame,
             truth_persons: pd.DataFrame) -> Evaluation:
    """Compare an export (links, persons) with the truth (records, persons)."""
    for name, frame, needed in (("links.csv", links, ["source", "record_id", "person_id"]),
                                ("truth/records.csv", truth_records, ["source", "record_id", "person_id"]),
                                ("truth/persons.csv", truth_persons, ["person_id"])):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"{name}: 缺少列 missing column(s) {missing} — is this the right folder?")
    joined, unmatched = _joined(links, truth_records)
    return Evaluation(
        pairwise=pairwise_scores(joined["person_id"], joined["person_id_true"]),
        clusters=_cluster_counts(joined),
        hard_cases=_hard_cases(joined, persons, truth_persons),
        status=_status_accuracy(joined, persons, truth_persons),
        unmatched=unmatched,
        targets=_targets(joined, persons, truth_persons),
    )


def format_evaluation(evaluation: Evaluation) -> str:
    """The report `canbao evaluate` prints (Chinese labels, English in brackets)."""
    p = evaluation.pairwise
    lines = [
        "成对评估 pairwise (co-clustered record pairs)",
        f"  精确率 precision {p.precision:.5f}   召回率 recall {p.recall:.5f}   F1 {p.f1:.5f}",
        f"  预测对 predicted {p.predicted_pairs:,}   真实对 true {p.true_pairs:,}   命中 both {p.true_positive_pairs:,}",
        "聚类 clusters",
    ]
    lines += [f"  {k}: {v:,}" for k, v in evaluation.clusters.items()]
    lines.append("难例 hard cases")
    lines += [f"  {k}: {v:,}" for k, v in evaluation.hard_cases.items()]
    lines.append("记录对齐 record alignment")
    lines += [f"  {k}: {v:,}" for k, v in evaluation.unmatched.items()]
    if evaluation.targets:
        lines.append("调查对象与标记 survey targets and flags")
        lines += [f"  {k}: {v:.4f}" if isinstance(v, float) else f"  {k}: {v:,}" for k, v in evaluation.targets.items()]
    if len(evaluation.status):
        lines.append("状态准确率 status accuracy")
        for row in evaluation.status.itertuples(index=False):
            lines.append(f"  {row.status:<20} {row.correct:>9,} / {row.true_persons:<9,} {row.accuracy:.4f}")
    return "\n".join(lines)


def _main_person(links: pd.DataFrame, truth_records: pd.DataFrame) -> pd.Series:
    """Each true person's predicted person: the one holding most of its records (ties: the smallest id)."""
    joined, _ = _joined(links, truth_records)
    counts = joined.groupby(["person_id_true", "person_id"]).size().reset_index(name="n")
    counts = counts.sort_values(["person_id_true", "n", "person_id"], ascending=[True, False, True])
    return counts.drop_duplicates("person_id_true").set_index("person_id_true")["person_id"]


# ── The payment-side flags (issue 18): a section of its own ────────────────────────────

PAYMENT_FLAGS: tuple[str, ...] = ("INTERRUPTED", "LAPSED", "NO_PENSION", "NO_MEDICAL")


def payment_flag_accuracy(links: pd.DataFrame, persons: pd.DataFrame, truth_records: pd.DataFrame,
                          truth_persons: pd.DataFrame, flags: tuple[str, ...] = PAYMENT_FLAGS) -> pd.DataFrame:
    """Per flag, over true persons (each judged on the predicted person holding most of its records):
    true and predicted holders, both, precision, recall and agreement (share of persons where they agree)."""
    main = _main_person(links, truth_records)
    predicted = main.map(persons.set_index("person_id")["flags"].fillna("")).fillna("").str.split("|")
    true = truth_persons.set_index("person_id")["flags"].fillna("").reindex(main.index).fillna("").str.split("|")
    rows = []
    for flag in flags:
        has_true = true.map(lambda f, flag=flag: flag in f).to_numpy(dtype=bool)
        has_predicted = predicted.map(lambda f, flag=flag: flag in f).to_numpy(dtype=bool)
        both = int((has_true & has_predicted).sum())
        rows.append({"flag": flag, "true_persons": int(has_true.sum()), "predicted_persons": int(has_predicted.sum()),
                     "both": both,
                     "precision": both / has_predicted.sum() if has_predicted.sum() else 1.0,
                     "recall": both / has_true.sum() if has_true.sum() else 1.0,
                     "agreement": float((has_true == has_predicted).mean()) if len(main) else 1.0})
    return pd.DataFrame(rows)


def format_payment_flags(table: pd.DataFrame) -> str:
    """The payment-flag section `canbao evaluate` prints."""
    lines = ["缴费标记 payment flags (true / predicted / both, precision, recall, agreement)"]
    for row in table.itertuples(index=False):
        lines.append(f"  {row.flag:<12} {row.true_persons:>9,} / {row.predicted_persons:>9,} / {row.both:>9,}  "
                     f"P {row.precision:.4f}  R {row.recall:.4f}  一致 {row.agreement:.5f}")
    return "\n".join(lines)


# ── Dispatch places (issue 16 §1): a section of its own ─────────────────────────────────

_COMMUNITY_SUFFIXES = ("社区居委会", "居委会", "村委会", "社区")


def community_stem_of(name: str) -> str:
    """One community name without its 社区/居委会 suffix."""
    for suffix in _COMMUNITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _community_stem(names: pd.Series) -> pd.Series:
    """A community name without its 社区/居委会 suffix (日华里社区 and 日华里 name one community)."""
    stem = names.fillna("").astype(str)
    for suffix in _COMMUNITY_SUFFIXES:
        stem = stem.where(~stem.str.endswith(suffix), stem.str[: -len(suffix)])
    return stem


def dispatch_scores(links: pd.DataFrame, persons: pd.DataFrame, truth_records: pd.DataFrame,
                    truth_persons: pd.DataFrame) -> pd.DataFrame:
    """Per place level (district, street, community): true persons placed there, and how many the export
    places in the same one, through the predicted person holding most of their records; rows for all
    persons, for true UNENROLLED persons (the survey targets) and for persons whose true community the
    division dictionary does not hold."""
    main = _main_person(links, truth_records)
    truth = truth_persons.set_index("person_id").reindex(main.index)
    predicted = persons.set_index("person_id").reindex(main.to_numpy())
    from resolver.divisions import load_divisions

    divisions = load_divisions()
    known = {community_stem_of(c) for d in divisions.districts() for s in divisions.streets(d.code)
             for c in divisions.communities(s.code)}
    known |= {community_stem_of(c) for d in divisions.districts()
              for zone in divisions.zone_communities(d.code).values() for c in zone}
    stems = _community_stem(truth["community"])
    unknown = ((stems != "") & ~stems.isin(known)).to_numpy()
    scopes = {"all": np.ones(len(main), bool), "UNENROLLED": (truth["status"] == "UNENROLLED").to_numpy(),
              "not_in_dictionary": unknown}
    rows = []
    for scope, chosen in scopes.items():
        for level in ("district_code", "street", "community"):
            t = truth[level].fillna("").astype(str).to_numpy()
            p = predicted[level].fillna("").astype(str).to_numpy()
            if level == "community":
                t = _community_stem(pd.Series(t)).to_numpy()
                p = _community_stem(pd.Series(p)).to_numpy()
            placed = chosen & (t != "")
            rows.append({"persons": scope, "level": level, "true_placed": int(placed.sum()),
                         "correct": int((placed & (t == p)).sum())})
    table = pd.DataFrame(rows)
    table["accuracy"] = table["correct"] / table["true_placed"].where(table["true_placed"] > 0)
    return table


def format_dispatch(table: pd.DataFrame) -> str:
    """The dispatch section `canbao evaluate` prints."""
    lines = ["派单位置 dispatch place (main predicted person's place = true place)"]
    for row in table.itertuples(index=False):
        lines.append(f"  {row.persons:<17} {row.level:<13} {row.correct:>9,} / {row.true_placed:<9,} {row.accuracy:.4f}")
    return "\n".join(lines)
