"""Runs the durable engine with the test app in its own process, for the kill -9 test.

    python -m tests.devhost.durable_runner DATABASE_URL TASK_HUB

Serves the durable client API on an ephemeral 127.0.0.1 port, prints `READY <port>` once the
engine has resumed the hub's instances, and runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from devhost.durable import RPC_PATH, WEBHOOK_PATH, HistoryStore, mount_client_api
from tests.devhost.durable_support import new_engine


async def serve(database_url: str, task_hub: str) -> None:
    store = HistoryStore(database_url)
    engine = new_engine(store, task_hub, activity_workers=4)
    app = web.Application()
    mount_client_api(app, engine, base_path=RPC_PATH)
    mount_client_api(app, engine, base_path=WEBHOOK_PATH)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await engine.start()
    port = runner.addresses[0][1]
    print(f"READY {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
