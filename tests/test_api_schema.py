"""Schemathesis fuzzes every operation of the OpenAPI schema in-process: no input may cause a 5xx, and every
answer must match its documented schema (the error shape included)."""
from __future__ import annotations


import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

import api.contract.schemathesis_hooks  # noqa: F401 — values for the custom formats, so uploads get through
from api import create_app, load_settings
from api.database import Database
from api.security import Users
from test_api import sample_store_copy

TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    store = sample_store_copy(tmp_path_factory, "schema")
    api_settings = load_settings({"store": str(store), "flush_seconds": 0}, env={})
    TOKENS["admin"] = Users(Database(api_settings.database_file)).add("fuzz_admin", "admin")
    app = create_app(api_settings)
    with TestClient(app):             # the lifespan opens the store for the fuzzed calls
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_input_causes_a_server_error(api_schema):
    """Every operation, 25 generated requests each (schemathesis' pytest plugin does not run on pytest 9, so the
    operations are driven here with hypothesis directly)."""
    failures = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKENS['admin']}"},
                                   checks=[not_a_server_error, response_schema_conformance, content_type_conformance])

        try:
            fuzz()
        except Exception as failure:  # noqa: BLE001 — collected per operation and reported together below
            failures[operation.label] = f"{type(failure).__name__}: {str(failure)[:1500]}"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
