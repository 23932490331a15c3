"""Build and store invoices for tests: through the same repository calls the pipeline uses."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection

from shared.config import Settings
from shared.embeddings import Embedder, HashingEmbedder
from shared.extraction.schema import ExtractedInvoice, LineItem
from shared.extraction.validation import validate
from shared.storage import documents, invoices


def make_invoice(**overrides: Any) -> ExtractedInvoice:
    """A consistent invoice (totals add up) unless `overrides` say otherwise."""
    fields: dict[str, Any] = {
        "vendor_name": "Acme Supplies GmbH",
        "customer_name": "Contoso Ltd",
        "invoice_id": f"INV-{uuid.uuid4().hex[:8].upper()}",
        "invoice_date": dt.date(2026, 3, 14),
        "due_date": dt.date(2026, 4, 13),
        "currency": "EUR",
        "subtotal": Decimal("100.00"),
        "total_tax": Decimal("19.00"),
        "invoice_total": Decimal("119.00"),
        "line_items": [
            LineItem(
                description="Paper A4",
                quantity=Decimal(4),
                unit_price=Decimal("25.00"),
                amount=Decimal("100.00"),
            )
        ],
        "confidence": {"vendor_name": 0.9, "invoice_total": 0.9, "subtotal": 0.9},
    }
    fields.update(overrides)
    return ExtractedInvoice.model_validate(fields)


def document_text(invoice: ExtractedInvoice) -> str:
    """A text layer that prints the invoice's amounts (what validation looks for)."""
    amounts = [
        invoice.subtotal,
        invoice.total_tax,
        invoice.invoice_total,
        invoice.total_discount,
        invoice.amount_due,
    ]
    return " ".join(f"{value:.2f}" for value in amounts if value is not None)


def store(
    conn: Connection[Any],
    owner: str,
    invoice: ExtractedInvoice | None = None,
    *,
    embedder: Embedder | None = None,
    duplicate_max_distance: float | None = None,
    **overrides: Any,
) -> UUID:
    """Store an invoice as the flow does: `invoice`, or `make_invoice(**overrides)`; the
    hashing embedder and the default duplicate distance unless given."""
    invoice = invoice or make_invoice(**overrides)
    text = document_text(invoice)
    invoice = validate(invoice, text, today=dt.date(2026, 11, 29))
    sha = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    document = documents.register(
        conn, owner=owner, sha256=sha, blob_path=f"{owner}/x/{sha[:8]}.pdf"
    )
    documents.mark_parsed(conn, document.id, pages=1, text=text)
    invoice_id = invoices.store_extracted(
        conn,
        owner=owner,
        document_id=document.id,
        invoice=invoice,
        embedder=embedder or HashingEmbedder(),
        duplicate_max_distance=(
            Settings.duplicate_max_distance
            if duplicate_max_distance is None
            else duplicate_max_distance
        ),
    )
    documents.mark_extracted(conn, document.id)
    return invoice_id
