"""Survey review states (art. 20): submitted → approved (street centre) → confirmed (district centre), or returned.

    submitted ──approve (street_reviewer)──▶ approved ──confirm (district_reviewer)──▶ confirmed
        │                                       │
        └──return + reason (street)──▶ returned ◀──return + reason (district)──┘
    returned ──the surveyor uploads the corrected survey under the same 调查编号──▶ submitted

Uploads are idempotent on 调查编号: the same payload again changes nothing. Only a
confirmation attaches the survey to the person graph and so changes statuses; it runs
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
from api.security import Caller, Role


class SurveyState(str, Enum):
    submitted = "submitted"
    approved = "approved"
    confirmed = "confirmed"
    returned = "returned"


class ReviewAction(str, Enum):
    approve = "approve"
    confirm = "confirm"
    ret = "return"


STATE_LABELS = {SurveyState.submitted: "已提交", SurveyState.approved: "街道已审核",
                SurveyState.confirmed: "区已确认", SurveyState.returned: "已退回"}
# action → (states it applies to, roles that may take it, state after)
TRANSITIONS: dict[ReviewAction, tuple[frozenset[SurveyState], frozenset[Role], SurveyState]] = {
    ReviewAction.approve: (frozenset({SurveyState.submitted}), frozenset({Role.street_reviewer, Role.admin}),
                           SurveyState.approved),
    ReviewAction.confirm: (frozenset({SurveyState.approved}), frozenset({Role.district_reviewer, Role.admin}),
                           SurveyState.confirmed),
    ReviewAction.ret: (frozenset({SurveyState.submitted, SurveyState.approved}),
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
    events: tuple[SurveyEvent, ...] = ()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _survey(row: sqlite3.Row, events: list[sqlite3.Row]) -> Survey:
    return Survey(
        survey_id=row["survey_id"], record_key=row["record_key"], state=SurveyState(row["state"]),
        payload=json.loads(row["payload"]), payload_hash=row["payload_hash"], record=json.loads(row["record"]), district_code=row["district_code"],
        street=row["street"], submitted_by=row["submitted_by"], submitted_at=row["submitted_at"],
        updated_at=row["updated_at"], candidate_person=row["candidate_person"],
        candidate_probability=row["candidate_probability"], person_id=row["person_id"],
        return_reason=row["return_reason"],
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
               candidate: tuple[str, float] | None,
               audit: Callable[[sqlite3.Connection], object] | None = None) -> tuple[Survey, bool]:
        """Store an upload; returns (survey, created). A repeated identical upload changes nothing;
        a different one under the same 调查编号 is refused unless the survey was returned for correction.
        ``audit(conn)`` appends the request's audit row in the same transaction as the change."""
        now = _now()
        person, probability = candidate or (None, None)
        with self.database.transaction() as conn:
            existing = self._load(conn, survey_id)
            if existing is not None and existing.payload_hash == payload_hash:
                return existing, False
            if existing is not None and existing.state is not SurveyState.returned:
                raise ApiError(409, f"调查编号 {survey_id} 已提交过不同的内容，当前状态 {existing.state.value} "
                                    f"(survey id already used with different content; only a returned survey may be "
                                    f"corrected) — 请使用新的调查编号或等待退回 (use a new id or wait for a return)")
            values = (record_key, SurveyState.submitted.value, json.dumps(payload, ensure_ascii=False), payload_hash,
                      json.dumps(record, ensure_ascii=False), district_code, street, now, person, probability)
            if existing is None:
                conn.execute(
                    "INSERT INTO surveys (record_key, state, payload, payload_hash, record, district_code, street, "
                    "updated_at, candidate_person, candidate_probability, survey_id, submitted_by, submitted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, survey_id, caller.name, now))
                action = "submit"
            else:
                conn.execute(
                    "UPDATE surveys SET record_key = ?, state = ?, payload = ?, payload_hash = ?, record = ?, "
                    "district_code = ?, street = ?, updated_at = ?, candidate_person = ?, candidate_probability = ?, "
                    "return_reason = NULL WHERE survey_id = ?", (*values, survey_id))
                action = "resubmit"
            self._event(conn, survey_id, caller, action, SurveyState.submitted, None, now)
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
        if action is ReviewAction.ret and caller.role in RETURN_FROM:
            states = frozenset({RETURN_FROM[caller.role]})
        if action is ReviewAction.ret and not (reason or "").strip():
            raise ApiError(422, STATUS_REASON_REQUIRED, fields=[{"field": "reason", "message": STATUS_REASON_REQUIRED}])
        now = _now()
        with self.database.transaction() as conn:
            survey = self._load(conn, survey_id)
            if survey is None:
                raise ApiError(404, f"没有调查编号 {survey_id} (no such survey)")
            if not caller.covers(survey.district_code, survey.street):
                raise ApiError(403, f"调查 {survey_id} 不在您的辖区 (survey outside your area: {caller.district}"
                                    f"{' ' + caller.street if caller.street else ''})")
            if survey.state not in states:
                raise ApiError(409, f"调查 {survey_id} 当前状态为 {survey.state.value}（{STATE_LABELS[survey.state]}），"
                                    f"不能 {action.value} (survey is {survey.state.value}; {action.value} applies to "
                                    f"{', '.join(sorted(s.value for s in states))})")
            person_id = attach(survey) if action is ReviewAction.confirm and attach is not None else None
            conn.execute(
                "UPDATE surveys SET state = ?, updated_at = ?, return_reason = ?, person_id = COALESCE(?, person_id) "
                "WHERE survey_id = ? AND state = ?",
                (after.value, now, reason if action is ReviewAction.ret else None, person_id, survey_id,
                 survey.state.value))
            self._event(conn, survey_id, caller, action.value, after, reason, now)
            if audit is not None:
                audit(conn)
            return self._load(conn, survey_id)  # type: ignore[return-value]

    def _event(self, conn: sqlite3.Connection, survey_id: str, caller: Caller, action: str, state: SurveyState,
               reason: str | None, at: str) -> None:
        conn.execute("INSERT INTO survey_events (survey_id, at, actor, role, action, state_after, reason) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (survey_id, at, caller.name, caller.role.value, action,
                                                      state.value, reason))

    def list(self, *, state: SurveyState | None, district_code: str | None, street: str | None,
             skip: int, limit: int) -> tuple[list[Survey], int]:
        """Surveys of an area (None = any), newest first, paged."""
        where, params = ["1 = 1"], []
        for column, value in (("state", state.value if state else None), ("district_code", district_code),
                              ("street", street)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where)
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
