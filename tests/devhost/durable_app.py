"""A small Durable Functions app that exercises what the devhost's durable engine must do.

Orchestrators: fan-out/fan-in with retries, a retry budget that runs out, a timer followed by
external events, an event raced against a timeout, continue-as-new, sub-orchestrations (one of
which fails), an orchestrator that raises, one that is not deterministic on purpose, and the
steps the kill test interrupts. Activities are sync and async; `record` appends a line to a file
per execution so a test can count executions across processes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# The SDK's decorators are untyped; these say so once (the decorated names are FunctionBuilders).
Decorator = Callable[[Callable[..., Any]], Any]


def activity(input_name: str) -> Decorator:
    decorator: Decorator = app.activity_trigger(input_name=input_name)
    return decorator


def orchestrator() -> Decorator:
    decorator: Decorator = app.orchestration_trigger(context_name="context")
    return decorator


# Attempts per key of `flaky` (in-process tests only).
ATTEMPTS: Counter[str] = Counter()
_attempts_lock = threading.Lock()
# Replays per instance of `not_deterministic`.
REPLAYS: Counter[str] = Counter()

Orchestration = Generator[Any, Any, Any]


@activity("value")
def double(value: int) -> int:
    return value * 2


@activity("name")
async def greet(name: str) -> str:
    return f"Hello {name}"


@activity("request")
def flaky(request: dict[str, Any]) -> int:
    """Fails the first `failures` attempts for `key`, then returns twice `value`."""
    with _attempts_lock:
        ATTEMPTS[request["key"]] += 1
        attempt = ATTEMPTS[request["key"]]
    if attempt <= request["failures"]:
        raise RuntimeError(f"attempt {attempt} of {request['key']} failed")
    return int(request["value"]) * 2


@activity("request")
def record(request: dict[str, Any]) -> str:
    """Appends `item` to the file `path`; with `gate`, then waits (up to a minute) for that
    file to exist."""
    with open(request["path"], "a", encoding="utf-8") as effects:
        effects.write(f"{request['item']}\n")
    gate = request.get("gate")
    if gate:
        deadline = time.monotonic() + 60
        while not Path(gate).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            time.sleep(0.02)
    return str(request["item"])


@orchestrator()
def fan_out_fan_in(context: df.DurableOrchestrationContext) -> Orchestration:
    count = context.get_input()
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=3)
    tasks = [
        context.call_activity_with_retry(
            "flaky",
            retry,
            {"key": f"{context.instance_id}:{i}", "failures": i % 3, "value": i},
        )
        for i in range(count)
    ]
    doubled = yield context.task_all(tasks)
    greeting = yield context.call_activity(greet, "fan-in")
    context.set_custom_status({"done": len(doubled)})
    return {"doubled": doubled, "greeting": greeting}


@orchestrator()
def retries_run_out(context: df.DurableOrchestrationContext) -> Orchestration:
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry(
            "flaky", retry, {"key": context.instance_id, "failures": 5, "value": 1}
        )
    except Exception as exc:
        return f"gave up: {exc}"
    return "succeeded"


@orchestrator()
def timer_then_events(context: df.DurableOrchestrationContext) -> Orchestration:
    started = context.current_utc_datetime
    fire_at = started + dt.timedelta(milliseconds=context.get_input())
    context.set_custom_status("sleeping")
    yield context.create_timer(fire_at)
    woke = context.current_utc_datetime
    context.set_custom_status("waiting for approvals")
    first = yield context.wait_for_external_event("approval")
    second = yield context.wait_for_external_event("approval")
    return {"slept_enough": woke >= fire_at, "approvals": [first, second]}


@orchestrator()
def event_or_timeout(context: df.DurableOrchestrationContext) -> Orchestration:
    timeout = context.create_timer(
        context.current_utc_datetime + dt.timedelta(milliseconds=context.get_input())
    )
    event = context.wait_for_external_event("go")
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return f"event: {event.result}"
    return "timeout"


@orchestrator()
def counter(context: df.DurableOrchestrationContext) -> Orchestration:
    state = context.get_input()
    doubled = yield context.call_activity("double", state["n"])
    if state["n"] < state["until"]:
        context.continue_as_new({"n": state["n"] + 1, "until": state["until"]})
        return None
    return {"n": state["n"], "doubled": doubled}


@orchestrator()
def child(context: df.DurableOrchestrationContext) -> Orchestration:
    value = context.get_input()
    if value < 0:
        raise ValueError(f"negative input {value}")
    doubled = yield context.call_activity("double", value)
    return doubled + 1


@orchestrator()
def parent(context: df.DurableOrchestrationContext) -> Orchestration:
    children = [context.call_sub_orchestrator("child", i) for i in range(3)]
    children.append(
        context.call_sub_orchestrator("child", 10, instance_id=f"{context.instance_id}-named")
    )
    results = yield context.task_all(children)
    failure = ""
    try:
        yield context.call_sub_orchestrator("child", -1)
    except Exception as exc:
        failure = str(exc)
    return {"results": results, "failure": failure}


@orchestrator()
def raises(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.call_activity("double", 1)
    raise ValueError("the orchestrator gave up")


@orchestrator()
def not_deterministic(context: df.DurableOrchestrationContext) -> Orchestration:
    # Reads state from outside the history, as a clock, random or a global would: the first
    # run schedules `double`, every replay `greet` at the same place.
    REPLAYS[context.instance_id] += 1
    first_run = REPLAYS[context.instance_id] == 1
    yield context.call_activity("double" if first_run else "greet", 2)
    yield context.call_activity("double", 3)
    return "unreachable"


@orchestrator()
def recorded_steps(context: df.DurableOrchestrationContext) -> Orchestration:
    request = context.get_input()
    path = request["path"]
    yield context.task_all(
        [context.call_activity("record", {"path": path, "item": f"a{i}"}) for i in range(3)]
    )
    yield context.call_activity("record", {"path": path, "item": "gate", "gate": request["gate"]})
    yield context.create_timer(context.current_utc_datetime + dt.timedelta(milliseconds=100))
    last = yield context.call_activity("record", {"path": path, "item": "after"})
    return f"done after {last}"


@orchestrator()
def waits_forever(context: df.DurableOrchestrationContext) -> Orchestration:
    context.set_custom_status({"stage": "waiting"})
    value = yield context.wait_for_external_event("never")
    return value
