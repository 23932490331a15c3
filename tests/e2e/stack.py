"""The whole local stack in a subprocess, as `python -m devhost start` runs it, for end-to-end
tests: the real function_app, real Azurite (started by the devhost), real PostgreSQL.

A subprocess, not an in-process host: the app keeps process-wide state (settings, the service
container) as it does in Azure, and the kill test needs a process to kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from shared.auth.devissuer import mint_token
from tests.devhost.host_support import connection_string, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    port: int
    env: dict[str, str]
    key_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage(self) -> str:
        return self.env["INVOICES_STORAGE"]

    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.storage)

    def start(self, timeout: float = 120.0) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "start", "--port", str(self.port),
             "--poll-interval", "0.2"],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"devhost exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base_url + "/api/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise AssertionError(f"devhost did not answer: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9 the host alone (Azurite, its child, keeps running like a separate service)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        # An Azurite left by a host killed with -9 (kill()) outlives the restarted host's
        # process group; it runs in this stack's data folder, which tells it apart.
        _stop_processes_in(Path(self.env["DEVHOST_DATA_DIR"]))
        if self._log is not None:
            self._log.close()

    def token(self, user: str, *roles: str) -> str:
        return mint_token(self.key_dir, user, list(roles))

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        status, answer, _ = self.call_full(method, path, token=token, body=body, headers=headers)
        return status, answer

    def call_full(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON body and headers of one request to the stack."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None, dict(answer.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None, dict(error.headers)


def _stop_processes_in(folder: Path) -> None:
    """SIGTERM every process whose working directory is inside `folder` (Linux /proc)."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = (entry / "cwd").readlink()
        except OSError:  # gone, or not ours to read
            continue
        if cwd == folder or folder in cwd.parents:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGTERM)


def make_stack(tmp: Path, database_url: str, hub: str) -> Stack:
    storage = connection_string(free_port(), free_port())
    key_dir = tmp / "dev-issuer"
    env = {
        **os.environ,
        "AzureWebJobsStorage": storage,
        "INVOICES_STORAGE": storage,
        "DATABASE_URL": database_url,
        "DURABLE_TASK_HUB_NAME": hub,
        "AUTH_ISSUERS": json.dumps([{"kind": "dev", "key_dir": str(key_dir)}]),
        "FLOW_WINDOW": "4",
        "AzureFunctionsWebHost__hostid": hub,
        "REDIS_URL": "",
        # Tests read the host's log: JSON lines with correlation fields.
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        # Its own Azurite data and function keys: stacks running at once (pytest -n 2) must
        # not share Azurite's folder, or a restarted one loads another's metadata.
        "DEVHOST_DATA_DIR": str(tmp / "devhost-data"),
    }
    return Stack(free_port(), env, key_dir, tmp / "devhost.log")
