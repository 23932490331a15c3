"""pytest plugin: the whole local stack (devhost running the real function_app) for tests that
need what only a Functions host provides: blob triggers, orchestrations, durable client and
Web PubSub bindings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, make_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    running = make_stack(
        tmp_path_factory.mktemp("stack"), database_url, f"e2e{uuid.uuid4().hex[:8]}"
    )
    running.start()
    yield running
    running.stop()
