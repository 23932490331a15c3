"""Table header reading details that the document-level tests do not isolate."""

from __future__ import annotations

import pytest

from shared.documents.parse import Word
from shared.extraction.layout import Row
from shared.extraction.tables import _near_label, header_columns


def _row(texts: list[str], xs: list[float]) -> Row:
    words = [Word(x, 100.0, x + 6.0 * len(t), 110.0, t) for t, x in zip(texts, xs, strict=True)]
    return Row(index=0, page=1, y0=100.0, y1=110.0, words=words)


@pytest.mark.parametrize(
    ("ocr_token", "column"),
    [("ety", "quantity"), ("qtv", "quantity"), ("amoun", "amount"), ("descriptlon", "description")],
)
def test_ocr_garbled_header_word_is_the_column_one_edit_away(ocr_token: str, column: str) -> None:
    assert _near_label(ocr_token) == column


@pytest.mark.parametrize("token", ["xyz", "ab", "customer"])
def test_words_far_from_every_column_label_are_no_column(token: str) -> None:
    assert _near_label(token) is None


@pytest.mark.parametrize(
    ("ocr_token", "column"),
    [
        ("unitcost", "unit_price"),  # "Unit cost" read without its space
        ("unitprice", "unit_price"),
        ("prezzounitario", "unit_price"),
        ("prezzounltario", "unit_price"),  # ... and with one character misread
    ],
)
def test_two_word_header_run_together_by_ocr_is_its_column(ocr_token: str, column: str) -> None:
    assert _near_label(ocr_token) == column


def test_header_row_with_a_run_together_label_keeps_that_column() -> None:
    row = _row(["Description", "Qty", "Unitcost", "Amount"], [40, 300, 360, 460])
    columns = header_columns(row)
    assert columns is not None
    assert [c.name for c in columns] == ["description", "quantity", "unit_price", "amount"]
