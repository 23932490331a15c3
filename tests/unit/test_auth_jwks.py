"""Key sets from the identity provider (shared/auth/jwks.py): caching, rotation, outages.

The provider is a real HTTP server on loopback; its request counter shows when
the code under test went back to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.auth import Authenticator, JwksCache
from shared.auth.jwks import FAILURE_BACKOFF_SECONDS, REFETCH_INTERVAL_SECONDS, check_jwks_uri
from shared.config import AuthSettings, parse_issuers
from shared.errors import ConfigurationError, ServiceUnavailable, Unauthorized
from tests.fakes import FakeClock
from tests.fakes.jwks_server import JwksServer, SigningKey, signing_key, token_claims

ISSUER = "https://idp.example.test"
AUDIENCE = "api://invoices-test"
OLD = signing_key("2024-old")
NEW = signing_key("2025-new")
CACHE_SECONDS = 600


@pytest.fixture(scope="session")
def server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


@pytest.fixture
def idp(server: JwksServer) -> JwksServer:
    """The session's server, publishing the OLD key and with its counter at zero."""
    server.publish(OLD)
    server.reset_requests()
    return server


@pytest.fixture(scope="session")
def down_url() -> str:
    """The URL of an identity provider that has gone away (nothing listens there)."""
    gone = JwksServer().start()
    gone.stop()
    return gone.url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def authenticator(jwks_uri: str, cache: JwksCache) -> Authenticator:
    entry = {"kind": "oidc", "name": "test", "issuer": ISSUER, "audience": AUDIENCE}
    issuers = parse_issuers(json.dumps([{**entry, "jwks_uri": jwks_uri}]))
    return Authenticator(AuthSettings(issuers=issuers), cache)


def header(key: SigningKey, kid: str | None = None) -> str:
    return f"Bearer {key.sign(token_claims(ISSUER, AUDIENCE), kid=kid)}"


def test_keys_are_fetched_once_and_served_from_the_cache(idp: JwksServer, clock: FakeClock) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    for _ in range(5):
        auth.authenticate(header(OLD))
    assert idp.requests == 1


def test_an_expired_cache_entry_is_refetched(idp: JwksServer, clock: FakeClock) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    auth.authenticate(header(OLD))
    clock.advance(CACHE_SECONDS - 1)
    auth.authenticate(header(OLD))
    assert idp.requests == 1
    clock.advance(1)
    auth.authenticate(header(OLD))
    assert idp.requests == 2


def test_a_rotated_key_is_accepted_after_one_refetch(idp: JwksServer, clock: FakeClock) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    auth.authenticate(header(OLD))
    idp.publish(NEW)
    assert auth.authenticate(header(NEW)).user_id == "test-alice"
    assert idp.requests == 2
    auth.authenticate(header(NEW))
    assert idp.requests == 2


def test_unknown_kids_refetch_at_most_once_per_interval(idp: JwksServer, clock: FakeClock) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    auth.authenticate(header(OLD))
    clock.advance(REFETCH_INTERVAL_SECONDS)
    for attempt in range(20):
        with pytest.raises(Unauthorized, match="unknown key"):
            auth.authenticate(header(OLD, kid=f"random-{attempt}"))
    assert idp.requests == 2
    clock.advance(REFETCH_INTERVAL_SECONDS - 1)
    with pytest.raises(Unauthorized):
        auth.authenticate(header(OLD, kid="random-late"))
    assert idp.requests == 2
    clock.advance(1)
    with pytest.raises(Unauthorized):
        auth.authenticate(header(OLD, kid="random-later"))
    assert idp.requests == 3


def test_a_second_rotation_within_the_interval_waits_for_it(
    idp: JwksServer, clock: FakeClock
) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    auth.authenticate(header(OLD))
    idp.publish(NEW)
    auth.authenticate(header(NEW))
    newest = signing_key("2026-newest")
    idp.publish(NEW, newest)
    with pytest.raises(Unauthorized, match="unknown key"):
        auth.authenticate(header(newest))
    clock.advance(REFETCH_INTERVAL_SECONDS)
    assert auth.authenticate(header(newest)).user_id == "test-alice"
    assert idp.requests == 3


def test_an_unreachable_provider_with_nothing_cached_is_service_unavailable(
    down_url: str,
) -> None:
    auth = authenticator(down_url, JwksCache(cache_seconds=CACHE_SECONDS))
    with pytest.raises(ServiceUnavailable):
        auth.authenticate(header(OLD))


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"oops"), (200, b"<html>login</html>"), (200, b'{"no": "keys"}'), (200, b"[]")],
)
def test_a_failing_provider_with_nothing_cached_is_service_unavailable(
    idp: JwksServer, status: int, body: bytes
) -> None:
    idp.respond(status, body)
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS))
    with pytest.raises(ServiceUnavailable):
        auth.authenticate(header(OLD))


def test_an_expired_key_set_is_still_used_while_the_provider_is_down(
    idp: JwksServer, clock: FakeClock
) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    auth.authenticate(header(OLD))
    idp.respond(503, b"maintenance")
    clock.advance(CACHE_SECONDS)
    for _ in range(3):
        assert auth.authenticate(header(OLD)).user_id == "test-alice"
    assert idp.requests == 2  # one failed refresh, then the stale set is kept a while
    idp.publish(OLD)
    clock.advance(REFETCH_INTERVAL_SECONDS)
    auth.authenticate(header(OLD))
    assert idp.requests == 3


def test_a_failed_first_fetch_fails_fast_for_a_few_seconds(
    idp: JwksServer, clock: FakeClock
) -> None:
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS, clock=clock))
    idp.respond(503, b"maintenance")
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            auth.authenticate(header(OLD))
    assert idp.requests == 1
    idp.publish(OLD)
    clock.advance(FAILURE_BACKOFF_SECONDS)
    assert auth.authenticate(header(OLD)).user_id == "test-alice"
    assert idp.requests == 2


def test_a_key_declaring_another_algorithm_is_not_used(idp: JwksServer) -> None:
    jwk = {**OLD.public_jwk, "alg": "RS512"}
    idp.respond(200, json.dumps({"keys": [jwk]}).encode())
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS))
    with pytest.raises(Unauthorized, match="does not match its key"):
        auth.authenticate(header(OLD))


def test_encryption_keys_are_not_signing_keys(idp: JwksServer) -> None:
    jwk = {**OLD.public_jwk, "use": "enc"}
    idp.respond(200, json.dumps({"keys": [jwk]}).encode())
    auth = authenticator(idp.url, JwksCache(cache_seconds=CACHE_SECONDS))
    with pytest.raises(Unauthorized, match="unknown key"):
        auth.authenticate(header(OLD))


@pytest.mark.parametrize(
    "uri",
    [
        "https://login.microsoftonline.com/t/discovery/v2.0/keys",
        "file:///srv/dev-issuer/jwks.json",
        "http://127.0.0.1:8080/keys",
        "http://localhost/keys",
        "http://[::1]:9000/keys",
    ],
)
def test_accepted_jwks_uris(uri: str) -> None:
    check_jwks_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://idp.example.test/keys",
        "http://127.0.0.1.evil.test/keys",
        "http://localhost@evil.test/keys",
        "ftp://127.0.0.1/keys",
        "https:///keys",
        "jwks.json",
        "",
    ],
)
def test_rejected_jwks_uris(uri: str) -> None:
    with pytest.raises(ConfigurationError):
        check_jwks_uri(uri)
