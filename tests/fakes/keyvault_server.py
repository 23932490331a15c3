"""A stand-in Azure Key Vault: a real HTTPS server on 127.0.0.1 speaking the secrets REST API.

The real azure-keyvault-secrets `SecretClient` talks to it exactly as it talks to a vault:
its first request carries no token and gets the 401 bearer challenge
(`WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
resource="https://vault.azure.net"`), the client asks its credential for a token for that
resource and tenant, and sends the request again with it. Only `GET /secrets/{name}[/{version}]`
is served, which is all the app does.

azure-core refuses to send a bearer token over plain HTTP, so the server speaks TLS with a
certificate issued by a throwaway CA made for the purpose; clients trust `ca_file`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
VAULT_RESOURCE = "https://vault.azure.net"
_SECRET_PATH = re.compile(r"^/secrets/([0-9A-Za-z-]{1,127})(?:/([0-9a-f]{32}))?/?$")


@dataclass(frozen=True)
class ServedRequest:
    path: str
    api_version: str | None
    authorized: bool
    status: int


@dataclass(frozen=True)
class _Version:
    version: str
    value: str


def _write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 and localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake key vault test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class FakeKeyVault:
    """Secrets by name, each with its versions; `set_secret` adds a version (a rotation)."""

    def __init__(self, access_token: str, ca_file: Path) -> None:
        self.access_token = access_token
        self.ca_file = ca_file
        self.url = ""
        # While set, every request is answered with this status (an outage).
        self.failing_with: int | None = None
        self._lock = threading.Lock()
        self._secrets: dict[str, list[_Version]] = {}
        self._requests: list[ServedRequest] = []

    def set_secret(self, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        with self._lock:
            self._secrets.setdefault(name, []).append(_Version(version, value))
        return version

    def requests(self) -> list[ServedRequest]:
        with self._lock:
            return list(self._requests)

    def reads_of(self, name: str) -> int:
        """Authorized reads of a secret (what a cache saves)."""
        return sum(
            1 for r in self.requests() if r.authorized and r.path.startswith(f"/secrets/{name}")
        )

    def answer(
        self, path: str, query: str, authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        api_version = parse_qs(query).get("api-version", [None])[0]
        authorized = authorization == f"Bearer {self.access_token}"
        status, headers, body = self._answer(path, api_version, authorized)
        with self._lock:
            # The client asks for `/secrets/{name}/` (an empty version): recorded without it.
            self._requests.append(ServedRequest(path.rstrip("/"), api_version, authorized, status))
        return status, headers, body

    def _answer(
        self, path: str, api_version: str | None, authorized: bool
    ) -> tuple[int, dict[str, str], bytes]:
        if self.failing_with is not None:
            return _error(self.failing_with, "ServiceUnavailable", "the fake vault is down")
        if not authorized:
            status, headers, body = _error(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
            )
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
                f'resource="{VAULT_RESOURCE}"'
            )
            return status, headers | {"WWW-Authenticate": challenge}, body
        if api_version is None:
            return _error(400, "BadParameter", "The api-version parameter is missing.")
        match = _SECRET_PATH.match(path)
        if match is None:
            return _error(404, "NotFound", f"{path} is not served by the fake vault")
        name, version = match.groups()
        with self._lock:
            versions = list(self._secrets.get(name, []))
        chosen = next((v for v in versions if v.version == version), None) if version else None
        if version is None and versions:
            chosen = versions[-1]
        if chosen is None:
            return _error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name} was not found in this key vault.",
            )
        now = int(dt.datetime.now(dt.UTC).timestamp())
        document = {
            "value": chosen.value,
            "id": f"{self.url}/secrets/{name}/{chosen.version}",
            "attributes": {
                "enabled": True,
                "created": now,
                "updated": now,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
        return (
            200,
            {"Content-Type": "application/json; charset=utf-8"},
            json.dumps(document).encode(),
        )


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json; charset=utf-8"}, body


def _handler(vault: FakeKeyVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, headers, body = vault.answer(
                parts.path, parts.query, self.headers.get("Authorization")
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_key_vault(access_token: str = "fake-vault-access-token") -> Iterator[FakeKeyVault]:
    """A fake vault serving HTTPS on a free port of 127.0.0.1 until the block ends."""
    with tempfile.TemporaryDirectory(prefix="fake-keyvault-") as folder:
        ca_file, cert_file, key_file = _write_certificates(Path(folder))
        vault = FakeKeyVault(access_token, ca_file)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(vault))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        vault.url = f"https://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield vault
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
