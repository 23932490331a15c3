"""Signing keys from an issuer's JWKS, cached.

Contract:
- `JwksCache.signing_key(jwks_uri, kid, algorithm)` returns the verification key or
  raises `Unauthorized` (unknown kid, or a key that does not fit the algorithm) or
  `ServiceUnavailable` (the key set cannot be fetched and nothing is cached).
- Key sets are cached per jwks_uri for `cache_seconds`: in this process, and in Redis
  when a client is given, so instances share one fetch. A Redis entry is the JWKS
  JSON under `<prefix><jwks_uri>` with a TTL; Redis trouble only costs a fetch.
- A kid missing from the cached set triggers one refetch (key rotation), at most
  once per jwks_uri per `refetch_interval` seconds, so random kids cannot make us
  hammer the identity provider.
- An expired set that cannot be refreshed is still used (with a warning) and retried
  after `refetch_interval`: a short IdP outage should not log everybody out. With
  nothing cached, a failed fetch makes requests fail fast for `FAILURE_BACKOFF_SECONDS`
  instead of each waiting for the same timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from shared.cache import redis_client
from shared.errors import ConfigurationError, ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Fetcher = Callable[[str], bytes]

FETCH_TIMEOUT_SECONDS = 5.0
REFETCH_INTERVAL_SECONDS = 30.0
FAILURE_BACKOFF_SECONDS = 5.0
MAX_JWKS_BYTES = 1024 * 1024
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_jwks_uri(uri: str) -> None:
    """https:// anywhere, file:// for the local dev issuer, http:// only on loopback."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "file" and parts.path:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise ConfigurationError(f"jwks_uri must be https:// (http:// only on loopback), got {uri!r}")


def fetch_jwks(uri: str) -> bytes:
    """The raw key set at `uri`; `ServiceUnavailable` when it cannot be read."""
    check_jwks_uri(uri)
    parts = urlsplit(uri)
    try:
        if parts.scheme == "file":
            with open(parts.path, "rb") as file:
                return file.read(MAX_JWKS_BYTES + 1)
        request = urllib.request.Request(uri, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked above)
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            return bytes(response.read(MAX_JWKS_BYTES + 1))
    except (OSError, urllib.error.URLError) as exc:
        raise ServiceUnavailable(f"cannot fetch the identity provider's keys from {uri}") from exc


@dataclass
class KeySet:
    """One fetched JWKS: signing keys by kid, with verification keys built on demand."""

    jwks: dict[str, dict[str, Any]]
    raw: bytes
    expires_at: float
    _built: dict[tuple[str, str], PyJWK] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: bytes, expires_at: float) -> KeySet:
        if len(raw) > MAX_JWKS_BYTES:
            raise ValueError("key set too large")
        document = json.loads(raw)
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError("key set has no 'keys' list")
        signing = {
            key["kid"]: key
            for key in keys
            if isinstance(key, dict)
            and isinstance(key.get("kid"), str)
            and key.get("use", "sig") == "sig"
        }
        return cls(jwks=signing, raw=raw, expires_at=expires_at)

    def key(self, kid: str, algorithm: str) -> PyJWK | None:
        """The key for `kid` bound to `algorithm`; None when the set has no such kid."""
        jwk = self.jwks.get(kid)
        if jwk is None:
            return None
        built = self._built.get((kid, algorithm))
        if built is None:
            declared = jwk.get("alg")
            if declared is not None and declared != algorithm:
                raise Unauthorized("token algorithm does not match its key")
            try:
                built = PyJWK(jwk, algorithm)
            except PyJWTError as exc:
                raise Unauthorized("token algorithm does not match its key") from exc
            self._built[(kid, algorithm)] = built
        return built


class JwksCache:
    """Key sets per jwks_uri, shared by every request of this process (thread-safe)."""

    def __init__(
        self,
        *,
        cache_seconds: int,
        redis_client: redis.Redis | None = None,
        redis_prefix: str = "jwks:",
        clock: Clock = time.monotonic,
        fetch: Fetcher = fetch_jwks,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
    ) -> None:
        self._cache_seconds = cache_seconds
        self._redis = redis_client
        self._redis_prefix = redis_prefix
        self._clock = clock
        self._fetch = fetch
        self._refetch_interval = refetch_interval
        self._sets: dict[str, KeySet] = {}
        self._last_refetch: dict[str, float] = {}
        self._failed_until: dict[str, float] = {}
        # One lock per jwks_uri: one fetch at a time per issuer, other issuers unaffected.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def signing_key(self, jwks_uri: str, kid: str, algorithm: str) -> PyJWK:
        with self._lock_for(jwks_uri):
            key_set = self._current(jwks_uri)
            key = key_set.key(kid, algorithm)
            if key is None and self._may_refetch(jwks_uri):
                self._last_refetch[jwks_uri] = self._clock()
                key_set = self._refresh(jwks_uri, stale=key_set)
                key = key_set.key(kid, algorithm)
        if key is None:
            raise Unauthorized("token signed with an unknown key")
        return key

    def _lock_for(self, jwks_uri: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(jwks_uri, threading.Lock())

    def _current(self, jwks_uri: str) -> KeySet:
        cached = self._sets.get(jwks_uri)
        if cached is not None and self._clock() < cached.expires_at:
            return cached
        shared = self._from_redis(jwks_uri)
        if shared is not None:
            self._sets[jwks_uri] = shared
            return shared
        return self._refresh(jwks_uri, stale=cached)

    def _may_refetch(self, jwks_uri: str) -> bool:
        last = self._last_refetch.get(jwks_uri)
        return last is None or self._clock() - last >= self._refetch_interval

    def _refresh(self, jwks_uri: str, stale: KeySet | None) -> KeySet:
        """Fetch from the identity provider; fall back to a stale set when that fails."""
        now = self._clock()
        if stale is None and now < self._failed_until.get(jwks_uri, now):
            raise ServiceUnavailable(f"cannot fetch the identity provider's keys from {jwks_uri}")
        try:
            raw = self._fetch(jwks_uri)
            fresh = KeySet.parse(raw, expires_at=now + self._cache_seconds)
        except (ServiceUnavailable, ValueError) as exc:
            if stale is None:
                self._failed_until[jwks_uri] = now + FAILURE_BACKOFF_SECONDS
                if isinstance(exc, ServiceUnavailable):
                    raise
                raise ServiceUnavailable(f"the key set at {jwks_uri} is not a JWKS") from exc
            log.warning("using a stale key set for %s: %s", jwks_uri, exc)
            stale.expires_at = max(stale.expires_at, now + self._refetch_interval)
            return stale
        self._failed_until.pop(jwks_uri, None)
        self._sets[jwks_uri] = fresh
        self._to_redis(jwks_uri, raw)
        return fresh

    def _from_redis(self, jwks_uri: str) -> KeySet | None:
        if self._redis is None:
            return None
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._redis_prefix + jwks_uri)
            pipe.ttl(self._redis_prefix + jwks_uri)
            raw, ttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("JWKS cache in Redis unavailable: %s", exc)
            return None
        if not isinstance(raw, bytes) or not isinstance(ttl, int) or ttl <= 0:
            return None
        try:
            return KeySet.parse(raw, expires_at=self._clock() + ttl)
        except ValueError:
            return None

    def _to_redis(self, jwks_uri: str, raw: bytes) -> None:
        if self._redis is None:
            return
        try:
            self._redis.set(self._redis_prefix + jwks_uri, raw, ex=self._cache_seconds)
        except redis.RedisError as exc:
            log.warning("JWKS cache in Redis unavailable: %s", exc)


__all__ = ["JwksCache", "KeySet", "check_jwks_uri", "fetch_jwks", "redis_client"]
