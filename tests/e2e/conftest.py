"""End-to-end fixtures: the local stack running the real app, and generated invoices."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.generator import generate_item


@pytest.fixture(scope="session")
def invoice_pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twenty distinct generated text-PDF invoices (seed 303: never used for tuning)."""
    out = tmp_path_factory.mktemp("pdfs")
    return [generate_item(out, index, 303, scans=False).pdf_path for index in range(20)]
