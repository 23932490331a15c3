"""Rate limits (shared/ratelimit.py): the Redis and in-process limiters behave the same.

Every behaviour runs against both: Redis at REDIS_URL (default 127.0.0.1:6379, keys
under a prefix unique to this run, deleted afterwards) and the in-process limiter.
Time is a FakeClock passed into both, so recovery needs no sleeping.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from shared.cache import redis_client
from shared.errors import RateLimited
from shared.ratelimit import (
    FAIL_OPEN_SECONDS,
    InProcessRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limiter,
)
from tests.fakes import FakeClock

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
MakeLimiter = Callable[[FakeClock], RateLimiter]


@pytest.fixture(scope="session")
def redis_connection() -> Iterator[redis.Redis]:
    client = redis_client(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not running at {REDIS_URL}: the tests need a real Redis")
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_prefix(redis_connection: redis.Redis) -> Iterator[str]:
    prefix = f"ratelimit:test-{uuid.uuid4().hex}:"
    yield prefix
    for key in redis_connection.scan_iter(match=f"{prefix}*"):
        redis_connection.delete(key)


@pytest.fixture(params=["redis", "in-process"])
def make_limiter(request: pytest.FixtureRequest) -> MakeLimiter:
    if request.param == "in-process":
        return InProcessRateLimiter
    connection: redis.Redis = request.getfixturevalue("redis_connection")
    # A prefix per test: tests reuse user names, and the clocks all start at the same instant.
    prefix = f"{request.getfixturevalue('redis_prefix')}{uuid.uuid4().hex[:8]}:"
    return lambda clock: RedisRateLimiter(connection, clock=clock, prefix=prefix)


def allowed(limiter: RateLimiter, key: str, limit: int) -> bool:
    try:
        limiter.hit(key, limit)
    except RateLimited:
        return False
    return True


def retry_after(limiter: RateLimiter, key: str, limit: int) -> int:
    with pytest.raises(RateLimited) as caught:
        limiter.hit(key, limit)
    return caught.value.retry_after


def test_a_concurrent_burst_lets_exactly_the_limit_through(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(FakeClock())
    limit, callers = 25, 80
    start = threading.Barrier(callers)

    def one_hit(_: int) -> int | None:
        start.wait()
        try:
            limiter.hit("user:alice", limit)
        except RateLimited as exc:
            return exc.retry_after
        return None

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = list(pool.map(one_hit, range(callers)))
    rejected = [after for after in outcomes if after is not None]
    assert len(outcomes) - len(rejected) == limit
    # The next slot frees up one interval (60 s / 25 = 2.4 s) from now.
    assert rejected == [math.ceil(60 / limit)] * (callers - limit)


def test_limits_are_per_key(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(FakeClock())
    assert all(allowed(limiter, "user:alice", 3) for _ in range(3))
    assert not allowed(limiter, "user:alice", 3)
    assert all(allowed(limiter, "user:bob", 3) for _ in range(3))
    assert not allowed(limiter, "user:bob", 3)


def test_budget_refills_one_hit_per_interval(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(6):  # 6 a minute: one hit every 10 s
        limiter.hit("user:alice", 6)
    assert retry_after(limiter, "user:alice", 6) == 10
    clock.advance(9.5)
    assert retry_after(limiter, "user:alice", 6) == 1
    clock.advance(0.5)
    assert allowed(limiter, "user:alice", 6)
    assert retry_after(limiter, "user:alice", 6) == 10


def test_retry_after_is_honest(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(7):
        limiter.hit("user:alice", 7)
    wait = retry_after(limiter, "user:alice", 7)
    clock.advance(wait - 1)
    assert not allowed(limiter, "user:alice", 7)
    clock.advance(1)
    assert allowed(limiter, "user:alice", 7)


def test_rejected_hits_do_not_spend_budget(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(2):
        limiter.hit("user:alice", 2)
    for _ in range(50):
        assert not allowed(limiter, "user:alice", 2)
    clock.advance(30)
    assert allowed(limiter, "user:alice", 2)


def test_a_quiet_minute_restores_the_full_burst(make_limiter: MakeLimiter) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    for _ in range(10):
        limiter.hit("user:alice", 10)
    clock.advance(60)
    assert all(allowed(limiter, "user:alice", 10) for _ in range(10))
    assert not allowed(limiter, "user:alice", 10)


def test_retry_after_is_at_least_one_second_for_high_limits(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(FakeClock())
    for _ in range(600):  # the next slot frees up in 0.1 s
        limiter.hit("user:alice", 600)
    assert retry_after(limiter, "user:alice", 600) == 1


def test_a_nonpositive_limit_is_a_programming_error(make_limiter: MakeLimiter) -> None:
    with pytest.raises(ValueError):
        make_limiter(FakeClock()).hit("user:alice", 0)


def test_redis_keys_are_namespaced_and_expire(
    redis_connection: redis.Redis, redis_prefix: str
) -> None:
    limiter = RedisRateLimiter(redis_connection, clock=FakeClock(), prefix=redis_prefix)
    limiter.hit("user:erin", 60)
    ttl_ms = redis_connection.pttl(f"{redis_prefix}user:erin")
    assert redis_prefix.startswith("ratelimit:")
    assert 0 < ttl_ms <= 1000  # one hit at 60/minute is paid back after one second


def test_an_unreachable_redis_fails_open_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter(redis_client("redis://127.0.0.1:1/0"), clock=clock)

    def warnings() -> int:
        return sum("allowing all requests" in record.getMessage() for record in caplog.records)

    with caplog.at_level(logging.WARNING, logger="shared.ratelimit"):
        for _ in range(100):
            limiter.hit("user:alice", 1)
        assert warnings() == 1  # one failed attempt, then Redis is left alone
        clock.advance(FAIL_OPEN_SECONDS)
        limiter.hit("user:alice", 1)
        assert warnings() == 2


def test_the_factory_picks_redis_only_when_a_url_is_set() -> None:
    assert isinstance(rate_limiter(None), InProcessRateLimiter)
    assert isinstance(rate_limiter(REDIS_URL), RedisRateLimiter)
