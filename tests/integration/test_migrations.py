"""Migrations and the constraints they create, on real PostgreSQL (fresh databases per test:
the `fresh_database` fixture of tests/support/database.py)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared.errors import ConfigurationError
from shared.storage import documents
from shared.storage.migrate import available, migrate


def test_migrations_apply_once_and_then_are_a_no_op(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        assert migrate(conn) == [m.name for m in available()]
        assert migrate(conn) == []
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"documents", "jobs", "job_documents", "invoices", "line_items", "invoice_events",
            "embeddings", "schema_migrations"} <= tables  # fmt: skip


def test_instances_starting_at_once_apply_each_migration_exactly_once(fresh_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_instance() -> None:
        try:
            with psycopg.connect(fresh_database, autocommit=True) as conn:
                barrier.wait()
                results.append(migrate(conn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(len(applied) for applied in results) == [0, 0, 0, len(available())]
    with psycopg.connect(fresh_database) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (len(available()),)


def test_a_changed_migration_is_refused(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(ConfigurationError, match="changed after it was applied"):
            migrate(conn)


def _insert_document(conn: psycopg.Connection[Any], owner: str, sha: str) -> None:
    conn.execute(
        "INSERT INTO documents (owner, sha256, blob_path) VALUES (%s, %s, 'x')", (owner, sha)
    )


def test_the_same_bytes_twice_for_one_owner_is_impossible(pool: ConnectionPool, owner: str) -> None:
    sha = uuid.uuid4().hex * 2
    with pool.connection() as conn:
        _insert_document(conn, owner, sha)
        with pytest.raises(psycopg.errors.UniqueViolation):
            _insert_document(conn, owner, sha)
        _insert_document(conn, owner + "-other", sha)  # another owner may have the same file


def test_register_returns_the_existing_document_for_the_same_bytes(
    pool: ConnectionPool, owner: str
) -> None:
    sha = uuid.uuid4().hex * 2
    with pool.connection() as conn:
        first = documents.register(conn, owner=owner, sha256=sha, blob_path=f"{owner}/1/a.pdf")
        again = documents.register(conn, owner=owner, sha256=sha, blob_path=f"{owner}/2/b.pdf")
    assert first.created and not again.created
    assert again.id == first.id


def test_failed_documents_must_carry_a_reason(pool: ConnectionPool, owner: str) -> None:
    with pool.connection() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO documents (owner, sha256, blob_path, status) "
            "VALUES (%s, %s, 'x', 'failed')",
            (owner, uuid.uuid4().hex * 2),
        )


def test_migrate_command(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.__main__ import main
    from shared.config import get_settings

    monkeypatch.setenv("DATABASE_URL", fresh_database)
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
        assert capsys.readouterr().out.strip() == "applied: " + ", ".join(
            m.name for m in available()
        )
        assert main(["migrate"]) == 0
        assert capsys.readouterr().out.strip() == "up to date"
    finally:
        get_settings.cache_clear()


def test_documents_finishing_at_once_are_all_counted(pool: ConnectionPool, owner: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from shared.storage import jobs

    def burst() -> tuple[int, int, int] | None:
        job_id = f"job-{uuid.uuid4().hex}"
        with pool.connection() as conn:
            jobs.start(conn, job_id=job_id, owner=owner, source_blob=f"{owner}/u/b.zip")
            entries = [jobs.ManifestEntry(n, f"{n}.pdf") for n in range(12)]
            jobs.add_documents(conn, job_id, entries)

        def finish(position: int) -> None:
            with pool.connection() as conn:
                jobs.record_document(
                    conn, job_id=job_id, position=position,
                    outcome="failed" if position % 2 else "extracted",
                    error_code="x" if position % 2 else None,
                )  # fmt: skip

        with ThreadPoolExecutor(max_workers=4) as executor:
            list(executor.map(finish, range(12)))
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT documents_total, documents_succeeded, documents_failed "
                "FROM jobs WHERE id = %s",
                (job_id,),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    # Several bursts: a lost update shows up in some, not every one.
    assert [burst() for _ in range(6)] == [(12, 6, 6)] * 6
