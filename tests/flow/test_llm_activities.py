"""The flow's extract and store activities with EXTRACTOR=llm against the local
OpenAI-compatible server: the stored invoice carries the LLM's usage, an outage fails the
document with a reason (never the batch), and the metrics move."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings, LlmSettings, Settings
from shared.flow import activities
from shared.flow.ids import job_id_for
from shared.metrics import DOCUMENTS, LLM_TOKENS
from shared.services import Services
from shared.storage import invoices
from shared.storage.scope import Scope
from tests.fakes.openai_server import FakeOpenAI, completion, error, fake_openai
from tests.llm.documents import vendor_invoice_pdf
from tests.llm.test_extraction import GOOD
from tests.support.azurite import Azurite

MODEL = "flow-llm"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def llm_services(
    database_url: str, azurite: Azurite, pool: ConnectionPool
) -> Iterator[tuple[Services, FakeOpenAI]]:
    with fake_openai() as server:
        llm = LlmSettings(base_url=server.base_url, model=MODEL, max_attempts=1)
        settings = dataclasses.replace(
            Settings(database=DatabaseSettings(url=database_url), blobs=azurite.settings),
            extractor="llm",
            llm=llm,
        )
        yield Services(settings, pool=pool), server


def _process(services: Services, owner: str, name: str, data: bytes) -> dict[str, Any]:
    blob_path = f"{owner}/upload-1/{name}"
    job = {"job_id": job_id_for(blob_path, name), "owner": owner, "blob_path": blob_path}
    container = services.settings.blobs.incoming_container
    services.blobs.get_blob_client(container, blob_path).upload_blob(data, overwrite=True)
    activities.begin_job(services, job)
    entry = activities.next_documents(services, {**job, "after": -1, "limit": 10})[0]
    document = {**entry, "job_id": job["job_id"], "owner": owner, "source_blob": blob_path}
    parsed = activities.parse(services, document)
    document["document_id"] = parsed["document_id"]
    extracted = activities.extract(services, document | {"parsed_blob": parsed["parsed_blob"]})
    if "failed" in extracted:
        return extracted
    return activities.store(services, document | {"invoice_blob": extracted["invoice_blob"]})


def test_an_llm_extracted_invoice_is_stored_with_its_usage(
    llm_services: tuple[Services, FakeOpenAI], owner: str, pool: ConnectionPool
) -> None:
    services, server = llm_services
    server.queue("chat", completion(GOOD, prompt_tokens=700, completion_tokens=120, model=MODEL))
    tokens = LLM_TOKENS.labels(MODEL, "prompt")._value.get()
    extracted = DOCUMENTS.labels("extracted", "llm")._value.get()
    stored = _process(services, owner, "vk-1.pdf", vendor_invoice_pdf("VK-1"))
    with pool.connection() as conn:
        record = invoices.get(conn, Scope.user(owner), UUID(stored["invoice_id"]))
    assert record.extractor == "llm" and record.invoice_id == "VK-1"
    assert record.llm is not None
    assert (record.llm.model, record.llm.prompt_tokens, record.llm.completion_tokens) == (
        MODEL, 700, 120
    )  # fmt: skip
    assert LLM_TOKENS.labels(MODEL, "prompt")._value.get() == tokens + 700
    assert DOCUMENTS.labels("extracted", "llm")._value.get() == extracted + 1


def test_an_llm_outage_fails_the_document_with_a_reason(
    llm_services: tuple[Services, FakeOpenAI], owner: str
) -> None:
    services, server = llm_services
    server.chat = lambda body: error(503)
    result = _process(services, owner, "vk-2.pdf", vendor_invoice_pdf("VK-2"))
    assert result["failed"]["code"] == "llm_unavailable"
    assert "failed 1 times" in result["failed"]["message"]


def test_with_vision_a_scan_goes_to_the_model_with_its_page_images(
    llm_services: tuple[Services, FakeOpenAI], owner: str
) -> None:
    services, server = llm_services
    services = Services(
        dataclasses.replace(
            services.settings, llm=dataclasses.replace(services.settings.llm, vision=True)
        ),
        pool=services.pool,
    )
    server.chat = lambda body: completion(GOOD)
    _process(services, owner, "scan.jpg", (SAMPLES / "factura-es-scan.jpg").read_bytes())
    _process(services, owner, "text.pdf", vendor_invoice_pdf("VK-9"))
    scan_request, text_request = server.of_kind("chat")
    content = scan_request.body["messages"][-1]["content"]
    images = [part for part in content if part["type"] == "image_url"]
    assert len(images) == 1
    png = base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    assert isinstance(text_request.body["messages"][-1]["content"], str)  # text layer: no image
