"""`python -m devhost process`: upload documents as a user and follow them to the end.

1. Find the stack on the port (`/admin/host/status` with the master key from the keys file),
   or start one in this process.
2. For each file, ask the app for an upload URL (`POST /api/uploads` with a dev-issuer token
   of the user, role processor) and PUT the file there: the blob lands under the user's prefix
   in `invoices-incoming`, exactly as a client's upload would.
3. Listen on the local Web PubSub service to the user's group `user:{owner}` (hub `invoices`,
   DESIGN.md section 7) and draw one progress bar per job from the live messages.
4. End with a summary table when every upload's job has completed, or when the timeout
   passes; what never reported progress is listed as such, not as a success.

Exit code: 0 every job completed; 1 some document failed; 3 the timeout passed first; 2 the
stack or an upload could not be reached.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from devhost.errors import DevhostError
from devhost.host import Host, HostOptions
from devhost.keys import KEY_HEADER, load_keys
from devhost.settings import load_app_settings

HUB = "invoices"
SUBPROTOCOL = "json.webpubsub.azure.v1"
EXIT_FAILED, EXIT_UNREACHABLE, EXIT_TIMEOUT = 1, 2, 3


@dataclass
class Upload:
    path: Path
    blob_path: str = ""
    error: str | None = None


@dataclass
class Job:
    job_id: str
    # The uploaded file's name, when the job is one of this run's uploads.
    label: str = ""
    processed: int = 0
    total: int = 0
    stage: str = ""
    failed: int = 0
    completed: bool = False
    errors: list[str] = field(default_factory=list)


class Progress:
    """One bar per job, redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.jobs: dict[str, Job] = {}
        self._drawn = 0
        self._tty = stream.isatty()

    def apply(self, message: dict[str, Any]) -> None:
        job_id = str(message.get("job_id") or "")
        if not job_id:
            return
        job = self.jobs.setdefault(job_id, Job(job_id))
        kind = message.get("type")
        job.total = int(message.get("total") or job.total)
        job.processed = int(message.get("processed") or job.processed)
        job.stage = str(message.get("stage") or kind or "")
        if kind == "document.failed":
            job.failed += 1
            job.errors.append(str(message.get("error") or "failed"))
        if kind == "job.completed":
            job.completed = True
        self.draw(job)

    def draw(self, changed: Job) -> None:
        if not self._tty:
            self.stream.write(_bar(changed) + "\n")
            self.stream.flush()
            return
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        for job in self.jobs.values():
            self.stream.write("\x1b[2K" + _bar(job) + "\n")
        self._drawn = len(self.jobs)
        self.stream.flush()


def _bar(job: Job, width: int = 30) -> str:
    done = job.processed / job.total if job.total else 0.0
    filled = int(done * width)
    state = "done" if job.completed else job.stage
    name = job.label or f"job {job.job_id[:12]}"
    return (
        f"{name[:24]:24} [{'#' * filled}{'-' * (width - filled)}] "
        f"{job.processed}/{job.total or '?'} {state}"
    )


async def run_process(
    files: Sequence[Path],
    *,
    user: str,
    port: int,
    timeout: float,
    app_module: str = "function_app",
    root: Path | None = None,
    stream: TextIO = sys.stderr,
) -> int:
    root = root or Path.cwd()
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DevhostError(f"not a file: {', '.join(missing)}")
    base_url = f"http://127.0.0.1:{port}"
    data_root = HostOptions.data_root_from(os.environ)
    keys_file = (data_root or root / ".data") / "devhost" / "keys.json"
    host: Host | None = None
    async with aiohttp.ClientSession() as session:
        if not await _stack_is_running(session, base_url, keys_file):
            print(f"devhost: no stack on port {port}; starting one", file=stream, flush=True)
            # The progress bars tell the story; invocation lines would bury them (failures stay).
            logging.getLogger("devhost.invocations").setLevel(logging.WARNING)
            host = Host(
                HostOptions(
                    root=root,
                    app_module=app_module,
                    port=port,
                    start_database=True,
                    data_root=data_root,
                )
            )
            await host.start()
        try:
            master = load_keys(keys_file, []).master
            token = _token(root, user)
            # The dev issuer's users are owners "dev-<user>" (shared.auth: "<issuer>-<subject>").
            owner = f"dev-{user}"
            return await _process(session, base_url, master, files, token, owner, timeout, stream)
        finally:
            if host is not None:
                await host.stop()


async def _stack_is_running(session: aiohttp.ClientSession, base_url: str, keys_file: Path) -> bool:
    master = load_keys(keys_file, []).master if keys_file.exists() else ""
    try:
        async with session.get(
            f"{base_url}/admin/host/status", headers={KEY_HEADER: master}
        ) as response:
            if response.status == 200:
                return True
            raise DevhostError(
                f"{base_url} answers but is not a devhost of this directory "
                f"(HTTP {response.status} from /admin/host/status)"
            )
    except aiohttp.ClientConnectionError:
        return False


def _token(root: Path, user: str) -> str:
    """A processor token from the dev issuer the app's settings configure."""
    from shared.auth import devissuer
    from shared.config import load_settings

    environ = dict(os.environ)
    load_app_settings(root, environ).apply(environ)
    key_dir = devissuer.configured_key_dir(load_settings(environ).auth)
    return devissuer.mint_token(key_dir or devissuer.DEFAULT_KEY_DIR, user, ["processor"])


async def _process(
    session: aiohttp.ClientSession,
    base_url: str,
    master: str,
    files: Sequence[Path],
    token: str,
    owner: str,
    timeout: float,
    stream: TextIO,
) -> int:
    # Listen before uploading: a small document can be done before a late listener joins.
    socket = await _listen(session, base_url, master, owner)
    try:
        uploads = [Upload(path) for path in files]
        for upload in uploads:
            await _upload(session, base_url, token, upload)
        uploaded = [u for u in uploads if u.error is None]
        if not uploaded:
            _summary(uploads, {}, timed_out=False)
            return EXIT_UNREACHABLE
        print(
            f"devhost: uploaded {len(uploaded)} file(s) under invoices-incoming/{owner}/; "
            f"waiting up to {timeout:.0f} s for progress",
            file=stream,
            flush=True,
        )
        progress = Progress(stream)
        follower = _Follower(session, base_url, token, progress, uploaded)
        timed_out = not await follower.run(socket, timeout)
    finally:
        await socket.close()
    _summary(uploads, progress.jobs, timed_out=timed_out)
    if timed_out:
        return EXIT_TIMEOUT
    if any(job.failed for job in progress.jobs.values()):
        return EXIT_FAILED
    return 0


async def _upload(
    session: aiohttp.ClientSession, base_url: str, token: str, upload: Upload
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with session.post(
            f"{base_url}/api/uploads", json={"filename": upload.path.name}, headers=headers
        ) as response:
            ticket = await response.json(content_type=None)
            if response.status != 201:
                upload.error = f"upload refused: HTTP {response.status} {ticket.get('detail', '')}"
                return
        async with session.request(
            ticket.get("method", "PUT"),
            ticket["url"],
            data=upload.path.read_bytes(),
            headers=ticket.get("headers") or {},
        ) as response:
            if response.status >= 300:
                upload.error = f"blob upload failed: HTTP {response.status}"
                return
    except (aiohttp.ClientError, ValueError, KeyError) as exc:
        upload.error = f"upload failed: {exc}"
        return
    upload.blob_path = str(ticket["blob_path"])


async def _listen(
    session: aiohttp.ClientSession, base_url: str, master: str, owner: str
) -> aiohttp.ClientWebSocketResponse:
    """A Web PubSub client in the owner's group, from the stack's local service."""
    query = {"hub": HUB, "userId": owner, "group": f"user:{owner}"}
    async with session.get(
        f"{base_url}/admin/devhost/webpubsub/client", params=query, headers={KEY_HEADER: master}
    ) as response:
        if response.status != 200:
            raise DevhostError(f"the stack has no Web PubSub service (HTTP {response.status})")
        client = await response.json()
    return await session.ws_connect(client["url"], protocols=(SUBPROTOCOL,))


class _Follower:
    """Feeds the messages to the progress bars until every upload's job has completed."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        progress: Progress,
        uploads: Sequence[Upload],
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self.progress = progress
        self.waiting = {upload.blob_path: upload for upload in uploads}
        self.blob_of_job: dict[str, str | None] = {}

    async def run(self, socket: aiohttp.ClientWebSocketResponse, timeout: float) -> bool:
        """True when every upload's job completed; False when the timeout passed first."""
        deadline = time.monotonic() + timeout
        while self.waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                frame = await socket.receive(timeout=remaining)
            except TimeoutError:
                return False
            if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                raise DevhostError("the Web PubSub connection closed")
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = _message_data(json.loads(frame.data))
            if data is not None:
                await self._apply(data)
        return True

    async def _apply(self, data: dict[str, Any]) -> None:
        job_id = str(data.get("job_id") or "")
        if not job_id:
            return
        if job_id not in self.blob_of_job:
            self.blob_of_job[job_id] = await self._blob_path(job_id)
            upload = self.waiting.get(self.blob_of_job[job_id] or "")
            if upload is not None:
                self.progress.jobs[job_id] = Job(job_id, label=upload.path.name)
        self.progress.apply(data)
        if data.get("type") == "job.completed":
            self.waiting.pop(self.blob_of_job.get(job_id) or "", None)

    async def _blob_path(self, job_id: str) -> str | None:
        """The job's source blob (GET /api/jobs/{id}), to pair it with an upload."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with contextlib.suppress(aiohttp.ClientError, ValueError):
            async with self.session.get(
                f"{self.base_url}/api/jobs/{job_id}", headers=headers
            ) as response:
                if response.status == 200:
                    document = await response.json()
                    found = document.get("source_blob") or document.get("blob_path")
                    return str(found) if found else None
        return None


def _message_data(envelope: Any) -> dict[str, Any] | None:
    if not isinstance(envelope, dict) or envelope.get("type") != "message":
        return None
    data = envelope.get("data")
    if isinstance(data, str):
        with contextlib.suppress(ValueError):
            data = json.loads(data)
    return data if isinstance(data, dict) else None


def _summary(
    uploads: Sequence[Upload],
    jobs: dict[str, Job],
    *,
    timed_out: bool,
    stream: TextIO | None = None,
) -> None:
    """The table on stdout: one row per file (its job's outcome), and why it ended."""
    by_label = {job.label: job for job in jobs.values() if job.label}
    rows = [("file", "job", "result")]
    for upload in uploads:
        job = by_label.get(upload.path.name)
        if upload.error:
            rows.append((upload.path.name, "-", upload.error))
        elif job is None:
            rows.append((upload.path.name, "-", f"uploaded to {upload.blob_path}; no progress"))
        else:
            rows.append((upload.path.name, job.job_id, _outcome(job)))
    for job in jobs.values():
        if not job.label:
            rows.append(("(another upload)", job.job_id, _outcome(job)))
    if timed_out:
        rows.append(("", "", "the timeout passed before every upload's job completed"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    print("\n".join(line.rstrip() for line in lines), file=stream or sys.stdout, flush=True)


def _outcome(job: Job) -> str:
    state = "completed" if job.completed else f"stopped at {job.stage or 'start'}"
    outcome = f"{state}: {job.processed}/{job.total} documents, {job.failed} failed"
    if job.errors:
        outcome += f" ({'; '.join(job.errors)})"
    return outcome
