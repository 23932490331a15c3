"""Per-key rate limits: GCRA (the generic cell rate algorithm), in Redis or in-process.

Both implementations keep one number per key, the theoretical arrival time (TAT):
the time at which the key's budget would be fully refilled. With a limit of N per
minute each hit costs one interval (60 s / N), and a hit is allowed while the TAT
stays within N intervals of now. So a fresh key may spend its whole minute's budget
in one burst, then gets one more hit per interval. Over the limit, `hit` raises
`RateLimited` with `retry_after` = whole seconds (>= 1) until the next hit would pass.
Rejected hits cost nothing.

Time is integer microseconds (exact in Python and in Redis's Lua doubles, which
float seconds near 1.7e9 are not), and the interval is rounded down to a whole
microsecond, so a burst lets exactly N through.

`rate_limiter(redis_url)` picks Redis when a URL is set (instances share limits),
else the in-process limiter (right for a single instance).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from shared.cache import redis_client
from shared.errors import RateLimited

log = logging.getLogger(__name__)

Clock = Callable[[], float]
PERIOD_MICROSECONDS = 60_000_000
REDIS_PREFIX = "ratelimit:"
# After a Redis failure, requests skip the limiter this long before Redis is tried again.
FAIL_OPEN_SECONDS = 5
# How often the in-process limiter forgets keys whose budget is full again.
_SWEEP_EVERY_HITS = 10_000


class RateLimiter(Protocol):
    def hit(self, key: str, limit_per_minute: int) -> None:
        """Count one request for `key`; raise `RateLimited` when over the limit."""
        ...


def _interval(limit_per_minute: int) -> int:
    """Microseconds one hit costs."""
    if not 0 < limit_per_minute <= PERIOD_MICROSECONDS:
        raise ValueError(f"limit_per_minute must be in 1..60_000_000, got {limit_per_minute}")
    return PERIOD_MICROSECONDS // limit_per_minute


def _microseconds(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _rejected(wait_microseconds: int) -> RateLimited:
    retry_after = max(1, -(-wait_microseconds // 1_000_000))
    return RateLimited(f"rate limit exceeded; retry in {retry_after} s", retry_after=retry_after)


class InProcessRateLimiter:
    """GCRA in a dict; thread-safe. `clock` is monotonic seconds (injectable for tests)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def hit(self, key: str, limit_per_minute: int) -> None:
        interval = _interval(limit_per_minute)
        with self._lock:
            now = _microseconds(self._clock())
            new_tat = max(self._tat.get(key, now), now) + interval
            wait = new_tat - now - interval * limit_per_minute
            if wait > 0:
                raise _rejected(wait)
            self._tat[key] = new_tat
            self._hits += 1
            if self._hits % _SWEEP_EVERY_HITS == 0:
                self._tat = {k: tat for k, tat in self._tat.items() if tat > now}


# KEYS[1]: the key; ARGV: now, interval, burst window (interval * limit), all integer
# microseconds. Returns 0 when allowed, else the microseconds to wait.
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - window
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
"""


class RedisRateLimiter:
    """GCRA in one atomic Lua script, so every instance shares one budget per key.

    Fails open: when Redis cannot be reached the hit is allowed, a warning is logged,
    and Redis is left alone for `FAIL_OPEN_SECONDS` (so an unreachable Redis costs
    one timeout per few seconds, not one per request). The API's availability must
    not hang on its limiter; the limiter protects capacity, not data.

    `clock` is wall-clock seconds, passed into the script (not Redis's TIME) so
    tests can move time; instances are expected to run NTP-synchronised clocks.
    Keys are `ratelimit:<key>` and expire once their budget is full again.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Clock = time.time,
        prefix: str = REDIS_PREFIX,
    ) -> None:
        self._script = client.register_script(_GCRA_LUA)
        self._clock = clock
        self._prefix = prefix
        self._bypass_until = float("-inf")

    def hit(self, key: str, limit_per_minute: int) -> None:
        interval = _interval(limit_per_minute)
        seconds = self._clock()
        if seconds < self._bypass_until:
            return
        now = _microseconds(seconds)
        try:
            wait = self._script(
                keys=[self._prefix + key], args=[now, interval, interval * limit_per_minute]
            )
        except redis.RedisError as exc:
            self._bypass_until = seconds + FAIL_OPEN_SECONDS
            log.warning(
                "rate limiter cannot reach Redis; allowing all requests for %d s: %s",
                FAIL_OPEN_SECONDS,
                exc,
            )
            return
        if int(wait) > 0:
            raise _rejected(int(wait))


def rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis-backed when `redis_url` is set, else in-process."""
    if redis_url:
        return RedisRateLimiter(redis_client(redis_url))
    return InProcessRateLimiter()
