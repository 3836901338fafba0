"""The stewards' review queue: uncertain pairs and conflicts, highest impact first, and their decisions.

A decision is kept in the graph (STEWARD_DECISION, history) and wins over the model in
every later run (the pipeline turns match / not_match into must / cannot links). Here it
also takes effect at once: the affected component is re-resolved with the decision and
its persons re-statused (api.engine.Engine.decide → resolver.attach.recluster).
"""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query

from api.deps import AuditDep, ServicesDep, StewardDep
from api.errors import ApiError
from api.models import (
    ConflictDecisionIn, DecisionIn, DecisionOut, ErrorOut, ImpactOut, ReviewDetailOut, ReviewItemOut, ReviewQueueOut,
)
from api.present import detail_out, explanation_out, status_change_out
from api.routes.persons import PERSON_ID
from api.security import Caller
from resolver.schema import TRUSTED_ID_STATUSES
from resolver.status import assign_statuses

router = APIRouter(prefix="/v1/review", tags=["review 人工复核"])
PAIR_KEY = r"^[A-Za-z0-9_\-]{4,600}$"
ITEM_ID = r"^(pair-[A-Za-z0-9_\-]{4,600}|conflict-P[0-9a-f]{12}(-[0-9]+)?)$"


def pair_id(record_key_l: str, record_key_r: str) -> str:
    text = f"{record_key_l}\t{record_key_r}".encode("utf-8")
    return "pair-" + base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def parse_item(item_id: str) -> tuple[str, str, str]:
    """('pair', l, r) or ('conflict', person_id, '')."""
    kind, _, rest = item_id.partition("-")
    if kind == "conflict":
        return "conflict", rest, ""
    try:
        text = base64.urlsafe_b64decode(rest + "=" * (-len(rest) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    left, tab, right = text.partition("\t")
    if not (tab and left and right):
        raise ApiError(404, f"条目编号无效 (no such review item) {item_id} — 从 GET /v1/review/queue 取得 (take ids from the queue)")
    return "pair", left, right


def _queue(services) -> list[ReviewItemOut]:
    engine = services.engine
    items = []
    for pair in engine.open_pairs():
        item = pair.item
        items.append(ReviewItemOut(
            item_id=pair_id(item.record_key_l, item.record_key_r), kind="pair",
            match_probability=round(item.match_probability, 6), record_key_l=item.record_key_l,
            record_key_r=item.record_key_r, person_id_l=pair.person_l, person_id_r=pair.person_r,
            name_l=item.name_l, name_r=item.name_r,
            impact=ImpactOut(changes_status=pair.changes_status, score=pair.impact, status_l=pair.status_l,
                             status_r=pair.status_r)))
    for row in engine.conflicts():
        score = 2 if row.get("status") == "UNENROLLED" else 1
        items.append(ReviewItemOut(
            item_id=f"conflict-{row['person_id']}", kind="conflict", match_probability=None, record_key_l=None,
            record_key_r=None, person_id_l=row["person_id"], person_id_r=None, name_l=row.get("name"), name_r=None,
            impact=ImpactOut(changes_status=None, score=score, status_l=row.get("status"), status_r=None),
            reason="同一人员下有多个有效身份证号或被拆分 (several valid ID numbers, or a split): "
                   + "、".join(n for n in row.get("id_numbers") or [] if n)))
    # Highest impact first; among equals pairs before conflicts, then the most uncertain (stable sort keeps it).
    items.sort(key=lambda i: -i.impact.score)
    return items


@router.get("/queue", response_model=ReviewQueueOut, summary="待复核队列，影响最大者在前 the review queue, highest impact first")
def queue(caller: StewardDep, services: ServicesDep, note: AuditDep,
          kind: Annotated[str | None, Query(pattern=r"^(pair|conflict)$", description="pair 或 conflict")] = None,
          skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
          limit: Annotated[int, Query(ge=1, le=5000)] = 50) -> ReviewQueueOut:
    """Uncertain pairs whose merge would change a survey target's status first, then other status changes, then
    the rest, each most uncertain first; conflicts of survey targets rank with the first group."""
    limit = min(limit, services.settings.max_page)
    items = [i for i in _queue(services) if kind is None or i.kind == kind]
    page = items[skip:skip + limit]
    note.saw(p for i in page for p in (i.person_id_l, i.person_id_r))
    return ReviewQueueOut(items=page, total=len(items), skip=skip, limit=limit)


def _conflict_pairs(view) -> list[list[str]]:
    """Record pairs a steward can settle a conflict with: records of the person holding different valid ID
    numbers, and the links the resolver cut when it split the cluster (its open matches)."""
    records = [r for rs in view.records_by_source.values() for r in rs
               if r.fields.get("id_status") in TRUSTED_ID_STATUSES]
    firsts = pd.DataFrame([{"key": r.record_key, "id": r.fields.get("id_number")} for r in records],
                          columns=["key", "id"]).drop_duplicates("id")["key"].tolist()
    pairs = [[a, b] for i, a in enumerate(firsts) for b in firsts[i + 1:]]
    pairs += [[m["record_key"], m["other_record_key"]] for m in view.open_matches]
    return pairs


def _merged_status(services, person_ids: list[str]) -> str | None:
    """The status the persons would have as one person (what a match would give)."""
    records = services.engine.records_of(person_ids)
    if records.empty:
        return None
    merged = records.assign(person_id="merged")
    return str(assign_statuses(merged, services.engine.as_of)["status"].iloc[0])


def _details(services, caller: Caller, person_ids: list[str]):
    out = []
    for person_id in dict.fromkeys(p for p in person_ids if p):
        view = services.engine.person_360(person_id)
        if view is not None:
            derived = services.engine.derived_profile(view) if not view.person.name else None
            out.append(detail_out(view, caller, services.labels, derived))
    return out


@router.get("/{item_id}", response_model=ReviewDetailOut, responses={404: {"model": ErrorOut}},
            summary="复核条目详情：双方记录、证据、合并后的状态 one item with both sides, the evidence and the merged status")
def item(item_id: Annotated[str, Path(pattern=ITEM_ID)], caller: StewardDep, services: ServicesDep,
         note: AuditDep) -> ReviewDetailOut:
    engine = services.engine
    kind, left, right = parse_item(item_id)
    if kind == "conflict":
        view = engine.person_360(left)
        if view is None:
            raise ApiError(404, f"没有人员 {left} (no such person)")
        suggested = _conflict_pairs(view)
        note.saw([left])
        summary = ReviewItemOut(
            item_id=item_id, kind="conflict", match_probability=None, record_key_l=None, record_key_r=None,
            person_id_l=left, person_id_r=None, name_l=view.person.name, name_r=None,
            impact=ImpactOut(changes_status=None, score=2 if view.person.status == "UNENROLLED" else 1,
                             status_l=view.person.status, status_r=None))
        return ReviewDetailOut(item=summary, explanation=None, persons=_details(services, caller, [left]),
                               suggested_pairs=suggested)
    persons = engine.live.persons_of([left, right])
    if left not in persons or right not in persons:
        raise ApiError(404, f"记录不存在 (no such record): {left if left not in persons else right}")
    person_l, person_r = persons[left], persons[right]
    open_pair = next((p for p in engine.open_pairs() if (p.item.record_key_l, p.item.record_key_r) == (left, right)),
                     None)
    status_l, status_r = engine.status_of([person_l, person_r])
    merged = _merged_status(services, [person_l, person_r]) if person_l != person_r else status_l
    note.saw([person_l, person_r])
    summary = ReviewItemOut(
        item_id=item_id, kind="pair", match_probability=round(open_pair.item.match_probability, 6) if open_pair else None,
        record_key_l=left, record_key_r=right, person_id_l=person_l, person_id_r=person_r,
        name_l=open_pair.item.name_l if open_pair else None, name_r=open_pair.item.name_r if open_pair else None,
        impact=ImpactOut(changes_status=merged is not None and (merged != status_l or merged != status_r),
                         score=open_pair.impact if open_pair else 0, status_l=status_l, status_r=status_r,
                         merged_status=merged))
    explanation = explanation_out(open_pair.item.explanation) if open_pair else None
    return ReviewDetailOut(item=summary, explanation=explanation, persons=_details(services, caller, [person_l, person_r]))


def _decide(services, caller: Caller, note, item_id: str, decision: DecisionIn, left: str, right: str) -> DecisionOut:
    engine = services.engine
    note.detail.update(decision=decision.decision, record_key_l=left, record_key_r=right)
    known = engine.live.persons_of([left, right])
    note.saw([known[left], known[right]])
    # The decision lands in the graph, which cannot commit with the audit file: the intention is committed
    # first (no change without a row), the outcome row follows when the answer is known.
    services.audit.record_intent(note, {})
    outcome = engine.decide(left, right, decision.decision, caller.name, decision.note)
    note.saw(c.person_id for c in outcome.statuses)
    return DecisionOut(item_id=item_id, decision=decision.decision, record_key_l=left, record_key_r=right,
                       status_changes=[status_change_out(c) for c in outcome.statuses], seconds=outcome.seconds)


# Two operations on the same URLs the queue hands out (pair-… and conflict-… item ids), so that the schema
# states what each needs: a pair is its own two records; a conflict names the two records it is about.
@router.post("/pair-{pair_key}/decision", response_model=DecisionOut,
             responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
             summary="数据管理员判定疑似匹配：同一人/非同一人/不确定 a steward's decision on a pair: match / not_match / unsure")
def decide_pair(pair_key: Annotated[str, Path(pattern=PAIR_KEY, description="item_id 去掉 pair- 前缀 the item id "
                                                                            "after pair-")],
                body: DecisionIn, caller: StewardDep, services: ServicesDep, note: AuditDep) -> DecisionOut:
    """The affected persons are re-clustered and re-statused at once; the decision is kept and wins over the
    model in later runs. 404 when the pair's records do not exist."""
    item_id = f"pair-{pair_key}"
    _, left, right = parse_item(item_id)
    known = services.engine.live.persons_of([left, right])
    if left not in known or right not in known:
        raise ApiError(404, f"记录不存在 (no such record): {left if left not in known else right}")
    if left == right:
        raise ApiError(404, f"条目编号无效 (no such review item) {item_id}: 两条记录相同 (the same record twice)")
    return _decide(services, caller, note, item_id, body, left, right)


@router.post("/conflict-{person_id}/decision", response_model=DecisionOut,
             responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
             summary="数据管理员判定冲突中的一对记录 a steward's decision on two records of a conflict")
def decide_conflict(person_id: Annotated[str, Path(pattern=PERSON_ID, description="冲突人员编号 the person of the "
                                                                                   "conflict (item_id after conflict-)")],
                    body: ConflictDecisionIn, caller: StewardDep, services: ServicesDep, note: AuditDep) -> DecisionOut:
    """Name the two records (a pair from the item's suggested_pairs). 404 when a record does not exist; 409 when
    the two are the same record or neither belongs to the person."""
    left, right = body.record_key_l, body.record_key_r
    owners = services.engine.live.persons_of([left, right])
    if left not in owners or right not in owners:
        raise ApiError(404, f"记录不存在 (no such record): {left if left not in owners else right}")
    if left == right:
        raise ApiError(409, "两条记录相同，无从判定 (the two records are the same: take a pair from suggested_pairs)",
                       fields=[{"field": "record_key_r", "message": "两条记录不能相同 (the two records must differ)"}])
    if person_id not in (owners[left], owners[right]):
        raise ApiError(409, f"两条记录都不属于人员 {person_id} (neither record belongs to {person_id}): "
                            "请从 suggested_pairs 中选取 (take the pair from suggested_pairs)",
                       fields=[{"field": "record_key_l", "message": f"至少一条记录须属于人员 {person_id} "
                                                                   f"(one record must belong to {person_id})"}])
    return _decide(services, caller, note, f"conflict-{person_id}", body, left, right)
