"""The embeddings column on real PostgreSQL: its dimension checked when the pool opens, vectors of
one model compared only with each other, invoices stored without a vector when the model fails,
and re-embedding. Tests that resize the column use a fresh database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings, LlmSettings
from shared.embeddings import HashingEmbedder, OpenAIEmbedder
from shared.errors import ConfigurationError
from shared.llm.connection import openai_client
from shared.storage import invoices
from shared.storage.database import open_pool
from shared.storage.scope import Scope
from shared.storage.vectors import column_dimensions, reembed
from tests.fakes.openai_server import error, fake_openai
from tests.support.invoices import store


class OtherModel(HashingEmbedder):
    """The same vectors under another model's name: what a switch of models leaves behind."""

    @property
    def model(self) -> str:
        return "another-model"


@contextmanager
def pool_of(url: str, dimensions: int | None) -> Iterator[ConnectionPool]:
    pool = open_pool(DatabaseSettings(url=url, pool_max=2), embedding_dimensions=dimensions)
    try:
        yield pool
    finally:
        pool.close()


def _hnsw_index(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'embeddings_hnsw'"
    ).fetchone()
    return str(row[0]) if row else None


def _embedded(conn: psycopg.Connection[Any], invoice_id: UUID) -> tuple[str, int] | None:
    row = conn.execute(
        "SELECT model, vector_dims(embedding) FROM embeddings WHERE invoice_id = %s",
        (invoice_id,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def test_the_first_start_with_another_dimension_resizes_the_empty_column(
    fresh_database: str, owner: str
) -> None:
    with pool_of(fresh_database, 384) as pool, pool.connection() as conn:
        assert column_dimensions(conn) == 384
        index = _hnsw_index(conn)
        assert index is not None and "hnsw (embedding vector_cosine_ops)" in index
        invoice_id = store(conn, owner, embedder=HashingEmbedder(384))
        assert _embedded(conn, invoice_id) == ("hashing-v1-384", 384)


def test_the_same_dimension_again_starts_and_keeps_the_vectors(
    fresh_database: str, owner: str
) -> None:
    with pool_of(fresh_database, 256) as pool, pool.connection() as conn:
        invoice_id = store(conn, owner)
    with pool_of(fresh_database, 256) as pool, pool.connection() as conn:
        assert column_dimensions(conn) == 256
        assert _embedded(conn, invoice_id) == ("hashing-v1-256", 256)


def test_another_dimension_once_vectors_exist_refuses_to_start_naming_both(
    fresh_database: str, owner: str
) -> None:
    with pool_of(fresh_database, 256) as pool, pool.connection() as conn:
        store(conn, owner)
    with pytest.raises(ConfigurationError) as refused:
        open_pool(DatabaseSettings(url=fresh_database), embedding_dimensions=1536)
    message = refused.value.message
    assert "EMBEDDINGS_DIMENSIONS is 1536" in message and "256-dimensional" in message
    assert "python -m shared reembed" in message
    with psycopg.connect(fresh_database) as conn:
        assert column_dimensions(conn) == 256


def test_a_pool_opened_without_a_dimension_leaves_the_column_alone(fresh_database: str) -> None:
    with pool_of(fresh_database, 64):
        pass
    with pool_of(fresh_database, None) as pool, pool.connection() as conn:
        assert column_dimensions(conn) == 64


def test_reembed_to_another_dimension_replaces_every_vector(
    fresh_database: str, owner: str
) -> None:
    with pool_of(fresh_database, 256) as pool, pool.connection() as conn:
        stored = [store(conn, owner, vendor_name=f"Vendor {n}") for n in range(3)]
        deleted = store(conn, owner, vendor_name="Deleted GmbH")
        invoices.soft_delete(conn, Scope.user(owner), deleted)
        conn.execute("DELETE FROM embeddings WHERE invoice_id = %s", (stored[0],))
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        result = reembed(conn, HashingEmbedder(64), batch=2)
        assert result.resized == (256, 64)
        assert result.embedded == 3
        assert [_embedded(conn, i) for i in stored] == [("hashing-v1-64", 64)] * 3
        assert _embedded(conn, deleted) is None  # dropped with the rest, not embedded again
        assert reembed(conn, HashingEmbedder(64)).embedded == 0
    with pool_of(fresh_database, 64) as pool, pool.connection() as conn:
        assert column_dimensions(conn) == 64


def test_reembed_fills_in_missing_and_other_model_vectors_only(
    pool: ConnectionPool, owner: str
) -> None:
    with pool.connection() as conn:
        current, missing, other = (store(conn, owner, vendor_name=n) for n in ("A", "B", "C"))
        conn.execute("DELETE FROM embeddings WHERE invoice_id = %s", (missing,))
        conn.execute("UPDATE embeddings SET model = 'old' WHERE invoice_id = %s", (other,))
        before = conn.execute(
            "SELECT created_at FROM embeddings WHERE invoice_id = %s", (current,)
        ).fetchone()
        reembed(conn, HashingEmbedder())
        assert _embedded(conn, missing) == _embedded(conn, other) == ("hashing-v1-256", 256)
        after = conn.execute(
            "SELECT created_at FROM embeddings WHERE invoice_id = %s", (current,)
        ).fetchone()
    assert after == before


def test_similar_and_search_compare_only_vectors_of_one_model(
    pool: ConnectionPool, owner: str
) -> None:
    with pool.connection() as conn:
        target = store(conn, owner, vendor_name="Papeterie Dupont", invoice_date=None)
        same_model = store(conn, owner, vendor_name="Papeterie Dupond", invoice_date=None)
        other_model = store(
            conn, owner, embedder=OtherModel(), vendor_name="Papeterie Dupont", invoice_date=None
        )
        scope = Scope.user(owner)
        neighbours = [s.invoice.id for s in invoices.similar(conn, scope, target)]
        assert neighbours == [same_model]
        assert [s.invoice.id for s in invoices.similar(conn, scope, other_model)] == []
        found = invoices.search(conn, scope, "Papetrie Dupon", embedder=HashingEmbedder())
        assert other_model not in [s.invoice.id for s in found]  # no word matches, no vector


def test_an_invoice_whose_embedding_fails_is_stored_without_one(
    pool: ConnectionPool, owner: str
) -> None:
    with fake_openai() as fake:
        fake.queue("embeddings", error(500, "embeddings are down"))
        embedder = OpenAIEmbedder(
            openai_client(LlmSettings(base_url=fake.base_url, max_attempts=1)),
            "text-embedding-3-small",
            256,
        )
        with pool.connection() as conn:
            invoice_id = store(conn, owner, embedder=embedder, duplicate_max_distance=0.5)
            record = invoices.get(conn, Scope.user(owner), invoice_id)
            assert _embedded(conn, invoice_id) is None
            assert invoices.similar(conn, Scope.user(owner), invoice_id) == []
            # the next one embeds again (the server answers): nothing stuck
            second = store(conn, owner, embedder=embedder, vendor_name="Other Vendor AG")
            assert _embedded(conn, second) == ("text-embedding-3-small", 256)
    assert record.status.value == "extracted" and record.duplicate_of is None


def test_the_reembed_command_moves_a_database_to_the_configured_dimension(
    fresh_database: str,
    owner: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shared.__main__ import main
    from shared.config import get_settings

    with pool_of(fresh_database, 256) as pool, pool.connection() as conn:
        stored = [store(conn, owner, vendor_name=name) for name in ("Acme", "Globex")]
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.setenv("EMBEDDINGS_DIMENSIONS", "64")
    monkeypatch.delenv("EMBEDDINGS_MODEL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["reembed"]) == 0
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().out.splitlines() == [
        "embeddings column resized from 256 to 64 dimensions; every earlier vector was dropped",
        "embedded 2 invoices with hashing-v1-64",
    ]
    with pool_of(fresh_database, 64) as pool, pool.connection() as conn:
        assert [_embedded(conn, i) for i in stored] == [("hashing-v1-64", 64)] * 2
