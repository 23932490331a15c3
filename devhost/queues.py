"""The few Storage Queue calls the devhost makes (the poison queue), over the REST API.

azure-storage-queue is not a dependency of the app, so the devhost signs requests with an
account SAS made by azure-storage-blob's `generate_account_sas` for the queue service, or uses
the SAS of the connection string. Message texts are base64, as the Functions host writes them.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from xml.etree import ElementTree

import aiohttp
from azure.storage.blob import AccountSasPermissions, ResourceTypes, Services, generate_account_sas

from devhost.errors import DevhostError
from devhost.settings import StorageAccount, parse_connection_string


@dataclass(frozen=True)
class QueueMessage:
    id: str
    text: str
    dequeue_count: int


class StorageQueues:
    def __init__(self, account: StorageAccount) -> None:
        if account.queue_endpoint is None:
            raise DevhostError("the storage connection has no queue endpoint")
        self.endpoint = account.queue_endpoint.rstrip("/")
        self._account = account
        _sas_token(account)  # fail at start-up, not at the first poisoned blob

    def _url(self, path: str, query: str = "") -> str:
        separator = "&" if query else ""
        return f"{self.endpoint}/{path}?{query}{separator}{_sas_token(self._account)}"

    async def create(self, session: aiohttp.ClientSession, queue: str) -> None:
        async with session.put(self._url(queue)) as response:
            if response.status not in (201, 204, 409):
                raise DevhostError(f"cannot create queue {queue}: HTTP {response.status}")

    async def put(self, session: aiohttp.ClientSession, queue: str, text: str) -> None:
        await self.create(session, queue)
        encoded = base64.b64encode(text.encode()).decode()
        body = f"<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>"
        async with session.post(self._url(f"{queue}/messages"), data=body.encode()) as response:
            if response.status != 201:
                raise DevhostError(f"cannot write to queue {queue}: HTTP {response.status}")

    async def peek(self, session: aiohttp.ClientSession, queue: str) -> list[QueueMessage]:
        url = self._url(f"{queue}/messages", "peekonly=true&numofmessages=32")
        async with session.get(url) as response:
            if response.status == 404:
                return []
            if response.status != 200:
                raise DevhostError(f"cannot read queue {queue}: HTTP {response.status}")
            # The storage account's own answer (Azurite locally), not user input.
            document = ElementTree.fromstring(await response.read())  # noqa: S314
        messages = []
        for element in document.findall("QueueMessage"):
            text = element.findtext("MessageText") or ""
            messages.append(
                QueueMessage(
                    id=element.findtext("MessageId") or "",
                    text=base64.b64decode(text).decode(),
                    dequeue_count=int(element.findtext("DequeueCount") or 0),
                )
            )
        return messages


def _sas_token(account: StorageAccount) -> str:
    if account.account_name and account.account_key:
        return generate_account_sas(
            account.account_name,
            account.account_key,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(
                read=True, write=True, add=True, create=True, process=True, list=True
            ),
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            services=Services(queue=True),
        )
    if account.connection_string:
        sas = parse_connection_string(account.connection_string).get("sharedaccesssignature")
        if sas:
            return sas.lstrip("?")
    raise DevhostError("the poison queue needs a storage connection string with a key or a SAS")
