"""Redis, as the app uses it: shared state that may be missing for a moment.

Callers (the JWKS cache, the rate limiter) have a fallback when Redis does not answer, so the
client fails fast: short timeouts and no retries, never a request held up for seconds.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
