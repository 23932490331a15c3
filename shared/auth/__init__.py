"""Authentication and authorization: bearer JWTs in, a `Principal` with roles out.

- `Authenticator.authenticate(header)`: verify `Authorization: Bearer <jwt>`
- `Principal`, `Role`, `require(principal, role)`: who is calling and what they may do
- `JwksCache`: issuers' signing keys, cached in-process and in Redis
- `shared.auth.devissuer`: the local dev issuer (`python -m shared token`)
- `authenticator_from_settings(settings)`: the wiring the HTTP layer uses
"""

from __future__ import annotations

from shared.auth.jwks import JwksCache, redis_client
from shared.auth.principal import Principal, Role, require
from shared.auth.tokens import Authenticator, KeySource
from shared.config import Settings


def authenticator_from_settings(settings: Settings) -> Authenticator:
    """An Authenticator for the configured issuers; build one per process and reuse it."""
    cache = JwksCache(
        cache_seconds=settings.auth.jwks_cache_seconds,
        redis_client=redis_client(settings.redis_url) if settings.redis_url else None,
    )
    return Authenticator(settings.auth, cache)


__all__ = [
    "Authenticator",
    "JwksCache",
    "KeySource",
    "Principal",
    "Role",
    "authenticator_from_settings",
    "require",
]
