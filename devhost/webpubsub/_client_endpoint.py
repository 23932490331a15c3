"""The client WebSocket endpoint: `/client/hubs/{hub}` (and `/client/?hub={hub}`).

The access token comes in the `access_token` query parameter or an `Authorization: Bearer`
header; a bad one refuses the upgrade with 401. A client that offers json.webpubsub.azure.v1
gets the subprotocol; any other is a simple WebSocket client that only receives raw frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from devhost.webpubsub._errors import TokenRejected
from devhost.webpubsub._hub import Close, Connection, Hub
from devhost.webpubsub._protocol import SUBPROTOCOL, ProtocolViolation, handle_frame
from devhost.webpubsub._tokens import bearer_token, verify_client_token

log = logging.getLogger(__name__)


class ClientEndpoint:
    def __init__(self, access_key: str, hub: Callable[[str], Hub]) -> None:
        self._access_key = access_key
        self._hub = hub

    async def handle(self, request: web.Request) -> web.StreamResponse:
        hub_name = request.match_info.get("hub") or request.query.get("hub")
        if not hub_name:
            raise web.HTTPBadRequest(text="hub is required in the path or the query")
        token = request.query.get("access_token") or bearer_token(
            request.headers.get("Authorization")
        )
        if token is None:
            raise web.HTTPUnauthorized(text="access_token is required")
        try:
            identity = verify_client_token(self._access_key, token, hub_name)
        except TokenRejected as error:
            raise web.HTTPUnauthorized(text=str(error)) from error

        websocket = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
        await websocket.prepare(request)
        hub = self._hub(hub_name)
        connection = hub.connect(identity, pubsub=websocket.ws_protocol == SUBPROTOCOL)
        writer = asyncio.create_task(_drain(connection, websocket))
        try:
            await _read(hub, connection, websocket)
        finally:
            hub.disconnect(connection)
            if websocket.closed:
                writer.cancel()  # nobody is listening for what is still queued
            else:
                connection.outbox.put_nowait(Close())  # the service is declining the client
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return websocket


async def _read(hub: Hub, connection: Connection, websocket: web.WebSocketResponse) -> None:
    async for message in websocket:
        if not connection.pubsub:
            continue  # a simple client's frames are events for an upstream there is none of
        if message.type == WSMsgType.TEXT:
            frame = message.data
        elif message.type == WSMsgType.BINARY:
            frame = message.data.decode("utf-8", errors="replace")
        else:
            continue
        try:
            handle_frame(hub, connection, frame)
        except ProtocolViolation as error:
            log.info("declining Web PubSub connection %s: %s", connection.id, error)
            hub.disconnect(connection)
            connection.close(f"Invalid request: {error}")
            return


async def _drain(connection: Connection, websocket: web.WebSocketResponse) -> None:
    try:
        while True:
            item = await connection.outbox.get()
            if isinstance(item, Close):
                # A close frame's reason has room for 123 bytes; cut on a character boundary.
                reason = (item.reason or "").encode()[:123].decode(errors="ignore").encode()
                await websocket.close(code=WSCloseCode.OK, message=reason)
                return
            if isinstance(item, str):
                await websocket.send_str(item)
            else:
                await websocket.send_bytes(item)
    except ConnectionError:
        return  # the client went away; the reader notices and cleans up
