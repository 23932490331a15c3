"""The two HS256 tokens signed with the access key, and the connection string.

Client access token (what `WebPubSubServiceClient.get_client_access_token` signs): `aud` is
`{http(s) endpoint}/client/hubs/{hub}`, `iat`, `exp`, optional `sub` (user id), `role` (list)
and `webpubsub.group` (list of groups joined on connect).

Service token (what the SDK's `JwtCredentialPolicy` sends as `Authorization: Bearer`): `aud`
is the full request URL, query string included, and `exp` is a minute away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from yarl import URL

from devhost.webpubsub._errors import TokenRejected

ALGORITHM = "HS256"
ROLE_CLAIM = "role"
GROUP_CLAIM = "webpubsub.group"
_CLIENT_SCHEMES = frozenset({"http", "https", "ws", "wss"})


@dataclass(frozen=True)
class ClientIdentity:
    """What a verified client access token says about the connection it opens."""

    user_id: str | None
    roles: frozenset[str]
    groups: tuple[str, ...]


def http_endpoint(base_url: str) -> str:
    """`base_url` without a trailing slash, with ws(s) turned into http(s)."""
    url = base_url.rstrip("/")
    for ws_scheme, http_scheme in (("wss://", "https://"), ("ws://", "http://")):
        if url.lower().startswith(ws_scheme):
            return http_scheme + url[len(ws_scheme) :]
    return url


def ws_endpoint(base_url: str) -> str:
    """`base_url` without a trailing slash, with http(s) turned into ws(s)."""
    url = http_endpoint(base_url)
    return "ws" + url[len("http") :] if url.lower().startswith("http") else url


def client_audience(base_url: str, hub: str) -> str:
    return f"{http_endpoint(base_url)}/client/hubs/{hub}"


def sign_client_token(
    key: str,
    audience: str,
    *,
    user_id: str | None,
    roles: Sequence[str],
    groups: Sequence[str],
    minutes: int,
) -> str:
    """A client access token with the claims the Python SDK puts in one."""
    issued = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "aud": audience,
        "iat": issued,
        "exp": issued + dt.timedelta(minutes=minutes),
    }
    if user_id:
        claims["sub"] = user_id
    if roles:
        claims[ROLE_CLAIM] = list(roles)
    if groups:
        claims[GROUP_CLAIM] = list(groups)
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_client_token(key: str, token: str, hub: str) -> ClientIdentity:
    """The identity in a client access token for `hub`, or `TokenRejected`.

    Only the audience's scheme and path are checked, not its host, so that a token minted
    for http://127.0.0.1:7071 also works on ws://localhost:7071.
    """
    claims = _decode(key, token)
    audience = claims.get("aud")
    if not isinstance(audience, str) or not _is_client_audience(URL(audience), hub):
        raise TokenRejected(f"token audience {audience!r} is not this service's hub {hub!r}")
    user_id = claims.get("sub")
    if user_id is not None and not isinstance(user_id, str):
        raise TokenRejected("claim 'sub' must be a string")
    return ClientIdentity(
        user_id=user_id or None,
        roles=frozenset(_string_list(claims, ROLE_CLAIM)),
        groups=_string_list(claims, GROUP_CLAIM),
    )


def verify_service_token(key: str, token: str, request_url: URL) -> None:
    """Accept a REST API bearer token only when its `aud` is the URL being requested."""
    audience = _decode(key, token).get("aud")
    if not isinstance(audience, str) or not _same_url(URL(audience), request_url):
        raise TokenRejected(f"token audience {audience!r} is not the request URL")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if that is what it holds."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def connection_string(base_url: str, key: str) -> str:
    """`Endpoint=...;Port=...;AccessKey=...;Version=1.0;` pointing at `base_url`."""
    url = URL(http_endpoint(base_url))
    port = f"Port={url.explicit_port};" if url.explicit_port is not None else ""
    return f"Endpoint={url.scheme}://{url.host_subcomponent};{port}AccessKey={key};Version=1.0;"


def _decode(key: str, token: str) -> Mapping[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise TokenRejected(str(error)) from error
    return claims


def _is_client_audience(audience: URL, hub: str) -> bool:
    return (
        audience.scheme.lower() in _CLIENT_SCHEMES
        and audience.path.rstrip("/").lower() == f"/client/hubs/{hub}".lower()
    )


def _same_url(left: URL, right: URL) -> bool:
    def key(url: URL) -> tuple[object, ...]:
        host = (url.host or "").lower()
        return (url.scheme.lower(), host, url.port, url.path, sorted(url.query.items()))

    return key(left) == key(right)


def _string_list(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    # A claim given once may arrive as a bare string; several arrive as a list.
    value = claims.get(name)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise TokenRejected(f"claim {name!r} must be a string or a list of strings")
    return tuple(values)
