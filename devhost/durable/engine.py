"""The durable engine: runs orchestrator episodes, activities and timers over the history store.

Scheduling, in one asyncio loop:

- an instance that has something new (start, an activity or sub-orchestration result, a timer
  that came due, an external event it waits for) is *signalled*; `orchestration_workers`
  coroutines take signalled instances one at a time each and run an episode in a thread: lock
  the instance row, take every visible inbox message, replay the whole history plus the new
  events through the SDK (`replay.run_episode`), check determinism, and write the new history,
  new work items, timers and child instances in the same transaction. An instance is never in
  two episodes at once; a signal that arrives during its episode runs it again afterwards. All
  results that arrived meanwhile are taken together, so a fan-out of N activities replays far
  fewer than N times.
- `activity_workers` coroutines run activities: async ones on the loop, sync ones in a thread
  pool of the same size (CPU-bound activities such as PyMuPDF parsing share the GIL there; a
  process pool would be the next step). A result is recorded with the work item's deletion in
  one transaction; results that finish together share it.
- one coroutine wakes instances whose timers are due (timers are inbox rows that become visible
  at their fireAt, so they survive restarts).

`start()` resumes every Pending or Running instance of the task hub: unfinished work items are
dispatched again (an activity recorded as completed never is), future timers are re-armed and
each live instance gets an episode.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import heapq
import inspect
import json
import logging
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from azure.durable_functions.models.utils.df_serialization import df_dumps
from azure.functions import meta
from azure.functions.decorators.function_app import Function
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.durable import replay
from devhost.durable.errors import (
    DurableSetupError,
    InstanceGone,
    InstanceNotFound,
    UnknownOrchestrator,
)
from devhost.durable.replay import (
    EVENT_RAISED,
    EXECUTION_COMPLETED,
    EXECUTION_STARTED,
    EXECUTION_SUSPENDED,
    EXECUTION_TERMINATED,
    ORCHESTRATOR_COMPLETED,
    ORCHESTRATOR_STARTED,
    REPLAYED_EVENTS,
    SCHEDULING_EVENTS,
    SUB_ORCHESTRATION_COMPLETED,
    SUB_ORCHESTRATION_CREATED,
    SUB_ORCHESTRATION_FAILED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_SCHEDULED,
    TIMER_CREATED,
    TIMER_FIRED,
    Episode,
    RunActivity,
    RunSubOrchestration,
    StartTimer,
    Unsupported,
)
from devhost.durable.store import (
    HistoryStore,
    InstanceQuery,
    InstanceRecord,
    Message,
    NewWorkItem,
    Outbox,
    ParentRef,
    StoreTransaction,
    WorkItem,
    json_text,
)

log = logging.getLogger("devhost.durable")

T = TypeVar("T")

DEFAULT_TASK_HUB = "DevhostHub"
ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
# How long to wait before retrying an episode or a completion whose transaction failed.
_RETRY_AFTER = dt.timedelta(seconds=1)
# Most activity results written in one transaction.
_MAX_BATCH = 500


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class InstanceStatus:
    """An instance as the client API reports it; JSON values are kept as JSON text."""

    name: str
    instance_id: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: dt.datetime
    last_updated_time: dt.datetime
    history: list[dict[str, Any]] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status in ("Completed", "Failed", "Terminated")

    def output_value(self) -> Any:
        return json.loads(self.output) if self.output is not None else None

    def custom_status_value(self) -> Any:
        return json.loads(self.custom_status) if self.custom_status is not None else None

    @classmethod
    def of(
        cls, record: InstanceRecord, history: list[dict[str, Any]] | None = None
    ) -> InstanceStatus:
        return cls(
            name=record.name,
            instance_id=record.instance_id,
            runtime_status=record.runtime_status,
            input=record.input,
            output=record.output,
            custom_status=record.custom_status,
            created_time=record.created_time,
            last_updated_time=record.last_updated_time,
            history=history,
        )


class _Clock:
    """History timestamps: now, but never earlier than (or equal to) the previous event's."""

    def __init__(self, last: dt.datetime | None) -> None:
        self.last = last

    def tick(self, now: dt.datetime) -> dt.datetime:
        moment = now
        if self.last is not None and moment <= self.last:
            moment = self.last + dt.timedelta(microseconds=1)
        self.last = moment
        return moment


class DurableEngine:
    """Runs the app's orchestrators and activities with their state in a `HistoryStore`.

    `orchestrators` and `activities` map the names orchestrations use (function names) to the
    callables `Function.get_user_function()` returns: for orchestrators the SDK's `handle`
    wrapper (or a bare generator function), for activities a function of one argument, the
    decoded input (sync or async). One engine per task hub and database at a time.
    """

    def __init__(
        self,
        orchestrators: Mapping[str, Callable[..., Any]],
        activities: Mapping[str, Callable[..., Any]],
        store: HistoryStore,
        *,
        task_hub: str = DEFAULT_TASK_HUB,
        activity_workers: int = 4,
        orchestration_workers: int = 2,
        faults: Mapping[str, int] | None = None,
    ) -> None:
        """`faults`: activity name -> how many times each call of it (same input, whichever
        instance; a top-level input field naming the calling instance does not count as input)
        fails before it runs, as a crashed worker or a dropped connection would. For resilience
        tests of an app's retry policies (DEVHOST_ACTIVITY_FAULTS)."""
        if activity_workers < 1 or orchestration_workers < 1:
            raise ValueError("activity_workers and orchestration_workers must be at least 1")
        self.orchestrators = dict(orchestrators)
        self.activities = dict(activities)
        self.faults = dict(faults or {})
        self._fault_counts: dict[tuple[str, str], int] = {}
        self.store = store
        self.task_hub = task_hub
        self._activity_workers = activity_workers
        self._orchestration_workers = orchestration_workers
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._dirty: set[str] = set()
        self._activity_queue: asyncio.Queue[WorkItem] = asyncio.Queue()
        self._completions: asyncio.Queue[tuple[WorkItem, dict[str, Any]]] = asyncio.Queue()
        self._timers: list[tuple[dt.datetime, str]] = []
        self._timer_wake = asyncio.Event()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._inflight: set[asyncio.Future[Any]] = set()
        self._db_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._activity_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._hub_lock: psycopg.Connection[Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        """Create the schema if needed and resume every Pending or Running instance."""
        if self._tasks:
            return
        self._db_pool = concurrent.futures.ThreadPoolExecutor(
            self._activity_workers + self._orchestration_workers + 2,
            thread_name_prefix="devhost-durable",
        )
        self._activity_pool = concurrent.futures.ThreadPoolExecutor(
            self._activity_workers, thread_name_prefix="devhost-activity"
        )
        await self._db(self.store.ensure_schema)
        self._hub_lock = await self._db(self.store.lock_hub, self.task_hub)
        recovery = await self._db(self.store.recovery, self.task_hub)
        if self._hub_lock is None:
            # Episodes and completions are transactional, so two engines can share a hub; but
            # the unfinished activities belong to the engine that holds it, which runs them.
            log.warning(
                "durable: another engine is running task hub '%s' on this database; "
                "sharing its instances, leaving its unfinished activities to it",
                self.task_hub,
            )
            recovery.work_items.clear()
        for _ in range(self._orchestration_workers):
            self._spawn(self._orchestration_worker())
        for _ in range(self._activity_workers):
            self._spawn(self._activity_worker())
        self._spawn(self._timer_loop())
        self._spawn(self._recorder())
        for item in recovery.work_items:
            self._activity_queue.put_nowait(item)
        for fire_at, instance_id in recovery.future_timers:
            self._arm_timer(fire_at, instance_id)
        for instance_id in recovery.live_instances:
            self._signal(instance_id)
        if recovery.live_instances:
            log.info(
                "durable: resuming %d instance(s), %d unfinished activities",
                len(recovery.live_instances),
                len(recovery.work_items),
            )

    async def stop(self) -> None:
        """Stop scheduling. Episodes and database writes under way finish (each is one
        transaction); activities still running are abandoned and run again on the next start."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.cancel()
        self._waiters.clear()
        if self._activity_pool is not None:
            self._activity_pool.shutdown(wait=False, cancel_futures=True)
        if self._db_pool is not None:
            self._db_pool.shutdown(wait=True)
        self._activity_pool = self._db_pool = None
        if self._hub_lock is not None:
            self._hub_lock.close()
            self._hub_lock = None
        self._queued.clear()
        self._running.clear()
        self._dirty.clear()
        self._timers.clear()
        self._ready = asyncio.Queue()
        self._activity_queue = asyncio.Queue()
        self._completions = asyncio.Queue()

    async def __aenter__(self) -> DurableEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the client API ----------------------------------------------------------------------

    async def start_new(self, name: str, instance_id: str | None = None, input: Any = None) -> str:
        """Start orchestrator `name` with a JSON-serialisable input; returns the instance id.
        An existing instance with that id is replaced, as the Durable extension does."""
        input_json = None if input is None else df_dumps(input)
        return await self.start_new_json(name, instance_id, input_json)

    async def start_new_json(
        self, name: str, instance_id: str | None, input_json: str | None
    ) -> str:
        """`start_new` with the input already JSON text (what the HTTP API receives)."""
        if name not in self.orchestrators:
            known = ", ".join(sorted(self.orchestrators)) or "none"
            raise UnknownOrchestrator(
                f"the function '{name}' doesn't exist or is not an orchestrator function "
                f"(orchestrators: {known})"
            )
        instance_id = instance_id or uuid.uuid4().hex
        await self._db(self._create_instance, instance_id, name, input_json)
        self._signal(instance_id)
        return instance_id

    def _create_instance(self, instance_id: str, name: str, input_json: str | None) -> None:
        with self.store.transaction(self.task_hub) as tx:
            tx.lock_instance(instance_id)
            tx.create_instance(instance_id, name, uuid.uuid4().hex, input_json, utcnow())

    async def get_status(
        self, instance_id: str, *, show_history: bool = False
    ) -> InstanceStatus | None:
        record = await self._db(self.store.get, self.task_hub, instance_id)
        if record is None:
            return None
        history = None
        if show_history:
            history = await self._db(self.store.history, self.task_hub, instance_id)
        return InstanceStatus.of(record, history)

    async def list_instances(self, query: InstanceQuery | None = None) -> list[InstanceStatus]:
        records = await self._db(self.store.query, self.task_hub, query or InstanceQuery())
        return [InstanceStatus.of(record) for record in records]

    async def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Deliver an external event with JSON-serialisable data; it is kept until the
        orchestrator waits for that name. Raises InstanceNotFound, or InstanceGone when the
        instance has finished."""
        await self.raise_event_json(instance_id, name, df_dumps(data))

    async def raise_event_json(self, instance_id: str, name: str, data_json: str | None) -> None:
        """`raise_event` with the data already JSON text (what the HTTP API receives)."""
        await self._db(self._raise_event, instance_id, name, data_json)
        self._signal(instance_id)

    def _raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        with self.store.transaction(self.task_hub) as tx:
            record = tx.get_instance(instance_id)
            if record is None:
                raise InstanceNotFound(instance_id)
            if record.is_terminal:
                raise InstanceGone(instance_id, record.runtime_status)
            payload = {"EventType": EVENT_RAISED, "Name": name, "Input": data_json}
            tx.add_message(instance_id, None, "event", payload, utcnow(), event_name=name)

    async def terminate(self, instance_id: str, reason: str) -> None:
        """Stop the instance (Terminated, output = reason). Raises InstanceNotFound, or
        InstanceGone when it had already finished."""
        outbox = await self._db(self._terminate, instance_id, reason)
        self._apply(outbox)

    def _terminate(self, instance_id: str, reason: str) -> Outbox:
        outbox = Outbox()
        now = utcnow()
        with self.store.transaction(self.task_hub) as tx:
            record = tx.lock_instance(instance_id)
            if record is None:
                raise InstanceNotFound(instance_id)
            if record.is_terminal:
                raise InstanceGone(instance_id, record.runtime_status)
            clock = _Clock(record.clock)
            history = tx.history(instance_id)
            tx.append_history(
                instance_id,
                len(history),
                [_event(EXECUTION_TERMINATED, clock.tick(now), Input=json_text(reason))],
            )
            self._finish(
                tx,
                record,
                "Terminated",
                json_text(reason),
                record.custom_status,
                clock.last,
                now,
                outbox,
            )
            if record.parent is not None:
                self._notify_parent(
                    tx, record.parent, None, f"sub-orchestration terminated: {reason}", now, outbox
                )
        return outbox

    async def suspend(self, instance_id: str, reason: str) -> None:
        await self._db(self._set_suspended, instance_id, True, reason)

    async def resume(self, instance_id: str, reason: str) -> None:
        await self._db(self._set_suspended, instance_id, False, reason)
        self._signal(instance_id)

    def _set_suspended(self, instance_id: str, suspend: bool, reason: str) -> None:
        now = utcnow()
        with self.store.transaction(self.task_hub) as tx:
            record = tx.lock_instance(instance_id)
            if record is None:
                raise InstanceNotFound(instance_id)
            if record.is_terminal:
                raise InstanceGone(instance_id, record.runtime_status)
            wanted = "Suspended" if suspend else "Running"
            if (record.runtime_status == "Suspended") == suspend:
                return
            clock = _Clock(record.clock)
            kind = EXECUTION_SUSPENDED if suspend else replay.EXECUTION_RESUMED
            history = tx.history(instance_id)
            tx.append_history(
                instance_id, len(history), [_event(kind, clock.tick(now), Reason=reason)]
            )
            tx.set_status(instance_id, wanted, now, clock.last)

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Start the instance's orchestrator again with its original input."""
        record = await self._db(self.store.get, self.task_hub, instance_id)
        if record is None:
            raise InstanceNotFound(instance_id)
        target = None if new_instance_id else instance_id
        return await self.start_new_json(record.name, target, record.input)

    async def purge(self, instance_id: str) -> int:
        """Delete a finished instance and its history; 0 when none (or not finished)."""
        deleted: int = await self._db(self.store.purge_instance, self.task_hub, instance_id)
        return deleted

    async def purge_where(self, query: InstanceQuery) -> int:
        deleted: int = await self._db(self.store.purge, self.task_hub, query)
        return deleted

    async def wait_for_completion(
        self, instance_id: str, timeout: float | None = None
    ) -> InstanceStatus:
        """Wait until the instance is Completed, Failed or Terminated; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.setdefault(instance_id, []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    status = await self.get_status(instance_id)
                    if status is None:
                        raise InstanceNotFound(instance_id)
                    if status.is_terminal:
                        return status
                    await waiter
                    waiter = loop.create_future()
                    self._waiters.setdefault(instance_id, []).append(waiter)
        finally:
            waiters = self._waiters.get(instance_id, [])
            if waiter in waiters:
                waiters.remove(waiter)

    # -- scheduling --------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        self._tasks.append(asyncio.ensure_future(coroutine))

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        """Run a store call (or an episode) in the engine's threads. A caller cancelled meanwhile
        does not cancel the call: `stop` waits for it, so no transaction is cut short."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._db_pool, function, *args)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        return await asyncio.shield(future)

    def _signal(self, instance_id: str) -> None:
        if instance_id in self._running:
            self._dirty.add(instance_id)
        elif instance_id not in self._queued:
            self._queued.add(instance_id)
            self._ready.put_nowait(instance_id)

    def _arm_timer(self, fire_at: dt.datetime, instance_id: str) -> None:
        heapq.heappush(self._timers, (fire_at, instance_id))
        self._timer_wake.set()

    def _apply(self, outbox: Outbox) -> None:
        for item in outbox.work_items:
            self._activity_queue.put_nowait(item)
        for fire_at, instance_id in outbox.timers:
            self._arm_timer(fire_at, instance_id)
        for instance_id in outbox.signal:
            self._signal(instance_id)
        for instance_id in outbox.finished:
            for waiter in self._waiters.pop(instance_id, []):
                if not waiter.done():
                    waiter.set_result(None)

    async def _orchestration_worker(self) -> None:
        while True:
            instance_id = await self._ready.get()
            self._queued.discard(instance_id)
            self._running.add(instance_id)
            try:
                outbox = await self._db(self._episode, instance_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Nothing was committed; the inbox still holds what the episode would have taken.
                log.exception("durable: episode of %s failed; retrying in 1 s", instance_id)
                outbox = Outbox(timers=[(utcnow() + _RETRY_AFTER, instance_id)])
            finally:
                self._running.discard(instance_id)
            self._apply(outbox)
            if instance_id in self._dirty:
                self._dirty.discard(instance_id)
                self._signal(instance_id)

    async def _timer_loop(self) -> None:
        while True:
            now = utcnow()
            while self._timers and self._timers[0][0] <= now:
                _, instance_id = heapq.heappop(self._timers)
                self._signal(instance_id)
            delay = (self._timers[0][0] - now).total_seconds() if self._timers else None
            self._timer_wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._timer_wake.wait()
            except TimeoutError:
                pass

    async def _activity_worker(self) -> None:
        while True:
            item = await self._activity_queue.get()
            completion = await self._run_activity(item)
            self._completions.put_nowait((item, completion))

    async def _recorder(self) -> None:
        """Write activity completions, as many as are waiting in one transaction."""
        while True:
            batch = [await self._completions.get()]
            while not self._completions.empty() and len(batch) < _MAX_BATCH:
                batch.append(self._completions.get_nowait())
            try:
                instances = await self._db(
                    self.store.complete_work_items, self.task_hub, batch, utcnow()
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                # The work items are still in the store: run the activities again a bit later.
                log.exception("durable: recording %d activity results failed", len(batch))
                for item, _ in batch:
                    asyncio.get_running_loop().call_later(
                        _RETRY_AFTER.total_seconds(), self._activity_queue.put_nowait, item
                    )
                continue
            for instance_id in instances:
                self._signal(instance_id)

    def _inject_fault(self, item: WorkItem) -> None:
        budget = self.faults.get(item.name, 0)
        if not budget:
            return
        key = (item.name, _call_identity(item))
        seen = self._fault_counts.get(key, 0)
        if seen < budget:
            self._fault_counts[key] = seen + 1
            message = f"devhost injected transient fault {seen + 1} of {budget}"
            log.warning("%s: %s in %s", item.name, message, item.instance_id)
            raise ConnectionError(message)

    async def _run_activity(self, item: WorkItem) -> dict[str, Any]:
        function = self.activities.get(item.name)
        try:
            if function is None:
                known = ", ".join(sorted(self.activities)) or "none"
                raise LookupError(
                    f"the function '{item.name}' doesn't exist or is not an activity function "
                    f"(activities: {known})"
                )
            self._inject_fault(item)
            value = ActivityTriggerConverter.decode(
                meta.Datum(item.input if item.input is not None else "null", "json"),
                trigger_metadata=None,
            )
            if inspect.iscoroutinefunction(function):
                result = await function(value)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._activity_pool, function, value)
                if inspect.isawaitable(result):  # an adapter that is not `async def`
                    result = await result
            encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
        except Exception as exc:
            return {
                "EventType": TASK_FAILED,
                "TaskScheduledId": item.task_id,
                "Reason": f"Activity function '{item.name}' failed: {type(exc).__name__}: {exc}",
                "Details": _where(exc),
            }
        return {"EventType": TASK_COMPLETED, "TaskScheduledId": item.task_id, "Result": encoded}

    # -- one episode -------------------------------------------------------------------------

    def _episode(self, instance_id: str) -> Outbox:
        outbox = Outbox()
        now = utcnow()
        with self.store.transaction(self.task_hub) as tx:
            record = tx.lock_instance(instance_id)
            if record is None or record.runtime_status == "Suspended":
                return outbox
            if record.is_terminal:
                tx.delete_inbox(instance_id, keep_events=False)
                return outbox
            messages = tx.visible_messages(instance_id, now)
            consumed, stale = _select_messages(record, messages)
            tx.delete_messages([m.id for m in stale])
            if not consumed:
                return outbox
            history = tx.history(instance_id)
            clock = _Clock(record.clock)
            started = clock.tick(now)
            new_events = [_event(ORCHESTRATOR_STARTED, started)]
            for message in consumed:
                new_events.append(self._message_event(record, message, clock.tick(now)))
            episode, failure = self._replay(record, history, new_events)
            decided: list[dict[str, Any]] = []
            signature = record.signature
            waiting: dict[str, int] = {}
            custom_status = record.custom_status
            if episode is not None and episode.custom_status is not None:
                custom_status = episode.custom_status
            reason: str | None = None
            output: str | None
            if failure is not None or episode is None:
                reason = f"Orchestrator function '{record.name}' failed: {failure}"
                decided.append(
                    _event(
                        EXECUTION_COMPLETED,
                        clock.tick(now),
                        OrchestrationStatus="Failed",
                        Result=json_text(reason),
                    )
                )
                status, output = "Failed", json_text(reason)
            elif episode.continue_as_new:
                self._continue_as_new(tx, record, episode, custom_status, clock, now, outbox)
                tx.delete_messages([m.id for m in consumed])
                return outbox
            elif episode.done:
                decided.append(
                    _event(
                        EXECUTION_COMPLETED,
                        clock.tick(now),
                        OrchestrationStatus="Completed",
                        Result=episode.output,
                    )
                )
                status, output = "Completed", episode.output
            else:
                status, output = "Running", None
                signature, waiting = episode.signature, episode.waiting_events
                scheduled = {e["EventId"] for e in history if e["EventType"] in SCHEDULING_EVENTS}
                decided.extend(
                    self._schedule(tx, record, episode, scheduled, started, clock, now, outbox)
                )
                taken = {m.id for m in consumed}
                buffered = {
                    m.event_name for m in messages if m.kind == "event" and m.id not in taken
                }
                if buffered & set(waiting):
                    outbox.signal.add(instance_id)
            decided.append(_event(ORCHESTRATOR_COMPLETED, clock.tick(now)))
            tx.append_history(instance_id, len(history), new_events + decided)
            tx.delete_messages([m.id for m in consumed])
            if status == "Running":
                tx.update_instance(
                    instance_id,
                    runtime_status=status,
                    now=now,
                    execution_id=record.execution_id,
                    input_json=record.input,
                    output=None,
                    custom_status=custom_status,
                    signature=signature,
                    waiting=waiting,
                    clock=clock.last,
                )
            else:
                self._finish(tx, record, status, output, custom_status, clock.last, now, outbox)
                if record.parent is not None:
                    self._notify_parent(tx, record.parent, output, reason, now, outbox)
        return outbox

    def _replay(
        self,
        record: InstanceRecord,
        history: list[dict[str, Any]],
        new_events: list[dict[str, Any]],
    ) -> tuple[Episode | None, str | None]:
        """Run the orchestrator over its history plus the new events: (what it decided, why the
        instance fails or None)."""
        orchestrator = self.orchestrators.get(record.name)
        if orchestrator is None:
            return None, f"the function '{record.name}' doesn't exist or is not an orchestrator"
        replayed = [
            {**event, "IsPlayed": True}
            for event in history
            if event["EventType"] in REPLAYED_EVENTS
        ]
        context = {
            "history": replayed + new_events,
            "input": record.input,
            "instanceId": record.instance_id,
            "isReplaying": bool(history),
            "parentInstanceId": record.parent.instance_id if record.parent else None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
        }
        episode = replay.run_episode(orchestrator, context)
        return episode, _failure_reason(record, episode)

    def _message_event(
        self, record: InstanceRecord, message: Message, moment: dt.datetime
    ) -> dict[str, Any]:
        if message.kind == "start":
            return _event(
                EXECUTION_STARTED,
                moment,
                Name=record.name,
                Input=record.input,
                Version="",
                OrchestrationInstance={
                    "InstanceId": record.instance_id,
                    "ExecutionId": record.execution_id,
                },
                ParentInstance=(
                    {
                        "InstanceId": record.parent.instance_id,
                        "TaskScheduledId": record.parent.task_id,
                    }
                    if record.parent
                    else None
                ),
            )
        return {
            **message.payload,
            "EventId": -1,
            "IsPlayed": False,
            "Timestamp": replay.format_timestamp(moment),
        }

    def _schedule(
        self,
        tx: StoreTransaction,
        record: InstanceRecord,
        episode: Episode,
        scheduled: set[int],
        orchestration_time: dt.datetime,
        clock: _Clock,
        now: dt.datetime,
        outbox: Outbox,
    ) -> list[dict[str, Any]]:
        """Turn the tasks the SDK opened this episode into history events and work."""
        decided: list[dict[str, Any]] = []
        activities: list[NewWorkItem] = []
        for task in episode.open_tasks:
            if task.task_id in scheduled:
                if isinstance(task, StartTimer) and task.cancelled:
                    tx.delete_timer(record.instance_id, record.execution_id, task.task_id)
                continue
            if isinstance(task, RunActivity):
                decided.append(
                    _event(
                        TASK_SCHEDULED,
                        clock.tick(now),
                        task.task_id,
                        Name=task.name,
                        Input=task.input,
                    )
                )
                activities.append(
                    NewWorkItem(
                        record.instance_id, record.execution_id, task.task_id, task.name, task.input
                    )
                )
            elif isinstance(task, RunSubOrchestration):
                child_id = task.instance_id or (
                    f"{record.instance_id}:{record.execution_id[:8]}:{task.task_id}"
                )
                decided.append(
                    _event(
                        SUB_ORCHESTRATION_CREATED,
                        clock.tick(now),
                        task.task_id,
                        Name=task.name,
                        InstanceId=child_id,
                        Input=task.input,
                    )
                )
                self._start_child(tx, record, task, child_id, now, outbox)
            elif isinstance(task, StartTimer):
                if task.cancelled:
                    continue
                fire_at = task.fire_at or orchestration_time + (task.delay or dt.timedelta())
                decided.append(
                    _event(
                        TIMER_CREATED,
                        clock.tick(now),
                        task.task_id,
                        FireAt=replay.format_timestamp(fire_at),
                    )
                )
                fired = {
                    "EventType": TIMER_FIRED,
                    "TimerId": task.task_id,
                    "FireAt": replay.format_timestamp(fire_at),
                }
                tx.add_message(
                    record.instance_id, record.execution_id, "completion", fired, fire_at
                )
                outbox.timers.append((fire_at, record.instance_id))
            elif isinstance(task, Unsupported):  # pragma: no cover - rejected before scheduling
                continue
        outbox.work_items.extend(tx.add_work_items(activities))
        return decided

    def _start_child(
        self,
        tx: StoreTransaction,
        record: InstanceRecord,
        task: RunSubOrchestration,
        child_id: str,
        now: dt.datetime,
        outbox: Outbox,
    ) -> None:
        parent = ParentRef(record.instance_id, record.execution_id, task.task_id)
        existing = tx.lock_instance(child_id)
        if existing is not None and not existing.is_terminal:
            self._notify_parent(
                tx,
                parent,
                None,
                f"instance '{child_id}' already exists and is {existing.runtime_status}",
                now,
                outbox,
            )
            return
        tx.create_instance(child_id, task.name, uuid.uuid4().hex, task.input, now, parent)
        outbox.signal.add(child_id)

    def _continue_as_new(
        self,
        tx: StoreTransaction,
        record: InstanceRecord,
        episode: Episode,
        custom_status: str | None,
        clock: _Clock,
        now: dt.datetime,
        outbox: Outbox,
    ) -> None:
        """Start a new execution with the new input and an empty history, same instance id.
        Unfinished work of the old execution is dropped; raised events stay buffered."""
        execution_id = uuid.uuid4().hex
        tx.reset_history(record.instance_id)
        tx.delete_work_items(record.instance_id)
        tx.delete_inbox(record.instance_id, keep_events=True)
        tx.update_instance(
            record.instance_id,
            runtime_status="Running",
            now=now,
            execution_id=execution_id,
            input_json=episode.continue_as_new_input,
            output=None,
            custom_status=custom_status,
            signature=[],
            waiting={},
            clock=clock.last,
        )
        tx.add_message(record.instance_id, execution_id, "start", {}, now)
        outbox.signal.add(record.instance_id)

    def _finish(
        self,
        tx: StoreTransaction,
        record: InstanceRecord,
        status: str,
        output: str | None,
        custom_status: str | None,
        clock: dt.datetime | None,
        now: dt.datetime,
        outbox: Outbox,
    ) -> None:
        tx.finish(record.instance_id, status, output, custom_status, now, clock)
        outbox.finished.add(record.instance_id)

    def _notify_parent(
        self,
        tx: StoreTransaction,
        parent: ParentRef,
        output: str | None,
        failure: str | None,
        now: dt.datetime,
        outbox: Outbox,
    ) -> None:
        if failure is None:
            payload: dict[str, Any] = {
                "EventType": SUB_ORCHESTRATION_COMPLETED,
                "TaskScheduledId": parent.task_id,
                "Result": output,
            }
        else:
            payload = {
                "EventType": SUB_ORCHESTRATION_FAILED,
                "TaskScheduledId": parent.task_id,
                "Reason": failure,
                "Details": "",
            }
        tx.add_message(parent.instance_id, parent.execution_id, "completion", payload, now)
        outbox.signal.add(parent.instance_id)


def _where(exc: BaseException) -> str:
    """Where the activity raised: its innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


def _event(
    event_type: int, moment: dt.datetime, event_id: int = -1, **fields: Any
) -> dict[str, Any]:
    return {
        "EventType": event_type,
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": replay.format_timestamp(moment),
        **fields,
    }


def _select_messages(
    record: InstanceRecord, messages: list[Message]
) -> tuple[list[Message], list[Message]]:
    """(messages this episode takes, messages of an earlier execution to drop).

    A raised event is taken only while the orchestrator waits for its name (as many as it
    waits for, oldest first); the others stay in the inbox until it does.
    """
    consumed: list[Message] = []
    stale: list[Message] = []
    wanted = dict(record.waiting)
    for message in messages:
        if message.kind == "event":
            name = message.event_name or ""
            if wanted.get(name, 0) > 0:
                wanted[name] -= 1
                consumed.append(message)
        elif message.execution_id != record.execution_id:
            stale.append(message)
        else:
            consumed.append(message)
    return consumed, stale


def _failure_reason(record: InstanceRecord, episode: Episode) -> str | None:
    if episode.error is not None:
        return episode.error
    divergence = replay.first_divergence(record.signature, episode.signature)
    if divergence:
        return f"Non-deterministic workflow detected: {divergence}"
    if episode.unsupported:
        return f"the devhost does not support {', '.join(episode.unsupported)}"
    unsupported = [t.what for t in episode.open_tasks if isinstance(t, Unsupported)]
    if unsupported:
        return f"the devhost does not support {', '.join(unsupported)}"
    return None


# -- building an engine from the app's functions ---------------------------------------------


def engine_from_functions(
    functions: Iterable[Function],
    store: HistoryStore,
    *,
    task_hub: str = DEFAULT_TASK_HUB,
    activity_workers: int = 4,
    orchestration_workers: int = 2,
    activity_adapter: Callable[[Function], Callable[..., Any]] | None = None,
    faults: Mapping[str, int] | None = None,
) -> DurableEngine:
    """A `DurableEngine` for the app's orchestrationTrigger and activityTrigger functions.

    Other triggers are left to the rest of the host. An entity function, an orchestrator that
    is not a generator, or a durable function with bindings the engine cannot pass stops here
    with a `DurableSetupError` naming the function.

    `activity_adapter(function)`, when given, returns the callable of one argument (the decoded
    input; sync, or async returning an awaitable) that invokes that activity: every activity
    then goes through it, so the host can serve their other bindings (a Web PubSub output, say)
    and log invocations. Without it an activity may have no binding but its trigger.
    """
    orchestrators: dict[str, Callable[..., Any]] = {}
    activities: dict[str, Callable[..., Any]] = {}
    for function in functions:
        trigger = function.get_trigger()
        kind = getattr(trigger, "type", None)
        name = function.get_function_name() or function.get_user_function().__name__
        if kind == "entityTrigger":
            raise DurableSetupError(f"function '{name}': durable entities are not supported")
        if kind == ORCHESTRATION_TRIGGER:
            _check_unique(name, orchestrators, activities)
            handle = function.get_user_function()
            generator, _ = replay.orchestrator_generator(handle)
            if not inspect.isgeneratorfunction(generator):
                raise DurableSetupError(
                    f"orchestrator '{name}' must be a generator function (it yields tasks)"
                )
            orchestrators[name] = handle
        elif kind == ACTIVITY_TRIGGER and trigger is not None:
            _check_unique(name, orchestrators, activities)
            others = [b for b in function.get_bindings() if b is not trigger]
            if others and activity_adapter is None:
                types = ", ".join(sorted({str(b.type) for b in others}))
                raise DurableSetupError(
                    f"activity '{name}' has bindings besides its activityTrigger ({types}); "
                    "the host must pass an activity_adapter that serves them"
                )
            if activity_adapter is not None:
                activities[name] = activity_adapter(function)
            else:
                activities[name] = _single_argument(
                    name, function.get_user_function(), trigger.name
                )
    return DurableEngine(
        orchestrators,
        activities,
        store,
        task_hub=task_hub,
        activity_workers=activity_workers,
        orchestration_workers=orchestration_workers,
        faults=faults,
    )


def _check_unique(name: str, *registries: Mapping[str, Any]) -> None:
    if any(name in registry for registry in registries):
        raise DurableSetupError(f"two durable functions are named '{name}'")


def _single_argument(name: str, user: Callable[..., Any], parameter: str) -> Callable[..., Any]:
    """The activity as a function of its input: the user function when its one parameter is
    the trigger's, else a wrapper passing the input by the trigger's parameter name."""
    parameters = list(inspect.signature(user).parameters)
    if parameters != [parameter]:
        raise DurableSetupError(
            f"activity '{name}': its activityTrigger names parameter '{parameter}' but the "
            f"function takes ({', '.join(parameters)})"
        )
    return user


def _call_identity(item: WorkItem) -> str:
    """The activity input without top-level fields whose value is the calling instance's id
    (apps pass it for their logs): the same call from another instance is the same call."""
    try:
        value = json.loads(item.input or "null")
    except ValueError:
        return item.input or ""
    if isinstance(value, dict):
        value = {key: field for key, field in value.items() if field != item.instance_id}
    return json.dumps(value, sort_keys=True)
