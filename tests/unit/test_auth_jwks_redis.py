"""The JWKS cache shared through real Redis (REDIS_URL, default 127.0.0.1:6379).

Keys live under a prefix unique to this run and are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from shared.auth import Authenticator, JwksCache
from shared.auth.jwks import redis_client as fail_fast_client
from shared.config import AuthSettings, parse_issuers
from tests.fakes.jwks_server import JwksServer, signing_key, token_claims

ISSUER = "https://idp.example.test"
AUDIENCE = "api://invoices-test"
KEY = signing_key("shared-key")
CACHE_SECONDS = 300


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running at REDIS_URL or 127.0.0.1:6379: the tests need it")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"jwks:test-{uuid.uuid4().hex}:"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture(scope="session")
def idp() -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.publish(KEY)
    yield server
    server.stop()


def authenticator(idp: JwksServer, cache: JwksCache) -> Authenticator:
    entry = {"kind": "oidc", "name": "test", "issuer": ISSUER, "audience": AUDIENCE}
    issuers = parse_issuers(json.dumps([{**entry, "jwks_uri": idp.url}]))
    return Authenticator(AuthSettings(issuers=issuers), cache)


def header() -> str:
    return f"Bearer {KEY.sign(token_claims(ISSUER, AUDIENCE))}"


def test_instances_share_one_fetch_through_redis(
    idp: JwksServer, redis_client: redis.Redis, prefix: str
) -> None:
    idp.reset_requests()
    first, second = (
        authenticator(
            idp,
            JwksCache(cache_seconds=CACHE_SECONDS, redis_client=redis_client, redis_prefix=prefix),
        )
        for _ in range(2)
    )
    first.authenticate(header())
    second.authenticate(header())
    assert idp.requests == 1
    cached = redis_client.get(prefix + idp.url)
    assert isinstance(cached, bytes)
    assert json.loads(cached) == {"keys": [KEY.public_jwk]}
    assert 0 < redis_client.ttl(prefix + idp.url) <= CACHE_SECONDS


def test_an_unreachable_redis_only_costs_a_fetch(idp: JwksServer) -> None:
    idp.reset_requests()
    nowhere = fail_fast_client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    auth = authenticator(idp, JwksCache(cache_seconds=CACHE_SECONDS, redis_client=nowhere))
    assert auth.authenticate(header()).user_id == "test-alice"
    assert auth.authenticate(header()).user_id == "test-alice"
    assert idp.requests == 1
