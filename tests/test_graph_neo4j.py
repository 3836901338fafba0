"""The embedded store's test bodies, run against a live Neo4j when NEO4J_URI is set.

No Neo4j server can run on these machines (see DEVELOPERS.md), so here they are skipped.
Point NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE) at a disposable database:
every run written by these tests replaces the whole graph in it.
"""
from __future__ import annotations

import os

import pytest

from graph.neo4j_store import Neo4jSettings, Neo4jStore
from test_graph_embedded import (  # noqa: F401  (collected here again, on Neo4j)
    test_a_decision_on_an_unknown_record_is_refused, test_a_failed_run_leaves_the_previous_graph_readable_and_can_be_repeated,
    test_a_new_run_replaces_the_graph_and_keeps_run_history_and_decisions, test_a_run_lands_with_every_label_counted,
    test_a_status_update_changes_status_flags_and_provenance, test_a_status_update_for_an_unknown_person_is_refused,
    test_a_steward_decision_takes_the_pair_off_the_queue, test_an_unsure_decision_keeps_the_pair_on_the_queue,
    test_person_360_groups_records_by_source_and_explains_the_status,
    test_person_shows_status_flags_and_the_run_that_set_them, test_persons_are_found_by_id_number,
    test_review_queue_leaves_out_pairs_a_steward_has_decided, test_run_data_without_needed_columns_is_refused_naming_them,
    test_schema_setup_can_run_again, test_unknown_person_is_none, test_upserting_a_survey_record_links_it_to_the_person,
    test_upserting_an_existing_record_moves_it_to_another_person, test_work_list_filters_by_street_and_community,
    test_work_list_pages_the_unenrolled_of_a_district, test_writing_the_same_run_again_gives_the_same_graph,
)
from test_graph_sample import sample_run
from test_named_queries import (  # noqa: F401
    test_conflicts_show_the_competing_id_numbers, test_employed_not_enrolled_include_housing_fund_contributors,
    test_employers_ranked_by_unenrolled_workers, test_households_with_mixed_statuses,
    test_insured_elsewhere_counted_by_province, test_person_360_lists_every_record_and_marks_the_deciding_one,
    test_taxpayers_not_enrolled_name_their_withholding_employer, test_unenrolled_counts_per_community,
    test_unenrolled_persons_of_one_street, test_unenrolled_persons_page_through_skip_and_limit,
    test_unplaced_persons_carry_the_reason, test_uncertain_links_leave_out_decided_pairs,
    test_an_empty_result_still_names_its_columns,
)

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason=(
        "NEO4J_URI 未设置 (not set): no Neo4j server runs on these machines (DEVELOPERS.md, 'Neo4j'); "
        "set NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD to a disposable database to run these")),
]


def _empty_neo4j_store() -> Neo4jStore:
    # Small batches so that even the sample run exercises several UNWIND batches and switch rounds.
    s = Neo4jStore(Neo4jSettings.from_env(), batch_size=4, switch_batch_size=5)
    s.clear()
    s.setup_schema()
    return s


@pytest.fixture
def store():
    s = _empty_neo4j_store()
    yield s
    s.close()


@pytest.fixture
def loaded(store):
    store.write_run(sample_run())
    return store


@pytest.fixture(scope="module")
def queried():
    s = _empty_neo4j_store()
    s.write_run(sample_run())
    yield s
    s.close()
