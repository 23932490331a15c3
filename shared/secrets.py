"""Secrets and access tokens the app presents at run time.

In Azure every secret lives in Key Vault, and reaches the app in one of two ways:

- Key Vault references in app settings (`@Microsoft.KeyVault(VaultName=...;SecretName=...)`),
  which the platform resolves when the app starts (and about once a day). Every secret setting
  is set this way, so the Functions host, its bindings and a cold start have their values
  without the app calling the vault. That is enough for secrets handed to a client built once
  per process (OPENAI_API_KEY, AZURE_OPENAI_API_KEY): rotating those means a restart.
- Read here, with azure-keyvault-secrets, when KEY_VAULT_URL is set: the settings in
  RUNTIME_SECRETS are used per request (METRICS_TOKEN) or by clients the services rebuild when
  the value changes (REDIS_URL), so they are re-read every KEY_VAULT_REFRESH_SECONDS. A rotated
  secret then takes effect on every instance within minutes, without a restart. The value the
  reference gave at start stays the fallback while the vault cannot be read.

A runtime secret's name in the vault is its setting's name in lower case with dashes
(METRICS_TOKEN is `metrics-token`): Key Vault names allow only letters, digits and dashes.

PostgreSQL with DATABASE_AUTH=entra needs no secret at all: the password of each new connection
is an access token of the app's managed identity, fetched with azure-identity and renewed before
it expires (`EntraPassword`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.config import DatabaseSettings, KeyVaultSettings, Settings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential
    from azure.keyvault.secrets import SecretClient

__all__ = [
    "POSTGRES_ENTRA_SCOPE",
    "RUNTIME_SECRETS",
    "EntraPassword",
    "RuntimeSecrets",
    "database_connect_kwargs",
    "default_credential",
    "key_vault_reader",
    "runtime_secrets",
    "secret_name",
]

log = logging.getLogger(__name__)

# Setting -> the attribute of `Settings` it fills. Only top-level settings whose consumers look
# at the current value (per request, or by rebuilding their client when it changes) belong here.
RUNTIME_SECRETS: Mapping[str, str] = {
    "METRICS_TOKEN": "metrics_token",
    "REDIS_URL": "redis_url",
}

# Azure Database for PostgreSQL accepts Entra access tokens for this resource as passwords.
POSTGRES_ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"

# An app setting whose Key Vault reference the platform could not resolve keeps this text as its
# value. It must never be used as a secret: anyone who reads the template knows it.
_UNRESOLVED_REFERENCE = "@Microsoft.KeyVault("


def secret_name(setting: str) -> str:
    """The Key Vault secret that holds `setting` (METRICS_TOKEN -> metrics-token)."""
    return setting.lower().replace("_", "-")


def default_credential() -> TokenCredential:
    """The app's identity: in Azure the user-assigned managed identity named by AZURE_CLIENT_ID;
    on a workstation whatever `az login` or `azd auth login` signed in."""
    # Imported here: azure.identity is slow to import and only needed in Azure.
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def key_vault_reader(client: SecretClient) -> Callable[[str], str | None]:
    """Reads a secret's current value; None when the vault has no such secret."""
    from azure.core.exceptions import ResourceNotFoundError

    def read(name: str) -> str | None:
        try:
            value: str | None = client.get_secret(name).value
        except ResourceNotFoundError:
            return None
        return value

    return read


@dataclass
class _Cached:
    value: str | None
    read_again_at: float


class RuntimeSecrets:
    """The RUNTIME_SECRETS as the vault has them, each read at most once per `refresh_seconds`.

    A failed read (vault unreachable, identity not yet authorised) is logged and keeps the last
    value, or the setting's own value when there is none yet; it is tried again after
    `retry_seconds` rather than on every request.
    """

    def __init__(
        self,
        read: Callable[[str], str | None],
        *,
        refresh_seconds: float,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = min(retry_seconds, refresh_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}
        self._applied: tuple[Settings, tuple[str | None, ...], Settings] | None = None
        self._reported_unresolved: set[str] = set()

    def get(self, setting: str) -> str | None:
        """The vault's value for `setting`, or None when the vault has none (or never answered)."""
        from azure.core.exceptions import AzureError

        with self._lock:
            now = self._clock()
            cached = self._cache.get(setting)
            if cached is not None and now < cached.read_again_at:
                return cached.value
            try:
                value = self._read(secret_name(setting))
            except AzureError as exc:
                log.warning(
                    "could not read secret %s from Key Vault (%s); keeping the current value",
                    secret_name(setting),
                    type(exc).__name__,
                )
                kept = cached.value if cached is not None else None
                self._cache[setting] = _Cached(kept, now + self._retry_seconds)
                return kept
            self._cache[setting] = _Cached(value, now + self._refresh_seconds)
            return value

    def apply(self, settings: Settings) -> Settings:
        """`settings` with each runtime secret as the vault has it now.

        Returns `settings` itself when nothing differs, and the same new object for as long as
        the values stay the same, so callers may read it on every request.
        """
        values = tuple(self._current(settings, name, attribute) for name, attribute in _ITEMS)
        if all(
            value == getattr(settings, attribute)
            for value, (_, attribute) in zip(values, _ITEMS, strict=True)
        ):
            return settings
        with self._lock:
            applied = self._applied
            if applied is not None and applied[0] is settings and applied[1] == values:
                return applied[2]
        changes: dict[str, Any] = {
            attribute: value for value, (_, attribute) in zip(values, _ITEMS, strict=True)
        }
        updated = dataclasses.replace(settings, **changes)
        with self._lock:
            self._applied = (settings, values, updated)
        return updated

    def _current(self, settings: Settings, name: str, attribute: str) -> str | None:
        from_vault = self.get(name)
        if from_vault:
            return from_vault
        fallback: str | None = getattr(settings, attribute)
        if fallback and fallback.startswith(_UNRESOLVED_REFERENCE):
            if name not in self._reported_unresolved:
                self._reported_unresolved.add(name)
                log.error("%s is an unresolved Key Vault reference; treating it as unset", name)
            return None
        return fallback


_ITEMS = tuple(RUNTIME_SECRETS.items())


def runtime_secrets(
    settings: KeyVaultSettings,
    credential: TokenCredential | None = None,
    **client_options: Any,
) -> RuntimeSecrets | None:
    """The runtime secrets of the vault at KEY_VAULT_URL; None when no vault is configured.

    `client_options` go to SecretClient (tests pass `connection_verify` for their own TLS
    certificate and `verify_challenge_resource=False` for a vault that is not *.vault.azure.net).
    """
    if not settings.url:
        return None
    from azure.keyvault.secrets import SecretClient

    # A read happens inside a request: it must fail in seconds, not after azure-core's
    # default five-minute timeouts and ten retries (the last value is used meanwhile).
    options = {"connection_timeout": 5, "read_timeout": 10, "retry_total": 2} | client_options
    client = SecretClient(settings.url, credential or default_credential(), **options)
    return RuntimeSecrets(key_vault_reader(client), refresh_seconds=settings.refresh_seconds)


class EntraPassword:
    """A PostgreSQL password that is a Microsoft Entra access token of the app's identity.

    The token is kept until `renew_before_seconds` before it expires, then fetched again, so a
    connection opened at any moment presents a token that is still valid while it signs in.
    (PostgreSQL checks the token only at sign-in: open connections outlive it.)
    """

    def __init__(
        self,
        credential: TokenCredential,
        *,
        renew_before_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._renew_before_seconds = renew_before_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def __call__(self) -> str:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_on - self._renew_before_seconds:
                token = self._credential.get_token(POSTGRES_ENTRA_SCOPE)
                self._token = token
            return token.token

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for psycopg's `connect`, evaluated for each new connection."""
        return {"password": self()}


def database_connect_kwargs(
    settings: DatabaseSettings,
    credential: Callable[[], TokenCredential] = default_credential,
) -> Callable[[], dict[str, Any]] | None:
    """What each new database connection adds to DATABASE_URL: an Entra token as its password
    when DATABASE_AUTH=entra; None (the URL alone) otherwise."""
    if settings.auth != "entra":
        return None
    return EntraPassword(credential()).connect_kwargs
