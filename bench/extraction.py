"""Extraction quality and speed on the generated corpus.

    .venv/bin/python -m bench.extraction [--count 72] [--seed 7] [--scans 72] [--errors]

Generates the corpus (tests/corpus/generator.py) into a temporary folder, runs
parse + rules extraction + validation over the text PDFs and the scans, and
prints per-field precision, recall and F1, micro-F1, and documents/pages per
second (one process, so per core). The README table comes from this output.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.pipeline import process_bytes
from tests.corpus.generator import CorpusItem, generate_corpus
from tests.corpus.scoring import Report, score_documents


def run(items: Sequence[CorpusItem], scans: bool, settings: Settings) -> tuple[Report, float, int]:
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    pages = 0
    started = time.perf_counter()
    for item in items:
        path = item.scan_path if scans else item.pdf_path
        assert path is not None
        results = process_bytes(path.name, path.read_bytes(), settings)
        result = results[0]
        predicted = result.invoice.to_output() if result.invoice else {}
        pages += predicted.get("pages", item.pages)
        pairs.append((item.id, item.truth, predicted))
    elapsed = time.perf_counter() - started
    return score_documents(pairs), elapsed, pages


def print_report(title: str, report: Report, elapsed: float, docs: int, pages: int) -> None:
    print(f"\n## {title}: {docs} documents, {pages} pages in {elapsed:.1f} s")
    print(f"{docs / elapsed:.2f} documents/s, {pages / elapsed:.2f} pages/s (one core)")
    print(f"{'field':32} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}")
    for name in sorted(report.fields):
        s = report.fields[name]
        print(f"{name:32} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp + s.fn:5d}")
    m = report.micro
    print(f"{'micro':32} {m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f} {m.tp + m.fn:5d}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=72)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scans", type=int, default=None, help="how many scans (default all)")
    parser.add_argument("--errors", action="store_true", help="list every wrong field")
    args = parser.parse_args(argv)
    settings = Settings()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        items = generate_corpus(Path(tmp), count=args.count, seed=args.seed, scans=args.scans != 0)
        report, elapsed, pages = run(items, scans=False, settings=settings)
        print_report("text PDFs", report, elapsed, len(items), pages)
        if args.errors:
            for error in report.errors:
                print("  ", *error)
        scan_items = [i for i in items if i.scan_path is not None][: args.scans]
        if scan_items:
            report, elapsed, pages = run(scan_items, scans=True, settings=settings)
            print_report("scans", report, elapsed, len(scan_items), pages)
            if args.errors:
                for error in report.errors:
                    print("  ", *error)


if __name__ == "__main__":
    main()
