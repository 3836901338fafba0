"""Survey review states (art. 20): submitted → approved (street centre) → confirmed (district centre), or returned.

    awaiting_other_district ──agree (district_reviewer of the person's district)──▶ submitted
        │
    submitted ──approve (street_reviewer)──▶ approved ──confirm (district_reviewer)──▶ confirmed
        │                                       │
        └──return + reason (street)──▶ returned ◀──return + reason (district)──┘
    awaiting_other_district ──return + reason (that other district's centre)──▶ returned
    returned ──the same surveyor uploads the corrected survey under the same 调查编号──▶ submitted (or awaiting…)

Uploads are idempotent on 调查编号: the same payload again changes nothing. A survey id
belongs to the district and the user that first submitted it: only that user may correct a
returned survey, and the correction stays in that district. A survey whose best candidate
is a person of another district waits for that district's centre to agree before the usual
review (``awaiting_other_district``). Four eyes: whoever submitted a survey may not approve,
agree to or confirm it; whoever approved it may not confirm it — admins included.

Only a confirmation attaches the survey to the person graph and so changes statuses; it runs
inside the SQLite transaction that marks the survey confirmed, so a failed attachment
leaves the survey approved (arts. 19-20; a failed request leaves nothing half-written).
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from api.database import Database
from api.errors import ApiError
from api.security import DISTRICT_ROLES, Caller, Role


class SurveyState(str, Enum):
    submitted = "submitted"
    awaiting_other_district = "awaiting_other_district"
    approved = "approved"
    confirmed = "confirmed"
    returned = "returned"


class ReviewAction(str, Enum):
    approve = "approve"
    confirm = "confirm"
    agree = "agree"
    ret = "return"


STATE_LABELS = {SurveyState.submitted: "已提交", SurveyState.awaiting_other_district: "待他区同意",
                SurveyState.approved: "街道已审核",
                SurveyState.confirmed: "区已确认", SurveyState.returned: "已退回"}
# action → (states it applies to, roles that may take it, state after)
TRANSITIONS: dict[ReviewAction, tuple[frozenset[SurveyState], frozenset[Role], SurveyState]] = {
    ReviewAction.approve: (frozenset({SurveyState.submitted}), frozenset({Role.street_reviewer, Role.admin}),
                           SurveyState.approved),
    ReviewAction.confirm: (frozenset({SurveyState.approved}), frozenset({Role.district_reviewer, Role.admin}),
                           SurveyState.confirmed),
    ReviewAction.agree: (frozenset({SurveyState.awaiting_other_district}),
                         frozenset({Role.district_reviewer, Role.admin}), SurveyState.submitted),
    ReviewAction.ret: (frozenset({SurveyState.submitted, SurveyState.approved, SurveyState.awaiting_other_district}),
                       frozenset({Role.street_reviewer, Role.district_reviewer, Role.admin}), SurveyState.returned),
}
# Who returns from which state: the street centre what it has not approved, the district what the street approved.
RETURN_FROM = {Role.street_reviewer: SurveyState.submitted, Role.district_reviewer: SurveyState.approved}


@dataclass(frozen=True)
class SurveyEvent:
    at: str
    actor: str
    role: str
    action: str
    state_after: str
    reason: str | None


@dataclass(frozen=True)
class Survey:
    """A survey upload and where it stands in the review."""

    survey_id: str
    record_key: str
    state: SurveyState
    payload: dict[str, Any]
    payload_hash: str
    record: dict[str, Any]
    district_code: str | None
    street: str | None
    submitted_by: str
    submitted_at: str
    updated_at: str
    candidate_person: str | None
    candidate_probability: float | None
    person_id: str | None
    return_reason: str | None
    candidate_district: str | None = None   # the district of the best candidate when submitted
    agreed_district: str | None = None      # the district whose centre agreed to the attachment
    events: tuple[SurveyEvent, ...] = ()

    @property
    def other_district(self) -> str | None:
        """The district of the matched person when it is not the survey's own: its centre must agree first."""
        other = self.candidate_district
        return other if other and other != self.district_code else None

    def approver(self) -> str | None:
        """Who approved the current submission (None before an approval)."""
        approver = None
        for event in self.events:
            if event.action in ("submit", "resubmit"):
                approver = None
            elif event.action == ReviewAction.approve.value:
                approver = event.actor
        return approver


def acts_for_other_district(caller: Caller, survey: Survey) -> bool:
    """The centre of the matched person's district, when that is not the survey's district."""
    return (caller.role is Role.district_reviewer and survey.other_district is not None
            and caller.district == survey.other_district)


def may_see(caller: Caller, survey: Survey) -> bool:
    """A survey is seen in its own area, and by the centre of the district its matched person lives in."""
    return caller.covers(survey.district_code, survey.street) or acts_for_other_district(caller, survey)


def sees_candidate(caller: Caller, survey: Survey) -> bool:
    """The matched person's id is shown only to callers who may see that person (its district, or citywide):
    a surveyor never learns the id of another district's resident from a survey."""
    if caller.role not in DISTRICT_ROLES or not survey.candidate_district:
        return True
    return caller.district == survey.candidate_district


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _survey(row: sqlite3.Row, events: list[sqlite3.Row]) -> Survey:
    return Survey(
        survey_id=row["survey_id"], record_key=row["record_key"], state=SurveyState(row["state"]),
        payload=json.loads(row["payload"]), payload_hash=row["payload_hash"], record=json.loads(row["record"]), district_code=row["district_code"],
        street=row["street"], submitted_by=row["submitted_by"], submitted_at=row["submitted_at"],
        updated_at=row["updated_at"], candidate_person=row["candidate_person"],
        candidate_probability=row["candidate_probability"], person_id=row["person_id"],
        return_reason=row["return_reason"], candidate_district=row["candidate_district"],
        agreed_district=row["agreed_district"],
        events=tuple(SurveyEvent(e["at"], e["actor"], e["role"], e["action"], e["state_after"], e["reason"])
                     for e in events),
    )


class SurveyBook:
    """Surveys and their review history in the API's SQLite file."""

    def __init__(self, database: Database):
        self.database = database

    def _load(self, conn: sqlite3.Connection, survey_id: str) -> Survey | None:
        row = conn.execute("SELECT * FROM surveys WHERE survey_id = ?", (survey_id,)).fetchone()
        if row is None:
            return None
        events = conn.execute("SELECT * FROM survey_events WHERE survey_id = ? ORDER BY seq", (survey_id,)).fetchall()
        return _survey(row, events)

    def get(self, survey_id: str) -> Survey | None:
        with self.database.connect() as conn:
            return self._load(conn, survey_id)

    def submit(self, *, survey_id: str, record_key: str, payload: dict[str, Any], payload_hash: str,
               record: dict[str, Any], district_code: str | None, street: str | None, caller: Caller,
               candidate: Candidate | None,
               audit: Callable[[sqlite3.Connection], object] | None = None) -> tuple[Survey, bool]:
        """Store an upload; returns (survey, created). A repeated identical upload changes nothing; a different
        one under the same 调查编号 is refused unless the survey was returned for correction, and then only from
        the user who first submitted it and for the same district. ``audit(conn)`` appends the request's audit
        row in the same transaction as the change."""
        now = _now()
        person, probability, person_district = candidate or (None, None, None)
        state = (SurveyState.awaiting_other_district if person_district and person_district != district_code
                 else SurveyState.submitted)
        with self.database.transaction() as conn:
            existing = self._load(conn, survey_id)
            if existing is not None and existing.payload_hash == payload_hash:
                return existing, False
            if existing is not None and existing.state is not SurveyState.returned:
                raise ApiError(409, f"调查编号 {survey_id} 已提交过不同的内容，当前状态 {existing.state.value} "
                                    f"(survey id already used with different content; only a returned survey may be "
                                    f"corrected) — 请使用新的调查编号或等待退回 (use a new id or wait for a return)")
            if existing is not None:
                _check_owner(existing, caller, district_code)
            values = (record_key, state.value, json.dumps(payload, ensure_ascii=False), payload_hash,
                      json.dumps(record, ensure_ascii=False), district_code, street, now, person, probability,
                      person_district)
            if existing is None:
                conn.execute(
                    "INSERT INTO surveys (record_key, state, payload, payload_hash, record, district_code, street, "
                    "updated_at, candidate_person, candidate_probability, candidate_district, survey_id, "
                    "submitted_by, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, survey_id, caller.name, now))
                action = "submit"
            else:
                conn.execute(
                    "UPDATE surveys SET record_key = ?, state = ?, payload = ?, payload_hash = ?, record = ?, "
                    "district_code = ?, street = ?, updated_at = ?, candidate_person = ?, candidate_probability = ?, "
                    "candidate_district = ?, agreed_district = NULL, return_reason = NULL WHERE survey_id = ?",
                    (*values, survey_id))
                action = "resubmit"
            self._event(conn, survey_id, caller, action, state, None, now)
            if audit is not None:
                audit(conn)
            return self._load(conn, survey_id), True  # type: ignore[return-value]

    def review(self, survey_id: str, action: ReviewAction, caller: Caller, reason: str | None,
               attach: Callable[[Survey], str] | None = None,
               audit: Callable[[sqlite3.Connection], object] | None = None) -> Survey:
        """Take a review action. For a confirmation ``attach(survey)`` runs inside the transaction and returns
        the person the survey was attached to; if it fails, the survey stays as it was. ``audit(conn)`` appends
        the request's audit row in the same transaction as the change."""
        states, roles, after = TRANSITIONS[action]
        if caller.role not in roles:
            raise ApiError(403, f"角色 {caller.role.value} 不能执行 {action.value} (role may not {action.value}); "
                                f"可执行者 (allowed): {', '.join(sorted(r.value for r in roles))}")
        if action is ReviewAction.ret and not (reason or "").strip():
            raise ApiError(422, STATUS_REASON_REQUIRED, fields=[{"field": "reason", "message": STATUS_REASON_REQUIRED}])
        now = _now()
        with self.database.transaction() as conn:
            survey = self._load(conn, survey_id)
            if survey is None:
                raise ApiError(404, f"没有调查编号 {survey_id} (no such survey)")
            states = _states_for(survey, action, caller, states)
            if survey.state not in states:
                raise ApiError(409, f"调查 {survey_id} 当前状态为 {survey.state.value}（{STATE_LABELS[survey.state]}），"
                                    f"不能 {action.value} (survey is {survey.state.value}; {action.value} applies to "
                                    f"{', '.join(sorted(s.value for s in states or TRANSITIONS[action][0]))})")
            _check_four_eyes(survey, action, caller)
            person_id = attach(survey) if action is ReviewAction.confirm and attach is not None else None
            conn.execute(
                "UPDATE surveys SET state = ?, updated_at = ?, return_reason = ?, person_id = COALESCE(?, person_id), "
                "agreed_district = CASE WHEN ? THEN candidate_district ELSE agreed_district END "
                "WHERE survey_id = ? AND state = ?",
                (after.value, now, reason if action is ReviewAction.ret else None, person_id,
                 action is ReviewAction.agree, survey_id, survey.state.value))
            self._event(conn, survey_id, caller, action.value, after, reason, now)
            if audit is not None:
                audit(conn)
            return self._load(conn, survey_id)  # type: ignore[return-value]

    def refer(self, survey_id: str, candidate: Candidate, caller: Caller) -> Survey:
        """Send an approved survey whose best candidate is now a person of another district (one whose centre has
        not agreed) to that district's queue before it can be confirmed."""
        now = _now()
        person, probability, person_district = candidate
        with self.database.transaction() as conn:
            conn.execute(
                "UPDATE surveys SET state = ?, updated_at = ?, candidate_person = ?, candidate_probability = ?, "
                "candidate_district = ?, agreed_district = NULL WHERE survey_id = ?",
                (SurveyState.awaiting_other_district.value, now, person, probability, person_district, survey_id))
            self._event(conn, survey_id, caller, "refer", SurveyState.awaiting_other_district,
                        f"候选人属于 {person_district} 区 (the matched person belongs to district {person_district})",
                        now)
            return self._load(conn, survey_id)  # type: ignore[return-value]

    def _event(self, conn: sqlite3.Connection, survey_id: str, caller: Caller, action: str, state: SurveyState,
               reason: str | None, at: str) -> None:
        conn.execute("INSERT INTO survey_events (survey_id, at, actor, role, action, state_after, reason) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (survey_id, at, caller.name, caller.role.value, action,
                                                      state.value, reason))

    def list(self, *, state: SurveyState | None, district_code: str | None, street: str | None,
             skip: int, limit: int, matched_in: str | None = None) -> tuple[list[Survey], int]:
        """Surveys of an area (None = any) and, with ``matched_in``, those of other districts whose matched person
        lives in that district (its centre's queue), newest first, paged."""
        area, params = ["1 = 1"], []
        for column, value in (("district_code", district_code), ("street", street)):
            if value:
                area.append(f"{column} = ?")
                params.append(value)
        clause = "(" + " AND ".join(area) + ")"
        if matched_in:
            clause = f"({clause} OR (candidate_district = ? AND candidate_district IS NOT district_code))"
            params.append(matched_in)
        if state:
            clause += " AND state = ?"
            params.append(state.value)
        with self.database.connect() as conn:
            total = conn.execute(f"SELECT count(*) FROM surveys WHERE {clause}", params).fetchone()[0]
            rows = conn.execute(f"SELECT survey_id FROM surveys WHERE {clause} ORDER BY updated_at DESC, survey_id "
                                f"LIMIT ? OFFSET ?", (*params, limit, skip)).fetchall()
            return [self._load(conn, r["survey_id"]) for r in rows], total  # type: ignore[misc]

    def confirmed(self) -> list[Survey]:
        """Every confirmed survey (replayed into a state that lacks them at start-up)."""
        with self.database.connect() as conn:
            rows = conn.execute("SELECT survey_id FROM surveys WHERE state = ? ORDER BY updated_at",
                                (SurveyState.confirmed.value,)).fetchall()
            return [self._load(conn, r["survey_id"]) for r in rows]  # type: ignore[misc]


STATUS_REASON_REQUIRED = "退回须写明原因 (a return needs a reason)"
# (person id, match probability, the person's district or None)
Candidate = tuple[str, float, "str | None"]


def _check_owner(existing: Survey, caller: Caller, district_code: str | None) -> None:
    """A survey id belongs to the user and the district that first submitted it."""
    if caller.name != existing.submitted_by:
        raise ApiError(403, f"调查编号 {existing.survey_id} 由 {existing.submitted_by} 提交，只有原调查员可更正 "
                            f"(a survey id belongs to the surveyor who first submitted it) — 请使用新的调查编号 "
                            f"(use a new survey id)")
    if district_code != existing.district_code:
        raise ApiError(409, f"调查编号 {existing.survey_id} 属于 {existing.district_code} 区，更正后的地址在 "
                            f"{district_code} (a survey id stays in the district that first submitted it) — "
                            f"请使用新的调查编号 (use a new survey id)")


def _states_for(survey: Survey, action: ReviewAction, caller: Caller,
                states: frozenset[SurveyState]) -> frozenset[SurveyState]:
    """The states ``action`` applies to for this caller; 403 when the survey is not the caller's to review.

    A survey awaiting another district is that district's centre's (or an admin's) to agree to or return;
    otherwise the survey's own area reviews it, the street centre returning what it has not approved and the
    district centre what the street approved."""
    if survey.state is SurveyState.awaiting_other_district:
        if caller.role is not Role.admin and not acts_for_other_district(caller, survey):
            raise ApiError(403, f"调查 {survey.survey_id} 的候选人属于 {survey.other_district} 区，待该区社会保险中心同意"
                                f" (the matched person belongs to district {survey.other_district}; its centre "
                                f"agrees or returns first)")
        return states & frozenset({SurveyState.awaiting_other_district})
    if not caller.covers(survey.district_code, survey.street):
        raise ApiError(403, f"调查 {survey.survey_id} 不在您的辖区 (survey outside your area: {caller.district}"
                            f"{' ' + caller.street if caller.street else ''})")
    if action is ReviewAction.ret and caller.role in RETURN_FROM:
        return frozenset({RETURN_FROM[caller.role]})
    return states - {SurveyState.awaiting_other_district}


FOUR_EYES_SUBMITTER = "四眼原则：提交人不能审核、同意或确认自己提交的调查 (four eyes: whoever submitted a survey may not " \
                      "approve, agree to or confirm it)"
FOUR_EYES_APPROVER = "四眼原则：街道审核人不能再作区确认 (four eyes: whoever approved a survey may not confirm it)"


def _check_four_eyes(survey: Survey, action: ReviewAction, caller: Caller) -> None:
    """Four eyes, for every role (admins included)."""
    if action is ReviewAction.ret:
        return
    if caller.name == survey.submitted_by:
        raise ApiError(403, f"{FOUR_EYES_SUBMITTER}: {survey.survey_id}")
    if action is ReviewAction.confirm and caller.name == survey.approver():
        raise ApiError(403, f"{FOUR_EYES_APPROVER}: {survey.survey_id}")
