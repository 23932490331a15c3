"""Extraction quality on the generated corpus: the issue's floors, checked on every run.

The generated corpus is a floor, not the goal (see tests/corpus/generator.py); the
benchmark in bench/extraction.py reports the per-field numbers behind these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.pipeline import process_bytes
from tests.corpus.generator import CorpusItem, generate_corpus
from tests.corpus.scoring import score_documents


def _score(items: list[CorpusItem], *, scans: bool) -> float:
    settings = Settings()
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for item in items:
        path = item.scan_path if scans else item.pdf_path
        assert path is not None
        result = process_bytes(path.name, path.read_bytes(), settings)[0]
        assert result.invoice is not None, f"{item.id}: {result.error_code}"
        pairs.append((item.id, item.truth, result.invoice.to_output()))
    return score_documents(pairs).micro.f1


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[CorpusItem]:
    # A different seed from the benchmark's, so the test is not the tuning set.
    return generate_corpus(tmp_path_factory.mktemp("corpus"), count=60, seed=101, scans=False)


def test_text_pdfs_reach_095_micro_f1_across_six_languages(corpus: list[CorpusItem]) -> None:
    assert {item.language for item in corpus} == {"en", "de", "fr", "nl", "es", "it"}
    assert _score(corpus, scans=False) >= 0.95


@pytest.mark.slow
def test_scans_are_read_through_ocr_into_the_same_fields(tmp_path: Path) -> None:
    items = generate_corpus(tmp_path, count=6, seed=202, scans=True)
    single_page = [item for item in items if item.pages == 1][:4]
    assert _score(single_page, scans=True) >= 0.85
