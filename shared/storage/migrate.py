"""Versioned SQL migrations: `migrations/NNNN_name.sql`, applied in order, each exactly once.

Two instances starting at once both call `migrate`; a transaction-level advisory lock makes the
second wait and then find nothing to do. Each file runs in one transaction with its bookkeeping
row, so a failed migration leaves no trace and is retried on the next start. A file changed after
it was applied is an error (its checksum no longer matches): write a new migration instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from shared.errors import ConfigurationError

# Any constant shared by every instance of this app; "invoices" in ASCII.
_LOCK_KEY = 0x696E766F69636573
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def available() -> list[Migration]:
    folder = resources.files("shared.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migrations share a version: {[m.name for m in found]}")
    return found


def hold_schema_lock(conn: psycopg.Connection[Any]) -> None:
    """Wait for, then hold until the transaction ends, the lock every schema change takes
    (migrations, and the embeddings column's dimension: shared.storage.vectors)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply what is missing; return the names applied now (empty when up to date)."""
    applied_now: list[str] = []
    with conn.transaction():
        hold_schema_lock(conn)
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        done = {version: (name, checksum) for version, name, checksum in rows}
        for migration in available():
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise ConfigurationError(
                        f"migration {migration.name} changed after it was applied as {name}"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied_now.append(migration.name)
    return applied_now
