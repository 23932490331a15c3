"""The local Web PubSub service, driven by real WebSocket clients and the real service SDK.

The service runs on a real aiohttp server in a thread of its own (as in devhost, all of its
state lives on that server's loop); tests talk to it over the network only, and each test
uses a hub of its own. "Nothing arrives" is proven by ordering: after the message that must
not arrive, the server sends a marker, and the marker must be the next thing the client sees.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import io
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import aiohttp
import jwt
import pytest
from aiohttp import web
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import (
    WebPubSubServiceClient as AsyncWebPubSubServiceClient,
)

from devhost.webpubsub import SUBPROTOCOL, InvalidAction, WebPubSubService

TIMEOUT = 5.0
P = ParamSpec("P")


@dataclass(frozen=True)
class Server:
    service: WebPubSubService
    base_url: str
    loop: asyncio.AbstractEventLoop

    @property
    def connection_string(self) -> str:
        return self.service.connection_string(self.base_url)

    async def apply_output(self, hub: str, value: str | bytes) -> None:
        """`apply_output` on the server's loop, as the host calls it."""
        future = asyncio.run_coroutine_threadsafe(self.service.apply_output(hub, value), self.loop)
        await asyncio.wrap_future(future)

    def sdk(self, hub: str) -> AsyncWebPubSubServiceClient:
        return AsyncWebPubSubServiceClient.from_connection_string(self.connection_string, hub=hub)

    def client_url(self, hub: str, user_id: str | None = None, **claims: Any) -> str:
        return self.service.connection_info(hub, user_id, base_url=self.base_url, **claims)["url"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webpubsub-server", daemon=True)
    thread.start()
    service = WebPubSubService(secrets.token_urlsafe(32))

    async def start() -> tuple[web.AppRunner, int]:
        app = web.Application()
        service.mount(app)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(TIMEOUT)
    try:
        yield Server(service, f"http://127.0.0.1:{port}", loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()


@pytest.fixture
def hub() -> str:
    return f"hub_{uuid.uuid4().hex}"


def run_async(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test on a loop of its own (the server has its own loop and thread)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Client:
    """A json.webpubsub.azure.v1 client: the connected message is read on connect."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse, connected: dict[str, Any]):
        self.websocket = websocket
        self.connection_id: str = connected["connectionId"]
        self.user_id: str | None = connected["userId"]
        self._ack_ids = itertools.count(1)

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.websocket.receive(), TIMEOUT)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def request(self, ack_id: int | None = None, **fields: Any) -> dict[str, Any]:
        """Send a request with an ackId and return its ack, expected as the next frame.

        (A publisher in the group it publishes to gets its echo first, then the ack.)
        """
        ack_id = next(self._ack_ids) if ack_id is None else ack_id
        await self.websocket.send_json({**fields, "ackId": ack_id})
        ack = await self.receive()
        assert ack["type"] == "ack" and ack["ackId"] == ack_id, ack
        return ack

    async def join(self, group: str) -> dict[str, Any]:
        return await self.request(type="joinGroup", group=group)

    async def publish(self, group: str, data: Any, data_type: str = "json") -> dict[str, Any]:
        return await self.request(type="sendToGroup", group=group, dataType=data_type, data=data)

    async def receive_data(self) -> Any:
        return (await self.receive())["data"]


@dataclass
class Clients:
    """Opens clients against one server and closes them all at the end of a test."""

    server: Server
    session: aiohttp.ClientSession

    async def connect(self, url: str) -> Client:
        websocket = await self.session.ws_connect(url, protocols=(SUBPROTOCOL,))
        assert websocket.protocol == SUBPROTOCOL
        connected: dict[str, Any] = json.loads(
            await asyncio.wait_for(websocket.receive_str(), TIMEOUT)
        )
        assert connected["type"] == "system" and connected["event"] == "connected"
        return Client(websocket, connected)

    async def open(
        self,
        hub: str,
        user_id: str | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
    ) -> Client:
        url = self.server.client_url(hub, user_id=user_id, roles=roles, groups=groups)
        return await self.connect(url)

    async def handshake_status(self, url: str) -> int:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await self.session.ws_connect(url, protocols=(SUBPROTOCOL,))
        return refused.value.status


_markers = itertools.count()


@contextlib.asynccontextmanager
async def open_clients(server: Server) -> AsyncIterator[Clients]:
    async with aiohttp.ClientSession() as session:
        yield Clients(server, session)


async def assert_next_is_marker(server: Server, hub: str, *clients: Client) -> None:
    """Nothing reached `clients` before a marker the server sends them now."""
    marker = f"marker-{next(_markers)}"
    async with server.sdk(hub) as sdk:
        for client in clients:
            await sdk.send_to_connection(client.connection_id, marker, content_type="text/plain")
    for client in clients:
        assert await client.receive() == {
            "type": "message",
            "from": "server",
            "dataType": "text",
            "data": marker,
        }


def server_text(data: str) -> dict[str, Any]:
    return {"type": "message", "from": "server", "dataType": "text", "data": data}


def group_json(group: str, data: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "from": "group",
        "group": group,
        **extra,
        "dataType": "json",
        "data": data,
    }


def sign(server: Server, claims: dict[str, Any], key: str | None = None) -> str:
    return jwt.encode(claims, key or server.service.access_key, algorithm="HS256")


def in_a_minute() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


# Connecting


@run_async
async def test_a_valid_token_connects_and_the_client_learns_its_ids(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients:
        client = await clients.open(hub, user_id="alice")

        assert client.user_id == "alice"
        async with server.sdk(hub) as sdk:
            assert await sdk.connection_exists(client.connection_id)
            assert await sdk.user_exists("alice")
            assert not await sdk.user_exists("bob")


@run_async
async def test_the_hub_may_be_in_the_query_and_the_token_in_a_bearer_header(
    server: Server, hub: str
) -> None:
    token = server.service.connection_info(hub, "carol", base_url=server.base_url)["accessToken"]
    async with open_clients(server) as clients:
        by_query = await clients.connect(
            f"{server.base_url}/client/?hub={hub}&access_token={token}"
        )
        websocket = await clients.session.ws_connect(
            f"{server.base_url}/client/hubs/{hub}",
            protocols=(SUBPROTOCOL,),
            headers={"Authorization": f"Bearer {token}"},
        )
        by_header = json.loads(await asyncio.wait_for(websocket.receive_str(), TIMEOUT))

    assert by_query.user_id == by_header["userId"] == "carol"


@run_async
async def test_missing_expired_forged_or_foreign_tokens_are_refused_with_401(
    server: Server, hub: str
) -> None:
    audience = f"{server.base_url}/client/hubs/{hub}"
    endpoint = f"{server.base_url}/client/hubs/{hub}"
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    tokens = {
        "expired": sign(server, {"aud": audience, "exp": expired}),
        "forged": sign(server, {"aud": audience, "exp": in_a_minute()}, key="x" * 43),
        "other hub": sign(
            server, {"aud": f"{server.base_url}/client/hubs/other", "exp": in_a_minute()}
        ),
        "no expiry": sign(server, {"aud": audience}),
        "garbage": "not-a-jwt",
    }
    async with open_clients(server) as clients:
        statuses = {
            name: await clients.handshake_status(f"{endpoint}?access_token={token}")
            for name, token in tokens.items()
        }
        statuses["missing"] = await clients.handshake_status(endpoint)

    assert statuses == dict.fromkeys([*tokens, "missing"], 401)


@run_async
async def test_a_token_from_the_real_sdk_connects_with_its_roles(server: Server, hub: str) -> None:
    async with server.sdk(hub) as sdk:
        access = await sdk.get_client_access_token(
            user_id="bob", roles=["webpubsub.joinLeaveGroup.job:1"]
        )
    assert access["baseUrl"] == f"ws{server.base_url[4:]}/client/hubs/{hub}"

    async with open_clients(server) as clients:
        client = await clients.connect(access["url"])

        assert client.user_id == "bob"
        assert (await client.join("job:1"))["success"] is True
        assert (await client.join("job:2"))["error"]["name"] == "Forbidden"


# Groups and permissions


@run_async
async def test_a_group_message_arrives_only_after_joining(server: Server, hub: str) -> None:
    async with open_clients(server) as clients:
        listener = await clients.open(hub, roles=["webpubsub.joinLeaveGroup.job:1"])
        publisher = await clients.open(hub, user_id="pub", roles=["webpubsub.sendToGroup.job:1"])

        assert (await publisher.publish("job:1", {"n": 1}))["success"] is True
        assert await listener.join("job:1") == {"type": "ack", "ackId": 1, "success": True}
        await publisher.publish("job:1", {"n": 2})

        assert await listener.receive() == group_json("job:1", {"n": 2}, fromUserId="pub")


@run_async
async def test_joining_a_group_the_token_does_not_allow_is_refused_and_nothing_arrives(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients:
        listener = await clients.open(hub, roles=["webpubsub.joinLeaveGroup.job:1"])

        ack = await listener.join("job:2")
        async with server.sdk(hub) as sdk:
            await sdk.send_to_group("job:2", {"secret": True})

        assert ack["success"] is False
        assert ack["error"]["name"] == "Forbidden"
        await assert_next_is_marker(server, hub, listener)


@run_async
async def test_groups_named_in_the_token_are_joined_on_connect(server: Server, hub: str) -> None:
    async with open_clients(server) as clients:
        listener = await clients.open(hub, user_id="alice", groups=["user:alice"])

        async with server.sdk(hub) as sdk:
            await sdk.send_to_group("user:alice", {"type": "job.completed"})
        message = await listener.receive()
        leave = await listener.request(type="leaveGroup", group="user:alice")

    assert message == group_json("user:alice", {"type": "job.completed"})
    assert leave["error"]["name"] == "Forbidden"  # joined by the token, not allowed to leave


@run_async
async def test_leaving_a_group_stops_its_messages(server: Server, hub: str) -> None:
    async with open_clients(server) as clients:
        listener = await clients.open(hub, roles=["webpubsub.joinLeaveGroup"])
        await listener.join("g")
        assert (await listener.request(type="leaveGroup", group="g"))["success"] is True

        async with server.sdk(hub) as sdk:
            await sdk.send_to_group("g", {"after": "leaving"})
        await assert_next_is_marker(server, hub, listener)


@run_async
async def test_a_user_added_to_a_group_through_the_api_gets_it_on_every_connection(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        early = await clients.open(hub, user_id="alice")
        await sdk.add_user_to_group("job:7", "alice")
        late = await clients.open(hub, user_id="alice")  # membership outlives connections
        members = {m.connection_id async for m in sdk.list_connections(group="job:7")}

        await sdk.send_to_group("job:7", {"stage": "ocr"})
        received = [await early.receive(), await late.receive()]
        await sdk.remove_user_from_group("job:7", "alice")
        await sdk.send_to_group("job:7", {"stage": "too late"})
        await assert_next_is_marker(server, hub, early, late)
        group_left_empty = not await sdk.group_exists("job:7")

    assert members == {early.connection_id, late.connection_id}
    assert received == [group_json("job:7", {"stage": "ocr"})] * 2
    assert group_left_empty


@run_async
async def test_permissions_granted_and_revoked_through_the_api_take_effect(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        client = await clients.open(hub)
        refused = await client.join("g")
        await sdk.grant_permission("joinLeaveGroup", client.connection_id, target_name="g")
        granted = await sdk.has_permission("joinLeaveGroup", client.connection_id, target_name="g")
        joined = await client.join("g")
        await sdk.revoke_permission("joinLeaveGroup", client.connection_id, target_name="g")
        left = await client.request(type="leaveGroup", group="g")

    assert refused["error"]["name"] == "Forbidden"
    assert granted
    assert joined["success"] is True
    assert left["error"]["name"] == "Forbidden"


# Sending from the server


@run_async
async def test_send_to_user_reaches_every_connection_of_that_user(server: Server, hub: str) -> None:
    async with open_clients(server) as clients:
        phone = await clients.open(hub, user_id="alice")
        laptop = await clients.open(hub, user_id="alice")
        bob = await clients.open(hub, user_id="bob")

        async with server.sdk(hub) as sdk:
            await sdk.send_to_user("alice", "hi alice", content_type="text/plain")

        assert await phone.receive() == server_text("hi alice")
        assert await laptop.receive() == server_text("hi alice")
        await assert_next_is_marker(server, hub, bob)


@run_async
async def test_send_to_all_from_the_sync_client_reaches_the_hub_and_no_other(
    server: Server, hub: str
) -> None:
    sdk = WebPubSubServiceClient.from_connection_string(server.connection_string, hub=hub)
    async with open_clients(server) as clients:
        anonymous = await clients.open(hub)
        bob = await clients.open(hub, user_id="bob")
        elsewhere = await clients.open(f"{hub}_other")

        await asyncio.to_thread(sdk.send_to_all, {"to": "all"})
        await asyncio.to_thread(sdk.send_to_all, {"to": "not bob"}, excluded=[bob.connection_id])

        assert [await anonymous.receive_data(), await anonymous.receive_data()] == [
            {"to": "all"},
            {"to": "not bob"},
        ]
        assert await bob.receive_data() == {"to": "all"}
        await assert_next_is_marker(server, hub, bob)
        await assert_next_is_marker(server, f"{hub}_other", elsewhere)


@run_async
async def test_server_data_reaches_clients_as_json_text_or_base64(server: Server, hub: str) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        client = await clients.open(hub)
        target = client.connection_id

        await sdk.send_to_connection(target, {"a": [1, None]})
        await sdk.send_to_connection(target, "plain", content_type="text/plain")
        await sdk.send_to_connection(
            target, io.BytesIO(b"\x00\xff"), content_type="application/octet-stream"
        )
        frames = [await client.receive() for _ in range(3)]

    assert [(f["from"], f["dataType"], f["data"]) for f in frames] == [
        ("server", "json", {"a": [1, None]}),
        ("server", "text", "plain"),
        ("server", "binary", base64.b64encode(b"\x00\xff").decode()),
    ]


@run_async
async def test_a_simple_websocket_client_gets_raw_frames(server: Server, hub: str) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        websocket = await clients.session.ws_connect(server.client_url(hub))
        await sdk.send_to_all("raw text", content_type="text/plain")
        await sdk.send_to_all(io.BytesIO(b"\x01\x02"), content_type="application/octet-stream")

        assert websocket.protocol is None
        assert await asyncio.wait_for(websocket.receive_str(), TIMEOUT) == "raw text"
        assert await asyncio.wait_for(websocket.receive_bytes(), TIMEOUT) == b"\x01\x02"


@run_async
async def test_closing_a_connection_through_the_api_tells_the_client_why(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        client = await clients.open(hub)
        await sdk.close_connection(client.connection_id, reason="job finished")

        assert await client.receive() == {
            "type": "system",
            "event": "disconnected",
            "message": "job finished",
        }
        closing = await asyncio.wait_for(client.websocket.receive(), TIMEOUT)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert not await sdk.connection_exists(client.connection_id)
        with pytest.raises(ResourceNotFoundError):
            await sdk.add_connection_to_group("g", client.connection_id)


# The REST API's authentication


@run_async
async def test_rest_calls_without_a_valid_signature_are_refused_with_401(
    server: Server, hub: str
) -> None:
    forged = f"Endpoint={server.base_url};AccessKey={'x' * 43};Version=1.0;"
    send_url = f"{server.base_url}/api/hubs/{hub}/:send?api-version=2024-12-01"
    other_url = f"{server.base_url}/api/hubs/{hub}/users/eve/:send?api-version=2024-12-01"
    misdirected = sign(server, {"aud": other_url, "exp": in_a_minute()})
    async with open_clients(server) as clients:
        client = await clients.open(hub)
        async with AsyncWebPubSubServiceClient.from_connection_string(forged, hub=hub) as sdk:
            with pytest.raises(ClientAuthenticationError):
                await sdk.send_to_all({"forged": True})
        unsigned = await clients.session.post(send_url, json={"unsigned": True})
        replayed = await clients.session.post(
            send_url,
            json={"replayed": True},
            headers={"Authorization": f"Bearer {misdirected}"},
        )

        assert (unsigned.status, replayed.status) == (401, 401)
        await assert_next_is_marker(server, hub, client)


# Acks


@run_async
async def test_acks_report_success_forbidden_duplicate_and_invalid_data(
    server: Server, hub: str
) -> None:
    roles = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.open"]
    async with open_clients(server) as clients:
        client = await clients.open(hub, user_id="u", roles=roles)

        joined = await client.request(ack_id=10, type="joinGroup", group="open")
        duplicate = await client.request(ack_id=10, type="joinGroup", group="other")
        forbidden = await client.publish("closed", "x", "text")
        invalid = await client.publish("open", "%%% not base64", "binary")
        no_group = await client.request(type="joinGroup")
        async with server.sdk(hub) as sdk:
            duplicate_not_applied = not await sdk.group_exists("other")

    assert joined == {"type": "ack", "ackId": 10, "success": True}
    assert duplicate["success"] is False and duplicate["error"]["name"] == "Duplicate"
    assert duplicate_not_applied
    assert forbidden["error"]["name"] == "Forbidden"
    assert invalid["error"]["name"] == "InvalidData"
    assert no_group["error"]["name"] == "InvalidData"


@run_async
async def test_requests_without_an_ack_id_get_no_ack_and_no_echo_is_honoured(
    server: Server, hub: str
) -> None:
    roles = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
    async with open_clients(server) as clients:
        client = await clients.open(hub, user_id="u", roles=roles)
        await client.websocket.send_json({"type": "joinGroup", "group": "g"})
        payload = base64.b64encode(b"\x07").decode()
        await client.websocket.send_json(
            {"type": "sendToGroup", "group": "g", "dataType": "binary", "data": payload}
        )
        echo = await client.receive()
        quiet = await client.request(
            type="sendToGroup", group="g", dataType="text", data="no echo", noEcho=True
        )
        await assert_next_is_marker(server, hub, client)

    assert echo == {
        "type": "message",
        "from": "group",
        "group": "g",
        "fromUserId": "u",
        "dataType": "binary",
        "data": payload,
    }
    assert quiet["success"] is True


@run_async
async def test_a_frame_that_is_not_a_request_declines_the_client(server: Server, hub: str) -> None:
    async with open_clients(server) as clients:
        client = await clients.open(hub)
        await client.websocket.send_str("not json")

        disconnected = await client.receive()
        closing = await asyncio.wait_for(client.websocket.receive(), TIMEOUT)

    assert disconnected["event"] == "disconnected"
    assert disconnected["message"].startswith("Invalid request")
    assert closing.type == aiohttp.WSMsgType.CLOSE


# Output bindings


@run_async
async def test_output_send_actions_reach_their_targets_with_their_data_types(
    server: Server, hub: str
) -> None:
    async with open_clients(server) as clients:
        alice = await clients.open(hub, user_id="alice", groups=["job:1"])
        bob = await clients.open(hub, user_id="bob")
        progress = {"type": "job.progress", "processed": 1, "total": 3}
        actions = [
            {"actionName": "sendToAll", "data": "hello all", "dataType": "text"},
            {
                "actionName": "sendToGroup",
                "group": "job:1",
                "data": json.dumps(progress),
                "dataType": "json",
            },
            {
                "actionName": "sendToUser",
                "userId": "bob",
                "data": {"type": "Buffer", "data": [104, 105]},
                "dataType": "binary",
            },
            {
                "ActionName": "SendToConnection",
                "ConnectionId": bob.connection_id,
                "Data": "just bob",
            },
        ]
        await server.apply_output(hub, json.dumps(actions).encode())

        assert [await alice.receive(), await alice.receive()] == [
            server_text("hello all"),
            group_json("job:1", progress),
        ]
        assert [await bob.receive() for _ in range(3)] == [
            server_text("hello all"),
            {"type": "message", "from": "server", "dataType": "binary", "data": "aGk="},
            server_text("just bob"),
        ]
        await assert_next_is_marker(server, hub, alice)


@run_async
async def test_output_group_actions_change_membership(server: Server, hub: str) -> None:
    async with open_clients(server) as clients, server.sdk(hub) as sdk:
        alice = await clients.open(hub, user_id="alice")
        anonymous = await clients.open(hub)
        await server.apply_output(
            hub,
            json.dumps(
                [
                    {"actionName": "addUserToGroup", "userId": "alice", "group": "g1"},
                    {
                        "actionName": "addConnectionToGroup",
                        "connectionId": anonymous.connection_id,
                        "group": "g1",
                    },
                ]
            ),
        )
        await sdk.send_to_group("g1", {"n": 1})
        received = [await alice.receive_data(), await anonymous.receive_data()]

        await server.apply_output(
            hub,
            json.dumps(
                [
                    {"actionName": "removeUserFromGroup", "userId": "alice", "group": "g1"},
                    {
                        "actionName": "removeConnectionFromGroup",
                        "connectionId": anonymous.connection_id,
                        "group": "g1",
                    },
                    {"actionName": "addUserToGroup", "userId": "alice", "group": "g2"},
                ]
            ),
        )
        await sdk.send_to_group("g1", {"n": 2})
        await assert_next_is_marker(server, hub, alice, anonymous)
        in_g2 = await sdk.group_exists("g2")
        await server.apply_output(
            hub, json.dumps({"actionName": "removeUserFromAllGroups", "userId": "alice"})
        )
        still_in_g2 = await sdk.group_exists("g2")

    assert received == [{"n": 1}, {"n": 1}]
    assert (in_g2, still_in_g2) == (True, False)


@run_async
async def test_output_permission_actions_grant_and_revoke(server: Server, hub: str) -> None:
    def permission(action: str, name: str, connection_id: str, target: str | None) -> str:
        fields = {"actionName": action, "connectionId": connection_id, "permission": name}
        return json.dumps({**fields, "targetName": target} if target else fields)

    async with open_clients(server) as clients:
        client = await clients.open(hub)
        cid = client.connection_id

        await server.apply_output(hub, permission("grantPermission", "joinLeaveGroup", cid, "g"))
        joined = await client.join("g")
        await server.apply_output(hub, permission("revokePermission", "joinLeaveGroup", cid, "g"))
        left = await client.request(type="leaveGroup", group="g")
        await server.apply_output(hub, permission("grantPermission", "sendToGroup", cid, None))
        published = await client.publish("anywhere", {"ok": True})

    assert joined["success"] is True
    assert left["error"]["name"] == "Forbidden"
    assert published["success"] is True


@run_async
async def test_output_close_actions_close_the_right_connections(server: Server, hub: str) -> None:
    def disconnected(reason: str) -> dict[str, Any]:
        return {"type": "system", "event": "disconnected", "message": reason}

    async with open_clients(server) as clients:
        first = await clients.open(hub, groups=["g"])
        kept = await clients.open(hub, groups=["g"])
        other = await clients.open(hub)

        await server.apply_output(
            hub,
            json.dumps(
                {
                    "actionName": "closeGroupConnections",
                    "group": "g",
                    "excluded": [kept.connection_id],
                    "reason": "job done",
                }
            ),
        )
        assert await first.receive() == disconnected("job done")
        await assert_next_is_marker(server, hub, kept)

        await server.apply_output(
            hub,
            json.dumps(
                {
                    "actionName": "closeClientConnection",
                    "connectionId": kept.connection_id,
                    "reason": "bye",
                }
            ),
        )
        assert await kept.receive() == disconnected("bye")

        await server.apply_output(hub, json.dumps({"actionName": "closeAllConnections"}))
        assert await other.receive() == disconnected("")


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        json.dumps({"actionName": "sendToMars", "data": "x"}),
        json.dumps(
            [
                {"actionName": "sendToAll", "data": "fine"},
                {"actionName": "sendToGroup", "data": "x"},
            ]
        ),
        json.dumps({"actionName": "sendToAll", "data": "{not json", "dataType": "json"}),
        json.dumps({"actionName": "sendToAll", "data": "x", "dataType": "xml"}),
        json.dumps({"actionName": "grantPermission", "connectionId": "c", "permission": "fly"}),
        json.dumps({"actionName": "sendToAll", "data": "x", "excluded": "c"}),
        json.dumps({"actionName": "sendToUser", "data": "x"}),
    ],
    ids=[
        "not-json",
        "unknown-action",
        "second-invalid",
        "bad-json-data",
        "bad-data-type",
        "bad-permission",
        "bad-excluded",
        "no-user",
    ],
)
@run_async
async def test_invalid_output_is_refused_and_nothing_is_applied(
    server: Server, hub: str, value: str
) -> None:
    async with open_clients(server) as clients:
        client = await clients.open(hub)

        with pytest.raises(InvalidAction):
            await server.apply_output(hub, value)
        await assert_next_is_marker(server, hub, client)


# Input bindings and the connection string


@run_async
async def test_connection_info_mirrors_the_sdk_token_and_its_permissions_hold(
    server: Server, hub: str
) -> None:
    roles = ["webpubsub.joinLeaveGroup.job:1"]
    groups = ["user:alice"]
    info = server.service.connection_info(hub, "alice", roles, groups, base_url=server.base_url)
    async with server.sdk(hub) as sdk:
        sdk_token = (
            await sdk.get_client_access_token(user_id="alice", roles=roles, groups=groups)
        )["token"]

    def claims(token: str) -> dict[str, Any]:
        decoded: dict[str, Any] = jwt.decode(
            token,
            server.service.access_key,
            algorithms=["HS256"],
            audience=f"{server.base_url}/client/hubs/{hub}",
        )
        return decoded

    ours, theirs = claims(info["accessToken"]), claims(sdk_token)
    client_base = f"ws{server.base_url[4:]}/client/hubs/{hub}"
    assert info["baseUrl"] == client_base
    assert info["url"] == f"{client_base}?access_token={info['accessToken']}"
    assert set(ours) == set(theirs)
    assert {k: ours[k] for k in ("aud", "sub", "role", "webpubsub.group")} == {
        k: theirs[k] for k in ("aud", "sub", "role", "webpubsub.group")
    }

    async with open_clients(server) as clients:
        client = await clients.connect(info["url"])
        assert client.user_id == "alice"
        assert (await client.join("job:1"))["success"] is True
        assert (await client.join("job:2"))["error"]["name"] == "Forbidden"
        async with server.sdk(hub) as sdk:
            await sdk.send_to_group("user:alice", {"for": "alice"})
        assert await client.receive() == group_json("user:alice", {"for": "alice"})


def test_the_connection_string_points_the_real_sdk_at_the_local_service(server: Server) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    key = server.service.access_key

    sdk = WebPubSubServiceClient.from_connection_string(server.connection_string, hub="invoices")

    assert server.connection_string == (
        f"Endpoint=http://127.0.0.1;Port={port};AccessKey={key};Version=1.0;"
    )
    assert sdk.get_client_access_token()["baseUrl"] == f"ws://127.0.0.1:{port}/client/hubs/invoices"


def test_an_output_binding_without_a_hub_is_refused(server: Server) -> None:
    action = json.dumps({"actionName": "sendToAll", "data": "x"})

    with pytest.raises(InvalidAction, match="no hub"):
        asyncio.run(server.service.apply_output("", action))
