"""Where orchestrations live between episodes: PostgreSQL, schema `devhost_durable`.

Four tables, every row keyed by task hub so hubs never see each other:

- `instances`: one row per orchestration instance (status, input, output, custom status, the
  action signature the non-determinism check compares against, the external events it waits on).
- `history`: the instance's history events, in order, exactly as the SDK is given them.
- `inbox`: messages not yet given to the orchestrator: the start message, completions of
  activities, timers and sub-orchestrations (a timer is a completion that becomes visible at its
  `fireAt`, which is what makes timers survive a restart) and raised external events (kept until
  the orchestrator waits for one of that name).
- `work_items`: activities scheduled and not finished. Finishing one deletes its row and writes
  its completion to the inbox in one transaction, so an activity recorded as done never runs
  again, and one that was running when the process died runs again on restart.

The schema is created idempotently (under an advisory lock, so concurrent starts do not race).
All methods are synchronous; the engine calls them in worker threads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

SCHEMA = "devhost_durable"

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated"})

_SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS devhost_durable;
CREATE TABLE IF NOT EXISTS devhost_durable.instances (
    task_hub text NOT NULL,
    instance_id text NOT NULL,
    name text NOT NULL,
    execution_id text NOT NULL,
    runtime_status text NOT NULL,
    input text,
    output text,
    custom_status text,
    created_time timestamptz NOT NULL,
    last_updated_time timestamptz NOT NULL,
    parent_instance_id text,
    parent_execution_id text,
    parent_task_id integer,
    signature jsonb NOT NULL DEFAULT '[]',
    waiting jsonb NOT NULL DEFAULT '{}',
    clock timestamptz,
    PRIMARY KEY (task_hub, instance_id)
);
CREATE INDEX IF NOT EXISTS instances_status
    ON devhost_durable.instances (task_hub, runtime_status);
CREATE TABLE IF NOT EXISTS devhost_durable.history (
    task_hub text NOT NULL,
    instance_id text NOT NULL,
    seq integer NOT NULL,
    event jsonb NOT NULL,
    PRIMARY KEY (task_hub, instance_id, seq)
);
CREATE TABLE IF NOT EXISTS devhost_durable.inbox (
    id bigserial PRIMARY KEY,
    task_hub text NOT NULL,
    instance_id text NOT NULL,
    execution_id text,
    kind text NOT NULL CHECK (kind IN ('start', 'completion', 'event')),
    event_name text,
    payload jsonb NOT NULL,
    visible_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_instance ON devhost_durable.inbox (task_hub, instance_id, id);
CREATE INDEX IF NOT EXISTS inbox_visible ON devhost_durable.inbox (task_hub, visible_at);
CREATE TABLE IF NOT EXISTS devhost_durable.work_items (
    id bigserial PRIMARY KEY,
    task_hub text NOT NULL,
    instance_id text NOT NULL,
    execution_id text NOT NULL,
    task_id integer NOT NULL,
    name text NOT NULL,
    input text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS work_items_instance
    ON devhost_durable.work_items (task_hub, instance_id);
"""

_INSTANCE_COLUMNS = (
    "instance_id, name, execution_id, runtime_status, input, output, custom_status, "
    "created_time, last_updated_time, parent_instance_id, parent_execution_id, parent_task_id, "
    "signature, waiting, clock"
)


@dataclass(frozen=True)
class ParentRef:
    """The orchestration (execution and task) that is waiting for a sub-orchestration."""

    instance_id: str
    execution_id: str
    task_id: int


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    name: str
    execution_id: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: dt.datetime
    last_updated_time: dt.datetime
    parent: ParentRef | None
    signature: list[list[Any]]
    waiting: dict[str, int]
    clock: dt.datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.runtime_status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Message:
    id: int
    execution_id: str | None
    kind: str
    event_name: str | None
    payload: dict[str, Any]
    visible_at: dt.datetime


@dataclass(frozen=True)
class WorkItem:
    """An activity to run: `input` is the JSON text the orchestrator passed."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class NewWorkItem:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class InstanceQuery:
    """Filters of the list and purge APIs; None means no filter."""

    runtime_status: Sequence[str] | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    instance_id_prefix: str | None = None
    top: int | None = None
    skip: int = 0


@dataclass(frozen=True)
class Recovery:
    """What a starting engine picks up: unfinished activities, timers, live instances."""

    work_items: list[WorkItem]
    future_timers: list[tuple[dt.datetime, str]]
    live_instances: list[str]


@dataclass
class Outbox:
    """Side effects of one transaction that the engine acts on once it committed."""

    work_items: list[WorkItem] = field(default_factory=list)
    timers: list[tuple[dt.datetime, str]] = field(default_factory=list)
    signal: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)


def _instance(row: Sequence[Any]) -> InstanceRecord:
    parent = ParentRef(row[9], row[10], row[11]) if row[9] is not None else None
    return InstanceRecord(
        instance_id=row[0],
        name=row[1],
        execution_id=row[2],
        runtime_status=row[3],
        input=row[4],
        output=row[5],
        custom_status=row[6],
        created_time=row[7],
        last_updated_time=row[8],
        parent=parent,
        signature=row[12],
        waiting=row[13],
        clock=row[14],
    )


def _work_item(row: Sequence[Any]) -> WorkItem:
    return WorkItem(
        id=row[0],
        instance_id=row[1],
        execution_id=row[2],
        task_id=row[3],
        name=row[4],
        input=row[5],
    )


class StoreTransaction:
    """The statements of one transaction for one task hub (see `HistoryStore.transaction`)."""

    def __init__(self, conn: psycopg.Connection[Any], task_hub: str) -> None:
        self.conn = conn
        self.hub = task_hub

    # -- instances ---------------------------------------------------------------------------

    def lock_instance(self, instance_id: str) -> InstanceRecord | None:
        row = self.conn.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM devhost_durable.instances "  # noqa: S608 - constant
            "WHERE task_hub = %s AND instance_id = %s FOR UPDATE",
            (self.hub, instance_id),
        ).fetchone()
        return _instance(row) if row else None

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        row = self.conn.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM devhost_durable.instances "  # noqa: S608 - constant
            "WHERE task_hub = %s AND instance_id = %s",
            (self.hub, instance_id),
        ).fetchone()
        return _instance(row) if row else None

    def create_instance(
        self,
        instance_id: str,
        name: str,
        execution_id: str,
        input_json: str | None,
        now: dt.datetime,
        parent: ParentRef | None = None,
    ) -> None:
        """Create the instance (Pending), replacing any earlier one with that id, with its start
        message in the inbox."""
        self.delete_instance_data(instance_id)
        self.conn.execute(
            "DELETE FROM devhost_durable.instances WHERE task_hub = %s AND instance_id = %s",
            (self.hub, instance_id),
        )
        self.conn.execute(
            "INSERT INTO devhost_durable.instances (task_hub, instance_id, name, execution_id,"
            " runtime_status, input, created_time, last_updated_time, parent_instance_id,"
            " parent_execution_id, parent_task_id)"
            " VALUES (%s, %s, %s, %s, 'Pending', %s, %s, %s, %s, %s, %s)",
            (
                self.hub,
                instance_id,
                name,
                execution_id,
                input_json,
                now,
                now,
                parent.instance_id if parent else None,
                parent.execution_id if parent else None,
                parent.task_id if parent else None,
            ),
        )
        self.add_message(instance_id, execution_id, "start", {}, now)

    def update_instance(
        self,
        instance_id: str,
        *,
        runtime_status: str,
        now: dt.datetime,
        execution_id: str,
        input_json: str | None,
        output: str | None,
        custom_status: str | None,
        signature: list[list[Any]],
        waiting: dict[str, int],
        clock: dt.datetime | None,
    ) -> None:
        self.conn.execute(
            "UPDATE devhost_durable.instances SET runtime_status = %s, last_updated_time = %s,"
            " execution_id = %s, input = %s, output = %s, custom_status = %s, signature = %s,"
            " waiting = %s, clock = %s WHERE task_hub = %s AND instance_id = %s",
            (
                runtime_status,
                now,
                execution_id,
                input_json,
                output,
                custom_status,
                Jsonb(signature),
                Jsonb(waiting),
                clock,
                self.hub,
                instance_id,
            ),
        )

    def set_status(
        self, instance_id: str, runtime_status: str, now: dt.datetime, clock: dt.datetime | None
    ) -> None:
        self.conn.execute(
            "UPDATE devhost_durable.instances SET runtime_status = %s, last_updated_time = %s,"
            " clock = %s WHERE task_hub = %s AND instance_id = %s",
            (runtime_status, now, clock, self.hub, instance_id),
        )

    def finish(
        self,
        instance_id: str,
        runtime_status: str,
        output: str | None,
        custom_status: str | None,
        now: dt.datetime,
        clock: dt.datetime | None,
    ) -> None:
        """Mark the instance finished; its unfinished work and unread messages go."""
        self.conn.execute(
            "UPDATE devhost_durable.instances SET runtime_status = %s, output = %s,"
            " custom_status = %s, last_updated_time = %s, clock = %s, waiting = '{}'"
            " WHERE task_hub = %s AND instance_id = %s",
            (runtime_status, output, custom_status, now, clock, self.hub, instance_id),
        )
        self.delete_work_items(instance_id)
        self.delete_inbox(instance_id, keep_events=False)

    def delete_instance_data(self, instance_id: str) -> None:
        """History, inbox and work items of the instance (the instance row stays)."""
        for table in ("history", "inbox", "work_items"):
            self.conn.execute(
                f"DELETE FROM devhost_durable.{table} "  # noqa: S608 - table names are constants
                "WHERE task_hub = %s AND instance_id = %s",
                (self.hub, instance_id),
            )

    # -- history -----------------------------------------------------------------------------

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT event FROM devhost_durable.history WHERE task_hub = %s AND instance_id = %s"
            " ORDER BY seq",
            (self.hub, instance_id),
        ).fetchall()
        return [row[0] for row in rows]

    def append_history(
        self, instance_id: str, first_seq: int, events: Sequence[dict[str, Any]]
    ) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO devhost_durable.history (task_hub, instance_id, seq, event)"
                " VALUES (%s, %s, %s, %s)",
                [
                    (self.hub, instance_id, first_seq + offset, Jsonb(event))
                    for offset, event in enumerate(events)
                ],
            )

    def reset_history(self, instance_id: str) -> None:
        self.conn.execute(
            "DELETE FROM devhost_durable.history WHERE task_hub = %s AND instance_id = %s",
            (self.hub, instance_id),
        )

    # -- inbox -------------------------------------------------------------------------------

    def add_message(
        self,
        instance_id: str,
        execution_id: str | None,
        kind: str,
        payload: dict[str, Any],
        visible_at: dt.datetime,
        event_name: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO devhost_durable.inbox (task_hub, instance_id, execution_id, kind,"
            " event_name, payload, visible_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (self.hub, instance_id, execution_id, kind, event_name, Jsonb(payload), visible_at),
        )

    def visible_messages(self, instance_id: str, now: dt.datetime) -> list[Message]:
        rows = self.conn.execute(
            "SELECT id, execution_id, kind, event_name, payload, visible_at"
            " FROM devhost_durable.inbox WHERE task_hub = %s AND instance_id = %s"
            " AND visible_at <= %s ORDER BY id",
            (self.hub, instance_id, now),
        ).fetchall()
        return [Message(*row) for row in rows]

    def delete_messages(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.execute("DELETE FROM devhost_durable.inbox WHERE id = ANY(%s)", (list(ids),))

    def delete_timer(self, instance_id: str, execution_id: str, timer_id: int) -> None:
        self.conn.execute(
            "DELETE FROM devhost_durable.inbox WHERE task_hub = %s AND instance_id = %s"
            " AND execution_id = %s AND kind = 'completion' AND payload->>'TimerId' = %s",
            (self.hub, instance_id, execution_id, str(timer_id)),
        )

    def delete_inbox(self, instance_id: str, *, keep_events: bool) -> None:
        self.conn.execute(
            "DELETE FROM devhost_durable.inbox WHERE task_hub = %s AND instance_id = %s"
            " AND NOT (%s AND kind = 'event')",
            (self.hub, instance_id, keep_events),
        )

    # -- work items --------------------------------------------------------------------------

    def add_work_items(self, items: Sequence[NewWorkItem]) -> list[WorkItem]:
        if not items:
            return []
        ids: list[int] = []
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO devhost_durable.work_items"
                " (task_hub, instance_id, execution_id, task_id, name, input)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                [
                    (self.hub, i.instance_id, i.execution_id, i.task_id, i.name, i.input)
                    for i in items
                ],
                returning=True,
            )
            while True:
                row = cur.fetchone()
                assert row is not None
                ids.append(row[0])
                if not cur.nextset():
                    break
        return [
            WorkItem(id_, i.instance_id, i.execution_id, i.task_id, i.name, i.input)
            for id_, i in zip(ids, items, strict=True)
        ]

    def delete_work_items(self, instance_id: str) -> None:
        self.conn.execute(
            "DELETE FROM devhost_durable.work_items WHERE task_hub = %s AND instance_id = %s",
            (self.hub, instance_id),
        )


class HistoryStore:
    """The durable state of the devhost's orchestrations in PostgreSQL.

    `pool_or_url` is a psycopg_pool.ConnectionPool (the caller keeps owning it) or a database
    URL (the store opens its own pool of `max_connections` and closes it in `close`).
    """

    def __init__(self, pool_or_url: ConnectionPool | str, *, max_connections: int = 12) -> None:
        if isinstance(pool_or_url, str):
            self._pool = ConnectionPool(
                pool_or_url,
                min_size=1,
                max_size=max_connections,
                kwargs={"autocommit": True},
                open=False,
                name="devhost-durable",
                timeout=30,
            )
            self._pool.open(wait=True, timeout=30)
            self._owns_pool = True
        else:
            self._pool = pool_or_url
            self._owns_pool = False
        self._schema_ready = False

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('devhost_durable schema'))")
            conn.execute(_SCHEMA_SQL)
        self._schema_ready = True

    def lock_hub(self, task_hub: str) -> psycopg.Connection[Any] | None:
        """Claim the task hub for one engine: a session advisory lock on a connection of its
        own, released when that connection closes (also when the process dies). None when
        another engine holds it."""
        conninfo, kwargs = self._pool.conninfo, self._pool.kwargs
        options = {**((kwargs() if callable(kwargs) else kwargs) or {}), "autocommit": True}
        conn = psycopg.connect(conninfo() if callable(conninfo) else conninfo, **options)
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext('devhost_durable hub'), hashtext(%s))",
            (task_hub,),
        ).fetchone()
        if row is None or not row[0]:
            conn.close()
            return None
        return conn

    @contextmanager
    def transaction(self, task_hub: str) -> Iterator[StoreTransaction]:
        with self._pool.connection() as conn, conn.transaction():
            # A commit does not wait for its WAL flush: killing the devhost loses nothing the
            # server acknowledged; only a crash of PostgreSQL or the machine can drop the last
            # transactions, and then whole ones (an activity would run again).
            conn.execute("SET LOCAL synchronous_commit = off")
            yield StoreTransaction(conn, task_hub)

    # -- single-statement operations used by the engine and the client API -------------------

    def get(self, task_hub: str, instance_id: str) -> InstanceRecord | None:
        with self.transaction(task_hub) as tx:
            return tx.get_instance(instance_id)

    def history(self, task_hub: str, instance_id: str) -> list[dict[str, Any]]:
        with self.transaction(task_hub) as tx:
            return tx.history(instance_id)

    def query(self, task_hub: str, query: InstanceQuery) -> list[InstanceRecord]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM devhost_durable.instances "  # noqa: S608
                "WHERE task_hub = %(hub)s"
                " AND (%(statuses)s::text[] IS NULL OR runtime_status = ANY(%(statuses)s))"
                " AND (%(from)s::timestamptz IS NULL OR created_time >= %(from)s)"
                " AND (%(to)s::timestamptz IS NULL OR created_time <= %(to)s)"
                " AND (%(prefix)s::text IS NULL OR starts_with(instance_id, %(prefix)s))"
                " ORDER BY created_time, instance_id LIMIT %(top)s OFFSET %(skip)s",
                {
                    "hub": task_hub,
                    "statuses": list(query.runtime_status) if query.runtime_status else None,
                    "from": query.created_from,
                    "to": query.created_to,
                    "prefix": query.instance_id_prefix,
                    "top": query.top,
                    "skip": query.skip,
                },
            ).fetchall()
        return [_instance(row) for row in rows]

    def purge(self, task_hub: str, query: InstanceQuery) -> int:
        """Delete finished instances (Completed, Failed, Terminated) matching `query`."""
        with self.transaction(task_hub) as tx:
            rows = tx.conn.execute(
                "DELETE FROM devhost_durable.instances WHERE task_hub = %(hub)s"
                " AND runtime_status = ANY(%(terminal)s)"
                " AND (%(statuses)s::text[] IS NULL OR runtime_status = ANY(%(statuses)s))"
                " AND (%(from)s::timestamptz IS NULL OR created_time >= %(from)s)"
                " AND (%(to)s::timestamptz IS NULL OR created_time <= %(to)s)"
                " AND (%(prefix)s::text IS NULL OR starts_with(instance_id, %(prefix)s))"
                " RETURNING instance_id",
                {
                    "hub": task_hub,
                    "terminal": sorted(TERMINAL_STATUSES),
                    "statuses": list(query.runtime_status) if query.runtime_status else None,
                    "from": query.created_from,
                    "to": query.created_to,
                    "prefix": query.instance_id_prefix,
                },
            ).fetchall()
            for (instance_id,) in rows:
                tx.delete_instance_data(instance_id)
        return len(rows)

    def purge_instance(self, task_hub: str, instance_id: str) -> int:
        with self.transaction(task_hub) as tx:
            row = tx.conn.execute(
                "DELETE FROM devhost_durable.instances WHERE task_hub = %s AND instance_id = %s"
                " AND runtime_status = ANY(%s) RETURNING instance_id",
                (task_hub, instance_id, sorted(TERMINAL_STATUSES)),
            ).fetchone()
            if row is None:
                return 0
            tx.delete_instance_data(instance_id)
        return 1

    def complete_work_items(
        self,
        task_hub: str,
        completions: Sequence[tuple[WorkItem, dict[str, Any]]],
        now: dt.datetime,
    ) -> set[str]:
        """Record activities' completions, each with its work item's deletion, in one
        transaction; returns the instances that got one. A work item already gone (its instance
        was terminated, replaced or purged meanwhile) records nothing."""
        with self.transaction(task_hub) as tx:
            rows = tx.conn.execute(
                "DELETE FROM devhost_durable.work_items WHERE id = ANY(%s) RETURNING id",
                ([item.id for item, _ in completions],),
            ).fetchall()
            live = {row[0] for row in rows}
            recorded = [(item, payload) for item, payload in completions if item.id in live]
            with tx.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO devhost_durable.inbox (task_hub, instance_id, execution_id, kind,"
                    " payload, visible_at) VALUES (%s, %s, %s, 'completion', %s, %s)",
                    [
                        (task_hub, item.instance_id, item.execution_id, Jsonb(payload), now)
                        for item, payload in recorded
                    ],
                )
        return {item.instance_id for item, _ in recorded}

    def recovery(self, task_hub: str) -> Recovery:
        with self._pool.connection() as conn:
            items = conn.execute(
                "SELECT id, instance_id, execution_id, task_id, name, input"
                " FROM devhost_durable.work_items WHERE task_hub = %s ORDER BY id",
                (task_hub,),
            ).fetchall()
            timers = conn.execute(
                "SELECT visible_at, instance_id FROM devhost_durable.inbox"
                " WHERE task_hub = %s AND visible_at > now()",
                (task_hub,),
            ).fetchall()
            live = conn.execute(
                "SELECT instance_id FROM devhost_durable.instances"
                " WHERE task_hub = %s AND runtime_status = ANY(%s) ORDER BY created_time",
                (task_hub, ["Pending", "Running"]),
            ).fetchall()
        return Recovery(
            work_items=[_work_item(row) for row in items],
            future_timers=[(row[0], row[1]) for row in timers],
            live_instances=[row[0] for row in live],
        )


def json_text(value: Any) -> str:
    """Compact JSON text, the form inputs, outputs and custom status are stored in."""
    return json.dumps(value, separators=(",", ":"))
