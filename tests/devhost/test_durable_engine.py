"""The durable engine in-process: orchestration patterns through the SDK's replay, with the
history in PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.durable import (
    DurableEngine,
    DurableSetupError,
    HistoryStore,
    InstanceGone,
    InstanceNotFound,
    InstanceQuery,
    UnknownOrchestrator,
    engine_from_functions,
)
from devhost.durable.replay import TASK_SCHEDULED, TIMER_CREATED
from tests.devhost.durable_app import ATTEMPTS
from tests.devhost.durable_support import app_functions, new_engine, new_hub, run, running, store

__all__ = ["store"]

WAIT = 20.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = WAIT) -> None:
    """Poll `check` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def history_of(engine: DurableEngine, instance_id: str) -> list[dict[str, Any]]:
    status = await engine.get_status(instance_id, show_history=True)
    assert status is not None and status.history is not None
    return status.history


def test_fan_out_fan_in_with_retries_completes_with_every_result(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            ids = [await engine.start_new("fan_out_fan_in", None, 6) for _ in range(3)]
            statuses = await asyncio.gather(*(engine.wait_for_completion(i, WAIT) for i in ids))
            for instance_id, status in zip(ids, statuses, strict=True):
                assert status.runtime_status == "Completed", status.output
                assert status.output_value() == {
                    "doubled": [0, 2, 4, 6, 8, 10],
                    "greeting": "Hello fan-in",
                }
                assert status.custom_status_value() == {"done": 6}
                # Item i fails i % 3 times before it succeeds: exactly that many retries ran.
                assert [ATTEMPTS[f"{instance_id}:{i}"] for i in range(6)] == [1, 2, 3, 1, 2, 3]
                history = await history_of(engine, instance_id)
                kinds = [event["EventType"] for event in history]
                assert kinds.count(TASK_SCHEDULED) == 6 + 6 + 1
                assert kinds.count(TIMER_CREATED) == 6
                stamps = [event["Timestamp"] for event in history]
                assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)

    run(scenario)


def test_retries_stop_after_the_maximum_number_of_attempts(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("retries_run_out", None, None)
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.runtime_status == "Completed"
            assert status.output_value().startswith("gave up: Activity function 'flaky' failed")
            assert ATTEMPTS[instance_id] == 2

    run(scenario)


def test_timer_waits_until_fire_at_and_early_events_are_kept_in_order(
    store: HistoryStore,
) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            started = time.monotonic()
            instance_id = await engine.start_new("timer_then_events", None, 300)
            # Both events arrive while the orchestrator still sleeps: they wait for it.
            await engine.raise_event(instance_id, "approval", "first")
            await engine.raise_event(instance_id, "approval", {"by": "second"})
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert time.monotonic() - started >= 0.3
            assert status.output_value() == {
                "slept_enough": True,
                "approvals": ["first", {"by": "second"}],
            }
            assert status.custom_status_value() == "waiting for approvals"

    run(scenario)


def test_an_event_beats_a_timeout_and_a_timeout_beats_a_missing_event(
    store: HistoryStore,
) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            with_event = await engine.start_new("event_or_timeout", None, 30_000)
            without = await engine.start_new("event_or_timeout", None, 50)
            await engine.raise_event(with_event, "go", "go!")
            assert (await engine.wait_for_completion(with_event, WAIT)).output_value() == (
                "event: go!"
            )
            assert (await engine.wait_for_completion(without, WAIT)).output_value() == "timeout"

    run(scenario)


def test_continue_as_new_keeps_the_instance_id_and_starts_a_fresh_history(
    store: HistoryStore,
) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("counter", "counter-1", {"n": 0, "until": 3})
            assert instance_id == "counter-1"
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.output_value() == {"n": 3, "doubled": 6}
            assert json.loads(status.input or "null") == {"n": 3, "until": 3}
            history = await history_of(engine, instance_id)
            assert [e["EventType"] for e in history].count(TASK_SCHEDULED) == 1
            (started,) = [e for e in history if e["EventType"] == 0]
            assert json.loads(started["Input"]) == {"n": 3, "until": 3}

    run(scenario)


def test_sub_orchestrations_run_as_instances_of_their_own(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("parent", None, None)
            status = await engine.wait_for_completion(instance_id, WAIT)
            output = status.output_value()
            assert output["results"] == [1, 3, 5, 21]
            assert "ValueError: negative input -1" in output["failure"]
            named = await engine.get_status(f"{instance_id}-named")
            assert named is not None and named.name == "child"
            assert (named.runtime_status, named.output_value()) == ("Completed", 21)
            children = await engine.list_instances(
                InstanceQuery(instance_id_prefix=f"{instance_id}:")
            )
            assert sorted(c.runtime_status for c in children) == ["Completed"] * 3 + ["Failed"]

    run(scenario)


def test_an_orchestrator_that_raises_fails_its_instance(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("raises", None, None)
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.runtime_status == "Failed"
            assert status.output_value() == (
                "Orchestrator function 'raises' failed: ValueError: the orchestrator gave up"
            )

    run(scenario)


def test_a_replay_that_differs_from_its_history_fails_as_non_deterministic(
    store: HistoryStore,
) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("not_deterministic", None, None)
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.runtime_status == "Failed"
            reason = status.output_value()
            assert "Non-deterministic workflow detected" in reason
            assert "CallActivity 'double' in the history" in reason
            assert "scheduled CallActivity 'greet'" in reason

    run(scenario)


def test_terminate_stops_an_instance_and_then_refuses_events(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("waits_forever", None, None)

            async def waiting() -> bool:
                status = await engine.get_status(instance_id)
                return status is not None and status.custom_status_value() == {"stage": "waiting"}

            await eventually(waiting)
            await engine.terminate(instance_id, "no longer needed")
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert (status.runtime_status, status.output_value()) == (
                "Terminated",
                "no longer needed",
            )
            with pytest.raises(InstanceGone):
                await engine.raise_event(instance_id, "never", 1)
            with pytest.raises(InstanceGone):
                await engine.terminate(instance_id, "again")
            with pytest.raises(InstanceNotFound):
                await engine.terminate("no-such-instance", "why")

    run(scenario)


def test_suspended_instances_hold_their_events_until_resumed(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            instance_id = await engine.start_new("waits_forever", None, None)

            async def running_now() -> bool:
                status = await engine.get_status(instance_id)
                return status is not None and status.runtime_status == "Running"

            await eventually(running_now)
            await engine.suspend(instance_id, "maintenance")
            await engine.raise_event(instance_id, "never", "finally")
            status = await engine.get_status(instance_id)
            assert status is not None and status.runtime_status == "Suspended"
            await engine.resume(instance_id, "done")
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.output_value() == "finally"

    run(scenario)


def test_purge_removes_finished_instances_only(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            done = await engine.start_new("counter", None, {"n": 0, "until": 0})
            waiting = await engine.start_new("waits_forever", None, None)
            await engine.wait_for_completion(done, WAIT)
            assert await engine.purge(waiting) == 0
            assert await engine.purge(done) == 1
            assert await engine.get_status(done) is None
            assert await engine.purge(done) == 0
            await engine.terminate(waiting, "cleanup")
            assert await engine.purge_where(InstanceQuery(runtime_status=["Terminated"])) == 1
            assert await engine.list_instances() == []

    run(scenario)


def test_list_filters_by_status_prefix_and_creation_time(store: HistoryStore) -> None:
    async def scenario() -> None:
        async with running(new_engine(store)) as engine:
            before = dt.datetime.now(dt.UTC)
            first = await engine.start_new("counter", "batch-1", {"n": 0, "until": 0})
            await engine.start_new("waits_forever", "batch-2", None)
            await engine.start_new("waits_forever", "other-1", None)
            await engine.wait_for_completion(first, WAIT)

            async def ids(query: InstanceQuery) -> list[str]:
                return [s.instance_id for s in await engine.list_instances(query)]

            assert await ids(InstanceQuery(instance_id_prefix="batch-")) == ["batch-1", "batch-2"]
            assert await ids(InstanceQuery(runtime_status=["Completed"])) == ["batch-1"]
            assert await ids(InstanceQuery(created_from=before, top=2)) == ["batch-1", "batch-2"]
            assert await ids(InstanceQuery(created_to=before)) == []

    run(scenario)


def test_a_durable_timer_fires_after_the_engine_restarts(store: HistoryStore) -> None:
    hub = new_hub()

    async def scenario() -> None:
        first = new_engine(store, hub)
        async with running(first):
            instance_id = await first.start_new("timer_then_events", None, 400)

            async def sleeping() -> bool:
                status = await first.get_status(instance_id)
                return status is not None and status.custom_status_value() == "sleeping"

            await eventually(sleeping)
        async with running(new_engine(store, hub)) as second:
            await second.raise_event(instance_id, "approval", 1)
            await second.raise_event(instance_id, "approval", 2)
            status = await second.wait_for_completion(instance_id, WAIT)
            assert status.output_value() == {"slept_enough": True, "approvals": [1, 2]}

    run(scenario)


def test_starting_an_unknown_orchestrator_is_refused(store: HistoryStore) -> None:
    async def scenario() -> None:
        engine = new_engine(store)
        with pytest.raises(UnknownOrchestrator, match="'nope'"):
            await engine.start_new("nope", None, None)

    run(scenario)


def test_calling_an_unknown_activity_fails_that_task(store: HistoryStore) -> None:
    def calls_missing(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
        try:
            yield context.call_activity("missing", 1)
        except Exception as exc:
            return str(exc)
        return "called"

    async def scenario() -> None:
        engine = DurableEngine({"calls_missing": calls_missing}, {}, store, task_hub=new_hub())
        async with running(engine):
            instance_id = await engine.start_new("calls_missing", None, None)
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert "the function 'missing' doesn't exist" in status.output_value()

    run(scenario)


def test_functions_the_engine_cannot_serve_are_named_at_setup(store: HistoryStore) -> None:
    with_entity = df.DFApp()

    @with_entity.entity_trigger(context_name="context")  # type: ignore[untyped-decorator]
    def tally(context: df.DurableEntityContext) -> None:
        return None

    with pytest.raises(DurableSetupError, match="'tally'"):
        engine_from_functions(with_entity.get_functions(), store)

    with_output = df.DFApp()

    @with_output.activity_trigger(input_name="value")  # type: ignore[untyped-decorator]
    @with_output.blob_output(  # type: ignore[untyped-decorator]
        arg_name="out", path="c/b", connection="AzureWebJobsStorage"
    )
    def save(value: str, out: func.Out[str]) -> None:
        out.set(value)

    functions = with_output.get_functions()
    with pytest.raises(DurableSetupError, match=r"'save'.*blob"):
        engine_from_functions(functions, store)

    def adapter(function: Any) -> Callable[[Any], Any]:
        return lambda value: f"{function.get_function_name()} got {value}"

    engine = engine_from_functions(functions, store, activity_adapter=adapter)
    assert engine.activities["save"]("x") == "save got x"


def test_an_activity_adapter_invokes_every_activity(store: HistoryStore) -> None:
    calls: list[str] = []

    def adapter(function: Any) -> Callable[[Any], Any]:
        user = function.get_user_function()

        async def invoke(value: Any) -> Any:
            calls.append(function.get_function_name())
            result = user(value)
            return await result if asyncio.iscoroutine(result) else result

        return invoke

    async def scenario() -> None:
        engine = engine_from_functions(
            app_functions(), store, task_hub=new_hub(), activity_adapter=adapter
        )
        async with running(engine):
            instance_id = await engine.start_new("fan_out_fan_in", None, 2)
            status = await engine.wait_for_completion(instance_id, WAIT)
            assert status.output_value() == {"doubled": [0, 2], "greeting": "Hello fan-in"}
        assert sorted(calls) == ["flaky", "flaky", "flaky", "greet"]

    run(scenario)


def test_two_engines_on_one_task_hub_share_its_instances(store: HistoryStore) -> None:
    hub = new_hub()

    async def scenario() -> None:
        async with running(new_engine(store, hub)) as first:
            waiting = await first.start_new("waits_forever", None, None)
            async with running(new_engine(store, hub)) as second:
                # Each episode and each recorded result is one transaction, whichever engine
                # runs it: the instance started by one finishes through the other.
                await second.raise_event(waiting, "never", "through the second")
                status = await second.wait_for_completion(waiting, WAIT)
                assert status.output_value() == "through the second"
                fanned = await second.start_new("fan_out_fan_in", None, 3)
                status = await second.wait_for_completion(fanned, WAIT)
                assert status.output_value()["doubled"] == [0, 2, 4]

    run(scenario)
