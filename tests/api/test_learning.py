"""Learning from corrections: a reviewer's PATCH changes how the vendor's next invoice is read,
by the rules extractor (learned labels) and by the LLM (the corrected invoice as an example)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from uuid import UUID

from psycopg_pool import ConnectionPool

from shared.config import LlmSettings, Settings
from shared.embeddings import HashingEmbedder
from shared.extraction.validation import validate
from shared.llm.extractor import DocumentContext
from shared.llm.store import PostgresLlmStore
from shared.pipeline import extract_invoice, make_extractor
from shared.storage import documents, invoices
from tests.api.conftest import User
from tests.fakes.openai_server import completion, fake_openai
from tests.llm.documents import parsed, vendor_invoice_pdf
from tests.support.api import Client


def _store_first_invoice(pool: ConnectionPool, owner: str, data: bytes) -> UUID:
    """What the flow does with the vendor's first invoice: parse, extract (rules), store."""
    document = parsed(data)
    extractor = make_extractor(Settings(), "rules")
    invoice = validate(extractor.extract(document), document.text)
    with pool.connection() as conn:
        registered = documents.register(
            conn, owner=owner, sha256=hashlib.sha256(data).hexdigest(), blob_path=f"{owner}/1.pdf"
        )
        documents.mark_parsed(conn, registered.id, pages=1, text=document.text)
        return invoices.store_extracted(
            conn, owner=owner, document_id=registered.id, invoice=invoice,
            embedder=HashingEmbedder(),
        )  # fmt: skip


def test_a_correction_teaches_the_rules_extractor_the_vendors_label(
    api: Client, pool: ConnectionPool, alice: User, bob: User
) -> None:
    first = _store_first_invoice(pool, alice.owner, vendor_invoice_pdf("VK-55012"))
    token = alice.token("processor")
    stored = api.get(f"/api/invoices/{first}", token=token).json()
    assert "invoice_id" not in stored or stored["invoice_id"] is None  # no dictionary label

    store = PostgresLlmStore(pool.connection, None)
    extractor = make_extractor(Settings(), "rules", store=store)
    second = parsed(vendor_invoice_pdf("VK-55013", total=Decimal("47.60")))
    before = extract_invoice(second, extractor, DocumentContext(owner=alice.owner))
    assert before.invoice_id is None

    response = api.patch(
        f"/api/invoices/{first}", token=token, json_body={"invoice_id": "VK-55012"}
    )
    assert response.status == 200, response.body

    after = extract_invoice(second, extractor, DocumentContext(owner=alice.owner))
    assert after.invoice_id == "VK-55013"
    assert after.invoice_total == before.invoice_total
    # What alice taught is alice's: bob's documents from the same vendor are read as before.
    assert extract_invoice(second, extractor, DocumentContext(owner=bob.owner)).invoice_id is None


def test_the_llm_gets_the_corrected_invoice_as_an_example(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    first = _store_first_invoice(pool, alice.owner, vendor_invoice_pdf("VK-70001"))
    response = api.patch(
        f"/api/invoices/{first}",
        token=alice.token("processor"),
        json_body={"invoice_id": "VK-70001", "customer_name": "Contoso Ltd"},
    )
    assert response.status == 200, response.body
    with fake_openai() as server:
        server.chat = lambda body: completion({"invoice_id": "VK-70002", "line_items": []})
        settings = dataclasses.replace(
            Settings(), llm=LlmSettings(base_url=server.base_url, model="m")
        )
        extractor = make_extractor(settings, "llm", store=PostgresLlmStore(pool.connection, None))
        data = vendor_invoice_pdf("VK-70002")
        context = DocumentContext(owner=alice.owner, sha256=hashlib.sha256(data).hexdigest())
        result = extract_invoice(parsed(data), extractor, context)
        request = server.of_kind("chat")[0].body
    assert result.invoice_id == "VK-70002"
    roles = [message["role"] for message in request["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    example = json.loads(request["messages"][2]["content"])
    assert example["invoice_id"] == "VK-70001" and example["customer_name"] == "Contoso Ltd"
    assert "Vorgangskennung: VK-70001" in request["messages"][1]["content"]
