"""The LLM extractor end to end against the local OpenAI-compatible server and real PostgreSQL:
arbitration, invalid answers, the result cache, the monthly budget, chunking, vision, metrics."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from shared.config import LlmSettings, OcrSettings, Settings
from shared.documents.parse import ParsedDocument, parse_document
from shared.documents.sniff import MediaType
from shared.errors import ExtractionFailed
from shared.extraction.schema import INVOICE_FIELDS, LINE_ITEM_FIELDS
from shared.llm.extractor import DocumentContext, Extraction
from shared.llm.store import PostgresLlmStore
from shared.metrics import LLM_CACHE, LLM_REQUESTS
from shared.pipeline import extract_invoice, make_extractor
from shared.storage import llm as llm_storage
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, error
from tests.llm.documents import parsed, vendor_invoice_pdf

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MODEL = "test-extractor"


def answer(**values: Any) -> dict[str, Any]:
    """A complete answer in the schema's shape (every field present, as strict mode sends)."""
    items = [
        {name: None for name in LINE_ITEM_FIELDS} | item for item in values.pop("line_items", [])
    ]
    return {name: None for name in INVOICE_FIELDS} | values | {"line_items": items}


GOOD = answer(
    vendor_name="Nordlicht Handels GmbH",
    customer_name="Contoso Ltd",
    invoice_id="VK-1",
    invoice_date="2026-05-03",
    currency="EUR",
    subtotal="20.00",
    total_tax="3.80",
    invoice_total="23.80",
    line_items=[{"description": "Schrauben M6, 10 Stueck", "amount": "20.00"}],
)


def _extractor(
    server: FakeOpenAI, pool: ConnectionPool, mode: str = "llm", **llm: Any
) -> Extraction:
    settings = LlmSettings(base_url=server.base_url, model=MODEL, max_attempts=2, **llm)
    store = PostgresLlmStore(pool.connection, settings.monthly_token_budget)
    return make_extractor(dataclasses.replace(Settings(), llm=settings), mode, store=store)


def _document(number: str = "VK-1") -> tuple[ParsedDocument, str]:
    data = vendor_invoice_pdf(number)
    return parsed(data), hashlib.sha256(data).hexdigest()


def _run(extractor: Extraction, owner: str, number: str = "VK-1") -> Any:
    document, sha = _document(number)
    return extract_invoice(document, extractor, DocumentContext(owner=owner, sha256=sha))


def test_fields_both_extractors_agree_on_are_confident_and_usage_is_recorded(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.queue("chat", completion(GOOD, prompt_tokens=900, completion_tokens=150))
    result = _run(_extractor(llm_server, pool, price_input_per_million=1.0), owner)
    assert result.extractor == "llm"
    assert result.invoice_id == "VK-1"  # the LLM found what the rules could not
    assert result.confidence["invoice_total"] >= 0.97  # both read 23.80
    assert result.confidence["invoice_id"] == 0.85  # LLM only, printed in the document
    assert result.status.value == "extracted", result.warnings
    assert result.llm is not None
    assert (result.llm.model, result.llm.calls, result.llm.prompt_tokens) == (MODEL, 1, 900)
    assert result.llm.cost_usd == pytest.approx(900 / 1_000_000)
    with pool.connection() as conn:
        assert llm_storage.month_tokens(conn, owner) == 1050


def test_a_value_the_document_does_not_show_is_flagged_and_sent_to_review(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    invented = dict(GOOD, iban="DE89370400440532013000", invoice_total="32.80")
    llm_server.queue("chat", completion(invented))
    result = _run(_extractor(llm_server, pool), owner)
    assert "llm_value_not_in_text" in result.warnings
    assert "extractors_disagree" in result.warnings
    assert result.status.value == "needs_review"
    assert result.confidence["iban"] == 0.3
    # The total both read differently: the printed one (the rules') is kept.
    assert result.invoice_total == Decimal("23.80")


def test_an_answer_that_breaks_the_schema_is_asked_again(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.queue("chat", completion('{"invoice_id": "VK-1", "line_items": [{"amou'),
                     completion(GOOD))  # fmt: skip
    before = LLM_REQUESTS.labels(MODEL, "invalid_output")._value.get()
    result = _run(_extractor(llm_server, pool), owner)
    assert result.invoice_id == "VK-1" and result.llm is not None and result.llm.calls == 2
    assert LLM_REQUESTS.labels(MODEL, "invalid_output")._value.get() == before + 1


@pytest.mark.parametrize(
    "bad",
    [completion("not json at all"), completion(GOOD, finish_reason="length"),
     completion('["a list"]')],
)  # fmt: skip
def test_twice_invalid_output_fails_the_document_in_llm_mode(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str, bad: Reply
) -> None:
    llm_server.queue("chat", bad, bad)
    with pytest.raises(ExtractionFailed) as raised:
        _run(_extractor(llm_server, pool), owner)
    assert raised.value.code == "llm_invalid_output"
    with pool.connection() as conn:  # the tokens the two answers cost are counted
        assert llm_storage.month_tokens(conn, owner) == 2 * 1200


def test_auto_mode_keeps_the_rules_result_when_the_llm_is_down(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.chat = lambda body: error(503)
    result = _run(_extractor(llm_server, pool, "auto"), owner)
    assert result.extractor == "rules"
    assert result.invoice_total == Decimal("23.80")
    assert "llm_unavailable" in result.warnings and result.status.value == "needs_review"
    with pool.connection() as conn:  # a failed call spends nothing
        assert llm_storage.month_tokens(conn, owner) == 0


def test_the_same_document_again_is_answered_from_the_cache(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.queue("chat", completion(GOOD, prompt_tokens=800, completion_tokens=100))
    extractor = _extractor(llm_server, pool)
    hits = LLM_CACHE.labels("hit")._value.get()
    first = _run(extractor, owner)
    second = _run(extractor, owner)
    assert len(llm_server.of_kind("chat")) == 1
    assert second.invoice_id == first.invoice_id == "VK-1"
    assert second.llm is not None and second.llm.cached and second.llm.prompt_tokens == 800
    assert LLM_CACHE.labels("hit")._value.get() == hits + 1
    with pool.connection() as conn:
        assert llm_storage.month_tokens(conn, owner) == 900  # paid once
    # Another owner's identical bytes are not answered from this owner's cache.
    llm_server.queue("chat", completion(GOOD))
    _run(extractor, owner + "-other")
    assert len(llm_server.of_kind("chat")) == 2


def test_the_budget_stops_spending_when_reached(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.chat = lambda body: completion(GOOD, prompt_tokens=1500, completion_tokens=300)
    llm_mode = _extractor(llm_server, pool, monthly_token_budget=4000)
    _run(llm_mode, owner, "VK-1")
    _run(llm_mode, owner, "VK-2")  # 3,600 spent: the next estimate does not fit
    with pytest.raises(ExtractionFailed, match="budget is used up") as raised:
        _run(llm_mode, owner, "VK-3")
    assert raised.value.code == "llm_budget_exhausted"
    assert len(llm_server.of_kind("chat")) == 2
    auto = _extractor(llm_server, pool, "auto", monthly_token_budget=4000)
    kept = _run(auto, owner, "VK-4")
    assert kept.extractor == "rules" and "llm_budget_exhausted" in kept.warnings
    assert len(llm_server.of_kind("chat")) == 2


def test_concurrent_reservations_never_overspend_the_budget(
    pool: ConnectionPool, owner: str
) -> None:
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def reserve() -> None:
        barrier.wait()
        with pool.connection() as conn:
            granted.append(llm_storage.reserve_tokens(conn, owner, 300, 1000).granted)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 3
    with pool.connection() as conn:
        assert llm_storage.month_tokens(conn, owner) == 900


def test_a_long_document_goes_out_in_parts_whose_items_are_merged(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    def by_part(body: dict[str, Any]) -> Reply:
        text = body["messages"][-1]["content"]
        part = 1 if "part 1 of" in text else 2
        return completion(answer(invoice_id="VK-1", line_items=[{"description": f"p{part}"}]))

    llm_server.chat = by_part
    extractor = _extractor(llm_server, pool, max_input_tokens=1)  # the minimum part size
    data = (SAMPLES / "invoice-en.pdf").read_bytes()
    document = parse_document(data, MediaType.PDF, OcrSettings())
    result = extractor.extract(document, DocumentContext(owner=owner))
    calls = llm_server.of_kind("chat")
    assert len(calls) >= 2
    assert all(f"of {len(calls)}" in c.body["messages"][-1]["content"] for c in calls)
    assert [item.description for item in result.line_items][:2] == ["p1", "p2"]


def test_page_images_go_to_a_vision_model_only_when_enabled(
    llm_server: FakeOpenAI, pool: ConnectionPool, owner: str
) -> None:
    llm_server.chat = lambda body: completion(GOOD)
    document, _ = _document()
    png = b"\x89PNG\r\n\x1a\n-page-"
    for vision, expected in ((False, str), (True, list)):
        extractor = _extractor(llm_server, pool, vision=vision)
        extractor.extract(document, DocumentContext(owner=owner, images=[png]))
        content = llm_server.of_kind("chat")[-1].body["messages"][-1]["content"]
        assert isinstance(content, expected)
    assert content[1]["type"] == "image_url"
