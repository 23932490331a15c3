"""DATABASE_AUTH=entra: each new PostgreSQL connection's password is an Entra access token.

Against a real PostgreSQL (the suite's: embedded, or TEST_DATABASE_URL). It trusts local
connections, so it accepts any password; what the tests read is the password each connection
actually presented (`conn.info.password`, from libpq). The credential is a TokenCredential of
our own that issues numbered tokens with the lifetime a test chooses.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from azure.core.credentials import AccessToken
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings
from shared.secrets import POSTGRES_ENTRA_SCOPE, EntraPassword, database_connect_kwargs
from shared.storage.database import open_pool

TOKEN_LIFETIME = 3600


class ManualClock:
    """Starts at the real time: code that reads the real clock agrees with it until moved."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class NumberedTokens:
    """A TokenCredential issuing token-1, token-2, ... each valid TOKEN_LIFETIME from issue."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.scopes: list[tuple[str, ...]] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"token-{len(self.scopes)}", int(self.clock.now) + TOKEN_LIFETIME)


def presented_password(conn: psycopg.Connection[Any]) -> str | None:
    return conn.info.password


def test_a_connection_signs_in_with_a_token_for_the_postgresql_resource(
    database_url: str,
) -> None:
    clock = ManualClock()
    credential = NumberedTokens(clock)
    password = EntraPassword(credential, clock=clock)

    with psycopg.connect(database_url, **password.connect_kwargs()) as conn:
        assert presented_password(conn) == "token-1"
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert credential.scopes == [(POSTGRES_ENTRA_SCOPE,)]
    assert POSTGRES_ENTRA_SCOPE == "https://ossrdbms-aad.database.windows.net/.default"


def test_the_token_is_reused_until_shortly_before_it_expires_then_renewed(
    database_url: str,
) -> None:
    clock = ManualClock()
    credential = NumberedTokens(clock)
    password = EntraPassword(credential, renew_before_seconds=300, clock=clock)
    pool = ConnectionPool(
        database_url, kwargs=password.connect_kwargs, min_size=1, max_size=1, open=False
    )
    pool.open(wait=True, timeout=30)
    try:
        with pool.connection() as conn:
            assert presented_password(conn) == "token-1"

        clock.now += TOKEN_LIFETIME - 301  # still more than five minutes left
        pool.drain()  # every connection replaced: each new one asks for a password
        with pool.connection() as conn:
            assert presented_password(conn) == "token-1"
        assert len(credential.scopes) == 1

        clock.now += 1  # five minutes before expiry: time for a new token
        pool.drain()
        with pool.connection() as conn:
            assert presented_password(conn) == "token-2"
        assert len(credential.scopes) == 2
    finally:
        pool.close()


def test_open_pool_signs_in_the_migrations_and_the_pool_with_the_token(
    database_url: str,
) -> None:
    clock = ManualClock()
    credential = NumberedTokens(clock)
    settings = DatabaseSettings(url=database_url, pool_max=1, auth="entra")
    connect_kwargs = database_connect_kwargs(settings, credential=lambda: credential)
    assert connect_kwargs is not None

    pool = open_pool(settings, connect_kwargs=connect_kwargs)
    try:
        with pool.connection() as conn:
            assert presented_password(conn) == "token-1"
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() != (0,)
    finally:
        pool.close()
    # One token served the migration connection and the pool's: it was still fresh.
    assert credential.scopes == [(POSTGRES_ENTRA_SCOPE,)]


def test_password_auth_adds_nothing_to_the_url() -> None:
    def no_credential() -> NumberedTokens:
        raise AssertionError("password auth must not build a credential")

    settings = DatabaseSettings(auth="password")
    assert database_connect_kwargs(settings, credential=no_credential) is None


def test_the_migrate_command_signs_in_with_a_token_too(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import azure.identity

    from shared.__main__ import main
    from shared.config import get_settings

    issued = NumberedTokens(ManualClock())
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", lambda: issued)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATABASE_AUTH", "entra")
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
    finally:
        get_settings.cache_clear()
    assert issued.scopes == [(POSTGRES_ENTRA_SCOPE,)]
