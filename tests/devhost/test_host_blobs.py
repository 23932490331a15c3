"""Blob triggers from Azurite: once per ETag with receipts in storage, retries, poison queue,
the worker's InputStream, and the Event Grid source."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from azure.storage.blob import BlobServiceClient

from devhost.blobs import POISON_QUEUE, RECEIPTS_CONTAINER, BlobTriggerService
from devhost.host import HostOptions
from devhost.queues import QueueMessage, StorageQueues
from devhost.settings import AppSettings, storage_account
from tests.devhost import host_app
from tests.devhost.host_support import (
    TEST_APP,
    LoopThread,
    RunningHost,
    running_host,
    wait_until,
    write_app_root,
)

INCOMING = "devhost-incoming"
EVENTS = "devhost-events"


@pytest.fixture(scope="module")
def blobs(devhost_storage: str) -> Iterator[BlobServiceClient]:
    with BlobServiceClient.from_connection_string(devhost_storage) as client:
        yield client


def scanner(host: RunningHost) -> BlobTriggerService:
    assert host.host.blob_service is not None
    return host.host.blob_service


def wait_for_scans(host: RunningHost, count: int = 3) -> None:
    """Let the host scan every container `count` more times."""
    service = scanner(host)
    target = service.scans + count
    wait_until(lambda: service.scans >= target)


def upload(
    blobs: BlobServiceClient,
    container: str,
    name: str,
    data: bytes,
    metadata: dict[str, str] | None = None,
) -> str:
    client = blobs.get_blob_client(container, name)
    properties = client.upload_blob(data, overwrite=True, metadata=metadata)
    return str(properties["etag"])


def poison_messages(devhost: RunningHost, storage: str) -> list[QueueMessage]:
    account = storage_account(AppSettings({"S": storage}), "S", where="test")

    async def peek() -> list[QueueMessage]:
        async with aiohttp.ClientSession() as session:
            return await StorageQueues(account).peek(session, POISON_QUEUE)

    return devhost.loop.run(peek())


def test_a_new_blob_fires_once_with_the_workers_input_stream(
    devhost: RunningHost, blobs: BlobServiceClient
) -> None:
    name = f"{uuid.uuid4().hex}.txt"
    upload(blobs, INCOMING, name, b"hello blob", metadata={"origin": "test"})
    [call] = wait_until(lambda: host_app.calls("on_incoming", f"{INCOMING}/{name}"))
    assert call.content == b"hello blob"
    assert call.length == len(b"hello blob")
    assert call.uri.endswith(f"/{INCOMING}/{name}")
    assert call.metadata == {"origin": "test"}
    assert call.properties["ContentLength"] == len(b"hello blob")
    wait_for_scans(devhost)
    assert len(host_app.calls("on_incoming", f"{INCOMING}/{name}")) == 1


def test_a_changed_blob_fires_again(devhost: RunningHost, blobs: BlobServiceClient) -> None:
    name = f"{uuid.uuid4().hex}.txt"
    upload(blobs, INCOMING, name, b"first")
    wait_until(lambda: host_app.calls("on_incoming", f"{INCOMING}/{name}"))
    upload(blobs, INCOMING, name, b"second")
    calls = wait_until(
        lambda: [c.content for c in host_app.calls("on_incoming", f"{INCOMING}/{name}")][1:]
    )
    assert calls == [b"second"]


def test_receipts_are_kept_in_the_storage_account_per_etag(
    devhost: RunningHost, blobs: BlobServiceClient
) -> None:
    name = f"{uuid.uuid4().hex}.txt"
    etag = upload(blobs, INCOMING, name, b"receipt")
    wait_until(lambda: host_app.calls("on_incoming", f"{INCOMING}/{name}"))
    receipt = blobs.get_blob_client(
        RECEIPTS_CONTAINER,
        f"blobreceipts/devhost-tests/Host.Functions.on_incoming/{etag}/{INCOMING}/{name}",
    )

    def completed() -> dict[str, str] | None:
        metadata: dict[str, str] = receipt.get_blob_properties().metadata
        return metadata if metadata.get("Completed") == "true" else None

    metadata = wait_until(completed)
    assert metadata["Attempts"] == "1"


def test_another_host_with_the_same_id_does_not_fire_a_blob_again(
    devhost: RunningHost,
    devhost_loop: LoopThread,
    blobs: BlobServiceClient,
    devhost_settings: dict[str, str],
    tmp_path: Path,
) -> None:
    """Receipts outlive the host: a restarted (or second) host skips what is done."""
    name = f"{uuid.uuid4().hex}.txt"
    upload(blobs, INCOMING, name, b"once")
    wait_until(lambda: host_app.calls("on_incoming", f"{INCOMING}/{name}"))
    root = write_app_root(tmp_path, {**devhost_settings, "HUB_NAME": "devhostsecond"})
    options = HostOptions(
        root=root, app_module=TEST_APP, port=0, poll_interval=0.2, start_azurite=False
    )
    with running_host(devhost_loop, options) as second:
        wait_for_scans(second)
        # Both hosts scan now; a new blob still fires once between them.
        shared = f"{uuid.uuid4().hex}.txt"
        upload(blobs, INCOMING, shared, b"shared")
        wait_until(lambda: host_app.calls("on_incoming", f"{INCOMING}/{shared}"))
        wait_for_scans(second)
        wait_for_scans(devhost)
    assert len(host_app.calls("on_incoming", f"{INCOMING}/{name}")) == 1
    assert len(host_app.calls("on_incoming", f"{INCOMING}/{shared}")) == 1


def test_a_failing_blob_is_tried_five_times_then_poisoned(
    devhost: RunningHost, blobs: BlobServiceClient, devhost_storage: str
) -> None:
    name = f"fail-{uuid.uuid4().hex}.txt"
    etag = upload(blobs, INCOMING, name, b"bad")

    def poisoned() -> list[dict[str, str]]:
        found = [json.loads(m.text) for m in poison_messages(devhost, devhost_storage)]
        return [m for m in found if m["BlobName"] == name]

    [message] = wait_until(poisoned)
    assert message == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.on_incoming",
        "BlobType": "BlockBlob",
        "ContainerName": INCOMING,
        "BlobName": name,
        "ETag": etag,
    }
    wait_for_scans(devhost)
    assert len(host_app.calls("on_incoming", f"{INCOMING}/{name}")) == 5


def test_event_grid_source_fires_with_the_path_parameters(
    devhost: RunningHost, blobs: BlobServiceClient
) -> None:
    owner = uuid.uuid4().hex
    upload(blobs, EVENTS, f"{owner}/report.pdf", b"not matched: .txt only")
    upload(blobs, EVENTS, f"{owner}/report.txt", b"matched")
    [call] = wait_until(lambda: host_app.calls("on_event_grid", f"{EVENTS}/{owner}/report.txt"))
    assert call.content == b"matched"
    wait_for_scans(devhost)
    assert host_app.calls("on_event_grid", f"{EVENTS}/{owner}/report.pdf") == []
