"""Durable Functions for the devhost: orchestrations replayed through the SDK, state in PostgreSQL.

What the host uses:

- `HistoryStore(pool_or_url)`: the state (schema `devhost_durable`, created on first start).
- `engine_from_functions(functions, store, task_hub=..., activity_workers=...)`: a
  `DurableEngine` for the app's orchestrationTrigger and activityTrigger functions (the
  `Function` objects `app.get_functions()` lists); `DurableSetupError` names a function it
  cannot serve. `activity_adapter=` serves activities that have other bindings.
- `DurableEngine(orchestrators, activities, store, *, task_hub, activity_workers=4)`:
  `await start()` resumes every Pending or Running instance of the hub, `await stop()`;
  `start_new(name, instance_id, input) -> id`, `get_status`, `list_instances`, `raise_event`,
  `terminate`, `suspend`, `resume`, `restart`, `purge`, `purge_where`, `wait_for_completion`.
- `mount_client_api(app, engine, base_path=...)`: the durable client HTTP API on an aiohttp
  app; mount it at `RPC_PATH` (where the binding's rpcBaseUrl points) and `WEBHOOK_PATH`.
- `client_binding(base_url, task_hub) -> dict`: the `durableClient` binding value.

Guarantees: an activity whose completion was recorded never runs again (the completion and the
work item's removal are one transaction); one that was running when the process died runs again
on restart. Timers fire at their persisted time after a restart. A replay whose actions differ
from what the history recorded fails the instance ("Non-deterministic workflow detected").
Not supported: durable entities, call_http, rewind.
"""

from devhost.durable.client_api import (
    RPC_PATH,
    WEBHOOK_PATH,
    client_binding,
    management_urls,
    mount_client_api,
)
from devhost.durable.engine import (
    DEFAULT_TASK_HUB,
    DurableEngine,
    InstanceStatus,
    engine_from_functions,
)
from devhost.durable.errors import (
    DurableError,
    DurableSetupError,
    InstanceGone,
    InstanceNotFound,
    UnknownOrchestrator,
)
from devhost.durable.store import HistoryStore, InstanceQuery

__all__ = [
    "DEFAULT_TASK_HUB",
    "RPC_PATH",
    "WEBHOOK_PATH",
    "DurableEngine",
    "DurableError",
    "DurableSetupError",
    "HistoryStore",
    "InstanceGone",
    "InstanceNotFound",
    "InstanceQuery",
    "InstanceStatus",
    "UnknownOrchestrator",
    "client_binding",
    "engine_from_functions",
    "management_urls",
    "mount_client_api",
]
