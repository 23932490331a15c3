"""shared.blobs against the real Azurite: what upload tickets and read URLs can and cannot do.

Requests with a ticket or read URL go through urllib, as a browser or another client would:
no SDK, no storage credentials, only the URL.
"""

from __future__ import annotations

import dataclasses
import ssl
import threading
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import pytest
from azure.storage.blob import BlobServiceClient

from shared.blobs import (
    QUARANTINE_REASON_KEY,
    blob_service,
    download,
    ensure_containers,
    move_to_quarantine,
    read_url,
    safe_filename,
    upload_ticket,
)
from shared.config import BlobSettings
from shared.errors import ConfigurationError, NotFound, ValidationFailed
from tests.support.azurite import Azurite, ManagedIdentity

PDF = b"%PDF-1.7\n% an invoice, as far as storage cares\n%%EOF\n"


def _send(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
) -> tuple[int, bytes]:
    """Status and body of a plain HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _with_path(url: str, path: str) -> str:
    """`url` with its path replaced and its query (the SAS) kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture(scope="module")
def service(azurite: Azurite) -> Iterator[BlobServiceClient]:
    client = blob_service(azurite.settings)
    ensure_containers(client, azurite.settings)
    yield client
    client.close()


@pytest.fixture
def settings(azurite: Azurite) -> BlobSettings:
    return azurite.settings


@pytest.fixture
def owner() -> str:
    # A fresh owner per test keeps tests independent on the session's shared Azurite.
    return f"entra-{uuid.uuid4().hex[:12]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _put(url: str, body: bytes = PDF, ca_file: Path | None = None, **headers: str) -> int:
    ticket_headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/pdf", **headers}
    return _send("PUT", url, body=body, headers=ticket_headers, ca_file=ca_file)[0]


# --- upload tickets -------------------------------------------------------------------------


def test_ticket_describes_one_put_to_owner_upload_id_filename(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    now = _now()
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", now)

    assert len(ticket.upload_id) == 32 and int(ticket.upload_id, 16) >= 0
    assert ticket.blob_path == f"{owner}/{ticket.upload_id}/invoice.pdf"
    assert ticket.expires_at == now + timedelta(minutes=settings.upload_sas_minutes)
    assert ticket.expires_at.tzinfo == UTC
    assert ticket.method == "PUT"
    assert dict(ticket.headers) == {"x-ms-blob-type": "BlockBlob"}
    assert urlsplit(ticket.url).path.endswith(f"/invoices-incoming/{ticket.blob_path}")


def test_ticket_sas_grants_only_create_and_write_on_one_blob(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    query = _query(upload_ticket(service, settings, owner, "invoice.pdf", _now()).url)

    assert query["sp"] == "cw"
    assert query["sr"] == "b"
    # Plain HTTP endpoint (Azurite): an HTTPS-only SAS would be unusable.
    assert "spr" not in query


def test_ticket_url_uploads_the_file_with_a_plain_http_put(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", _now())

    assert _put(ticket.url) == 201
    assert download(service, settings.incoming_container, ticket.blob_path) == PDF


def test_ticket_url_cannot_read_the_blob_it_wrote(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", _now())
    assert _put(ticket.url) == 201

    assert _send("GET", ticket.url)[0] == 403
    assert _send("HEAD", ticket.url)[0] == 403


def test_ticket_url_cannot_delete_the_blob(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", _now())
    assert _put(ticket.url) == 201

    assert _send("DELETE", ticket.url)[0] == 403
    assert download(service, settings.incoming_container, ticket.blob_path) == PDF


@pytest.mark.parametrize(
    "other_path",
    [
        "{container}/{owner}/{upload_id}/other.pdf",
        "{container}/someone-else/{upload_id}/invoice.pdf",
        "{container}/{owner}/{upload_id}/invoice.pdf/x",
        "invoices-quarantine/{owner}/{upload_id}/invoice.pdf",
    ],
)
def test_ticket_url_cannot_write_another_blob_path(
    service: BlobServiceClient, settings: BlobSettings, owner: str, other_path: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", _now())
    account = urlsplit(ticket.url).path.split("/")[1]
    path = other_path.format(
        container=settings.incoming_container, owner=owner, upload_id=ticket.upload_id
    )

    assert _put(_with_path(ticket.url, f"/{account}/{path}")) == 403
    container, _, blob_path = path.partition("/")
    with pytest.raises(NotFound):
        download(service, container, blob_path)


def test_ticket_url_cannot_list_the_container(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", _now())
    assert _put(ticket.url) == 201
    parts = urlsplit(ticket.url)
    account = parts.path.split("/")[1]
    listing = urlunsplit(
        parts._replace(
            path=f"/{account}/{settings.incoming_container}",
            query=f"restype=container&comp=list&{parts.query}",
        )
    )

    status, body = _send("GET", listing)
    assert status == 403
    assert ticket.upload_id.encode() not in body


def test_expired_ticket_is_refused(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    issued = _now() - timedelta(minutes=settings.upload_sas_minutes + 1)
    ticket = upload_ticket(service, settings, owner, "invoice.pdf", issued)

    assert ticket.expires_at < _now()
    assert _put(ticket.url) == 403
    with pytest.raises(NotFound):
        download(service, settings.incoming_container, ticket.blob_path)


def test_ticket_needs_a_timezone_aware_now(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        upload_ticket(service, settings, owner, "invoice.pdf", datetime.now())


def test_unicode_filename_round_trips_through_the_ticket(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "Rechnung März 請求書 #7 (copy).pdf", _now())

    assert ticket.blob_path.endswith("/Rechnung März 請求書 #7 (copy).pdf")
    assert _put(ticket.url) == 201
    assert download(service, settings.incoming_container, ticket.blob_path) == PDF


# --- filename and owner validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("faktura łódź.pdf", "faktura łódź.pdf"),
        ("請求書.pdf", "請求書.pdf"),
        ("C:\\Users\\ana\\Rechnung.pdf", "Rechnung.pdf"),
        ("../../etc/passwd", "passwd"),
        ("scans/2024/01/invoice.pdf", "invoice.pdf"),
        ("  padded.pdf  ", "padded.pdf"),
        ("what?.pdf", "what_.pdf"),
        ('a<b>c:d"e|f*.pdf', "a_b_c_d_e_f_.pdf"),
        ("ends with dots...", "ends with dots"),
        (unicodedata.normalize("NFD", "März.pdf"), "März.pdf"),
        ("x" * 200, "x" * 200),
    ],
)
def test_filename_keeps_the_last_component_and_makes_it_blob_safe(
    given: str, expected: str
) -> None:
    assert safe_filename(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        ".",
        "..",
        "...",
        "invoices/",
        "invoices\\",
        "a/..",
        "x\x00.pdf",
        "x\n.pdf",
        "x\x7f.pdf",
        "dir\x01/invoice.pdf",
        "invoice\u202efdp.exe",
        "zero\u200bwidth.pdf",
        "x" * 201,
    ],
)
def test_bad_filename_is_refused_on_the_filename_field(
    service: BlobServiceClient, settings: BlobSettings, owner: str, given: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        upload_ticket(service, settings, owner, given, _now())
    assert caught.value.field == "filename"
    assert caught.value.code == "validation_failed"


@pytest.mark.parametrize("good", ["entra-0f3c", "google-1234567890", "a", "A.b_c-9", "x" * 128])
def test_owner_of_safe_characters_is_accepted(
    service: BlobServiceClient, settings: BlobSettings, good: str
) -> None:
    ticket = upload_ticket(service, settings, good, "invoice.pdf", _now())
    assert ticket.blob_path.startswith(f"{good}/")


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b", "a\\b", "a b", "müller", "x" * 129, "ok\n", "a%2Fb"]
)
def test_bad_owner_is_refused_on_the_owner_field(
    service: BlobServiceClient, settings: BlobSettings, bad: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        upload_ticket(service, settings, bad, "invoice.pdf", _now())
    assert caught.value.field == "owner"


# --- read URLs, downloads, quarantine -------------------------------------------------------


def _uploaded(service: BlobServiceClient, settings: BlobSettings, owner: str, name: str) -> str:
    ticket = upload_ticket(service, settings, owner, name, _now())
    assert _put(ticket.url) == 201
    return ticket.blob_path


def test_read_url_reads_exactly_that_blob(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    blob_path = _uploaded(service, settings, owner, "invoice.pdf")
    neighbour = _uploaded(service, settings, owner, "other.pdf")
    url = read_url(service, settings, settings.incoming_container, blob_path, _now())

    assert _query(url)["sp"] == "r"
    assert _send("GET", url) == (200, PDF)
    account = urlsplit(url).path.split("/")[1]
    neighbour_url = _with_path(url, f"/{account}/{settings.incoming_container}/{neighbour}")
    assert _send("GET", neighbour_url)[0] == 403


def test_read_url_cannot_write_or_delete(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    blob_path = _uploaded(service, settings, owner, "invoice.pdf")
    url = read_url(service, settings, settings.incoming_container, blob_path, _now())

    assert _put(url, body=b"replaced") == 403
    assert _send("DELETE", url)[0] == 403
    assert download(service, settings.incoming_container, blob_path) == PDF


def test_read_url_expires(service: BlobServiceClient, settings: BlobSettings, owner: str) -> None:
    blob_path = _uploaded(service, settings, owner, "invoice.pdf")
    issued = _now() - timedelta(minutes=6)
    url = read_url(service, settings, settings.incoming_container, blob_path, issued, minutes=5)

    assert _send("GET", url)[0] == 403


def test_read_url_only_for_invoice_containers(
    service: BlobServiceClient, settings: BlobSettings
) -> None:
    with pytest.raises(ValueError, match="not an invoice container"):
        read_url(service, settings, "$logs", "anything", _now())


def test_download_of_a_missing_blob_is_not_found(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    with pytest.raises(NotFound):
        download(service, settings.incoming_container, f"{owner}/nothing/here.pdf")


def test_quarantine_keeps_the_bytes_and_records_the_reason(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    blob_path = _uploaded(service, settings, owner, "Rechnung.pdf")
    reason = "document_rejected: not a PDF – „encrypted“ 100%"

    move_to_quarantine(service, settings, blob_path, reason)

    assert download(service, settings.quarantine_container, blob_path) == PDF
    properties = service.get_blob_client(
        settings.quarantine_container, blob_path
    ).get_blob_properties()
    assert unquote(properties.metadata[QUARANTINE_REASON_KEY]) == reason
    assert properties.content_settings.content_type == "application/pdf"
    with pytest.raises(NotFound):
        download(service, settings.incoming_container, blob_path)


def test_quarantine_twice_is_a_no_op(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    blob_path = _uploaded(service, settings, owner, "invoice.pdf")

    move_to_quarantine(service, settings, blob_path, "too_many_pages")
    move_to_quarantine(service, settings, blob_path, "too_many_pages")

    assert download(service, settings.quarantine_container, blob_path) == PDF


def test_quarantine_moves_an_empty_upload(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    ticket = upload_ticket(service, settings, owner, "empty.pdf", _now())
    assert _put(ticket.url, body=b"") == 201

    move_to_quarantine(service, settings, ticket.blob_path, "empty_document")

    assert download(service, settings.quarantine_container, ticket.blob_path) == b""


def test_quarantine_of_a_blob_that_never_existed_is_not_found(
    service: BlobServiceClient, settings: BlobSettings, owner: str
) -> None:
    with pytest.raises(NotFound):
        move_to_quarantine(service, settings, f"{owner}/nothing/here.pdf", "whatever")


# --- containers and configuration -----------------------------------------------------------


def test_ensure_containers_twice_is_fine(
    service: BlobServiceClient, settings: BlobSettings
) -> None:
    ensure_containers(service, settings)
    ensure_containers(service, settings)

    names = {container.name for container in service.list_containers()}
    assert {settings.incoming_container, settings.quarantine_container} <= names


def test_ensure_containers_racing_callers_all_succeed(
    service: BlobServiceClient, settings: BlobSettings
) -> None:
    suffix = uuid.uuid4().hex[:8]
    fresh = dataclasses.replace(
        settings, incoming_container=f"race-in-{suffix}", quarantine_container=f"race-q-{suffix}"
    )
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            ensure_containers(service, fresh)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    names = {container.name for container in service.list_containers()}
    assert {fresh.incoming_container, fresh.quarantine_container} <= names


def test_blob_service_without_configuration_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="INVOICES_STORAGE"):
        blob_service(BlobSettings())


# --- managed identity: user delegation SAS --------------------------------------------------


@pytest.fixture
def identity_service(
    azurite_oauth: Azurite, managed_identity: ManagedIdentity
) -> Iterator[BlobServiceClient]:
    client = blob_service(azurite_oauth.settings)
    ensure_containers(client, azurite_oauth.settings)
    yield client
    client.close()


def test_managed_identity_ticket_is_a_user_delegation_sas_that_uploads(
    identity_service: BlobServiceClient,
    azurite_oauth: Azurite,
    managed_identity: ManagedIdentity,
    owner: str,
) -> None:
    settings = azurite_oauth.settings
    ticket = upload_ticket(identity_service, settings, owner, "invoice.pdf", _now())
    query = _query(ticket.url)

    # Signed with a key Storage issued to this identity, not with an account key.
    assert query["skoid"] == managed_identity.object_id
    assert query["sktid"] == managed_identity.tenant_id
    assert query["sp"] == "cw"
    assert query["spr"] == "https"
    assert managed_identity.token_requests
    assert set(managed_identity.token_requests) == {"https://storage.azure.com"}

    assert _put(ticket.url, ca_file=azurite_oauth.ca_file) == 201
    assert _send("GET", ticket.url, ca_file=azurite_oauth.ca_file)[0] == 403
    assert download(identity_service, settings.incoming_container, ticket.blob_path) == PDF


def test_managed_identity_read_url_reads_and_cannot_write(
    identity_service: BlobServiceClient, azurite_oauth: Azurite, owner: str
) -> None:
    settings = azurite_oauth.settings
    ticket = upload_ticket(identity_service, settings, owner, "invoice.pdf", _now())
    assert _put(ticket.url, ca_file=azurite_oauth.ca_file) == 201

    url = read_url(
        identity_service, settings, settings.incoming_container, ticket.blob_path, _now()
    )

    assert _send("GET", url, ca_file=azurite_oauth.ca_file) == (200, PDF)
    assert _put(url, body=b"replaced", ca_file=azurite_oauth.ca_file) == 403


def test_managed_identity_reuses_its_delegation_key(
    identity_service: BlobServiceClient, azurite_oauth: Azurite, owner: str
) -> None:
    settings = azurite_oauth.settings
    now = _now()
    first = _query(upload_ticket(identity_service, settings, owner, "a.pdf", now).url)
    later = now + timedelta(minutes=1)
    second = _query(upload_ticket(identity_service, settings, owner, "b.pdf", later).url)

    # skt/ske are the key's validity: a fresh key for `later` would start a minute later.
    assert (first["skt"], first["ske"]) == (second["skt"], second["ske"])
