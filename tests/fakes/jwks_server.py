"""A stand-in identity provider: a real HTTP server publishing a JWKS at /keys.

The code under test fetches it over HTTP exactly as it fetches Entra's or Google's
key set. Tests rotate the published keys, make the endpoint fail, and count the
requests it served. `SigningKey` signs tokens the way the provider would.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(
        self, claims: Mapping[str, Any], *, kid: str | None = None, algorithm: str = "RS256"
    ) -> str:
        """A token with this key; `kid` overrides the header's key id (to lie about it)."""
        return jwt.encode(
            dict(claims), self.private_key, algorithm=algorithm, headers={"kid": kid or self.kid}
        )


@functools.cache
def signing_key(kid: str) -> SigningKey:
    """An RSA-2048 key per kid, generated once per process (generation takes ~100 ms)."""
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes) -> str:
    """Assemble a token by hand, for the forgeries pyjwt refuses to produce."""
    signing_input = ".".join(
        _b64(json.dumps(part, default=_timestamp).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{_b64(signature)}"


def hs256_forgery(claims: Mapping[str, Any], secret: bytes, kid: str) -> str:
    """The classic confusion attack: HMAC-sign with the RSA public key as the secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = unsigned_token(header, claims, b"").rsplit(".", 1)[0]
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _timestamp(value: object) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    raise TypeError(f"cannot serialise {type(value).__name__}")


class JwksServer:
    """Serves `{"keys": [...]}` at http://127.0.0.1:<ephemeral port>/keys, in a thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._body = b'{"keys": []}'
        self._status = 200
        self._requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/keys"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def publish(self, *keys: SigningKey) -> None:
        """Replace the published key set (what an IdP does when it rotates keys)."""
        self.respond(200, json.dumps({"keys": [key.public_jwk for key in keys]}).encode())

    def respond(self, status: int, body: bytes) -> None:
        with self._lock:
            self._status, self._body = status, body

    def reset_requests(self) -> None:
        with self._lock:
            self._requests = 0

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/keys":
                    self.send_error(404)
                    return
                with server._lock:
                    # Counted before the response goes out, so a finished fetch is counted.
                    server._requests += 1
                    status, body = server._status, server._body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def token_claims(issuer: str, audience: str, **overrides: Any) -> dict[str, Any]:
    """Valid claims for five minutes from now; an override of None removes the claim."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["viewer"],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}
