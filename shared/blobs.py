"""Blob storage: upload tickets, short-lived read URLs, downloads and quarantine.

Documents live in `invoices-incoming` under `{owner}/{upload_id}/{filename}` (DESIGN.md §3).
Clients never get storage credentials: `POST /api/uploads` hands out an `UploadTicket`, a
SAS URL that can create exactly one blob and nothing else, and `GET /api/invoices/{id}/document`
hands out a read-only URL for exactly one blob.

How a SAS is signed follows from how the service is reached:
- a connection string with an account key (Azurite, or a key from Key Vault) signs a service
  SAS with that key;
- a service URI with a managed identity has no key, so it signs a user delegation SAS with a
  key that Storage issues to the identity. That key is cached per account until shortly before
  it expires, so an upload costs no extra round trip.
"""

from __future__ import annotations

import contextlib
import re
import threading
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)

from shared.config import BlobSettings
from shared.errors import ConfigurationError, Conflict, NotFound, ValidationFailed

__all__ = [
    "QUARANTINE_REASON_KEY",
    "UploadTicket",
    "blob_service",
    "download",
    "ensure_containers",
    "move_to_quarantine",
    "read_url",
    "safe_filename",
    "upload_ticket",
]

# Owner ids come from the auth layer ("entra-<oid>"); the pattern keeps them one path segment.
_OWNER = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_FILENAME_CHARS = 200
# Characters Windows refuses in file names: a client saving the document under its blob name
# must not trip over them, so they become "_" (path separators are split off before this).
_UNSAFE_IN_FILENAME = re.compile(r'[<>:"|?*]')

# Metadata key on a quarantined blob; metadata names must be C# identifiers.
QUARANTINE_REASON_KEY = "quarantine_reason"
_MAX_REASON_CHARS = 1000

# A user delegation key is requested for this long beyond the SAS that needs it, and renewed
# once it would expire within the margin, so a SAS never outlives the key that signed it.
_DELEGATION_KEY_LIFETIME = timedelta(hours=1)
_DELEGATION_KEY_RENEW_MARGIN = timedelta(minutes=5)
# Backdating the key's start tolerates clock skew between this host and Storage.
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class UploadTicket:
    """Everything a client needs to upload one document, and nothing more.

    The client sends `method` to `url` with `headers` and the file as the body.
    """

    upload_id: str
    blob_path: str
    url: str
    expires_at: datetime
    method: str = "PUT"
    headers: Mapping[str, str] = field(default_factory=lambda: {"x-ms-blob-type": "BlockBlob"})


def blob_service(settings: BlobSettings) -> BlobServiceClient:
    """A client for the invoice storage account.

    A connection string wins over a service URI, as in the Functions host. Build one client
    per process and reuse it: with a managed identity, the client caches its access token.
    """
    if settings.connection_string:
        return BlobServiceClient.from_connection_string(settings.connection_string)
    if settings.service_uri:
        # Imported here: azure.identity is slow to import and only needed in Azure.
        from azure.identity import DefaultAzureCredential

        return BlobServiceClient(settings.service_uri, credential=DefaultAzureCredential())
    raise ConfigurationError(
        "blob storage is not configured: set INVOICES_STORAGE (a connection string) "
        "or INVOICES_STORAGE__blobServiceUri (with a managed identity)"
    )


def ensure_containers(service: BlobServiceClient, settings: BlobSettings) -> None:
    """Create the incoming, quarantine, processed and staging containers if they are missing.

    Creating and catching "already exists" (rather than checking first) makes two callers
    that race at start-up both succeed.
    """
    for name in (
        settings.incoming_container,
        settings.quarantine_container,
        settings.processed_container,
        settings.staging_container,
    ):
        with contextlib.suppress(ResourceExistsError):
            service.create_container(name)


def upload_ticket(
    service: BlobServiceClient,
    settings: BlobSettings,
    owner: str,
    filename: str,
    now: datetime,
) -> UploadTicket:
    """A write-only URL for one new blob at `{owner}/{upload_id}/{safe filename}`.

    The SAS grants create and write on that blob alone: it cannot read, list, delete or
    touch any other path, and it expires `settings.upload_sas_minutes` after `now`.
    Raises ValidationFailed for an owner or filename that breaks the contract.
    """
    _check_owner(owner)
    name = safe_filename(filename)
    upload_id = uuid.uuid4().hex
    blob_path = f"{owner}/{upload_id}/{name}"
    issued_at = _utc(now)
    expires_at = issued_at + timedelta(minutes=settings.upload_sas_minutes)
    url = _sas_url(
        service,
        settings.incoming_container,
        blob_path,
        BlobSasPermissions(create=True, write=True),
        now=issued_at,
        expires_at=expires_at,
    )
    return UploadTicket(upload_id=upload_id, blob_path=blob_path, url=url, expires_at=expires_at)


def read_url(
    service: BlobServiceClient,
    settings: BlobSettings,
    container: str,
    blob_path: str,
    now: datetime,
    minutes: int = 5,
) -> str:
    """A read-only URL for one blob, valid for `minutes` after `now`.

    Short-lived on purpose: the API checks ownership when it issues the URL, and the URL
    itself cannot be revoked.
    """
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    # A guard, not a policy: a typo must not hand out URLs into some other container.
    if container not in {settings.incoming_container, settings.quarantine_container}:
        raise ValueError(f"{container!r} is not an invoice container")
    issued_at = _utc(now)
    return _sas_url(
        service,
        container,
        blob_path,
        BlobSasPermissions(read=True),
        now=issued_at,
        expires_at=issued_at + timedelta(minutes=minutes),
    )


def download(service: BlobServiceClient, container: str, blob_path: str) -> bytes:
    """The whole blob; raises NotFound when it does not exist."""
    try:
        return service.get_blob_client(container, blob_path).download_blob().readall()
    except ResourceNotFoundError as exc:
        raise NotFound(f"blob {container}/{blob_path} does not exist") from exc


def move_to_quarantine(
    service: BlobServiceClient, settings: BlobSettings, blob_path: str, reason: str
) -> None:
    """Move a rejected blob from incoming to quarantine, same path, reason in its metadata.

    The reason is stored percent-encoded (metadata values must be ASCII);
    `urllib.parse.unquote` restores it.
    """
    encoded = quote(reason.strip()[:_MAX_REASON_CHARS], safe=" /:;,=()'")
    move_blob(
        service,
        settings.incoming_container,
        settings.quarantine_container,
        blob_path,
        {QUARANTINE_REASON_KEY: encoded},
    )


def move_to_processed(service: BlobServiceClient, settings: BlobSettings, blob_path: str) -> None:
    """Move a processed upload from incoming to processed, same path."""
    move_blob(service, settings.incoming_container, settings.processed_container, blob_path)


def move_blob(
    service: BlobServiceClient,
    source_container: str,
    target_container: str,
    blob_path: str,
    extra_metadata: Mapping[str, str] | None = None,
) -> None:
    """Move one blob between containers, same path, keeping content settings and metadata.

    Idempotent: when the blob is already in the target and gone from the source, this does
    nothing, so a retried activity succeeds. The bytes are streamed (not copied server-side)
    so the move works with any credential and completes before the source is deleted; the
    source is deleted only if it has not changed since it was read.
    """
    source = service.get_blob_client(source_container, blob_path)
    target = service.get_blob_client(target_container, blob_path)
    try:
        stream = source.download_blob()
    except ResourceNotFoundError as exc:
        if target.exists():
            return
        raise NotFound(f"blob {source_container}/{blob_path} does not exist") from exc
    properties = stream.properties
    metadata = dict(properties.metadata or {}) | dict(extra_metadata or {})
    content = properties.content_settings
    target.upload_blob(
        stream.chunks(),
        length=properties.size,
        metadata=metadata,
        content_settings=ContentSettings(
            content_type=content.content_type,
            content_encoding=content.content_encoding,
            content_language=content.content_language,
            content_disposition=content.content_disposition,
        ),
        overwrite=True,
    )
    try:
        source.delete_blob(
            delete_snapshots="include",
            etag=properties.etag,
            match_condition=MatchConditions.IfNotModified,
        )
    except ResourceNotFoundError:
        pass  # a concurrent move of the same blob finished first
    except ResourceModifiedError as exc:
        raise Conflict(f"blob {source_container}/{blob_path} changed while it was moved") from exc


def safe_filename(filename: str) -> str:
    """The last path component of `filename`, safe as the last segment of a blob path.

    Unicode letters stay (NFC-normalised, so one name has one spelling). Control and format
    characters are refused rather than dropped: they have no business in a file name, and a
    right-to-left override (U+202E) can make "invoice<U+202E>fdp.exe" display as "invoiceexe.pdf".
    """
    name = unicodedata.normalize("NFC", filename)
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValidationFailed(
            "filename must not contain control or format characters", field="filename"
        )
    name = re.split(r"[/\\]", name)[-1].strip()
    if name in {"", ".", ".."}:
        raise ValidationFailed("filename must name a file", field="filename")
    # Storage and Windows both mishandle names ending in a dot.
    name = _UNSAFE_IN_FILENAME.sub("_", name).rstrip(". ")
    if not name:
        raise ValidationFailed("filename must name a file", field="filename")
    if len(name) > _MAX_FILENAME_CHARS:
        raise ValidationFailed(
            f"filename must be at most {_MAX_FILENAME_CHARS} characters", field="filename"
        )
    return name


def _check_owner(owner: str) -> None:
    # "." and ".." match the pattern but HTTP clients collapse them out of a URL path.
    if not _OWNER.fullmatch(owner) or owner in {".", ".."}:
        raise ValidationFailed(
            "owner must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-'", field="owner"
        )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def _sas_url(
    service: BlobServiceClient,
    container: str,
    blob_path: str,
    permission: BlobSasPermissions,
    *,
    now: datetime,
    expires_at: datetime,
) -> str:
    """The blob's URL with a SAS for `permission` until `expires_at`.

    An account key signs a service SAS; a token credential (managed identity) signs a user
    delegation SAS. Anything else (e.g. a connection string that itself holds a SAS) cannot.
    """
    blob = service.get_blob_client(container, blob_path)
    account_name = service.account_name
    if not account_name:
        raise ConfigurationError(f"cannot tell the storage account from {service.url}")
    # Over plain HTTP (Azurite) a SAS restricted to HTTPS could never be used.
    protocol = "https" if service.scheme.lower() == "https" else None
    credential = service.credential
    account_key = getattr(credential, "account_key", None)
    if isinstance(account_key, str):
        sas = generate_blob_sas(
            account_name,
            container,
            blob_path,
            account_key=account_key,
            permission=permission,
            expiry=expires_at,
            protocol=protocol,
        )
    elif hasattr(credential, "get_token"):
        sas = generate_blob_sas(
            account_name,
            container,
            blob_path,
            user_delegation_key=_delegation_keys.get(service, now=now, needed_until=expires_at),
            permission=permission,
            expiry=expires_at,
            protocol=protocol,
        )
    else:
        raise ConfigurationError(
            "blob storage credentials cannot sign a SAS: use a connection string with an "
            "account key, or a service URI with a managed identity"
        )
    return f"{blob.url}?{sas}"


class _DelegationKeyCache:
    """User delegation keys by account URL.

    One process has one identity (the Function App's), so the account URL is key enough.
    The lock makes concurrent callers share one renewal instead of each requesting a key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[datetime, UserDelegationKey]] = {}

    def get(
        self, service: BlobServiceClient, *, now: datetime, needed_until: datetime
    ) -> UserDelegationKey:
        with self._lock:
            cached = self._keys.get(service.url)
            if cached is not None and cached[0] >= needed_until + _DELEGATION_KEY_RENEW_MARGIN:
                return cached[1]
            expiry = needed_until + _DELEGATION_KEY_LIFETIME
            key = service.get_user_delegation_key(now - _CLOCK_SKEW, expiry)
            self._keys[service.url] = (expiry, key)
            return key


_delegation_keys = _DelegationKeyCache()
