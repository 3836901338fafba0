"""Library objects → API models, masked for the caller (art. 33). No I/O: the routes fetch, this shapes."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from api.masking import community_address, iso, mask_birth, mask_name, record_fields
from api.models import (
    CandidateOut, ExplanationOut, PersonDetailOut, PersonOut, PlaceOut, RecordOut, RunOut, SchemeOut,
    StatusChangeOut, StatusOut, SurveyEventOut, SurveyOut,
)
from api.security import Caller
from api.surveys import STATE_LABELS, Survey, acts_for_other_district, sees_candidate
from graph import Person360, PersonView
from graph.model import DISTRICT_NAMES
from resolver.arrears import SchemeRecord, scheme_records
from resolver.attach import MERGED_STATUS, StatusChange
from resolver.standardise.id_number import mask_id_number
from resolver.standardise.phones import mask_phone

GENDERS = {"M": "男", "F": "女"}


def place_out(district_code: str | None, street: str | None = None, community: str | None = None) -> PlaceOut:
    return PlaceOut(district_code=district_code, district_name=DISTRICT_NAMES.get(district_code or ""),
                    street=street, community=community)


def person_out(view: PersonView, caller: Caller, labels: Mapping[str, str],
               derived: Mapping[str, Any] | None = None) -> PersonOut:
    """A person as the caller may see it; ``derived`` fills a bare node's profile and place from its records."""
    extra = derived or {}
    name = view.name or extra.get("name")
    id_number = view.id_number or extra.get("id_number")
    birth = view.birth_date or extra.get("birth_date")
    district = view.district_code or extra.get("district_code")
    street = view.street or extra.get("street")
    community = view.community or extra.get("community")
    unmasked = caller.may_unmask(district, street)
    return PersonOut(
        person_id=view.person_id,
        name=name if unmasked else mask_name(name),
        id_number=id_number if unmasked else mask_id_number(id_number),
        gender=GENDERS.get(view.gender or extra.get("gender") or "", view.gender),
        birth_date=(iso(birth) if unmasked else mask_birth(birth)) if birth is not None else None,
        status=status_out(view.status, view.status_rule, view.status_records, view.flags, labels),
        place=place_out(district, street, community),
        dispatch_reason=view.dispatch_reason or extra.get("dispatch_reason"),
        run_id=view.run_id,
        masked=not unmasked,
    )


def status_out(status: str | None, rule: str | None, records: tuple[str, ...] | list[str], flags: tuple[str, ...],
               labels: Mapping[str, str]) -> StatusOut:
    label = "已合并入其他人员 merged" if status == MERGED_STATUS else labels.get(status or "")
    return StatusOut(status=status, label=label, rule=rule, records=list(records), flags=list(flags),
                     flag_labels=[labels.get(f, f) for f in flags])


def person_place(view: Person360, derived: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """The district and street that decide who may see a person."""
    extra = derived or {}
    return (view.person.district_code or extra.get("district_code"), view.person.street or extra.get("street"))


def detail_out(view: Person360, caller: Caller, labels: Mapping[str, str],
               derived: Mapping[str, Any] | None = None) -> PersonDetailOut:
    person = person_out(view.person, caller, labels, derived)
    unmasked = not person.masked
    by_source = {
        source: [RecordOut(record_key=r.record_key, source=r.source, record_id=r.record_id,
                           match_probability=r.match_probability, method=r.method,
                           fields=record_fields(r.fields, unmasked)) for r in records]
        for source, records in sorted(view.records_by_source.items())
    }
    matches = [{k: v for k, v in m.items() if k != "explanation"} for m in view.open_matches]
    run = RunOut(run_id=view.run.run_id, as_of=view.run.as_of, landed_at=aware(view.run.landed_at)) if view.run else None
    return PersonDetailOut(person=person, records_by_source=by_source,
                           status_evidence=[r.record_key for r in view.status_evidence], open_matches=matches, run=run,
                           schemes=schemes_out(person_schemes(view)))


def person_schemes(view: Person360) -> list[SchemeRecord]:
    """The person's si_enrolment records as scheme records (resolver/arrears.py)."""
    import pandas as pd

    rows = [{**r.fields, "record_key": r.record_key, "source": "si_enrolment"}
            for r in view.records_by_source.get("si_enrolment", [])]
    return scheme_records(pd.DataFrame(rows)) if rows else []


def schemes_out(schemes: list[SchemeRecord]) -> list[SchemeOut]:
    """Schemes as the API shows them: the unit's name left out (only whether one pays)."""
    return [SchemeOut(scheme=s.scheme, state=s.state, first_enrolment=s.first_enrolment, last_paid=s.last_paid,
                      with_employer=bool(s.employer), record_key=s.record_key) for s in schemes]


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored time with its UTC offset: the store keeps the run's local wall-clock time (graph.model writes
    datetime.now()), so a naive value is this machine's local time."""
    return moment.astimezone() if moment is not None and moment.tzinfo is None else moment


def explanation_out(explanation: str | Mapping[str, Any] | None) -> ExplanationOut | None:
    if not explanation:
        return None
    data = json.loads(explanation) if isinstance(explanation, str) else dict(explanation)
    return ExplanationOut.model_validate(data)


def candidate_out(candidate: Any, caller: Caller, labels: Mapping[str, str]) -> CandidateOut:
    return CandidateOut(
        person_id=candidate.person_id, match_probability=round(candidate.match_probability, 6),
        method=candidate.method, matched_record=candidate.record_key,
        explanation=explanation_out(candidate.explanation),
        person=person_out(candidate.person, caller, labels) if candidate.person else None,
    )


def status_change_out(change: StatusChange) -> StatusChangeOut:
    return StatusChangeOut(person_id=change.person_id, before=change.before, after=change.after,
                           flags=list(change.flags), merged_into=change.merged_into)


def survey_out(survey: Survey, caller: Caller, replayed: bool = False,
               changes: tuple[StatusChange, ...] = ()) -> SurveyOut:
    """A survey; its personal fields masked unless the caller may see its area unmasked (or is the centre of the
    district its matched person lives in); the matched person's id, and the status changes, only for callers who
    may see that person."""
    payload = dict(survey.payload)
    shown = sees_candidate(caller, survey)
    if not (caller.may_unmask(survey.district_code, survey.street) or acts_for_other_district(caller, survey)):
        payload["name"] = mask_name(payload.get("name"))
        payload["id_number"] = mask_id_number(payload.get("id_number"))
        payload["phone"] = mask_phone(payload.get("phone"))
        for key, role in (("household_address", "household"), ("residence_address", "residence")):
            if payload.get(key):
                record = survey.record
                payload[key] = community_address(record.get(f"{role}_district_code"), record.get(f"{role}_street"),
                                                 record.get(f"{role}_community")) or "***"
    return SurveyOut(
        survey_id=survey.survey_id, record_key=survey.record_key, state=survey.state.value,
        state_label=STATE_LABELS[survey.state], district_code=survey.district_code, street=survey.street,
        submitted_by=survey.submitted_by, submitted_at=survey.submitted_at, updated_at=survey.updated_at,
        return_reason=survey.return_reason, other_district=survey.other_district,
        candidate_person=survey.candidate_person if shown else None,
        candidate_probability=survey.candidate_probability if shown else None,
        person_id=survey.person_id if shown else None, survey=payload,
        history=[SurveyEventOut(**vars(e)) for e in survey.events], replayed=replayed,
        status_changes=[status_change_out(c) for c in changes] if shown else [],
    )
