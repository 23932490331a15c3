"""The SDK's own DurableOrchestrationClient against the devhost's durable client HTTP API."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import azure.durable_functions as df
import azure.functions as func
from aiohttp import web
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.durable import (
    RPC_PATH,
    WEBHOOK_PATH,
    DurableEngine,
    HistoryStore,
    client_binding,
    mount_client_api,
)
from tests.devhost.durable_support import new_engine, run, running, store

__all__ = ["store"]

WAIT = 20.0


@asynccontextmanager
async def served(engine: DurableEngine) -> AsyncIterator[str]:
    """The client API of a running `engine` on an ephemeral port; yields the origin."""
    app = web.Application()
    mount_client_api(app, engine, base_path=RPC_PATH)
    mount_client_api(app, engine, base_path=WEBHOOK_PATH)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with running(engine):
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def finished(
    client: df.DurableOrchestrationClient, instance_id: str
) -> df.DurableOrchestrationStatus:
    """Poll the status through the client until the instance has finished."""
    deadline = time.monotonic() + WAIT
    while True:
        status = await client.get_status(instance_id)
        if status.runtime_status in (
            OrchestrationRuntimeStatus.Completed,
            OrchestrationRuntimeStatus.Failed,
            OrchestrationRuntimeStatus.Terminated,
        ):
            return status
        assert time.monotonic() < deadline, f"{instance_id} still {status.runtime_status}"
        await asyncio.sleep(0.02)


def test_the_sdk_client_starts_queries_and_raises_events(store: HistoryStore) -> None:
    engine = new_engine(store)

    async def scenario() -> None:
        async with served(engine) as origin:
            binding = client_binding(origin, engine.task_hub)
            assert binding["rpcBaseUrl"] == f"{origin}{RPC_PATH}/"
            client = df.DurableOrchestrationClient(json.dumps(binding))

            instance_id = await client.start_new("fan_out_fan_in", client_input=4)
            status = await finished(client, instance_id)
            assert status.runtime_status is OrchestrationRuntimeStatus.Completed
            assert status.output == {"doubled": [0, 2, 4, 6], "greeting": "Hello fan-in"}
            assert status.custom_status == {"done": 4}
            assert status.name == "fan_out_fan_in" and status.created_time is not None

            waiting = await client.start_new("timer_then_events", "approvals-1", 10)
            assert waiting == "approvals-1"
            await client.raise_event(waiting, "approval", {"ok": True})
            await client.raise_event(waiting, "approval", "second")
            status = await finished(client, waiting)
            assert status.output == {"slept_enough": True, "approvals": [{"ok": True}, "second"]}

            missing = await client.get_status("no-such-instance")
            assert not missing

    run(scenario)


def test_the_sdk_client_lists_terminates_and_purges(store: HistoryStore) -> None:
    engine = new_engine(store)

    async def scenario() -> None:
        async with served(engine) as origin:
            client = df.DurableOrchestrationClient(
                json.dumps(client_binding(origin, engine.task_hub))
            )
            since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            done = await client.start_new("counter", "list-done", {"n": 0, "until": 1})
            stuck = await client.start_new("waits_forever", "list-stuck")
            await finished(client, done)

            everything = await client.get_status_all()
            assert {s.instance_id for s in everything} == {done, stuck}
            completed = await client.get_status_by(
                created_time_from=since, runtime_status=[OrchestrationRuntimeStatus.Completed]
            )
            assert [s.instance_id for s in completed] == [done]
            by_prefix = await client.get_status_by(instance_id_prefix="list-s")
            assert [s.instance_id for s in by_prefix] == [stuck]

            await client.terminate(stuck, "stop it")
            status = await finished(client, stuck)
            assert status.runtime_status is OrchestrationRuntimeStatus.Terminated
            assert status.output == "stop it"

            assert (await client.purge_instance_history(done)).instances_deleted == 1
            assert (await client.purge_instance_history(done)).instances_deleted == 0
            purged = await client.purge_instance_history_by(
                created_time_from=since, runtime_status=[OrchestrationRuntimeStatus.Terminated]
            )
            assert purged.instances_deleted == 1
            assert await client.get_status_all() == []

    run(scenario)


def test_check_status_urls_answer_under_the_webhook_path(store: HistoryStore) -> None:
    engine = new_engine(store)

    async def scenario() -> None:
        async with served(engine) as origin:
            client = df.DurableOrchestrationClient(
                json.dumps(client_binding(origin, engine.task_hub))
            )
            instance_id = await client.start_new("waits_forever", "check-1")
            request = func.HttpRequest("POST", f"{origin}/api/start", body=b"")
            response = client.create_check_status_response(request, instance_id)
            assert response.status_code == 202
            links = json.loads(response.get_body())
            assert links["id"] == instance_id
            assert links["statusQueryGetUri"].startswith(f"{origin}{WEBHOOK_PATH}/instances/")
            async with aiohttp.ClientSession() as http:
                async with http.get(links["statusQueryGetUri"]) as reply:
                    assert reply.status == 202
                    assert (await reply.json())["runtimeStatus"] in ("Pending", "Running")
                event_url = links["sendEventPostUri"].replace("{eventName}", "never")
                async with http.post(event_url, json={"via": "webhook"}) as reply:
                    assert reply.status == 202
                status = await finished(client, instance_id)
                assert status.output == {"via": "webhook"}
                async with http.get(links["statusQueryGetUri"]) as reply:
                    assert reply.status == 200
                    assert (await reply.json())["output"] == {"via": "webhook"}
                async with http.post(event_url, json=1) as reply:
                    assert reply.status == 410
                start = f"{origin}{WEBHOOK_PATH}/orchestrators/nope"
                async with http.post(start, json=None) as reply:
                    assert reply.status == 400

    run(scenario)


def test_listing_pages_with_a_continuation_token(store: HistoryStore) -> None:
    engine = new_engine(store)

    async def scenario() -> None:
        async with served(engine) as origin:
            for name in ("page-1", "page-2", "page-3"):
                await engine.start_new("waits_forever", name, None)
            url = f"{origin}{RPC_PATH}/instances/?top=2&instanceIdPrefix=page-&showInput=false"
            async with aiohttp.ClientSession() as http:
                async with http.get(url) as reply:
                    first = [s["instanceId"] for s in await reply.json()]
                    token = reply.headers["x-ms-continuation-token"]
                async with http.get(url, headers={"x-ms-continuation-token": token}) as reply:
                    second = [s["instanceId"] for s in await reply.json()]
                    assert "x-ms-continuation-token" not in reply.headers
            assert first + second == ["page-1", "page-2", "page-3"]

    run(scenario)
