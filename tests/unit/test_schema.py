"""The canonical schema: names from DESIGN.md section 4, exact money, a usable JSON Schema."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.extraction.schema import (
    INVOICE_FIELDS,
    LINE_ITEM_FIELDS,
    ExtractedInvoice,
    InvoiceFields,
    LineItem,
    invoice_json_schema,
)


def test_json_schema_lists_every_canonical_field_and_line_item_field() -> None:
    schema = invoice_json_schema()
    assert set(schema["properties"]) == {*INVOICE_FIELDS, "line_items"}
    item = schema["$defs"]["LineItem"]
    assert set(item["properties"]) == set(LINE_ITEM_FIELDS)
    assert schema["additionalProperties"] is False
    json.dumps(schema)  # serialisable as it is


def test_output_keeps_money_exact_as_strings_and_dates_iso() -> None:
    invoice = ExtractedInvoice(
        invoice_total=Decimal("1234.50"),
        invoice_date=date(2025, 1, 31),
        line_items=[LineItem(amount=Decimal("0.10"), quantity=Decimal("3"))],
        confidence={"invoice_total": 0.9},
    )
    output = invoice.to_output()
    assert output["invoice_total"] == "1234.50"
    assert output["invoice_date"] == "2025-01-31"
    assert output["line_items"] == [{"amount": "0.10", "quantity": "3"}]
    assert "due_date" not in output  # absent fields are left out, not null
    assert output["status"] == "extracted"


@pytest.mark.parametrize("currency", ["eur", "EURO", "€", "E1R"])
def test_currency_must_be_an_iso_4217_code(currency: str) -> None:
    with pytest.raises(ValidationError):
        InvoiceFields(currency=currency)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        InvoiceFields.model_validate({"invoice_totl": "1.00"})
