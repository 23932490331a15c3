"""Fixtures for the devhost tests: Azurite once per session, the test app on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import ensure_azurite
from devhost.host import HostOptions
from devhost.settings import DEV_ACCOUNT_NAME, StorageAccount
from tests.devhost.host_support import (
    TEST_APP,
    LoopThread,
    RunningHost,
    connection_string,
    free_port,
    running_host,
    write_app_root,
)


@pytest.fixture(scope="session")
def devhost_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def devhost_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob and queue services, started by the devhost's own `ensure_azurite`;
    yields their connection string."""
    blob_port, queue_port = free_port(), free_port()
    account = StorageAccount(
        blob_endpoint=f"http://127.0.0.1:{blob_port}/{DEV_ACCOUNT_NAME}",
        queue_endpoint=f"http://127.0.0.1:{queue_port}/{DEV_ACCOUNT_NAME}",
    )
    azurite = ensure_azurite([account], tmp_path_factory.mktemp("azurite"))
    assert len(azurite.processes) == 2
    yield connection_string(blob_port, queue_port)
    azurite.stop()


@pytest.fixture(scope="session")
def devhost_settings(devhost_storage: str, database_url: str) -> dict[str, str]:
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": devhost_storage,
        "DEVHOST_STORAGE": devhost_storage,
        "EVENT_GRID_CONTAINER": "devhost-events",
        "DEVHOST_HUB": "devhosthub",
        "HUB_NAME": "devhosttests",
        "DATABASE_URL": database_url,
        "AzureFunctionsWebHost__hostid": "devhost-tests",
    }


@pytest.fixture(scope="session")
def devhost_root(
    tmp_path_factory: pytest.TempPathFactory, devhost_settings: dict[str, str]
) -> Path:
    return write_app_root(tmp_path_factory.mktemp("app"), devhost_settings)


@pytest.fixture(scope="session")
def devhost(devhost_loop: LoopThread, devhost_root: Path) -> Iterator[RunningHost]:
    """The test app on an ephemeral port, blob scans every 0.2 s."""
    options = HostOptions(
        root=devhost_root,
        app_module=TEST_APP,
        port=0,
        poll_interval=0.2,
        start_azurite=False,
    )
    with running_host(devhost_loop, options) as host:
        yield host
