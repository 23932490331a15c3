"""The LLM path end to end: the devhost runs the real function_app with EXTRACTOR=llm against
the local OpenAI-compatible server; a ZIP of three invoices of one vendor becomes three
invoices whose LLM usage the API shows, a budget that runs out fails the rest with a clear
status, and a retry after the budget is raised runs only what failed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack import Stack, make_stack
from tests.e2e.test_flow import drop, wait_for_job, zip_of
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, fake_openai
from tests.llm.documents import vendor_invoice_pdf
from tests.llm.test_extraction import GOOD


def _answer_for(body: dict[str, Any]) -> Reply:
    text = str(body["messages"][-1]["content"])
    number = next(word for word in text.split() if word.startswith("VK-"))
    return completion(dict(GOOD, invoice_id=number), prompt_tokens=1000, completion_tokens=200)


def _asked(server: FakeOpenAI) -> set[str]:
    """The invoice numbers of the documents the model was asked about."""
    texts = (str(request.body["messages"][-1]["content"]) for request in server.of_kind("chat"))
    return {word for text in texts for word in text.split() if word.startswith("VK-")}


@pytest.fixture
def llm_stack(tmp_path: Path, database_url: str) -> Iterator[tuple[Stack, FakeOpenAI]]:
    with fake_openai() as server:
        server.chat = _answer_for
        stack = make_stack(tmp_path, database_url, f"e2e{uuid.uuid4().hex[:8]}")
        stack.env |= {
            "EXTRACTOR": "llm",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_MODEL": "e2e-model",
            "LLM_MONTHLY_TOKEN_BUDGET": "3800",
        }
        stack.start()
        yield stack, server
        stack.stop()


def test_llm_extraction_through_the_host_with_budget_and_cache(
    llm_stack: tuple[Stack, FakeOpenAI],
) -> None:
    stack, server = llm_stack
    user = f"u{uuid.uuid4().hex[:10]}"
    token = stack.token(user, "processor")
    batch = zip_of({f"vk-{n}.pdf": vendor_invoice_pdf(f"VK-{n}") for n in (1, 2, 3)})
    _, job_id = drop(stack, f"dev-{user}", "batch.zip", batch)
    job = wait_for_job(stack, token, job_id)
    # Each document's estimate is 1,601 tokens and its call bills 1,200. Whatever the order,
    # two fit a budget of 3,800 (1,601 + 1,601 reserved at once) and a third never does
    # (2,400 spent + 1,601).
    assert (job["documents_succeeded"], job["documents_failed"]) == (2, 1), job
    failed = next(d for d in job["documents"] if d["outcome"] == "failed")
    assert failed["error_code"] == "llm_budget_exhausted"
    assert "budget is used up" in failed["error_message"]
    invoice_id = next(d["invoice_id"] for d in job["documents"] if d["outcome"] == "extracted")
    status, invoice = stack.call("GET", f"/api/invoices/{invoice_id}", token=token)
    assert status == 200
    assert invoice["extractor"] == "llm" and invoice["invoice_id"].startswith("VK-")
    assert invoice["llm"]["model"] == "e2e-model" and invoice["llm"]["prompt_tokens"] == 1000
    failed_number = failed["name"].removesuffix(".pdf").upper()
    assert failed_number not in _asked(server)  # the budget stopped it before any call

    # Raising the budget and retrying the job runs just the failed document, with one call.
    stack.stop()
    stack.env["LLM_MONTHLY_TOKEN_BUDGET"] = "100000"
    stack.start()
    status, _ = stack.call("POST", f"/api/jobs/{job_id}/retry", token=token)
    assert status == 202
    retried = wait_for_job(stack, token, job_id)
    assert (retried["documents_succeeded"], retried["documents_failed"]) == (3, 0), [
        (d["name"], d["outcome"], d["error_code"], d["error_message"]) for d in retried["documents"]
    ]
    assert failed_number in _asked(server)
