"""Durable client and Web PubSub bindings, served by the host through the SDKs' code paths."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.devhost.host_support import RunningHost, wait_until

SUBPROTOCOL = "json.webpubsub.azure.v1"


def test_durable_client_starts_an_orchestration_whose_activities_complete(
    devhost: RunningHost,
) -> None:
    response = devhost.request("POST", "/v1/orchestrations/greet_all", body=json.dumps(["a", "b"]))
    assert response.status == 202
    urls = response.json()
    assert urls["statusQueryGetUri"].startswith(
        f"{devhost.base_url}/runtime/webhooks/durabletask/instances/{urls['id']}"
    )
    status_path = urls["statusQueryGetUri"].removeprefix(devhost.base_url)

    def completed() -> dict[str, Any] | None:
        status: dict[str, Any] = devhost.request("GET", status_path).json()
        return status if status["runtimeStatus"] == "Completed" else None

    status = wait_until(completed, timeout=30)
    assert status["output"] == ["Hello, a!", "Hello, b!"]


async def _connect(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    socket = await session.ws_connect(url, protocols=(SUBPROTOCOL,))
    connected = await socket.receive_json(timeout=10)
    assert connected["type"] == "system" and connected["event"] == "connected"
    return socket


async def _messages(socket: aiohttp.ClientWebSocketResponse, count: int) -> list[Any]:
    received: list[Any] = []
    while len(received) < count:
        message = await socket.receive_json(timeout=20)
        if message.get("type") == "message":
            received.append(message["data"])
    return received


def test_web_pubsub_connection_binding_gives_the_caller_a_client_url(
    devhost: RunningHost,
) -> None:
    response = devhost.request(
        "GET", "/v1/realtime/negotiate", headers={"x-ms-client-principal-id": "alice"}
    )
    assert response.status == 200
    info = response.json()
    assert set(info) == {"baseUrl", "url", "accessToken"}
    assert info["baseUrl"].endswith("/client/hubs/devhosthub")

    async def connect() -> str:
        async with aiohttp.ClientSession() as session:
            socket = await session.ws_connect(info["url"], protocols=(SUBPROTOCOL,))
            connected = await socket.receive_json(timeout=10)
            await socket.close()
            return str(connected["userId"])

    assert devhost.loop.run(connect()) == "alice"


def test_a_missing_user_header_fails_the_connection_binding(devhost: RunningHost) -> None:
    assert devhost.request("GET", "/v1/realtime/negotiate").status == 500


def test_web_pubsub_output_bindings_reach_connected_clients(devhost: RunningHost) -> None:
    """From an HTTP function and from an activity (served through the host's invoker)."""
    info = devhost.request(
        "GET", "/v1/realtime/negotiate", headers={"x-ms-client-principal-id": "bob"}
    ).json()

    async def scenario() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            socket = await _connect(session, info["url"])
            base = devhost.base_url
            async with session.post(f"{base}/v1/realtime/broadcast", data=b"hi all") as sent:
                assert sent.status == 202
            async with session.post(
                f"{base}/v1/orchestrations/greet_all", data=json.dumps(["carol"])
            ) as started:
                assert started.status == 202
            messages = await _messages(socket, 2)
            await socket.close()
            return messages

    messages = devhost.loop.run(asyncio.wait_for(scenario(), 40), timeout=45)
    assert messages == ["hi all", "Hello, carol!"]
