"""Fixtures and helpers of the durable engine tests: one store per test process, an engine per
test on its own task hub (so tests never see each other's instances)."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from azure.durable_functions.models.utils import http_utils
from azure.functions.decorators.function_app import Function

from devhost.durable import DurableEngine, HistoryStore, engine_from_functions
from tests.devhost import durable_app


@functools.cache
def app_functions() -> tuple[Function, ...]:
    """The test app's functions (the SDK lists them once per app)."""
    return tuple(durable_app.app.get_functions())


@pytest.fixture(scope="session")
def store(database_url: str) -> Iterator[HistoryStore]:
    history_store = HistoryStore(database_url)
    history_store.ensure_schema()
    yield history_store
    history_store.close()


def new_hub() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def new_engine(store: HistoryStore, task_hub: str | None = None, **options: Any) -> DurableEngine:
    return engine_from_functions(app_functions(), store, task_hub=task_hub or new_hub(), **options)


@asynccontextmanager
async def running(engine: DurableEngine) -> AsyncIterator[DurableEngine]:
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def run(scenario: Callable[[], Any]) -> Any:
    """Run an async scenario on a fresh loop; the SDK client's cached session (bound to the
    loop it was made on) is dropped first."""

    async def main() -> Any:
        http_utils._client_session = None
        http_utils._session_lock = asyncio.Lock()
        try:
            return await scenario()
        finally:
            await http_utils._close_session()

    return asyncio.run(main())
