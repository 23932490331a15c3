"""The flow survives what production throws at it: transient activity failures and a host
killed in the middle of a batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.devhost.host_support import wait_until
from tests.e2e.stack import Stack, make_stack
from tests.e2e.test_flow import drop, job_if, wait_for_job, zip_of


def _under_way(stack: Stack, token: str, job_id: str) -> bool:
    status, job = stack.call("GET", f"/api/jobs/{job_id}", token=token)
    return status == 200 and 2 <= job["documents_succeeded"] < 12


def _completed_instance(stack: Stack, instance_id: str) -> dict[str, Any] | None:
    status, instance = stack.call(
        "GET", f"/runtime/webhooks/durabletask/instances/{instance_id}?showHistory=true"
    )
    return dict(instance) if status == 200 and instance["runtimeStatus"] == "Completed" else None


@pytest.fixture
def fresh_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = make_stack(tmp_path, database_url, f"e2e{uuid.uuid4().hex[:8]}")
    yield stack
    stack.stop()


def test_a_document_whose_parse_fails_twice_transiently_ends_as_a_normal_invoice(
    fresh_stack: Stack, invoice_pdfs: list[Path]
) -> None:
    fresh_stack.env["DEVHOST_ACTIVITY_FAULTS"] = "parse_document:2"
    fresh_stack.start()
    user = f"u{uuid.uuid4().hex[:10]}"
    token = fresh_stack.token(user, "viewer")
    _, job_id = drop(fresh_stack, f"dev-{user}", "flaky.pdf", invoice_pdfs[5].read_bytes())
    job = wait_for_job(fresh_stack, token, job_id)
    assert (job["status"], job["documents_succeeded"]) == ("completed", 1)
    status, invoice = fresh_stack.call(
        "GET", f"/api/invoices/{job['documents'][0]['invoice_id']}", token=token
    )
    assert status == 200 and invoice["status"] in ("extracted", "needs_review")
    log = fresh_stack.log_path.read_text()
    assert log.count("devhost injected transient fault") >= 2


def test_killing_the_host_mid_batch_and_restarting_completes_without_duplicates(
    fresh_stack: Stack, invoice_pdfs: list[Path]
) -> None:
    fresh_stack.env["FLOW_WINDOW"] = "2"
    fresh_stack.start()
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", fresh_stack.token(user, "viewer")
    members = {f"{n:02d}.pdf": invoice_pdfs[n].read_bytes() for n in range(12)}
    _, job_id = drop(fresh_stack, owner, "big.zip", zip_of(members))
    # wait until the batch is under way, then pull the plug
    wait_until(lambda: _under_way(fresh_stack, token, job_id), 120, 0.1)
    fresh_stack.kill()
    fresh_stack.start()
    job = wait_for_job(fresh_stack, token, job_id)
    assert (job["status"], job["documents_total"], job["documents_succeeded"]) == (
        "completed",
        12,
        12,
    )
    _, page = fresh_stack.call("GET", "/api/invoices?limit=100", token=token)
    assert len(page["items"]) == 12
    assert len({item["document_id"] for item in page["items"]}) == 12
    _, jobs = fresh_stack.call("GET", "/api/jobs", token=token)
    assert [j["id"] for j in jobs["items"]] == [job_id]


def test_retry_reruns_only_the_failed_documents(
    fresh_stack: Stack, invoice_pdfs: list[Path]
) -> None:
    # Three failures exhaust the activity's three attempts for one document's parse input;
    # the retry's fourth attempt then succeeds.
    fresh_stack.env["DEVHOST_ACTIVITY_FAULTS"] = "store_document:3"
    fresh_stack.start()
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", fresh_stack.token(user, "processor")
    members = {"ok.pdf": invoice_pdfs[7].read_bytes(), "flaky.pdf": invoice_pdfs[8].read_bytes()}
    # both documents' store fails three times: the first attempt at the batch fails both
    _, job_id = drop(fresh_stack, owner, "retry.zip", zip_of(members))
    job = wait_for_job(fresh_stack, token, job_id)
    assert (job["status"], job["documents_failed"]) == ("completed_with_errors", 2)
    assert {d["error_code"] for d in job["documents"]} == {"processing_failed"}

    status, started = fresh_stack.call("POST", f"/api/jobs/{job_id}/retry", token=token)
    assert status == 202, started
    assert started["retried"] == 2
    job = wait_until(lambda: job_if(fresh_stack, token, job_id, "completed"), 120, 0.3)
    assert (job["documents_succeeded"], job["documents_failed"]) == (2, 0)
    _, page = fresh_stack.call("GET", "/api/invoices", token=token)
    assert len(page["items"]) == 2
    again, problem = fresh_stack.call("POST", f"/api/jobs/{job_id}/retry", token=token)
    assert again == 409 and problem["code"] == "conflict"


def test_a_batch_larger_than_a_chunk_continues_as_new_and_completes(
    fresh_stack: Stack, invoice_pdfs: list[Path]
) -> None:
    fresh_stack.env["FLOW_CHUNK"] = "3"
    fresh_stack.start()
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", fresh_stack.token(user, "viewer")
    members = {f"{n}.pdf": invoice_pdfs[n].read_bytes() for n in range(8)}
    _, job_id = drop(fresh_stack, owner, "chunks.zip", zip_of(members))
    job = wait_for_job(fresh_stack, token, job_id)
    assert (job["status"], job["documents_succeeded"]) == ("completed", 8), job
    # the job row closes a moment before the orchestration itself completes
    instance = wait_until(lambda: _completed_instance(fresh_stack, job_id), 30, 0.2)
    created = (7, "SubOrchestrationInstanceCreated")  # devhost reports the number
    children = [e for e in instance["historyEvents"] if e["EventType"] in created]
    # after continue-as-new only the last generation's history remains: 8 = 3 + 3 + 2
    assert len(children) == 2, [e["EventType"] for e in instance["historyEvents"]]
