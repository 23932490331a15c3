"""The rules extractor on small hand-made documents, independent of the corpus generator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pymupdf as _pymupdf

from shared.config import OcrSettings
from shared.documents.parse import parse_document
from shared.documents.sniff import MediaType
from shared.extraction.identifiers import find_ibans, find_vat_ids, iban_is_valid
from shared.extraction.rules import RulesExtractor
from shared.extraction.schema import ExtractedInvoice

pymupdf: Any = _pymupdf

Line = tuple[float, float, str]  # x, y (baseline), text


def _extract(*pages: Sequence[Line], size: float = 9) -> ExtractedInvoice:
    doc = pymupdf.open()
    for lines in pages:
        page = doc.new_page(width=595, height=842)
        for x, y, text in lines:
            page.insert_text((x, y), text, fontsize=size, fontname="helv")
    parsed = parse_document(doc.tobytes(), MediaType.PDF, OcrSettings())
    return RulesExtractor().extract(parsed)


def test_labels_with_values_to_the_right_and_below_are_both_read() -> None:
    invoice = _extract(
        [
            (40, 60, "Northwind Traders Ltd"),
            (40, 72, "12 Harbour Road, Bristol BS1 4DJ"),
            (350, 60, "Invoice Number:"),
            (440, 60, "NW-77812"),
            (350, 90, "Invoice Date"),
            (350, 102, "14/03/2025"),
            (350, 130, "Due Date: 13/04/2025"),
            (300, 500, "Total due"),
            (480, 500, "£1,240.00"),
        ]
    )
    assert invoice.invoice_id == "NW-77812"
    assert invoice.invoice_date == date(2025, 3, 14)
    assert invoice.due_date == date(2025, 4, 13)
    assert invoice.currency == "GBP"
    assert invoice.vendor_name == "Northwind Traders Ltd"


def test_german_totals_with_two_tax_rates_add_up_to_the_total_tax() -> None:
    invoice = _extract(
        [
            (40, 60, "Bäckerei Sonnenschein GmbH"),
            (40, 90, "Rechnungsnummer: 2025-0042"),
            (40, 102, "Rechnungsdatum: 3. Februar 2025"),
            (300, 400, "Nettobetrag"),
            (480, 400, "1.000,00 EUR"),
            (300, 412, "zzgl. 7 % MwSt."),
            (480, 412, "35,00 EUR"),
            (300, 424, "zzgl. 19 % MwSt."),
            (480, 424, "95,00 EUR"),
            (300, 436, "Gesamtbetrag"),
            (480, 436, "1.130,00 EUR"),
        ]
    )
    assert invoice.invoice_date == date(2025, 2, 3)
    assert invoice.subtotal == Decimal("1000.00")
    assert invoice.total_tax == Decimal("130.00")
    assert invoice.invoice_total == Decimal("1130.00")
    assert invoice.currency == "EUR"


def test_french_credit_note_keeps_negative_amounts() -> None:
    invoice = _extract(
        [
            (40, 60, "Atelier Dupont SARL"),
            (40, 90, "Avoir n° AV-2025-07"),
            (40, 102, "Date : 12/05/2025"),
            (300, 400, "Total HT"),
            (480, 400, "-200,00 EUR"),
            (300, 412, "TVA 20 %"),
            (480, 412, "-40,00 EUR"),
            (300, 424, "Total TTC"),
            (480, 424, "-240,00 EUR"),
        ]
    )
    assert invoice.invoice_id == "AV-2025-07"
    assert invoice.subtotal == Decimal("-200.00")
    assert invoice.total_tax == Decimal("-40.00")
    assert invoice.invoice_total == Decimal("-240.00")


def test_line_items_table_continues_on_the_next_page_without_a_repeated_header() -> None:
    header = [(40, 200, "Description"), (330, 200, "Qty"), (400, 200, "Unit price"),
              (500, 200, "Amount")]  # fmt: skip
    first = [(40, 60, "Acme Tools Inc."), (40, 80, "Invoice # 5521"), *header]
    first += [(40, 220, "Hammer, steel"), (340, 220, "2"), (410, 220, "10.00"), (505, 220, "20.00")]
    first += [(40, 800, "Carried forward"), (505, 800, "20.00")]
    second = [(40, 60, "Screwdriver set"), (340, 60, "1"), (410, 60, "35.50"), (505, 60, "35.50")]
    second += [(300, 120, "Total"), (505, 120, "55.50")]
    invoice = _extract(first, second)
    assert [item.description for item in invoice.line_items] == ["Hammer, steel", "Screwdriver set"]
    assert [item.amount for item in invoice.line_items] == [Decimal("20.00"), Decimal("35.50")]
    assert invoice.line_items[0].quantity == Decimal("2")
    assert invoice.invoice_total == Decimal("55.50")


def test_iban_needs_a_valid_checksum_and_vat_ids_keep_their_country_shape() -> None:
    assert iban_is_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_is_valid("DE89 3704 0044 0532 0130 01")
    assert find_ibans("IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX") == [
        "DE89370400440532013000"
    ]
    assert find_vat_ids("USt-IdNr.: DE 123 456 789 · TVA FR12345678901") == [
        "DE123456789",
        "FR12345678901",
    ]


def test_items_are_read_without_a_readable_table_header() -> None:
    invoice = _extract(
        [
            (40, 60, "Blue Harbour Ltd"),
            (40, 80, "Invoice No. BH-19"),
            (40, 200, "Rope, 20 m coil"),
            (330, 200, "3"),
            (410, 200, "12.50"),
            (505, 200, "37.50"),
            (40, 214, "Anchor, galvanised"),
            (330, 214, "1"),
            (410, 214, "89.00"),
            (505, 214, "89.00"),
            (300, 260, "Total"),
            (505, 260, "126.50"),
        ]
    )
    assert [item.description for item in invoice.line_items] == [
        "Rope, 20 m coil",
        "Anchor, galvanised",
    ]
    assert [(i.quantity, i.unit_price, i.amount) for i in invoice.line_items] == [
        (Decimal("3"), Decimal("12.50"), Decimal("37.50")),
        (Decimal("1"), Decimal("89.00"), Decimal("89.00")),
    ]
