"""One orchestrator episode through the SDK's own replay code, and what the host reads from it.

The host hands the SDK the orchestration context JSON (history, input, instance id), exactly as
the Durable extension does, and the SDK's `Orchestrator.handle` replays the generator against
the history. Two things come back:

- the orchestrator state JSON (`isDone`, cumulative `actions`, `output`, `customStatus`), or,
  when the orchestrator raised, the error with that state after `$OutOfProcData$:`;
- the tasks the SDK left open, with the ids it gave them. The SDK numbers tasks itself, in the
  order they are yielded and, for retries, in the order failures and retry timers are replayed;
  reading those ids from the SDK's context (rather than re-deriving them) keeps the host's
  TaskScheduled/TimerCreated ids equal to the SDK's by construction.

The non-determinism check (`first_divergence`) compares the action signature of this episode
with the one recorded after the previous episode: replaying the same history must produce the
same actions, in the same order, before anything new.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import (
    CallActivityWithRetryAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorAction import (
    CallSubOrchestratorAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)
from azure.durable_functions.orchestrator import Orchestrator

# HistoryEventType values (azure.durable_functions.models.history.HistoryEventType).
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_SENT = 14
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16
EXECUTION_SUSPENDED = 19
EXECUTION_RESUMED = 20

# Events whose EventId is the SDK's task id: what the host has already scheduled.
SCHEDULING_EVENTS = frozenset({TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED, TIMER_CREATED})
# The events the SDK's replay reads (TaskOrchestrationExecutor.process_event and the context's
# constructor); the others (TaskScheduled, TimerCreated, OrchestratorCompleted...) are kept in
# the stored history but not handed to it: parsing each event's timestamp is most of a replay's
# cost, and an episode replays the whole history.
REPLAYED_EVENTS = frozenset(
    {
        EXECUTION_STARTED,
        ORCHESTRATOR_STARTED,
        TASK_COMPLETED,
        TASK_FAILED,
        SUB_ORCHESTRATION_COMPLETED,
        SUB_ORCHESTRATION_FAILED,
        TIMER_FIRED,
        EVENT_SENT,
        EVENT_RAISED,
        CONTINUE_AS_NEW,
    }
)

# ActionType values (azure.durable_functions.models.actions.ActionType).
_ACTION_NAMES = {
    0: "CallActivity",
    1: "CallActivityWithRetry",
    2: "CallSubOrchestrator",
    3: "CallSubOrchestratorWithRetry",
    4: "ContinueAsNew",
    5: "CreateTimer",
    6: "WaitForExternalEvent",
    7: "CallEntity",
    8: "CallHttp",
    9: "SignalEntity",
}
_CONTINUE_AS_NEW = 4
_COMPOUND = frozenset({11, 12})
_UNSUPPORTED = frozenset({7, 8, 9})

_OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# The SDK's NoOpAction metadata for the two halves of a retry (models/Task.py RetryAbleTask).
_RETRY_TIMER = "-WithRetry timer"
_RETRY_RESCHEDULE = "rescheduled task"


def format_timestamp(moment: dt.datetime) -> str:
    """History timestamps: ISO 8601 in UTC with a Z, as the extension writes them."""
    return moment.astimezone(dt.UTC).strftime(_TIMESTAMP_FORMAT)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A naive datetime from user code is taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class RunActivity:
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class RunSubOrchestration:
    task_id: int
    name: str
    input: str | None
    instance_id: str | None


@dataclass(frozen=True)
class StartTimer:
    """A durable timer: at `fire_at` (create_timer) or `delay` after now (a retry's wait)."""

    task_id: int
    fire_at: dt.datetime | None
    delay: dt.timedelta | None
    cancelled: bool


@dataclass(frozen=True)
class Unsupported:
    task_id: int
    what: str


OpenTask = RunActivity | RunSubOrchestration | StartTimer | Unsupported


@dataclass
class Episode:
    """What one replay decided."""

    done: bool
    output: str | None
    custom_status: str | None
    error: str | None
    continue_as_new: bool
    continue_as_new_input: str | None
    signature: list[list[Any]]
    open_tasks: list[OpenTask] = field(default_factory=list)
    waiting_events: dict[str, int] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)


def orchestrator_generator(function: Callable[..., Any]) -> tuple[Callable[..., Any], Any]:
    """The generator function and declared input type behind an orchestrator.

    `app.get_functions()` yields the SDK's `handle` wrapper, which carries the user's generator
    as `orchestrator_function` and `@orchestration_trigger(input_type=...)` as `_df_input_type`;
    a bare generator function is taken as it is.
    """
    generator = getattr(function, "orchestrator_function", function)
    return generator, getattr(function, "_df_input_type", None)


def run_episode(function: Callable[..., Any], context: dict[str, Any]) -> Episode:
    """Replay `context['history']` through the SDK and read what the orchestrator decided."""
    generator, input_type = orchestrator_generator(function)
    sdk_context = DurableOrchestrationContext.from_json(json.dumps(context))
    # What the SDK's own `handle` wrapper does before replaying.
    sdk_context._input_expected_type = input_type
    error: str | None = None
    try:
        state = json.loads(Orchestrator(generator).handle(sdk_context))
    except Exception as exc:
        message = str(exc)
        if _OUT_OF_PROC_MARKER in message:
            _, state_text = message.split(_OUT_OF_PROC_MARKER, 1)
            state = json.loads(state_text)
            cause = exc.__cause__
            error = f"{type(cause).__name__}: {cause}" if cause is not None else message
        else:
            state = {}
            error = f"{type(exc).__name__}: {exc}"
    actions = _flatten(state.get("actions") or [])
    continue_as_new = [action for action in actions if action.get("actionType") == _CONTINUE_AS_NEW]
    episode = Episode(
        done=bool(state.get("isDone")) and error is None,
        output=json.dumps(state["output"]) if "output" in state else None,
        custom_status=json.dumps(state["customStatus"]) if "customStatus" in state else None,
        error=error,
        continue_as_new=bool(continue_as_new) and error is None,
        continue_as_new_input=continue_as_new[-1].get("input") if continue_as_new else None,
        signature=[_signature(action) for action in actions],
        unsupported=sorted(
            {_ACTION_NAMES[a["actionType"]] for a in actions if a.get("actionType") in _UNSUPPORTED}
        ),
    )
    if error is None:
        _read_open_tasks(sdk_context, episode)
    return episode


def first_divergence(recorded: Sequence[Sequence[Any]], replayed: Sequence[Sequence[Any]]) -> str:
    """'' when `replayed` starts with `recorded`; otherwise what differs, in words."""
    for position, expected in enumerate(recorded):
        if position >= len(replayed):
            return (
                f"the orchestrator no longer schedules action #{position + 1} "
                f"({_describe(expected)}) that its history recorded"
            )
        if list(replayed[position]) != list(expected):
            return (
                f"action #{position + 1} was {_describe(expected)} in the history "
                f"but the replay scheduled {_describe(replayed[position])}"
            )
    return ""


def _describe(signature: Sequence[Any]) -> str:
    kind, name = signature[0], signature[1]
    return f"{kind} '{name}'" if name else str(kind)


def _flatten(actions: Sequence[Any]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for item in actions:
        if isinstance(item, list):
            flat.extend(_flatten(item))
        elif isinstance(item, dict) and item.get("actionType") in _COMPOUND:
            flat.extend(_flatten(item.get("compoundActions") or []))
        elif isinstance(item, dict):
            flat.append(item)
    return flat


def _signature(action: dict[str, Any]) -> list[Any]:
    kind = _ACTION_NAMES.get(action.get("actionType", -1), f"action {action.get('actionType')}")
    name = action.get("functionName") or action.get("externalEventName") or ""
    if action.get("instanceId"):
        name = f"{name}@{action['instanceId']}"
    return [kind, name]


def _read_open_tasks(sdk_context: Any, episode: Episode) -> None:
    for key, entry in sdk_context.open_tasks.items():
        if isinstance(key, str):
            # External events are keyed by name; a list holds every task waiting on it.
            count = len(entry) if isinstance(entry, list) else 1
            if count:
                episode.waiting_events[key] = count
            continue
        tasks = entry if isinstance(entry, list) else [entry]
        for task in tasks:
            episode.open_tasks.append(_open_task(int(key), task))
    episode.open_tasks.sort(key=lambda task: task.task_id)


def _open_task(task_id: int, task: Any) -> OpenTask:
    action = task.action_repr[0] if isinstance(task.action_repr, list) else task.action_repr
    if isinstance(action, NoOpAction):
        retry = task.parent
        if action.metadata == _RETRY_TIMER:
            interval = retry.retry_options.first_retry_interval_in_milliseconds
            return StartTimer(task_id, None, dt.timedelta(milliseconds=interval), False)
        if action.metadata == _RETRY_RESCHEDULE:
            inner = retry.actions[0] if isinstance(retry.actions, list) else retry.actions
            return _scheduled_call(task_id, inner)
        return Unsupported(task_id, f"internal task '{action.metadata}'")
    if isinstance(action, CreateTimerAction):
        return StartTimer(task_id, as_utc(action.fire_at), None, bool(action.is_cancelled))
    return _scheduled_call(task_id, action)


def _scheduled_call(task_id: int, action: Any) -> OpenTask:
    if isinstance(action, CallActivityAction | CallActivityWithRetryAction):
        return RunActivity(task_id, action.function_name, action.input_)
    if isinstance(action, CallSubOrchestratorAction | CallSubOrchestratorWithRetryAction):
        return RunSubOrchestration(task_id, action.function_name, action._input, action.instance_id)
    return Unsupported(task_id, type(action).__name__)
