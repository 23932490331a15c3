"""Runtime secrets from Key Vault (shared/secrets.py), through the real SecretClient.

The vault is tests/fakes/keyvault_server.py: HTTPS on 127.0.0.1, the secrets REST API and its
bearer challenge. The credential is a TokenCredential of our own, since no identity provider is
reachable; everything between it and the socket is azure-core and azure-keyvault-secrets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.keyvault.secrets import SecretClient

from shared.config import KeyVaultSettings, Settings
from shared.secrets import (
    RUNTIME_SECRETS,
    RuntimeSecrets,
    key_vault_reader,
    runtime_secrets,
    secret_name,
)
from shared.services import Services
from tests.fakes.keyvault_server import (
    TENANT_ID,
    VAULT_RESOURCE,
    FakeKeyVault,
    running_key_vault,
)

ACCESS_TOKEN = "token-for-the-fake-vault"


class IssuedTokens:
    """A TokenCredential that hands out one fixed token and remembers what it was asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.asked: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.asked.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vault() -> Iterator[FakeKeyVault]:
    with running_key_vault(ACCESS_TOKEN) as served:
        yield served


def client_for(vault: FakeKeyVault, credential: IssuedTokens | None = None) -> SecretClient:
    return SecretClient(
        vault.url,
        credential or IssuedTokens(ACCESS_TOKEN),
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        retry_total=0,
    )


def secrets_for(vault: FakeKeyVault, clock: ManualClock, refresh: float = 300) -> RuntimeSecrets:
    return RuntimeSecrets(
        key_vault_reader(client_for(vault)), refresh_seconds=refresh, retry_seconds=30, clock=clock
    )


def test_runtime_secret_names_follow_their_settings() -> None:
    assert secret_name("METRICS_TOKEN") == "metrics-token"
    assert secret_name("REDIS_URL") == "redis-url"
    for setting, attribute in RUNTIME_SECRETS.items():
        assert hasattr(Settings(), attribute), setting


def test_the_secret_client_answers_the_bearer_challenge_and_reads_the_secret(
    vault: FakeKeyVault,
) -> None:
    vault.set_secret("metrics-token", "scrape-me")
    credential = IssuedTokens(ACCESS_TOKEN)
    secrets = runtime_secrets(
        KeyVaultSettings(url=vault.url, refresh_seconds=300),
        credential,
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
    )
    assert secrets is not None
    before = len(vault.requests())

    assert secrets.get("METRICS_TOKEN") == "scrape-me"

    served = vault.requests()[before:]
    # The first request goes without a token and is challenged; the second carries the token
    # the credential issued for the vault's resource in the challenge's tenant.
    assert [(r.authorized, r.status) for r in served] == [(False, 401), (True, 200)]
    assert served[-1].path == "/secrets/metrics-token"
    assert served[-1].api_version
    assert credential.asked == [((f"{VAULT_RESOURCE}/.default",), TENANT_ID)]


def test_no_vault_url_means_no_runtime_secrets() -> None:
    assert runtime_secrets(KeyVaultSettings(url=None)) is None
    settings = Settings(metrics_token="from-settings")
    assert Services(settings).settings is settings


def test_a_secret_is_read_once_per_refresh_interval_and_a_rotation_is_picked_up(
    vault: FakeKeyVault,
) -> None:
    vault.set_secret("metrics-token", "first")
    clock = ManualClock()
    secrets = secrets_for(vault, clock, refresh=300)
    reads = vault.reads_of("metrics-token")

    assert secrets.get("METRICS_TOKEN") == "first"
    clock.now += 299
    assert secrets.get("METRICS_TOKEN") == "first"
    assert vault.reads_of("metrics-token") == reads + 1  # the second answer came from the cache

    vault.set_secret("metrics-token", "second")
    assert secrets.get("METRICS_TOKEN") == "first"  # not before the interval is over
    clock.now += 1
    assert secrets.get("METRICS_TOKEN") == "second"
    assert vault.reads_of("metrics-token") == reads + 2


def test_a_secret_missing_from_the_vault_falls_back_to_the_setting(vault: FakeKeyVault) -> None:
    clock = ManualClock()
    secrets = secrets_for(vault, clock)
    settings = Settings(redis_url="redis://from-settings:6379/0")

    assert secrets.apply(settings).redis_url == "redis://from-settings:6379/0"
    assert secrets.apply(settings).redis_url == "redis://from-settings:6379/0"
    lookups = [r for r in vault.requests() if r.path == "/secrets/redis-url"]
    # "Not found" is cached like a value: one lookup per interval, not one per request.
    assert [(r.authorized, r.status) for r in lookups][-1] == (True, 404)
    assert sum(1 for r in lookups if r.authorized) == 1


def test_settings_show_the_vault_value_and_stay_the_same_object_while_it_holds(
    vault: FakeKeyVault,
) -> None:
    vault.set_secret("metrics-token", "vault-token")
    clock = ManualClock()
    secrets = secrets_for(vault, clock)
    settings = Settings(metrics_token="start-value")

    applied = secrets.apply(settings)
    assert applied.metrics_token == "vault-token"
    assert applied.ocr == settings.ocr
    assert secrets.apply(settings) is applied  # cheap to call on every request

    vault.set_secret("metrics-token", "rotated-token")
    clock.now += 301
    assert secrets.apply(settings).metrics_token == "rotated-token"


def test_an_outage_keeps_the_last_value_and_is_retried_after_a_pause(vault: FakeKeyVault) -> None:
    vault.set_secret("metrics-token", "before-outage")
    clock = ManualClock()
    secrets = secrets_for(vault, clock, refresh=300)
    assert secrets.get("METRICS_TOKEN") == "before-outage"

    vault.failing_with = 503
    try:
        clock.now += 301
        attempts = len(vault.requests())
        assert secrets.get("METRICS_TOKEN") == "before-outage"
        assert len(vault.requests()) == attempts + 1
        clock.now += 29
        assert secrets.get("METRICS_TOKEN") == "before-outage"
        assert len(vault.requests()) == attempts + 1  # not hammered while it is down
    finally:
        vault.failing_with = None
    vault.set_secret("metrics-token", "after-outage")
    clock.now += 1
    assert secrets.get("METRICS_TOKEN") == "after-outage"


def test_an_unreachable_vault_at_start_falls_back_to_the_setting(vault: FakeKeyVault) -> None:
    vault.failing_with = 503
    try:
        secrets = secrets_for(vault, ManualClock())
        settings = Settings(metrics_token="from-reference")
        assert secrets.apply(settings).metrics_token == "from-reference"
    finally:
        vault.failing_with = None


def test_an_unresolved_key_vault_reference_is_never_used_as_a_secret(vault: FakeKeyVault) -> None:
    vault.failing_with = 503
    try:
        secrets = secrets_for(vault, ManualClock())
        literal = "@Microsoft.KeyVault(VaultName=kv-invoices;SecretName=metrics-token)"
        assert secrets.apply(Settings(metrics_token=literal)).metrics_token is None
    finally:
        vault.failing_with = None


def test_services_see_a_rotated_metrics_token_and_rebuild_redis_clients_for_a_new_url(
    vault: FakeKeyVault,
) -> None:
    vault.set_secret("metrics-token", "scrape-1")
    vault.set_secret("redis-url", "redis://127.0.0.1:6379/0")
    clock = ManualClock()
    services = Services(Settings(), secrets=secrets_for(vault, clock))

    assert services.settings.metrics_token == "scrape-1"
    limiter, authenticator = services.limiter, services.authenticator
    assert services.limiter is limiter and services.authenticator is authenticator

    vault.set_secret("metrics-token", "scrape-2")
    vault.set_secret("redis-url", "redis://127.0.0.1:6379/1")
    clock.now += 301

    assert services.settings.metrics_token == "scrape-2"
    assert services.limiter is not limiter
    assert services.authenticator is not authenticator
