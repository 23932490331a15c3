"""What handlers and activities need, built once per process from the settings, and shared.

Each dependency is created on first use, so a route that needs no blob storage never needs its
configuration, and importing the app never connects anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from azure.storage.blob import BlobServiceClient
from psycopg import Connection, OperationalError
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.auth import authenticator_from_settings
from shared.auth.tokens import Authenticator
from shared.blobs import blob_service, ensure_containers
from shared.config import Settings, get_settings
from shared.embeddings import Embedder, make_embedder
from shared.errors import ServiceUnavailable
from shared.ratelimit import RateLimiter, rate_limiter
from shared.secrets import RuntimeSecrets, database_connect_kwargs, runtime_secrets

if TYPE_CHECKING:
    from shared.llm.extractor import Extraction
from shared.storage.database import open_pool


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        pool: ConnectionPool | None = None,
        secrets: RuntimeSecrets | None = None,
    ) -> None:
        self._settings = settings
        # With KEY_VAULT_URL set, some secrets are re-read from Key Vault (shared/secrets.py).
        self._secrets = secrets if secrets is not None else runtime_secrets(settings.key_vault)
        self._pool = pool
        self._lock = threading.Lock()
        self._containers_ready = False
        # Clients holding REDIS_URL, rebuilt when a rotated URL arrives from Key Vault.
        self._redis_lock = threading.Lock()
        self._limiter: tuple[str | None, RateLimiter] | None = None
        self._authenticator: tuple[str | None, Authenticator] | None = None

    @property
    def settings(self) -> Settings:
        """The settings, with the runtime secrets as Key Vault has them now (when configured)."""
        if self._secrets is None:
            return self._settings
        return self._secrets.apply(self._settings)

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = open_pool(
                        self.settings.database,
                        connect_kwargs=database_connect_kwargs(self.settings.database),
                        embedding_dimensions=self.settings.embeddings.dimensions,
                    )
                except (OperationalError, PoolTimeout) as exc:
                    raise ServiceUnavailable("the database is unavailable") from exc
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except (OperationalError, PoolTimeout) as exc:
            raise ServiceUnavailable("the database is unavailable") from exc

    @property
    def authenticator(self) -> Authenticator:
        settings = self.settings
        with self._redis_lock:
            if self._authenticator is None or self._authenticator[0] != settings.redis_url:
                self._authenticator = (settings.redis_url, authenticator_from_settings(settings))
            return self._authenticator[1]

    @property
    def limiter(self) -> RateLimiter:
        redis_url = self.settings.redis_url
        with self._redis_lock:
            if self._limiter is None or self._limiter[0] != redis_url:
                self._limiter = (redis_url, rate_limiter(redis_url))
            return self._limiter[1]

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.settings)

    @cached_property
    def extractor(self) -> Extraction:
        from shared.llm.store import PostgresLlmStore
        from shared.pipeline import make_extractor

        store = PostgresLlmStore(self.connection, self.settings.llm.monthly_token_budget)
        return make_extractor(self.settings, store=store)

    @property
    def blobs(self) -> BlobServiceClient:
        service = self._blob_service
        if not self._containers_ready:
            ensure_containers(service, self.settings.blobs)
            self._containers_ready = True
        return service

    @cached_property
    def _blob_service(self) -> BlobServiceClient:
        return blob_service(self.settings.blobs)


_services: Services | None = None
_services_lock = threading.Lock()


def get_services() -> Services:
    """The process's services, from the environment's settings."""
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(get_settings())
        return _services


def use_services(services: Services | None) -> None:
    """Replace the process's services (tests; None goes back to the environment's)."""
    global _services
    with _services_lock:
        _services = services
