"""Blob triggers: scan the containers, fire once per blob version, retry, then poison.

For each blob-triggered function the devhost lists the trigger's container every poll
interval (Azurite sends no Event Grid events, so a trigger with `source: EventGrid` is scanned
the same way). A blob whose name matches the trigger's path pattern fires the function once per
ETag, so a changed blob fires again. Like the Functions host, it keeps a receipt per
(function, ETag, blob) in AzureWebJobsStorage:

    azure-webjobs-hosts/blobreceipts/{hostId}/{functionId}/{ETag}/{container}/{blob}

The receipt is leased while the function runs, so two hosts sharing the storage account and
host id fire a blob once between them; its metadata counts attempts (`Attempts`) and marks
the end (`Completed`). A failed invocation is retried at the next scan; after 5 failed
attempts a message goes to the `webjobs-blobtrigger-poison` queue (in the trigger's storage
account, else AzureWebJobsStorage) and the receipt is completed with `Poisoned=true`.

The function gets the `func.InputStream` the Python worker builds: the SDK's blob converter
decodes the content with the trigger metadata the host sends (`BlobTrigger` =
"container/blob", `Uri`, `Properties`, `Metadata`, and the path pattern's parameters).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.functions.meta import Datum
from azure.storage.blob import BlobProperties
from azure.storage.blob.aio import BlobClient, BlobLeaseClient, BlobServiceClient

from devhost.errors import DevhostError
from devhost.invocation import BindingData, Invoker, converter
from devhost.queues import StorageQueues
from devhost.registry import FunctionSpec
from devhost.settings import AppSettings, StorageAccount, storage_account

logger = logging.getLogger("devhost.blobs")

RECEIPTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"
MAX_ATTEMPTS = 5
_LEASE_SECONDS = 60
_CONCURRENCY = 8


def default_host_id(settings: AppSettings) -> str:
    """The host id: `AzureFunctionsWebHost__hostid`, else from the machine name (as Core Tools)."""
    configured = settings.get("AzureFunctionsWebHost__hostid")
    if configured:
        return configured
    name = re.sub(r"[^a-z0-9-]", "", socket.gethostname().lower())
    return (name[:32].rstrip("-")) or "devhost"


def quoted_etag(etag: object) -> str:
    """The ETag as the HTTP header carries it, quotes included (listings drop them; the host's
    receipt paths and poison messages keep them)."""
    text = str(etag)
    return text if text.startswith('"') else f'"{text}"'


@dataclass(frozen=True)
class BlobTrigger:
    spec: FunctionSpec
    container: str
    # The part after the container: its {parameters} become named groups.
    pattern: re.Pattern[str]
    account: StorageAccount


def blob_triggers(functions: Sequence[FunctionSpec], settings: AppSettings) -> list[BlobTrigger]:
    triggers = []
    for spec in functions:
        where = f"function '{spec.name}'"
        path = str(spec.trigger.get("path") or "")
        container, _, name_pattern = path.strip("/").partition("/")
        if not container or "{" in container:
            raise DevhostError(f"{where}: blob path '{path}' must start with a container name")
        connection = str(spec.trigger.get("connection") or "AzureWebJobsStorage")
        account = storage_account(settings, connection, where=where)
        triggers.append(BlobTrigger(spec, container, _name_regex(name_pattern), account))
    return triggers


def _name_regex(pattern: str) -> re.Pattern[str]:
    if not pattern:
        return re.compile(r"(?s).+")
    tokens = re.split(r"\{([^{}]+)\}", pattern)
    regex = ""
    last_parameter = len(tokens) // 2 - 1
    for index, token in enumerate(tokens):
        if index % 2 == 0:
            regex += re.escape(token)
        else:
            quantifier = ".+" if index // 2 == last_parameter else ".+?"
            regex += f"(?P<{token.strip()}>{quantifier})"
    return re.compile(f"(?s){regex}")


class BlobTriggerService:
    """Scans the triggers' containers and fires their functions (see the module docstring)."""

    def __init__(
        self,
        triggers: Sequence[BlobTrigger],
        *,
        receipts: StorageAccount,
        host_id: str,
        invoker: Invoker,
        poll_interval: float = 1.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.triggers = list(triggers)
        self.receipts_account = receipts
        self.host_id = host_id
        self.invoker = invoker
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self._clients: dict[str, BlobServiceClient] = {}
        self._finished: set[tuple[str, str, str]] = set()
        self._in_flight: set[tuple[str, str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._semaphore = asyncio.Semaphore(_CONCURRENCY)
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        # Completed scans of every container (tests wait on it instead of sleeping).
        self.scans = 0

    def _client(self, account: StorageAccount) -> BlobServiceClient:
        key = account.connection_string or account.blob_endpoint
        client = self._clients.get(key)
        if client is None:
            if account.connection_string:
                client = BlobServiceClient.from_connection_string(account.connection_string)
            else:
                from azure.identity.aio import DefaultAzureCredential

                client = BlobServiceClient(
                    account.blob_endpoint, credential=DefaultAzureCredential()
                )
            self._clients[key] = client
        return client

    async def start(self) -> None:
        if not self.triggers:
            return
        self._session = aiohttp.ClientSession()
        receipts = self._client(self.receipts_account).get_container_client(RECEIPTS_CONTAINER)
        with contextlib.suppress(ResourceExistsError):
            await receipts.create_container()
        for trigger in self.triggers:
            container = self._client(trigger.account).get_container_client(trigger.container)
            with contextlib.suppress(ResourceExistsError):
                await container.create_container()
        self._loop_task = asyncio.create_task(self._run(), name="blob-trigger-scan")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._session is not None:
            await self._session.close()

    def poke(self) -> None:
        """Scan now instead of at the next interval."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("blob trigger scan failed: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def scan(self) -> None:
        for trigger in self.triggers:
            container = self._client(trigger.account).get_container_client(trigger.container)
            try:
                blobs = [blob async for blob in container.list_blobs(include=["metadata"])]
            except ResourceNotFoundError:
                continue
            for blob in blobs:
                key = (trigger.spec.name, blob.name, quoted_etag(blob.etag))
                if key in self._finished or key in self._in_flight:
                    continue
                found = trigger.pattern.fullmatch(blob.name)
                if found is None:
                    self._finished.add(key)
                    continue
                self._in_flight.add(key)
                task = asyncio.create_task(self._fire(trigger, blob, found.groupdict(), key))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        self.scans += 1

    async def _fire(
        self,
        trigger: BlobTrigger,
        blob: BlobProperties,
        parameters: Mapping[str, str],
        key: tuple[str, str, str],
    ) -> None:
        try:
            async with self._semaphore:
                if await self._process(trigger, blob, parameters):
                    self._finished.add(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("blob %s/%s: %s", trigger.container, blob.name, exc)
        finally:
            self._in_flight.discard(key)

    def receipt_name(self, spec: FunctionSpec, container: str, blob: str, etag: str) -> str:
        return f"blobreceipts/{self.host_id}/{spec.function_id}/{etag}/{container}/{blob}"

    async def _process(
        self, trigger: BlobTrigger, blob: BlobProperties, parameters: Mapping[str, str]
    ) -> bool:
        """Fire once for this blob version unless its receipt says it is done; True when done."""
        etag = quoted_etag(blob.etag)
        receipt = self._client(self.receipts_account).get_blob_client(
            RECEIPTS_CONTAINER, self.receipt_name(trigger.spec, trigger.container, blob.name, etag)
        )
        metadata = await _receipt_metadata(receipt)
        if metadata.get("Completed") == "true":
            return True
        try:
            lease: BlobLeaseClient = await receipt.acquire_lease(lease_duration=_LEASE_SECONDS)
        except HttpResponseError as exc:
            if exc.status_code == 409:  # another host (or an earlier scan) holds it
                return False
            raise
        renewal = asyncio.create_task(_keep_leased(lease))
        try:
            metadata = dict((await receipt.get_blob_properties()).metadata or {})
            if metadata.get("Completed") == "true":
                return True
            return await self._attempt(trigger, blob, parameters, receipt, lease, metadata)
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError, HttpResponseError):
                await renewal
            with contextlib.suppress(HttpResponseError):
                await lease.release()

    async def _attempt(
        self,
        trigger: BlobTrigger,
        blob: BlobProperties,
        parameters: Mapping[str, str],
        receipt: BlobClient,
        lease: BlobLeaseClient,
        metadata: dict[str, str],
    ) -> bool:
        source = self._client(trigger.account).get_blob_client(trigger.container, blob.name)
        try:
            download = await source.download_blob(
                etag=quoted_etag(blob.etag), match_condition=MatchConditions.IfNotModified
            )
            content = await download.readall()
        except (ResourceModifiedError, ResourceNotFoundError):
            return True  # a newer version (or none) replaced it; that one fires instead
        properties = download.properties
        attempts = int(metadata.get("Attempts", "0")) + 1
        metadata["Attempts"] = str(attempts)
        await receipt.set_blob_metadata(metadata, lease=lease)
        stream = self._input_stream(trigger, source.url, content, properties, parameters)
        binding_data = BindingData(
            {
                **parameters,
                "blobtrigger": f"{trigger.container}/{blob.name}",
                "uri": source.url,
                "metadata": dict(properties.metadata or {}),
            }
        )
        try:
            await self.invoker.invoke(trigger.spec, stream, binding_data)
        except Exception:
            if attempts < self.max_attempts:
                return False
            await self._poison(trigger, blob)
            metadata["Poisoned"] = "true"
        metadata["Completed"] = "true"
        await receipt.set_blob_metadata(metadata, lease=lease)
        return True

    def _input_stream(
        self,
        trigger: BlobTrigger,
        uri: str,
        content: bytes,
        properties: BlobProperties,
        parameters: Mapping[str, str],
    ) -> Any:
        metadata: dict[str, Datum] = {
            "BlobTrigger": Datum(f"{trigger.container}/{properties.name}", "string"),
            "Uri": Datum(uri, "string"),
            "Properties": Datum(json.dumps(_dotnet_properties(properties)), "json"),
            "Metadata": Datum(json.dumps(dict(properties.metadata or {})), "json"),
        }
        for name, value in parameters.items():
            metadata[name] = Datum(value, "string")
        return converter("blobTrigger").decode(Datum(content, "bytes"), trigger_metadata=metadata)

    async def _poison(self, trigger: BlobTrigger, blob: BlobProperties) -> None:
        message = {
            "Type": "BlobTrigger",
            "FunctionId": trigger.spec.function_id,
            "BlobType": "BlockBlob",
            "ContainerName": trigger.container,
            "BlobName": blob.name,
            "ETag": quoted_etag(blob.etag),
        }
        account = trigger.account if trigger.account.queue_endpoint else self.receipts_account
        assert self._session is not None
        await StorageQueues(account).put(self._session, POISON_QUEUE, json.dumps(message))
        logger.error(
            "blob %s/%s failed %d times: moved to queue %s",
            trigger.container,
            blob.name,
            self.max_attempts,
            POISON_QUEUE,
        )


async def _receipt_metadata(receipt: BlobClient) -> dict[str, str]:
    """The receipt's metadata, creating the (empty) receipt if there is none yet."""
    try:
        return dict((await receipt.get_blob_properties()).metadata or {})
    except ResourceNotFoundError:
        pass
    with contextlib.suppress(ResourceExistsError):
        await receipt.upload_blob(b"", overwrite=False)
    return {}


async def _keep_leased(lease: BlobLeaseClient) -> None:
    while True:
        await asyncio.sleep(_LEASE_SECONDS / 3)
        await lease.renew()


def _dotnet_properties(properties: BlobProperties) -> dict[str, Any]:
    """BlobProperties as the host serialises them for the worker (PascalCase .NET names)."""
    settings = properties.content_settings
    md5 = settings.content_md5
    return {
        "ContentLength": properties.size,
        "ContentType": settings.content_type,
        "ContentEncoding": settings.content_encoding,
        "ContentLanguage": settings.content_language,
        "ContentDisposition": settings.content_disposition,
        "CacheControl": settings.cache_control,
        "ContentMD5": base64.b64encode(md5).decode() if md5 else None,
        "ETag": quoted_etag(properties.etag),
        "LastModified": properties.last_modified.isoformat() if properties.last_modified else None,
        "CreatedOn": properties.creation_time.isoformat() if properties.creation_time else None,
        "BlobType": "Block",
    }
