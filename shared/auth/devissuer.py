"""The local dev issuer: an RSA key pair on disk that mints tokens for development.

For local use only. Its tokens carry `iss=DEV_ISSUER` and `aud=DEV_AUDIENCE`, so
they verify only where AUTH_ISSUERS lists {"kind": "dev"}, which no deployed
environment should. Key files: `private.pem` (mode 0600) and `jwks.json` (the
public key, published to the API through a file:// jwks_uri).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.config import DEV_AUDIENCE, DEV_ISSUER, AuthSettings

DEFAULT_KEY_DIR = Path(".data/dev-issuer")
PRIVATE_KEY_FILE = "private.pem"
JWKS_FILE = "jwks.json"


def ensure_keys(key_dir: str | Path) -> str:
    """Create the key pair in `key_dir` unless it is there; return the key id."""
    directory = Path(key_dir)
    private_path = directory / PRIVATE_KEY_FILE
    jwks_path = directory / JWKS_FILE
    if private_path.exists() and jwks_path.exists():
        return _kid_of(jwks_path)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    kid = _thumbprint(public_jwk)
    public_jwk.update(kid=kid, use="sig", alg="RS256")
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Private key first, public set second: a reader never sees a kid without its key.
    _write_atomically(private_path, pem, mode=0o600)
    _write_atomically(jwks_path, json.dumps({"keys": [public_jwk]}, indent=2).encode(), mode=0o644)
    return kid


def mint_token(
    key_dir: str | Path,
    user: str,
    roles: Sequence[str],
    minutes: int = 60,
    now: dt.datetime | None = None,
) -> str:
    """An RS256 token for `user` with `roles`, valid for `minutes` from `now`."""
    kid = ensure_keys(key_dir)
    private_key = serialization.load_pem_private_key(
        (Path(key_dir) / PRIVATE_KEY_FILE).read_bytes(), password=None
    )
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_dir}/{PRIVATE_KEY_FILE} is not an RSA private key")
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": user,
        "roles": list(roles),
        "iat": issued,
        "nbf": issued,
        "exp": issued + dt.timedelta(minutes=minutes),
    }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def configured_key_dir(settings: AuthSettings) -> Path | None:
    """The key_dir of the dev issuer in AUTH_ISSUERS, if one is configured."""
    for issuer in settings.issuers:
        if issuer.issuer == DEV_ISSUER and issuer.jwks_uri.startswith("file://"):
            return Path(urlsplit(issuer.jwks_uri).path).parent
    return None


def _kid_of(jwks_path: Path) -> str:
    keys = json.loads(jwks_path.read_bytes())["keys"]
    return str(keys[0]["kid"])


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a kid that changes exactly when the key does."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)  # the umask may have narrowed what open() set
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
