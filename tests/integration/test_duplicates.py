"""Near-duplicate detection (shared/storage/duplicates.py) on real PostgreSQL with pgvector: the
same invoice in other bytes is stored, linked to the earlier one, warned and sent to review;
different invoices, other owners' invoices and deleted invoices are never linked."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from shared.config import Settings
from shared.embeddings import HashingEmbedder, invoice_text
from shared.extraction.schema import ExtractedInvoice, InvoiceStatus, LineItem
from shared.pipeline import process_bytes
from shared.storage import invoices
from shared.storage.duplicates import WARNING
from shared.storage.records import InvoiceRecord
from shared.storage.scope import Scope
from tests.corpus.generator import generate_item
from tests.support.invoices import make_invoice, store

THRESHOLD = Settings.duplicate_max_distance
LINES = [
    LineItem(description="Window cleaning, office floors 1-3", amount=Decimal("60.00")),
    LineItem(description="Carpet shampoo, meeting rooms", product_code="CS-14",
             amount=Decimal("40.00")),
]  # fmt: skip


def _record(pool: ConnectionPool, owner: str, invoice_id: UUID) -> InvoiceRecord:
    with pool.connection() as conn:
        return invoices.get(conn, Scope.user(owner), invoice_id)


def _created_event(pool: ConnectionPool, owner: str, invoice_id: UUID) -> Any:
    with pool.connection() as conn:
        events = invoices.events(conn, Scope.user(owner), invoice_id)
    assert events[0].action == "created"
    return events[0].new_value


def _assert_linked(
    pool: ConnectionPool, owner: str, copy: UUID, original: UUID, match: str
) -> None:
    record = _record(pool, owner, copy)
    assert record.duplicate_of == original
    assert record.status is InvoiceStatus.NEEDS_REVIEW
    assert record.warnings.count(WARNING) == 1
    assert _created_event(pool, owner, copy) == {
        "status": "needs_review", "duplicate_of": str(original), "match": match,
    }  # fmt: skip


def _assert_not_linked(pool: ConnectionPool, owner: str, invoice_id: UUID) -> None:
    record = _record(pool, owner, invoice_id)
    assert record.duplicate_of is None
    assert WARNING not in record.warnings
    assert record.status is InvoiceStatus.EXTRACTED


def _distance(a: ExtractedInvoice, b: ExtractedInvoice) -> float:
    embedder = HashingEmbedder()
    va, vb = embedder.embed_text(invoice_text(a)), embedder.embed_text(invoice_text(b))
    return 1.0 - sum(x * y for x, y in zip(va, vb, strict=True))


def test_the_same_vendor_number_and_total_in_other_bytes_is_linked_and_sent_to_review(
    pool: ConnectionPool, owner: str
) -> None:
    with pool.connection() as conn:
        original = store(conn, owner, vendor_name="Acme Supplies GmbH", invoice_id="INV-2024/001")
        # Nothing else alike: only the key can find it (the vector check is off here).
        copy = store(
            conn, owner, duplicate_max_distance=0, vendor_name="ACME Supplies GmbH",
            invoice_id="inv 2024 001", invoice_date=dt.date(2026, 3, 20), line_items=LINES,
            customer_name="Someone Else BV",
        )  # fmt: skip
    _assert_linked(pool, owner, copy, original, "key")
    _assert_not_linked(pool, owner, original)  # the earlier invoice stays the original


def test_the_vendor_tax_id_stands_in_for_a_misread_vendor_name(
    pool: ConnectionPool, owner: str
) -> None:
    with pool.connection() as conn:
        original = store(conn, owner, vendor_name="Meyer Haustechnik GmbH",
                         vendor_tax_id="DE 123 456 789", invoice_id="G258322")  # fmt: skip
        copy = store(conn, owner, duplicate_max_distance=0, vendor_name="Mever Haustechnik GmbH",
                     vendor_tax_id="DE123456789", invoice_id="G258322")  # fmt: skip
        other_vendor = store(conn, owner, duplicate_max_distance=0, vendor_name="Other GmbH",
                             vendor_tax_id="DE987654321", invoice_id="G258322")  # fmt: skip
    _assert_linked(pool, owner, copy, original, "key")
    _assert_not_linked(pool, owner, other_vendor)  # same number and total, another vendor


def test_a_rescan_with_ocr_errors_is_linked_by_its_embedding(
    pool: ConnectionPool, owner: str
) -> None:
    printed = make_invoice(
        vendor_name="Orion Bâtiment SAS", vendor_tax_id="FR89727936170", invoice_id="FA2525173",
        customer_name="Durand Immobilier", purchase_order="PO-88121", line_items=LINES,
    )  # fmt: skip
    # What OCR made of the scan: accents lost, a digit read as a letter, the tax id and the total
    # missed. The key cannot match; the embedding still lands next to the original.
    scanned = printed.model_copy(update={"vendor_name": "Orion Batiment SAS",
                                         "invoice_id": "FA2525I73", "vendor_tax_id": None,
                                         "invoice_total": None})  # fmt: skip
    assert _distance(printed, scanned) < THRESHOLD
    with pool.connection() as conn:
        original = store(conn, owner, printed)
        rescan = store(conn, owner, scanned)
    _assert_linked(pool, owner, rescan, original, "vector")


@pytest.mark.slow
def test_a_generated_invoice_and_its_scan_are_one_original_and_one_possible_duplicate(
    pool: ConnectionPool, owner: str, tmp_path: Path
) -> None:
    item = generate_item(tmp_path, 6, 11, scans=True)
    assert item.scan_path is not None
    stored = []
    for path in (item.pdf_path, item.scan_path):
        [result] = process_bytes(path.name, path.read_bytes(), Settings())
        assert result.invoice is not None
        with pool.connection() as conn:
            stored.append(store(conn, owner, result.invoice))
    record = _record(pool, owner, stored[1])
    assert record.duplicate_of == stored[0]
    assert WARNING in record.warnings and record.status is InvoiceStatus.NEEDS_REVIEW
    assert _record(pool, owner, stored[0]).duplicate_of is None


def test_different_invoices_from_the_same_vendor_are_not_linked(
    pool: ConnectionPool, owner: str
) -> None:
    with pool.connection() as conn:
        store(conn, owner, vendor_name="Papeterie Dupont SARL", vendor_tax_id="FR11222333444",
              invoice_id="PD-2291")  # fmt: skip
        other = store(
            conn, owner, vendor_name="Papeterie Dupont SARL", vendor_tax_id="FR11222333444",
            invoice_id="PD-2377", invoice_date=dt.date(2026, 4, 2), line_items=LINES,
            subtotal=Decimal("100.00"), total_tax=Decimal("20.00"),
            invoice_total=Decimal("120.00"),
        )  # fmt: skip
    _assert_not_linked(pool, owner, other)


def test_next_months_invoice_with_the_same_lines_and_total_is_not_a_duplicate(
    pool: ConnectionPool, owner: str
) -> None:
    march = make_invoice(vendor_name="Cloud Hosting Ltd", invoice_id="CH-0301", line_items=LINES)
    april = march.model_copy(update={"invoice_id": "CH-0401",
                                     "invoice_date": dt.date(2026, 4, 14),
                                     "due_date": dt.date(2026, 5, 14)})  # fmt: skip
    assert _distance(march, april) < THRESHOLD  # close by content: the date tells them apart
    with pool.connection() as conn:
        store(conn, owner, march)
        second = store(conn, owner, april)
    _assert_not_linked(pool, owner, second)


def test_the_same_invoice_reissued_under_a_new_number_on_the_same_day_is_flagged(
    pool: ConnectionPool, owner: str
) -> None:
    first = make_invoice(vendor_name="Cloud Hosting Ltd", invoice_id="CH-0301", line_items=LINES)
    with pool.connection() as conn:
        original = store(conn, owner, first)
        reissued = store(conn, owner, first.model_copy(update={"invoice_id": "CH-0302"}))
    _assert_linked(pool, owner, reissued, original, "vector")


def test_the_vector_check_is_off_at_distance_zero(pool: ConnectionPool, owner: str) -> None:
    first = make_invoice(vendor_name="Cloud Hosting Ltd", invoice_id="CH-0301", line_items=LINES)
    with pool.connection() as conn:
        store(conn, owner, first)
        again = store(
            conn, owner, first.model_copy(update={"invoice_id": "CH-0302"}),
            duplicate_max_distance=0,
        )  # fmt: skip
    _assert_not_linked(pool, owner, again)


def test_another_owners_identical_invoice_is_never_linked(pool: ConnectionPool, owner: str) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-7", line_items=LINES)
    with pool.connection() as conn:
        store(conn, owner + "-other", invoice)
        mine = store(conn, owner, invoice)
    _assert_not_linked(pool, owner, mine)


def test_a_deleted_invoice_is_not_an_original(pool: ConnectionPool, owner: str) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-8")
    with pool.connection() as conn:
        deleted = store(conn, owner, invoice)
        invoices.soft_delete(conn, Scope.user(owner), deleted)
        again = store(conn, owner, invoice)
    _assert_not_linked(pool, owner, again)


def test_every_later_copy_points_at_the_first_invoice(pool: ConnectionPool, owner: str) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-9")
    with pool.connection() as conn:
        original, *copies = (store(conn, owner, invoice) for _ in range(3))
    for copy in copies:
        _assert_linked(pool, owner, copy, original, "key")


def test_copies_stored_at_the_same_moment_have_one_original(
    pool: ConnectionPool, owner: str
) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-10")
    barrier = threading.Barrier(4)
    stored: list[UUID] = []
    failures: list[BaseException] = []

    def store_one() -> None:
        try:
            with pool.connection() as conn:
                barrier.wait()
                stored.append(store(conn, owner, invoice))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=store_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    links = {invoice_id: _record(pool, owner, invoice_id).duplicate_of for invoice_id in stored}
    originals = [invoice_id for invoice_id, link in links.items() if link is None]
    assert len(originals) == 1
    assert all(link == originals[0] for invoice_id, link in links.items() if link is not None)
