"""Pytest plugin: the real Azurite blob service, started once per session (per xdist worker).

Fixtures:
- `azurite`: Azurite over HTTP with the well-known development account, as on a laptop.
- `azurite_oauth`: Azurite over HTTPS (a self-signed certificate made here) with `--oauth basic`,
  the only way Azurite accepts bearer tokens and so serves user delegation keys.
- `managed_identity`: points azure-identity's managed identity at a local endpoint that speaks
  the App Service protocol and mints tokens Azurite accepts, so `DefaultAzureCredential` runs
  unmodified. Azurite checks a token's claims but not its signature; that is what makes this
  possible without Entra ID.

Each worker picks its own free port, so `pytest -n 2` runs two independent instances.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.config import BlobSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"

# Azurite's well-known development account; public, documented, useless outside Azurite.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

# azure-storage-blob sends newer API versions than Azurite knows; telemetry would call out.
_FLAGS = ("--skipApiVersionCheck", "--disableTelemetry")
_START_TIMEOUT_SECONDS = 30.0
_START_ATTEMPTS = 3  # another process may grab the free port between our probe and Azurite


@dataclass(frozen=True)
class Azurite:
    """One running Azurite blob service."""

    blob_endpoint: str
    connection_string: str
    # Connection-string settings, except on `azurite_oauth`, where they use the service URI.
    settings: BlobSettings
    # The self-signed certificate to trust, when the endpoint is HTTPS.
    ca_file: Path | None = None


@dataclass(frozen=True)
class ManagedIdentity:
    """The identity that the local endpoint issues tokens for."""

    object_id: str
    tenant_id: str
    # Resources (scopes without "/.default") tokens were requested for, in order.
    token_requests: list[str] = field(default_factory=list)


@contextlib.contextmanager
def running_azurite(location: Path, *, tls: tuple[Path, Path] | None = None) -> Iterator[Azurite]:
    """Start Azurite's blob service with data under `location`; stop it on exit.

    `tls` is (certificate, key) in PEM; with it Azurite serves HTTPS and accepts OAuth.
    """
    if not AZURITE_BLOB.exists():
        pytest.fail(
            f"{AZURITE_BLOB.relative_to(REPO_ROOT)} is missing: run scripts/bootstrap "
            "(it runs `npm ci` to install Azurite)",
            pytrace=False,
        )
    extra: list[str] = []
    if tls is not None:
        extra = ["--cert", str(tls[0]), "--key", str(tls[1]), "--oauth", "basic"]
    last_error = ""
    for attempt in range(_START_ATTEMPTS):
        port = _free_port()
        log_path = location / f"azurite-{attempt}.log"
        with log_path.open("wb") as log:
            command = [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
            command += ["--location", str(location), *_FLAGS, *extra]
            process = subprocess.Popen(
                command,
                cwd=location,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            if _wait_until_listening(process, port):
                scheme = "https" if tls else "http"
                endpoint = f"{scheme}://127.0.0.1:{port}/{ACCOUNT_NAME}"
                connection_string = (
                    f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT_NAME};"
                    f"AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint};"
                )
                yield Azurite(
                    blob_endpoint=endpoint,
                    connection_string=connection_string,
                    settings=BlobSettings(connection_string=connection_string),
                    ca_file=tls[0] if tls else None,
                )
                return
            last_error = log_path.read_text(errors="replace")
        finally:
            _stop(process)
    pytest.fail(f"Azurite did not start after {_START_ATTEMPTS} attempts:\n{last_error}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Poll until the port accepts a connection; False if Azurite exited or never listened."""
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite over HTTP with the development account (settings use its connection string)."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as instance:
        yield instance


@pytest.fixture(scope="session")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite over HTTPS with OAuth; settings use the service URI, as with a managed identity."""
    location = tmp_path_factory.mktemp("azurite-oauth")
    with running_azurite(location, tls=self_signed_certificate(location)) as instance:
        yield Azurite(
            blob_endpoint=instance.blob_endpoint,
            connection_string=instance.connection_string,
            settings=BlobSettings(service_uri=instance.blob_endpoint),
            ca_file=instance.ca_file,
        )


class _IdentityEndpoint(ThreadingHTTPServer):
    identity: ManagedIdentity
    secret: str
    signing_key: str


class _IdentityHandler(BaseHTTPRequestHandler):
    """The App Service managed identity protocol (api-version 2019-08-01), minus Entra ID."""

    server: _IdentityEndpoint

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        resource = query.get("resource", [""])[0]
        if self.headers.get("X-IDENTITY-HEADER") != self.server.secret or not resource:
            self.send_error(401 if resource else 400)
            return
        identity = self.server.identity
        identity.token_requests.append(resource)
        now = int(time.time())
        expires_on = now + 3600
        claims = {
            "aud": resource.rstrip("/"),
            # Azurite accepts only Entra ID issuer prefixes.
            "iss": f"https://sts.windows.net/{identity.tenant_id}/",
            "oid": identity.object_id,
            "tid": identity.tenant_id,
            "sub": identity.object_id,
            "iat": now,
            "nbf": now - 60,
            "exp": expires_on,
        }
        token = jwt.encode(claims, self.server.signing_key, algorithm="HS256")
        body = json.dumps(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.object_id,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@pytest.fixture(scope="session")
def _identity_endpoint() -> Iterator[_IdentityEndpoint]:
    server = _IdentityEndpoint(("127.0.0.1", 0), _IdentityHandler)
    server.identity = ManagedIdentity(object_id=str(uuid.uuid4()), tenant_id=str(uuid.uuid4()))
    server.secret = secrets.token_urlsafe(16)
    server.signing_key = secrets.token_urlsafe(32)
    thread = threading.Thread(target=server.serve_forever, name="identity-endpoint", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def managed_identity(
    _identity_endpoint: _IdentityEndpoint,
    azurite_oauth: Azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> ManagedIdentity:
    """Make DefaultAzureCredential use the local endpoint, and trust `azurite_oauth`'s cert."""
    host, port = _identity_endpoint.server_address[:2]
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://{host!s}:{port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", _identity_endpoint.secret)
    # Only the managed identity: never a developer's Azure CLI login or a stray secret.
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    for name in ("IDENTITY_SERVER_THUMBPRINT", "AZURE_CLIENT_ID", "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert azurite_oauth.ca_file is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_file))
    # Loopback must never go through a proxy a developer's shell may set.
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    monkeypatch.setenv("NO_PROXY", no_proxy)
    _identity_endpoint.identity.token_requests.clear()
    return _identity_endpoint.identity
