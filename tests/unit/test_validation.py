"""Validation of extraction results (shared/extraction/validation.py).

Every invoice here is crafted by hand around one consistent base invoice:
subtotal 100.00 - discount 10.00 + tax 17.10 = total 107.10, with two line items
(2 x 30.00 = 60.00 and 4 x 10.00 = 40.00) that add up to the subtotal. Each test
breaks exactly one thing and checks that exactly the matching warning appears.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from shared.extraction.schema import ExtractedInvoice, InvoiceStatus, LineItem
from shared.extraction.validation import (
    AMOUNT_NOT_IN_TEXT,
    DUE_BEFORE_ISSUE,
    IMPLAUSIBLE_DATE,
    LINE_ITEM_ARITHMETIC,
    LINE_ITEMS_MISMATCH,
    MISSING_INVOICE_DATE,
    MISSING_INVOICE_ID,
    MISSING_TOTAL,
    MISSING_VENDOR,
    TOTALS_MISMATCH,
    VALIDATION_CODES,
    validate,
)

TODAY = dt.date(2024, 6, 1)
ISSUED = dt.date(2024, 3, 1)
START = 0.8  # every field's confidence before validation
PROVEN = 0.98
TOTAL_PARTS = ("subtotal", "total_discount", "total_tax", "invoice_total")


def item(quantity: str, unit_price: str, amount: str) -> LineItem:
    return LineItem(
        description="Widget",
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        amount=Decimal(amount),
    )


BASE_ITEMS = (item("2", "30.00", "60.00"), item("4", "10.00", "40.00"))
BASE: dict[str, Any] = {
    "vendor_name": "Acme Supplies GmbH",
    "invoice_id": "INV-1001",
    "invoice_date": ISSUED,
    "due_date": dt.date(2024, 3, 31),
    "currency": "EUR",
    "subtotal": Decimal("100.00"),
    "total_discount": Decimal("10.00"),
    "total_tax": Decimal("17.10"),
    "invoice_total": Decimal("107.10"),
    "line_items": list(BASE_ITEMS),
}
CONFIDENCE_FIELDS = (
    "vendor_name",
    "invoice_id",
    "invoice_date",
    "due_date",
    "currency",
    "subtotal",
    "total_discount",
    "total_tax",
    "invoice_total",
    "amount_due",
)


def printed(*amounts: str) -> str:
    """Invoice text printing these amounts (and nothing else that reads as money)."""
    lines = ["Acme Supplies GmbH", "Invoice INV-1001 of 01.03.2024", "VAT 19 %"]
    lines += [f"Amount {amount} EUR" for amount in amounts]
    return "\n".join(lines)


TEXT = printed("30.00", "60.00", "40.00", "100.00", "10.00", "17.10", "107.10")


def invoice(**changes: Any) -> ExtractedInvoice:
    fields = {**BASE, **changes}
    fields.setdefault("confidence", dict.fromkeys(CONFIDENCE_FIELDS, START))
    return ExtractedInvoice(**fields)


def check(inv: ExtractedInvoice, text: str = TEXT) -> ExtractedInvoice:
    return validate(inv, text, today=TODAY)


# --------------------------------------------------------------------------- baseline


def test_consistent_invoice_gets_no_warnings_and_status_extracted() -> None:
    result = check(invoice())
    assert result.warnings == []
    assert result.status is InvoiceStatus.EXTRACTED


def test_validate_returns_a_copy_and_leaves_the_input_untouched() -> None:
    original = invoice(invoice_total=Decimal("999.99"), warnings=["possible_duplicate"])
    before = original.model_dump()
    result = check(original)
    assert result is not original
    assert TOTALS_MISMATCH in result.warnings
    assert original.model_dump() == before


# --------------------------------------------------------------------------- each check


# (id, changes to the base invoice, text, the one warning expected)
BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    ("total-not-printed", {}, TEXT.replace("107.10", "107.01"), AMOUNT_NOT_IN_TEXT),
    (
        "amount-due-not-printed",
        {"amount_due": Decimal("55.55")},
        TEXT,
        AMOUNT_NOT_IN_TEXT,
    ),
    (
        "totals-do-not-add-up",
        {"invoice_total": Decimal("107.20")},
        TEXT + "\nTotal 107.20",
        TOTALS_MISMATCH,
    ),
    (
        "line-items-do-not-sum-to-subtotal",
        {"line_items": [BASE_ITEMS[0], item("4", "10.50", "42.00")]},
        TEXT,
        LINE_ITEMS_MISMATCH,
    ),
    (
        "quantity-times-price-is-not-amount",
        {"line_items": [item("3", "30.00", "60.00"), BASE_ITEMS[1]]},
        TEXT,
        LINE_ITEM_ARITHMETIC,
    ),
    ("due-before-issue", {"due_date": dt.date(2024, 2, 28)}, TEXT, DUE_BEFORE_ISSUE),
    (
        "issued-before-1990",
        {"invoice_date": dt.date(1989, 12, 31), "due_date": None},
        TEXT,
        IMPLAUSIBLE_DATE,
    ),
    (
        "issued-over-a-year-ahead",
        {"invoice_date": TODAY + dt.timedelta(days=367), "due_date": None},
        TEXT,
        IMPLAUSIBLE_DATE,
    ),
    ("no-total", {"invoice_total": None}, TEXT, MISSING_TOTAL),
    ("no-invoice-id", {"invoice_id": None}, TEXT, MISSING_INVOICE_ID),
    ("empty-invoice-id", {"invoice_id": ""}, TEXT, MISSING_INVOICE_ID),
    ("no-invoice-date", {"invoice_date": None}, TEXT, MISSING_INVOICE_DATE),
    ("no-vendor", {"vendor_name": None}, TEXT, MISSING_VENDOR),
    ("empty-vendor", {"vendor_name": ""}, TEXT, MISSING_VENDOR),
]


@pytest.mark.parametrize(
    ("changes", "text", "code"),
    [pytest.param(changes, text, code, id=name) for name, changes, text, code in BROKEN],
)
def test_each_failed_check_adds_exactly_its_own_warning_and_needs_review(
    changes: dict[str, Any], text: str, code: str
) -> None:
    result = check(invoice(**changes), text)
    assert result.warnings == [code]
    assert result.status is InvoiceStatus.NEEDS_REVIEW


def test_every_validation_code_has_a_crafted_invoice_that_fires_it() -> None:
    assert {code for *_, code in BROKEN} == VALIDATION_CODES


@pytest.mark.parametrize(
    ("total", "warnings"),
    [
        ("107.10", []),
        ("107.11", []),
        ("107.09", []),
        ("107.12", [TOTALS_MISMATCH]),
        ("107.08", [TOTALS_MISMATCH]),
    ],
)
def test_totals_may_differ_by_at_most_one_cent(total: str, warnings: list[str]) -> None:
    result = check(invoice(invoice_total=Decimal(total)), TEXT + f"\nTotal {total}")
    assert result.warnings == warnings


def test_subtotal_printed_after_the_discount_is_consistent() -> None:
    # 100.00 of items, 10.00 off, so the subtotal line reads 90.00; 90.00 + 17.10 = 107.10
    inv = invoice(subtotal=Decimal("90.00"))
    assert check(inv, TEXT + "\nSubtotal 90.00").warnings == []


def test_line_items_without_subtotal_or_tax_are_checked_against_the_total() -> None:
    base = {"subtotal": None, "total_discount": None, "total_tax": None}
    good = invoice(**base, invoice_total=Decimal("100.00"))
    bad = invoice(**base, invoice_total=Decimal("101.00"))
    assert check(good, printed("100.00")).warnings == []
    assert check(bad, printed("101.00")).warnings == [LINE_ITEMS_MISMATCH]


def test_line_items_with_a_missing_amount_are_not_summed() -> None:
    items = [BASE_ITEMS[0], LineItem(description="Freight", quantity=Decimal(1))]
    assert check(invoice(line_items=items)).warnings == []


def test_unit_price_rounded_on_the_page_is_not_an_arithmetic_error() -> None:
    # 3 x 33.33 = 99.99, printed as 100.00
    items = [item("3", "33.33", "100.00")]
    assert check(invoice(line_items=items)).warnings == []


def test_amount_due_stands_in_for_a_missing_total() -> None:
    inv = invoice(invoice_total=None, amount_due=Decimal("107.10"))
    assert check(inv).warnings == []


def test_printed_amounts_match_by_absolute_value_in_either_notation() -> None:
    credit_note = invoice(
        subtotal=Decimal("-100.00"),
        total_discount=Decimal("-10.00"),
        total_tax=Decimal("-17.10"),
        invoice_total=Decimal("-107.10"),
        line_items=[item("-2", "30.00", "-60.00"), item("-4", "10.00", "-40.00")],
    )
    german = "Gutschrift\nZwischensumme 100,00\nRabatt 10,00\nMwSt. 17,10\nGesamt 107,10 EUR"
    assert check(credit_note, german).warnings == []


@pytest.mark.parametrize(
    "issued",
    [dt.date(1990, 1, 1), TODAY + dt.timedelta(days=366)],
    ids=["1990-01-01", "a-year-ahead"],
)
def test_dates_at_the_plausible_bounds_pass(issued: dt.date) -> None:
    assert check(invoice(invoice_date=issued, due_date=None)).warnings == []


def test_a_code_is_reported_once_however_often_its_check_fails() -> None:
    inv = invoice(
        amount_due=Decimal("55.55"),
        previous_unpaid_balance=Decimal("66.66"),
        line_items=[item("3", "30.00", "60.00"), item("5", "10.00", "40.00")],
    )
    assert check(inv).warnings == [AMOUNT_NOT_IN_TEXT, LINE_ITEM_ARITHMETIC]


# --------------------------------------------------------------------------- status


def test_several_failed_checks_all_appear_in_order_of_checking() -> None:
    inv = invoice(invoice_id=None, vendor_name=None, due_date=dt.date(2024, 1, 1))
    assert check(inv).warnings == [DUE_BEFORE_ISSUE, MISSING_INVOICE_ID, MISSING_VENDOR]


def test_needs_review_without_warnings_becomes_extracted() -> None:
    result = check(invoice(status=InvoiceStatus.NEEDS_REVIEW))
    assert result.status is InvoiceStatus.EXTRACTED


@pytest.mark.parametrize("status", [InvoiceStatus.APPROVED, InvoiceStatus.REJECTED])
@pytest.mark.parametrize("broken", [False, True], ids=["consistent", "broken"])
def test_validation_never_changes_an_approved_or_rejected_status(
    status: InvoiceStatus, broken: bool
) -> None:
    inv = invoice(status=status, invoice_id=None if broken else "INV-1001")
    result = check(inv)
    assert result.status is status
    assert result.warnings == ([MISSING_INVOICE_ID] if broken else [])


# --------------------------------------------------------------------------- re-validation


def test_revalidating_a_corrected_invoice_clears_old_validation_warnings() -> None:
    corrected = invoice(
        status=InvoiceStatus.NEEDS_REVIEW,
        warnings=[TOTALS_MISMATCH, MISSING_VENDOR, LINE_ITEM_ARITHMETIC],
    )
    result = check(corrected)
    assert result.warnings == []
    assert result.status is InvoiceStatus.EXTRACTED


def test_revalidation_keeps_warnings_it_does_not_own() -> None:
    corrected = invoice(
        status=InvoiceStatus.NEEDS_REVIEW,
        warnings=["possible_duplicate", TOTALS_MISMATCH, "manual_note"],
    )
    result = check(corrected)
    assert result.warnings == ["possible_duplicate", "manual_note"]
    assert result.status is InvoiceStatus.NEEDS_REVIEW


def test_revalidation_appends_new_codes_after_foreign_warnings() -> None:
    inv = invoice(warnings=["possible_duplicate", MISSING_VENDOR], invoice_id=None)
    assert check(inv).warnings == ["possible_duplicate", MISSING_INVOICE_ID]


# --------------------------------------------------------------------------- confidence


def test_totals_that_add_up_raise_the_confidence_of_their_parts() -> None:
    result = check(invoice())
    for name in TOTAL_PARTS:
        assert result.confidence[name] == PROVEN
    # fields no check proves keep their confidence
    for name in ("vendor_name", "invoice_id", "invoice_date", "due_date", "currency"):
        assert result.confidence[name] == START


def test_a_proven_field_keeps_a_confidence_above_the_proven_level() -> None:
    confidence = dict.fromkeys(CONFIDENCE_FIELDS, START) | {"invoice_total": 0.99}
    assert check(invoice(confidence=confidence)).confidence["invoice_total"] == 0.99


def test_validation_does_not_invent_confidence_for_fields_without_one() -> None:
    result = check(invoice(confidence={"invoice_id": START}))
    assert result.confidence == {"invoice_id": START}


def test_totals_mismatch_lowers_every_part_even_one_another_check_proves() -> None:
    inv = invoice(invoice_total=Decimal("107.20"))
    result = check(inv, TEXT + "\nTotal 107.20")
    # The line items add up to the subtotal, but a field in a failed check stays doubtful.
    for name in ("subtotal", "total_discount", "total_tax", "invoice_total"):
        assert result.confidence[name] < START


def test_line_items_mismatch_lowers_the_subtotal_confidence() -> None:
    inv = invoice(line_items=[BASE_ITEMS[0], item("4", "10.50", "42.00")])
    assert check(inv).confidence["subtotal"] < START


def test_amount_not_in_text_lowers_the_confidence_of_the_missing_amount() -> None:
    result = check(invoice(amount_due=Decimal("55.55")))
    assert result.confidence["amount_due"] < START
    assert result.confidence["invoice_total"] == PROVEN


def test_due_before_issue_lowers_both_dates() -> None:
    result = check(invoice(due_date=dt.date(2024, 2, 28)))
    assert result.confidence["due_date"] < START
    assert result.confidence["invoice_date"] < START


def test_implausible_date_lowers_the_invoice_date_only() -> None:
    result = check(invoice(invoice_date=dt.date(1980, 1, 1), due_date=None))
    assert result.confidence["invoice_date"] < START
    assert result.confidence["due_date"] == START
