"""Running the devhost in tests: a host on a background event loop, real Azurite, real HTTP.

`LoopThread` runs one asyncio loop in a daemon thread, so synchronous tests can start hosts
and await conditions on them. `RunningHost` wraps a started `Host` with an HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDictProxy

from devhost.host import Host, HostOptions
from devhost.settings import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

T = TypeVar("T")

TEST_APP = "tests.devhost.host_app"


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="devhost", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@dataclass(frozen=True)
class Response:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RunningHost:
    def __init__(self, host: Host, loop: LoopThread) -> None:
        self.host = host
        self.loop = loop

    @property
    def base_url(self) -> str:
        return self.host.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> Response:
        async def call() -> Response:
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    method,
                    self.base_url + path,
                    headers=dict(headers or {}),
                    params=dict(params or {}),
                    data=body,
                    allow_redirects=False,
                ) as response,
            ):
                return Response(response.status, response.headers, await response.read())

        return self.loop.run(call())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def connection_string(blob_port: int, queue_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{DEV_ACCOUNT_NAME};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{DEV_ACCOUNT_NAME};"
    )


def write_app_root(
    root: Path, values: Mapping[str, str], *, route_prefix: str = "v1", hub: str = "%HUB_NAME%"
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    host_json = {
        "version": "2.0",
        "extensions": {"http": {"routePrefix": route_prefix}, "durableTask": {"hubName": hub}},
    }
    (root / "host.json").write_text(json.dumps(host_json))
    settings = {"IsEncrypted": False, "Values": dict(values)}
    (root / "local.settings.json").write_text(json.dumps(settings))
    return root


@contextmanager
def running_host(loop: LoopThread, options: HostOptions) -> Iterator[RunningHost]:
    host = Host(options)
    loop.run(host.start(), timeout=120)
    try:
        yield RunningHost(host, loop)
    finally:
        loop.run(host.stop(), timeout=60)


def wait_until(
    condition: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
