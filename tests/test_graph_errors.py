"""Foreign errors become graph errors that name the store, the operation and whether to retry."""
from __future__ import annotations

import socket

import pytest

from graph import StoreBusy, StoreError, StoreSpecError, StoreUnavailable
from graph.embedded import EmbeddedStore
from graph.neo4j_store import Neo4jSettings, Neo4jStore


def _closed_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_neo4j_is_a_retryable_unavailable_store():
    settings = Neo4jSettings(uri=f"bolt://127.0.0.1:{_closed_local_port()}", password="test-only", max_retry_time=0)
    with Neo4jStore(settings) as store, pytest.raises(StoreUnavailable) as caught:
        store.person("P1")
    assert caught.value.retryable and caught.value.operation == "person_by_id"
    assert "127.0.0.1" in str(caught.value) and "NEO4J_URI" in str(caught.value)


def test_neo4j_settings_come_from_the_environment():
    settings = Neo4jSettings.from_env(env={"NEO4J_URI": "neo4j://graph.test:7687", "NEO4J_USERNAME": "analyst",
                                           "NEO4J_PASSWORD": "test-only", "NEO4J_BATCH_SIZE": "500"})
    assert (settings.user, settings.database, settings.batch_size) == ("analyst", "neo4j", 500)
    with pytest.raises(StoreSpecError, match="NEO4J_BATCH_SIZE"):
        Neo4jSettings.from_env(env={"NEO4J_URI": "neo4j://graph.test:7687", "NEO4J_BATCH_SIZE": "lots"})


def test_a_bad_cypher_text_on_the_embedded_store_names_store_and_operation(tmp_path):
    with EmbeddedStore(tmp_path / "g", buffer_pool_mb=128) as store, pytest.raises(StoreError) as caught:
        store._rows("MATCH (p:Nobody) RETURN p", {}, "probe")
    assert not caught.value.retryable and caught.value.operation == "probe"
    assert str(tmp_path / "g") in str(caught.value)


def test_a_second_writer_is_told_the_store_is_busy(tmp_path):
    store = EmbeddedStore(tmp_path / "g", buffer_pool_mb=128)
    with store._write_lock("first writer"), pytest.raises(StoreBusy) as caught:
        with EmbeddedStore(tmp_path / "g", buffer_pool_mb=128)._write_lock("second writer"):
            pass
    assert caught.value.retryable
