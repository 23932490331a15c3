"""The prompt's schema, chunking, and reading answers (no network)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import OcrSettings
from shared.documents.parse import parse_document
from shared.documents.sniff import sniff
from shared.extraction.schema import INVOICE_FIELDS, LINE_ITEM_FIELDS, InvoiceFields, LineItem
from shared.llm.answer import LlmInvalidOutput, as_answer, merge_parts, parse_answer
from shared.llm.layout_text import layout_text, page_texts
from shared.llm.prompt import (
    SYSTEM_PROMPT,
    Example,
    answer_schema,
    chunks,
    estimate_tokens,
    messages_for,
    response_format,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for value in schema.get("properties", {}).values():
        found += _objects(value)
    if "items" in schema:
        found += _objects(schema["items"])
    return found


def test_the_answer_schema_is_strict_for_structured_outputs() -> None:
    schema = answer_schema()
    objects = _objects(schema)
    assert len(objects) == 2  # the invoice and a line item
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert set(schema["properties"]) == {*INVOICE_FIELDS, "line_items"}
    assert set(schema["properties"]["line_items"]["items"]["properties"]) == set(LINE_ITEM_FIELDS)
    assert response_format()["json_schema"]["strict"] is True


def test_an_answer_in_the_invoice_shape_validates_against_the_schema() -> None:
    invoice = InvoiceFields(
        invoice_id="A-1",
        invoice_total=Decimal("10.50"),
        invoice_date=dt.date(2026, 1, 2),
        line_items=[LineItem(description="x", amount=Decimal("10.50"))],
    )
    jsonschema.validate(as_answer(invoice), answer_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**as_answer(invoice), "invented": 1}, answer_schema())


def test_layout_text_keeps_columns_apart_and_every_word() -> None:
    data = (SAMPLES / "rechnung-de.pdf").read_bytes()
    document = parse_document(data, sniff(data), OcrSettings())  # type: ignore[arg-type]
    text = layout_text(document)
    assert text.startswith("--- page 1 ---")
    for word in document.pages[0].words:
        assert word.text in text
    # The two address blocks share a row but stay separated by a wide gap.
    row = next(line for line in text.splitlines() if "Beleg-Nr" in line)
    assert "    Beleg-Nr" in row
    assert len(page_texts(document)) == len(document.pages)


@given(
    pages=st.lists(st.text(alphabet="ab \n", max_size=400), min_size=1, max_size=5),
    budget=st.integers(min_value=5, max_value=120),
)
def test_chunks_fit_the_budget_and_lose_no_text(pages: list[str], budget: int) -> None:
    parts = chunks(pages, budget)
    assert all(estimate_tokens(part) <= budget for part in parts)
    squeezed = "".join("".join(pages).split())
    assert "".join("".join(parts).split()) == squeezed


def test_a_short_document_is_one_part() -> None:
    assert chunks(["page one", "page two"], 1000) == ["page one\n\npage two"]


def test_messages_carry_instructions_examples_and_the_document() -> None:
    example = Example("Beleg-Kennung: X-1", {"invoice_id": "X-1"})
    messages = messages_for("the text", 2, 3, [example], images=[b"\x89PNG"])
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "Beleg-Kennung: X-1" in messages[1]["content"]
    assert json.loads(messages[2]["content"]) == {"invoice_id": "X-1"}
    document = messages[3]["content"]
    assert "part 2 of 3" in document[0]["text"] and "the text" in document[0]["text"]
    assert document[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_valid_answer_becomes_the_invoice() -> None:
    answer = {name: None for name in INVOICE_FIELDS} | {
        "invoice_id": "INV-7",
        "invoice_date": "2026-03-01",
        "invoice_total": "1234.50",
        "iban": "DE89 3704 0044 0532 0130 00",
        "line_items": [{name: None for name in LINE_ITEM_FIELDS} | {"amount": "1 234.50"}],
    }
    invoice, dropped = parse_answer(json.dumps(answer), "stop")
    assert dropped == []
    assert invoice.invoice_id == "INV-7"
    assert invoice.invoice_date == dt.date(2026, 3, 1)
    assert invoice.invoice_total == Decimal("1234.50")
    assert invoice.iban == "DE89370400440532013000"
    assert invoice.line_items[0].amount == Decimal("1234.50")


def test_values_that_do_not_fit_their_field_are_dropped_and_named() -> None:
    answer = {
        "invoice_id": "INV-7",
        "invoice_date": "next Tuesday",
        "invoice_total": {"value": 3},
        "currency": "euro",
        "line_items": [{"quantity": "three", "description": "Bolts"}],
    }
    invoice, dropped = parse_answer(json.dumps(answer), "stop")
    assert invoice.invoice_id == "INV-7" and invoice.invoice_total is None
    assert sorted(dropped) == [
        "currency", "invoice_date", "invoice_total", "line_items[0].quantity"
    ]  # fmt: skip
    assert invoice.line_items == [LineItem(description="Bolts")]


@pytest.mark.parametrize(
    ("content", "finish", "reason"),
    [
        ('{"invoice_id": "A-1", "line_items": [', "stop", "not valid JSON"),
        ('{"invoice_id": "A-1"}', "length", "cut off"),
        ("[1, 2]", "stop", "not a JSON object"),
        ('{"line_items": "none"}', "stop", "no list of line items"),
        ("", "stop", "not valid JSON"),
        ('{"invoice_id": "A-1"}', "content_filter", "content filter"),
    ],
)
def test_broken_answers_are_invalid_output(content: str, finish: str, reason: str) -> None:
    with pytest.raises(LlmInvalidOutput, match=reason) as raised:
        parse_answer(content, finish)
    assert raised.value.code == "llm_invalid_output"


def test_parts_merge_header_first_totals_last_items_in_order() -> None:
    first = InvoiceFields(
        invoice_id="A-1",
        invoice_total=Decimal("5"),
        line_items=[LineItem(description="a"), LineItem(description="b")],
    )
    second = InvoiceFields(
        invoice_id="misread",
        invoice_total=Decimal("30"),
        line_items=[LineItem(description="b"), LineItem(description="c")],
    )
    merged = merge_parts([first, second])
    assert merged.invoice_id == "A-1"
    assert merged.invoice_total == Decimal("30")
    assert [item.description for item in merged.line_items] == ["a", "b", "c"]
