"""The processing flow end to end: blob drop -> orchestration -> invoices, through the devhost
running the real function_app, with real Azurite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import aiohttp

from shared.flow.ids import job_id_for
from tests.devhost.host_support import wait_until
from tests.e2e.stack import REPO, Stack

SAMPLES = REPO / "samples"
DONE = ("completed", "completed_with_errors", "failed")


def drop(stack: Stack, owner: str, name: str, data: bytes) -> tuple[str, str]:
    """Put a file where an upload lands; returns (blob path, job id)."""
    path = f"{owner}/{uuid.uuid4().hex[:8]}/{name}"
    stack.blobs().get_blob_client("invoices-incoming", path).upload_blob(data, overwrite=True)
    return path, job_id_for(path, hashlib.sha256(data).hexdigest())


def job_if(stack: Stack, token: str, job_id: str, *statuses: str) -> dict[str, Any] | None:
    """The job when its status is one of `statuses`, else None (for polling)."""
    status, job = stack.call("GET", f"/api/jobs/{job_id}", token=token)
    return dict(job) if status == 200 and job["status"] in statuses else None


def wait_for_job(stack: Stack, token: str, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    try:
        return wait_until(lambda: job_if(stack, token, job_id, *DONE), timeout, 0.3)
    except AssertionError:
        log = stack.log_path.read_text()[-2000:]
        raise AssertionError(f"job {job_id} did not finish; log: {log}") from None


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def blob_exists(stack: Stack, container: str, path: str) -> bool:
    return bool(stack.blobs().get_blob_client(container, path).exists())


def test_text_pdf_scan_and_a_zip_of_twenty_with_two_broken(
    stack: Stack, invoice_pdfs: list[Path]
) -> None:
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", stack.token(user, "processor")
    text_path, text_job = drop(
        stack, owner, "invoice-en.pdf", (SAMPLES / "invoice-en.pdf").read_bytes()
    )
    _, scan_job = drop(stack, owner, "scan.jpg", (SAMPLES / "factura-es-scan.jpg").read_bytes())
    members = {f"batch/{p.name}": p.read_bytes() for p in invoice_pdfs[:18]}
    members["batch/truncated.pdf"] = invoice_pdfs[18].read_bytes()[:400]
    members["batch/readme.txt"] = b"this is not an invoice"
    zip_path, zip_job = drop(stack, owner, "batch.zip", zip_of(members))

    text = wait_for_job(stack, token, text_job)
    assert (text["status"], text["documents_total"], text["documents_succeeded"]) == (
        "completed",
        1,
        1,
    )
    invoice_id = text["documents"][0]["invoice_id"]
    status, invoice = stack.call("GET", f"/api/invoices/{invoice_id}", token=token)
    assert status == 200 and invoice["owner"] == owner and invoice["invoice_total"]
    assert blob_exists(stack, "invoices-processed", text_path)
    assert not blob_exists(stack, "invoices-incoming", text_path)

    scan = wait_for_job(stack, token, scan_job)
    assert scan["status"] == "completed"
    status, scanned = stack.call(
        "GET", f"/api/invoices/{scan['documents'][0]['invoice_id']}", token=token
    )
    assert scanned["pages"] == 1 and scanned["vendor_name"]

    batch = wait_for_job(stack, token, zip_job)
    assert batch["status"] == "completed_with_errors"
    assert (batch["documents_total"], batch["documents_succeeded"], batch["documents_failed"]) == (
        20,
        18,
        2,
    )
    failed = {d["name"]: d["error_code"] for d in batch["documents"] if d["outcome"] == "failed"}
    assert set(failed) == {"batch/truncated.pdf", "batch/readme.txt"}
    assert all(failed.values())
    assert blob_exists(stack, "invoices-processed", zip_path)
    status, page = stack.call("GET", "/api/invoices?limit=200", token=token)
    assert len(page["items"]) == 20  # 1 text + 1 scan + 18 from the batch


def test_the_same_blob_dropped_three_times_is_one_job(
    stack: Stack, invoice_pdfs: list[Path]
) -> None:
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", stack.token(user, "viewer")
    data = zip_of({"a.pdf": invoice_pdfs[0].read_bytes(), "b.pdf": invoice_pdfs[1].read_bytes()})
    path = f"{owner}/same/batch.zip"
    container = stack.blobs().get_blob_client("invoices-incoming", path)
    for _ in range(3):
        container.upload_blob(data, overwrite=True)
        time.sleep(0.3)  # let the trigger see each version (a new ETag each time)
    job = wait_for_job(stack, token, job_id_for(path, hashlib.sha256(data).hexdigest()))
    assert job["documents_total"] == 2
    time.sleep(2)  # any late trigger would have started by now
    _, jobs = stack.call("GET", "/api/jobs", token=token)
    assert [j["id"] for j in jobs["items"]] == [job["id"]]
    _, page = stack.call("GET", "/api/invoices", token=token)
    assert len(page["items"]) == 2
    # late copies are filed with the job
    wait_until(lambda: not blob_exists(stack, "invoices-incoming", path), 30, 0.2)
    assert blob_exists(stack, "invoices-processed", path)


def test_a_blob_outside_any_owner_prefix_is_quarantined(stack: Stack) -> None:
    path = f"stray-{uuid.uuid4().hex[:8]}.pdf"
    stack.blobs().get_blob_client("invoices-incoming", path).upload_blob(b"%PDF-1.7")
    wait_until(lambda: blob_exists(stack, "invoices-quarantine", path), 30, 0.2)
    assert not blob_exists(stack, "invoices-incoming", path)


def test_live_progress_over_web_pubsub_in_order(stack: Stack, invoice_pdfs: list[Path]) -> None:
    user = f"u{uuid.uuid4().hex[:10]}"
    token = stack.token(user, "processor")
    status, me = stack.call("GET", "/api/me", token=token)
    assert status == 200
    status, connection = stack.call(
        "GET",
        "/api/realtime/negotiate",
        token=token,
        headers={"x-ms-client-principal-id": me["user_id"]},
    )
    assert status == 200, connection
    assert connection["groups"] == [f"user:{me['user_id']}"]
    # someone else's id in the header is refused
    other, _ = stack.call(
        "GET",
        "/api/realtime/negotiate",
        token=token,
        headers={"x-ms-client-principal-id": "dev-someone-else"},
    )
    assert other == 403
    data = zip_of({f"{n}.pdf": invoice_pdfs[n].read_bytes() for n in range(3)})

    async def listen() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(connection["url"], protocols=["json.webpubsub.azure.v1"]) as socket,
        ):
            first = await socket.receive_json(timeout=10)
            assert first["type"] == "system" and first["event"] == "connected"
            _, job_id = drop(stack, me["user_id"], "live.zip", data)
            while True:
                frame = await socket.receive_json(timeout=120)
                if frame.get("type") != "message":
                    continue
                body = (
                    frame["data"] if isinstance(frame["data"], dict) else json.loads(frame["data"])
                )
                if body["job_id"] != job_id:
                    continue
                received.append(body)
                if body["type"] == "job.completed":
                    return received

    messages = asyncio.run(listen())
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "job.progress" and kinds[-1] == "job.completed"
    assert kinds.count("document.completed") == 3
    processed = [m["processed"] for m in messages if m["type"].startswith("document.")]
    assert processed == [1, 2, 3]
    assert all(m["total"] == 3 for m in messages)
    assert messages[-1]["stage"] == "completed"
