"""The pipeline's own rules, beyond each step's."""

from __future__ import annotations

from typing import Any

import pymupdf

from shared.config import Settings
from shared.pipeline import process_bytes

mupdf: Any = pymupdf  # untyped library


def _pdf(text: str | None) -> bytes:
    document = mupdf.open()
    page = document.new_page()
    if text:
        page.insert_text((72, 72), text)
    data: bytes = document.tobytes()
    return data


def test_a_blank_document_fails_with_no_invoice_found() -> None:
    [result] = process_bytes("blank.pdf", _pdf(None), Settings())
    assert result.invoice is None
    assert result.error_code == "no_invoice_found"
    assert "no readable text" in (result.error_message or "")


def test_text_without_any_invoice_field_fails_too() -> None:
    [result] = process_bytes("letter.pdf", _pdf("Dear friend, see you on the weekend."), Settings())
    assert result.error_code == "no_invoice_found"


def test_a_document_with_some_invoice_field_is_kept_for_review() -> None:
    [result] = process_bytes("partial.pdf", _pdf("Invoice number: INV-2291"), Settings())
    assert result.invoice is not None
    assert result.invoice.invoice_id == "INV-2291"
    assert result.invoice.status == "needs_review"
