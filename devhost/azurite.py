"""Azurite, started by the devhost when no storage emulator answers at a local endpoint.

The app's storage connections (AzureWebJobsStorage, the blob triggers' connections) name the
endpoints; for each local one (127.0.0.1 or localhost) that nothing listens on, the devhost
starts the matching Azurite service from npm (`node_modules/.bin/azurite-blob`,
`azurite-queue`) with its data under `.data/azurite`, and stops it when the host stops.
`--skipApiVersionCheck` because azure-storage-blob speaks newer API versions than Azurite
knows; `--disableTelemetry` because Azurite would otherwise call out.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from devhost.errors import DevhostError
from devhost.settings import StorageAccount

logger = logging.getLogger("devhost.azurite")

REPO_ROOT = Path(__file__).resolve().parents[1]
_FLAGS = ("--skipApiVersionCheck", "--disableTelemetry", "--loose")
_START_TIMEOUT_SECONDS = 30.0
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Azurite:
    """Azurite services this devhost started (none if an emulator was already running)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def local_port(endpoint: str) -> int | None:
    """The port of a local http endpoint, None for anything remote."""
    parts = urlsplit(endpoint)
    if parts.hostname not in _LOCAL_HOSTS:
        return None
    return parts.port or (443 if parts.scheme == "https" else 80)


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.3):
        return True
    return False


def executable(service: str) -> Path:
    local = REPO_ROOT / "node_modules" / ".bin" / f"azurite-{service}"
    if local.exists():
        return local
    found = shutil.which(f"azurite-{service}")
    if found:
        return Path(found)
    raise DevhostError(
        f"azurite-{service} is not installed: run scripts/bootstrap (it runs `npm ci`), "
        "or start a storage emulator yourself"
    )


def ensure_azurite(accounts: Iterable[StorageAccount], location: Path) -> Azurite:
    """Start Azurite's blob and queue services wherever a local endpoint has no listener."""
    wanted: dict[int, str] = {}
    for account in accounts:
        if account.uses_identity:
            continue
        for service, endpoint in (
            ("blob", account.blob_endpoint),
            ("queue", account.queue_endpoint),
        ):
            port = local_port(endpoint) if endpoint else None
            if port is not None:
                wanted.setdefault(port, service)
    started = Azurite()
    try:
        for port, service in sorted(wanted.items()):
            if is_listening(port):
                continue
            started.processes.append(_start(service, port, location))
            started.endpoints.append(f"{service}: http://127.0.0.1:{port}")
    except BaseException:
        started.stop()
        raise
    return started


def _start(service: str, port: int, location: Path) -> subprocess.Popen[bytes]:
    location.mkdir(parents=True, exist_ok=True)
    command = [
        str(executable(service)),
        f"--{service}Host",
        "127.0.0.1",
        f"--{service}Port",
        str(port),
        "--location",
        str(location),
        *_FLAGS,
    ]
    log_path = location / f"azurite-{service}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable and arguments
            command,
            cwd=location,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the devhost, which stops it
        )
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if is_listening(port):
            logger.info("started Azurite %s service on 127.0.0.1:%d", service, port)
            return process
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    output = log_path.read_text(errors="replace")[-2000:]
    raise DevhostError(f"Azurite {service} service did not start on port {port}:\n{output}")
