"""Bearer token verification (shared/auth/tokens.py) against a real JWKS over HTTP.

Every known way to get a forged, stale or misaddressed token accepted is tried here.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from shared.auth import Authenticator, JwksCache, Principal, Role
from shared.auth.jwks import KeySet
from shared.config import AuthSettings, IssuerConfig, parse_issuers
from shared.errors import ConfigurationError, Unauthorized
from tests.fakes.jwks_server import (
    JwksServer,
    hs256_forgery,
    signing_key,
    token_claims,
    unsigned_token,
)

ISSUER = "https://idp.example.test"
AUDIENCE = "api://invoices-test"
PRIMARY = signing_key("primary")
STRANGER = signing_key("stranger")  # a real key the identity provider never published


@pytest.fixture(scope="session")
def idp() -> Iterator[JwksServer]:
    server = JwksServer().start()
    server.publish(PRIMARY)
    yield server
    server.stop()


def oidc_issuer(server: JwksServer, **extra: Any) -> IssuerConfig:
    entry = {
        "kind": "oidc",
        "name": "test",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_uri": server.url,
        **extra,
    }
    (issuer,) = parse_issuers(json.dumps([entry]))
    return issuer


def authenticator(*issuers: IssuerConfig, leeway: int = 60) -> Authenticator:
    settings = AuthSettings(issuers=issuers, leeway_seconds=leeway)
    return Authenticator(settings, JwksCache(cache_seconds=3600))


@pytest.fixture
def auth(idp: JwksServer) -> Authenticator:
    return authenticator(oidc_issuer(idp))


def claims(**overrides: Any) -> dict[str, Any]:
    return token_claims(ISSUER, AUDIENCE, **overrides)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def rejection(auth: Authenticator, header: str | None) -> str:
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(header)
    return caught.value.message


def test_a_valid_token_yields_the_principal(auth: Authenticator) -> None:
    principal = auth.authenticate(bearer(PRIMARY.sign(claims(roles=["processor"]))))
    assert principal == Principal("test-alice", frozenset({Role.PROCESSOR}), "test")


def test_the_bearer_scheme_is_case_insensitive(auth: Authenticator) -> None:
    assert auth.authenticate(f"bearer {PRIMARY.sign(claims())}").user_id == "test-alice"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_rejected(auth: Authenticator, alg: str) -> None:
    token = unsigned_token({"alg": alg, "typ": "JWT", "kid": PRIMARY.kid}, claims(), b"")
    assert rejection(auth, bearer(token)) == "token algorithm not allowed"


def test_hs256_signed_with_the_rsa_public_key_is_rejected(auth: Authenticator) -> None:
    token = hs256_forgery(claims(), PRIMARY.public_pem, PRIMARY.kid)
    assert rejection(auth, bearer(token)) == "token algorithm not allowed"


@pytest.mark.parametrize("algorithms", [["RS256", "HS256"], ["none"], []])
def test_symmetric_or_no_algorithms_cannot_be_configured(
    idp: JwksServer, algorithms: list[str]
) -> None:
    with pytest.raises(ConfigurationError, match="public-key algorithms"):
        authenticator(oidc_issuer(idp, algorithms=algorithms))


def test_an_rsa_key_never_verifies_an_hmac_token() -> None:
    key_set = KeySet.parse(json.dumps({"keys": [PRIMARY.public_jwk]}).encode(), expires_at=0)
    with pytest.raises(Unauthorized, match="does not match its key"):
        key_set.key(PRIMARY.kid, "HS256")


def test_an_rsa_pss_token_is_rejected_when_only_rs256_is_allowed(auth: Authenticator) -> None:
    token = PRIMARY.sign(claims(), algorithm="PS256")
    assert rejection(auth, bearer(token)) == "token algorithm not allowed"


def test_an_expired_token_is_rejected(auth: Authenticator) -> None:
    token = PRIMARY.sign(claims(iat=1_600_000_000, nbf=1_600_000_000, exp=1_600_000_300))
    assert rejection(auth, bearer(token)) == "token expired"


def test_expiry_tolerates_the_configured_clock_skew(idp: JwksServer) -> None:
    token = PRIMARY.sign(claims(exp=claims()["iat"] - 30))
    assert authenticator(oidc_issuer(idp), leeway=60).authenticate(bearer(token))
    assert rejection(authenticator(oidc_issuer(idp), leeway=5), bearer(token)) == "token expired"


def test_a_token_not_yet_valid_is_rejected(auth: Authenticator) -> None:
    now = claims()["iat"]
    token = PRIMARY.sign(claims(nbf=now + 3600, exp=now + 7200))
    assert rejection(auth, bearer(token)) == "token not yet valid"


def test_a_token_issued_in_the_future_is_rejected(auth: Authenticator) -> None:
    now = claims()["iat"]
    token = PRIMARY.sign(claims(iat=now + 3600, nbf=None, exp=now + 7200))
    assert rejection(auth, bearer(token)) == "token not yet valid"


def test_a_token_for_another_audience_is_rejected(auth: Authenticator) -> None:
    token = PRIMARY.sign(claims(aud="api://someone-else"))
    assert rejection(auth, bearer(token)) == "token audience not accepted"


def test_a_token_from_an_unknown_issuer_is_rejected(auth: Authenticator) -> None:
    token = PRIMARY.sign(claims(iss="https://evil.example.test"))
    assert rejection(auth, bearer(token)) == "token issuer not accepted"


def test_a_token_with_an_unknown_kid_is_rejected(auth: Authenticator) -> None:
    assert rejection(auth, bearer(STRANGER.sign(claims()))) == "token signed with an unknown key"


def test_a_token_signed_by_another_key_claiming_a_published_kid_is_rejected(
    auth: Authenticator,
) -> None:
    token = STRANGER.sign(claims(), kid=PRIMARY.kid)
    assert rejection(auth, bearer(token)) == "token signature invalid"


def test_a_tampered_payload_is_rejected(auth: Authenticator) -> None:
    header, _, signature = PRIMARY.sign(claims(roles=["viewer"])).split(".")
    forged = json.dumps(claims(roles=["admin"])).encode()
    payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    assert rejection(auth, bearer(f"{header}.{payload}.{signature}")) == "token signature invalid"


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "aud"])
def test_a_token_missing_a_required_claim_is_rejected(auth: Authenticator, claim: str) -> None:
    token = PRIMARY.sign(claims(**{claim: None}))
    assert rejection(auth, bearer(token)) == f"token lacks the {claim!r} claim"


def test_a_token_without_a_kid_is_rejected(auth: Authenticator) -> None:
    token = jwt.encode(claims(), PRIMARY.private_key, algorithm="RS256")
    assert rejection(auth, bearer(token)) == "token header has no key id"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Token a.b.c",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer a.b.c d.e.f",
        "Bearer ....",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30",
        "Bearer " + "a" * 20_000 + ".b.c",
    ],
)
def test_malformed_authorization_headers_are_rejected(
    auth: Authenticator, header: str | None
) -> None:
    rejection(auth, header)


def test_rejections_never_echo_the_token(auth: Authenticator) -> None:
    tokens = [
        PRIMARY.sign(claims(aud="api://someone-else")),
        STRANGER.sign(claims()),
        hs256_forgery(claims(), PRIMARY.public_pem, PRIMARY.kid),
        PRIMARY.sign(claims(exp=1_600_000_300, iat=1_600_000_000, nbf=None)),
    ]
    for token in tokens:
        message = rejection(auth, bearer(token))
        assert token not in message
        assert not any(part in message for part in token.split("."))


def test_without_configured_issuers_every_token_is_rejected() -> None:
    token = PRIMARY.sign(claims())
    assert rejection(authenticator(), bearer(token)) == "token issuer not accepted"


def test_a_user_claim_that_cannot_be_a_safe_id_is_rejected(auth: Authenticator) -> None:
    assert "not a valid user id" in rejection(auth, bearer(PRIMARY.sign(claims(sub="../bob"))))
    assert "not a valid user id" in rejection(auth, bearer(PRIMARY.sign(claims(sub="a" * 200))))


def test_google_tokens_verify_with_either_issuer_form_and_get_default_roles(
    idp: JwksServer,
) -> None:
    entry = {"kind": "google", "audience": "client-id.apps", "default_roles": ["viewer"]}
    (google,) = parse_issuers(json.dumps([entry]))
    auth = authenticator(dataclasses.replace(google, jwks_uri=idp.url))
    for iss in ("https://accounts.google.com", "accounts.google.com"):
        token_claims_ = token_claims(iss, "client-id.apps", sub="1234567890", roles=None)
        principal = auth.authenticate(bearer(PRIMARY.sign(token_claims_)))
        assert principal == Principal("google-1234567890", frozenset({Role.VIEWER}), "google")


def test_entra_tokens_use_the_oid_claim_as_the_user(idp: JwksServer) -> None:
    entry = {"kind": "entra", "tenant_id": "tenant-1", "audience": "api://invoices"}
    (entra,) = parse_issuers(json.dumps([entry]))
    auth = authenticator(dataclasses.replace(entra, jwks_uri=idp.url))
    oid = "6f1c2d3e-0000-4000-8000-000000000001"
    good = token_claims(entra.issuer, "api://invoices", sub="pairwise-subject", oid=oid)
    assert auth.authenticate(bearer(PRIMARY.sign(good))).user_id == f"entra-{oid}"
    no_oid = token_claims(entra.issuer, "api://invoices", sub="pairwise-subject")
    assert rejection(auth, bearer(PRIMARY.sign(no_oid))) == "token lacks a usable 'oid' claim"


def test_two_audiences_for_one_issuer_are_told_apart_by_aud(idp: JwksServer) -> None:
    web = oidc_issuer(idp)
    cli = dataclasses.replace(web, name="cli", audience="api://invoices-cli")
    auth = authenticator(web, cli)
    assert auth.authenticate(bearer(PRIMARY.sign(claims()))).issuer == "test"
    token = PRIMARY.sign(claims(aud="api://invoices-cli"))
    assert auth.authenticate(bearer(token)).user_id == "cli-alice"


@pytest.mark.parametrize(
    "jwks_uri",
    ["http://idp.example.test/keys", "ftp://127.0.0.1/keys", "keys.json", "https:///keys"],
)
def test_insecure_or_odd_jwks_uris_are_a_configuration_error(jwks_uri: str) -> None:
    issuer = IssuerConfig(name="x", issuer=ISSUER, audience=AUDIENCE, jwks_uri=jwks_uri)
    with pytest.raises(ConfigurationError):
        authenticator(issuer)
