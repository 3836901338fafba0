"""The bulk estimate (the persons' arrears_low column, arrears_rows) is the per-person estimate, on the sample."""
from __future__ import annotations

import math

import pandas as pd

from resolver.arrears import ARREARS_FLAGS, arrears_rows, estimate_arrears, load_contribution_policy, scheme_records
from resolver.pipeline import StoreLayout, person_arrears_low
from resolver.runs import load_linked_records, load_persons
from test_api import AS_OF, sample_store


def test_every_owing_persons_bulk_estimate_is_the_per_person_estimate(tmp_path_factory):
    layout = StoreLayout.for_store(str(sample_store(tmp_path_factory)))
    persons, records = load_persons(layout), load_linked_records(layout)
    policy = load_contribution_policy()
    owing = persons[persons["flags"].fillna("").str.contains("|".join(ARREARS_FLAGS))].set_index("person_id")
    bulk = person_arrears_low(records, persons.set_index("person_id"), AS_OF)
    rows = arrears_rows(records, owing.index, AS_OF, policy)
    enrolments = records[records["source"] == "si_enrolment"]
    estimated = 0
    for person_id, stored in owing["arrears_low"].items():
        estimate = estimate_arrears(scheme_records(enrolments[enrolments["person_id"] == person_id]), AS_OF, policy)
        own = rows[rows["person_id"] == person_id]
        assert [(r.scheme, r.state, r.payer, r.last_paid, r.months_owed, r.months_beyond_window, r.total_low,
                 r.total_high, r.complete_low, r.complete_high, r.missing) for r in own.itertuples()] == [
            (s.scheme, s.state, s.payer, s.last_paid, s.months_owed, s.months_beyond_window, float(s.total_low),
             float(s.total_high), s.complete_low, s.complete_high, "；".join(s.missing)) for s in estimate.schemes
        ], person_id
        if estimate.schemes:
            estimated += float(estimate.total_low) > 0
            assert bulk[person_id] == float(estimate.total_low), person_id   # exactly, not approximately
            assert stored == float(estimate.total_low), person_id            # the column the run stored
        else:
            assert person_id not in bulk.index and math.isnan(stored), person_id
    assert len(owing) >= 20 and estimated >= 10, (len(owing), estimated)   # the sample holds such persons
    assert not set(bulk.index) - set(owing.index)
    assert isinstance(bulk, pd.Series) and bulk.index.name == "person_id"
