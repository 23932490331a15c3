"""Bearer token verification: `Authorization` header in, `Principal` out.

The issuer is chosen by the token's unverified `iss` claim; everything else
(signature, algorithm allow-list, iss, aud, exp, nbf, iat) is then verified by
pyjwt against that issuer's configuration and keys. Error messages are short and
never contain the token or key material; tokens are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import jwt
from jwt import PyJWK

from shared.auth.jwks import check_jwks_uri
from shared.auth.principal import Principal, principal_from_claims
from shared.config import AuthSettings, IssuerConfig
from shared.errors import ConfigurationError, Unauthorized

log = logging.getLogger(__name__)

GOOGLE_ISSUER = "https://accounts.google.com"
# Google issues ID tokens with either form of its issuer.
_ISSUER_ALIASES = {GOOGLE_ISSUER: ("accounts.google.com",)}
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Keys come from a public JWKS, so only public-key algorithms make sense; never "none" or HS*.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Far above any real token; stops absurd headers before any parsing.
MAX_TOKEN_CHARS = 16 * 1024


class KeySource(Protocol):
    def signing_key(self, jwks_uri: str, kid: str, algorithm: str) -> PyJWK:
        """The verification key, or `Unauthorized` / `ServiceUnavailable`."""
        ...


class Authenticator:
    """Verifies bearer tokens from the configured issuers. Thread-safe."""

    def __init__(self, settings: AuthSettings, key_source: KeySource) -> None:
        for issuer in settings.issuers:
            check_jwks_uri(issuer.jwks_uri)
            weak = set(issuer.algorithms) - ASYMMETRIC_ALGORITHMS
            if weak or not issuer.algorithms:
                raise ConfigurationError(
                    f"issuer {issuer.name!r}: algorithms must be public-key algorithms "
                    f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), got {list(issuer.algorithms)}"
                )
        self._leeway = settings.leeway_seconds
        self._keys = key_source
        self._by_iss: dict[str, list[IssuerConfig]] = {}
        for issuer in settings.issuers:
            for iss in _accepted_iss(issuer):
                self._by_iss.setdefault(iss, []).append(issuer)

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The caller's Principal; `Unauthorized` for anything but a valid bearer token.

        May raise `ServiceUnavailable` when the issuer's keys cannot be fetched.
        """
        token = _bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed bearer token") from exc
        issuer = self._issuer_for(unverified)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
            raise Unauthorized("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token header has no key id")
        key = self._keys.signing_key(issuer.jwks_uri, kid, algorithm)
        claims = self._verify(token, key, issuer)
        return principal_from_claims(issuer, claims)

    def _issuer_for(self, unverified: Mapping[str, Any]) -> IssuerConfig:
        iss = unverified.get("iss")
        candidates = self._by_iss.get(iss) if isinstance(iss, str) else None
        if not candidates:
            raise Unauthorized("token issuer not accepted")
        if len(candidates) == 1:
            return candidates[0]
        # Several audiences registered for one issuer: pick by the (still unverified) aud.
        aud = unverified.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        for candidate in candidates:
            if candidate.audience in audiences:
                return candidate
        return candidates[0]

    def _verify(self, token: str, key: PyJWK, issuer: IssuerConfig) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(issuer.algorithms),
                audience=issuer.audience,
                issuer=_accepted_iss(issuer),
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("token audience not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("token issuer not accepted") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("token signature invalid") from exc
        except jwt.PyJWTError as exc:
            log.info("bearer token rejected by issuer %s: %s", issuer.name, type(exc).__name__)
            raise Unauthorized("invalid bearer token") from exc
        return claims


def _accepted_iss(issuer: IssuerConfig) -> tuple[str, ...]:
    return (issuer.issuer, *_ISSUER_ALIASES.get(issuer.issuer, ()))


def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header or not authorization_header.strip():
        raise Unauthorized("missing bearer token")
    if len(authorization_header) > MAX_TOKEN_CHARS:
        raise Unauthorized("bearer token too long")
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or token.count(".") != 2:
        raise Unauthorized("expected 'Authorization: Bearer <jwt>'")
    return token
