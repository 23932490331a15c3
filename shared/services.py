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
from shared.embeddings import Embedder, HashingEmbedder
from shared.errors import ServiceUnavailable
from shared.ratelimit import RateLimiter, rate_limiter

if TYPE_CHECKING:
    from shared.pipeline import Extractor
from shared.storage.database import open_pool


class Services:
    def __init__(self, settings: Settings, *, pool: ConnectionPool | None = None) -> None:
        self.settings = settings
        self._pool = pool
        self._lock = threading.Lock()
        self._containers_ready = False

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = open_pool(self.settings.database)
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

    @cached_property
    def authenticator(self) -> Authenticator:
        return authenticator_from_settings(self.settings)

    @cached_property
    def limiter(self) -> RateLimiter:
        return rate_limiter(self.settings.redis_url)

    @cached_property
    def embedder(self) -> Embedder:
        return HashingEmbedder()

    @cached_property
    def extractor(self) -> Extractor:
        from shared.pipeline import make_extractor

        return make_extractor(self.settings)

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
