"""Table header reading details that the document-level tests do not isolate."""

from __future__ import annotations

import pytest

from shared.extraction.tables import _near_label


@pytest.mark.parametrize(
    ("ocr_token", "column"),
    [("ety", "quantity"), ("qtv", "quantity"), ("amoun", "amount"), ("descriptlon", "description")],
)
def test_ocr_garbled_header_word_is_the_column_one_edit_away(ocr_token: str, column: str) -> None:
    assert _near_label(ocr_token) == column


@pytest.mark.parametrize("token", ["xyz", "ab", "customer"])
def test_words_far_from_every_column_label_are_no_column(token: str) -> None:
    assert _near_label(token) is None
