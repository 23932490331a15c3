"""Checks every extraction result the same way, whichever extractor made it.

Each failed check adds a stable warning code and lowers the confidence of the
fields involved; any warning sends the invoice to review. Checks that pass
raise the confidence of the fields they prove (totals that add up were read
right, or the document is wrong in a way a reviewer must see anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from shared.extraction.amounts import find_amounts
from shared.extraction.schema import MONEY_FIELDS, ExtractedInvoice, InvoiceStatus

CENT = Decimal("0.01")

AMOUNT_NOT_IN_TEXT = "amount_not_in_text"
TOTALS_MISMATCH = "totals_mismatch"
LINE_ITEMS_MISMATCH = "line_items_mismatch"
LINE_ITEM_ARITHMETIC = "line_item_arithmetic"
DUE_BEFORE_ISSUE = "due_before_issue"
MISSING_TOTAL = "missing_total"
MISSING_INVOICE_ID = "missing_invoice_id"
MISSING_INVOICE_DATE = "missing_invoice_date"
MISSING_VENDOR = "missing_vendor"
IMPLAUSIBLE_DATE = "implausible_date"
VALIDATION_CODES = frozenset(
    {AMOUNT_NOT_IN_TEXT, TOTALS_MISMATCH, LINE_ITEMS_MISMATCH, LINE_ITEM_ARITHMETIC,
     DUE_BEFORE_ISSUE, MISSING_TOTAL, MISSING_INVOICE_ID, MISSING_INVOICE_DATE, MISSING_VENDOR,
     IMPLAUSIBLE_DATE}
)  # fmt: skip

_PROVEN = 0.98
_PENALTY = 0.5


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= CENT


def amounts_in_text(text: str) -> set[Decimal]:
    """Every amount printed in the text, by absolute value.

    "1.234" is 1234 in one locale and 1.234 in another; both readings count,
    since this only asks whether a value was printed at all.
    """
    values: set[Decimal] = set()
    for money in find_amounts(text):
        values.add(abs(money.value))
        digits = money.text.strip("-−+()€$£ ").replace("\u00a0", "")
        if len(digits) > 4 and digits[-4] in ",." and digits[-3:].isdigit():
            values.add(
                abs(money.value) / 1000 if abs(money.value) >= 1000 else abs(money.value) * 1000
            )
    return values


def validate(
    invoice: ExtractedInvoice,
    text: str,
    *,
    today: dt.date | None = None,
    confirmed: frozenset[str] = frozenset(),
) -> ExtractedInvoice:
    """Return a copy of `invoice` with warnings, adjusted confidence and status.

    `confirmed` names fields a person corrected: their values stand even where the text (often
    OCR'd) does not show them, so they are not held against `amount_not_in_text`.
    """
    # Validation owns its codes: re-validating (after a correction) starts them afresh.
    warnings = [code for code in invoice.warnings if code not in VALIDATION_CODES]
    confidence = dict(invoice.confidence)

    penalised: set[str] = set()

    def warn(code: str, fields: Iterable[str] = ()) -> None:
        if code not in warnings:
            warnings.append(code)
        for name in fields:
            if name in confidence and name not in penalised:
                confidence[name] = round(confidence[name] * _PENALTY, 2)
                penalised.add(name)

    def prove(fields: Iterable[str]) -> None:
        # A field that failed any check stays doubtful, however well it adds up.
        for name in fields:
            if name in confidence and name not in penalised:
                confidence[name] = max(confidence[name], _PROVEN)

    printed = amounts_in_text(text)
    missing = [
        name
        for name in MONEY_FIELDS
        if name not in confirmed
        and getattr(invoice, name) is not None
        and abs(getattr(invoice, name)) not in printed
    ]
    if missing:
        warn(AMOUNT_NOT_IN_TEXT, missing)

    total = invoice.invoice_total if invoice.invoice_total is not None else invoice.amount_due
    if total is None:
        warn(MISSING_TOTAL)
    if invoice.subtotal is not None and invoice.invoice_total is not None:
        expected = (
            invoice.subtotal
            - (invoice.total_discount or Decimal(0))
            + (invoice.total_tax or Decimal(0))
        )
        parts = ["subtotal", "total_tax", "invoice_total", "total_discount"]
        if _close(expected, invoice.invoice_total):
            prove(parts)
        elif invoice.total_discount is not None and _close(
            invoice.subtotal + (invoice.total_tax or Decimal(0)), invoice.invoice_total
        ):
            prove(parts)  # the subtotal was printed after the discount
        else:
            warn(TOTALS_MISMATCH, parts)

    items = invoice.line_items
    if items and all(item.amount is not None for item in items):
        items_sum = sum((item.amount or Decimal(0) for item in items), Decimal(0))
        target = invoice.subtotal
        if target is None and invoice.total_tax in (None, Decimal(0)):
            target = invoice.invoice_total
        if target is not None:
            if _close(items_sum, target) or (
                invoice.total_discount is not None
                and _close(items_sum - invoice.total_discount, target)
            ):
                prove(["subtotal"])
            else:
                warn(LINE_ITEMS_MISMATCH, ["subtotal"])
    for item in items:
        if item.quantity is not None and item.unit_price is not None and item.amount is not None:
            # Allow for unit prices rounded on the page (e.g. 3 x 33.33 = 100.00).
            tolerance = max(CENT, abs(item.quantity) * Decimal("0.005"))
            if abs(item.quantity * item.unit_price - item.amount) > tolerance:
                warn(LINE_ITEM_ARITHMETIC)
                break

    if invoice.invoice_date and invoice.due_date and invoice.due_date < invoice.invoice_date:
        warn(DUE_BEFORE_ISSUE, ["due_date", "invoice_date"])
    reference = today or dt.datetime.now(dt.UTC).date()
    if invoice.invoice_date and not (
        dt.date(1990, 1, 1) <= invoice.invoice_date <= reference + dt.timedelta(days=366)
    ):
        warn(IMPLAUSIBLE_DATE, ["invoice_date"])

    if not invoice.invoice_id:
        warn(MISSING_INVOICE_ID)
    if not invoice.invoice_date:
        warn(MISSING_INVOICE_DATE)
    if not invoice.vendor_name:
        warn(MISSING_VENDOR)

    status = invoice.status
    if status in (InvoiceStatus.EXTRACTED, InvoiceStatus.NEEDS_REVIEW):
        status = InvoiceStatus.NEEDS_REVIEW if warnings else InvoiceStatus.EXTRACTED
    return invoice.model_copy(
        update={"warnings": warnings, "confidence": confidence, "status": status}
    )
