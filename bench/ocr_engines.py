"""OCR engine comparison on generated scans: word accuracy and seconds per page.

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python -m bench.ocr_engines [--count 12] [--seed 7]

For each scan of the generated corpus, the text layer of the matching clean PDF
is the reference. Accuracy is word-level (multiset) precision/recall/F1 after
case folding, so reading order does not matter and missing spaces ("ACMEGmbH")
count as errors, as they do for extraction. Engines: PyMuPDF's built-in
Tesseract with the shipped tessdata_fast models (several language sets), and
rapidocr-onnxruntime when it is installed (dev requirement only).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pymupdf as _pymupdf

from shared.config import OcrSettings
from shared.documents.parse import parse_document
from shared.documents.sniff import sniff
from tests.corpus.generator import generate_corpus

pymupdf: Any = _pymupdf


def _words(text: str) -> Counter[str]:
    return Counter(w.strip(".,:;()").casefold() for w in text.split() if w.strip(".,:;()"))


def _score(reference: str, found: str) -> tuple[int, int, int]:
    ref, got = _words(reference), _words(found)
    tp = sum((ref & got).values())
    return tp, sum(got.values()), sum(ref.values())


def tesseract(languages: str) -> Callable[[bytes], str]:
    settings = OcrSettings(languages=languages)

    def run(data: bytes) -> str:
        media_type = sniff(data)
        assert media_type is not None
        return parse_document(data, media_type, settings).text

    return run


def rapidocr() -> Callable[[bytes], str] | None:
    try:
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    engine = RapidOCR()

    def run(data: bytes) -> str:
        doc = pymupdf.open(stream=data)
        texts = []
        for page in doc:
            png = page.get_pixmap(dpi=200).tobytes("png")
            result, _ = engine(png)
            texts.append(" ".join(line[1] for line in result or []))
        return "\n".join(texts)

    return run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    engines: dict[str, Callable[[bytes], str] | None] = {
        "tesseract eng": tesseract("eng"),
        "tesseract eng+deu+fra": tesseract("eng+deu+fra"),
        "tesseract all six": tesseract("eng+deu+fra+nld+spa+ita"),
        "rapidocr": rapidocr(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        items = generate_corpus(Path(tmp), count=args.count, seed=args.seed, scans=True)
        print(f"{len(items)} scans, {sum(i.pages for i in items)} pages")
        print(f"{'engine':26} {'word P':>7} {'word R':>7} {'F1':>6} {'s/page':>7}")
        for name, engine in engines.items():
            if engine is None:
                print(f"{name:26} not installed")
                continue
            tp = found = ref = 0
            pages = 0
            started = time.perf_counter()
            for item in items:
                assert item.scan_path is not None
                reference = "\n".join(p.get_text() for p in pymupdf.open(item.pdf_path))
                a, b, c = _score(reference, engine(item.scan_path.read_bytes()))
                tp, found, ref = tp + a, found + b, ref + c
                pages += item.pages
            elapsed = time.perf_counter() - started
            p, r = tp / max(found, 1), tp / max(ref, 1)
            f1 = 2 * p * r / max(p + r, 1e-9)
            print(f"{name:26} {p:7.3f} {r:7.3f} {f1:6.3f} {elapsed / pages:7.2f}")


if __name__ == "__main__":
    main()
