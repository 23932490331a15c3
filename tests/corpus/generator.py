"""Generated corpus of realistic invoices (text PDFs and scans) with ground truth.

    python -m tests.corpus.generator OUT_DIR [--count N] [--seed S] [--no-scans]

For every item the generator writes ``{id}.pdf``, ``{id}.truth.json`` (canonical schema
names, see tests/corpus/model.py for the conventions), ``{id}.meta.json`` (variant choices
and the printed form of every truth value, for debugging) and, with scans,
``{id}.scan.png`` / ``{id}.scan.jpg`` (one page) or ``{id}.scan.tiff`` (several pages).
``manifest.json`` lists the items. Everything is deterministic for a given seed.

Items cycle through the six languages; layouts, multi-page items (about 1 in 6) and credit
notes follow a fixed schedule over the item index so that even small corpora cover them;
everything else (locale, wording, formats, fonts, amounts, ...) is drawn per item.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.corpus.model import build_invoice, compose
from tests.corpus.render import LAYOUTS, render
from tests.corpus.scan import make_scan
from tests.corpus.vocab import LANGUAGES

LAYOUT_NAMES: tuple[str, ...] = tuple(LAYOUTS)


@dataclass(frozen=True)
class CorpusItem:
    id: str  # e.g. "inv-003-de"
    language: str  # "en" | "de" | "fr" | "nl" | "es" | "it"
    layout: str  # name of the layout variant used
    pages: int
    pdf_path: Path  # the text PDF
    scan_path: Path | None  # the scanned version (None when scans=False)
    truth: dict[str, Any]  # ground truth (also written as {id}.truth.json)


@dataclass(frozen=True)
class Plan:
    language: str
    layout: str
    multipage: bool
    credit: bool


def plan(index: int) -> Plan:
    """The scheduled variant of item ``index``.

    Every run of six items has each language once; one item per run is multi-page (rotating
    through the languages, so each language gets one per 36 items); one item per twelve is a
    credit note (the map p -> (5p + 1) mod 6 rotates it through all languages and never hits
    the multi-page item); layouts rotate with period 7, so every language sees every layout.
    """
    lang_i, run = index % 6, index // 6
    pair = index // 12
    return Plan(
        language=LANGUAGES[lang_i],
        layout=LAYOUT_NAMES[index % len(LAYOUT_NAMES)],
        multipage=lang_i == run % 6,
        credit=index % 12 == (5 * pair + 1) % 6,
    )


def _json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def generate_item(out_dir: Path, index: int, seed: int, scans: bool) -> CorpusItem:
    p = plan(index)
    item_id = f"inv-{index:03d}-{p.language}"
    key = f"invoice-corpus:{seed}:{index}"
    content_rng = random.Random(f"{key}:content")
    inv = build_invoice(content_rng, index, p.language, credit=p.credit, multipage=p.multipage)
    pdf_path = out_dir / f"{item_id}.pdf"
    comp = compose(inv, random.Random(f"{key}:compose"))
    # the content never depends on the rendering (fonts): the truth is fixed before it
    pages, font = render(comp.document, p.layout, pdf_path, random.Random(f"{key}:render"))
    if p.multipage and pages < 2:
        raise AssertionError(f"{item_id}: multi-page invoice rendered on one page")
    _json(out_dir / f"{item_id}.truth.json", comp.truth)
    meta = {
        "id": item_id,
        "language": p.language,
        "layout": p.layout,
        "pages": pages,
        "font": font,
        **comp.details,
        "printed": comp.printed,
    }
    _json(out_dir / f"{item_id}.meta.json", meta)
    for stale in out_dir.glob(f"{item_id}.scan.*"):  # from an earlier run with other settings
        stale.unlink()
    scan_path = make_scan(pdf_path, out_dir / item_id, pages, f"{key}:scan") if scans else None
    return CorpusItem(item_id, p.language, p.layout, pages, pdf_path, scan_path, comp.truth)


def generate_corpus(
    out_dir: Path, count: int = 72, seed: int = 7, scans: bool = True
) -> list[CorpusItem]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = [generate_item(out_dir, i, seed, scans) for i in range(count)]
    manifest = [
        {
            "id": it.id,
            "language": it.language,
            "layout": it.layout,
            "pages": it.pages,
            "pdf": it.pdf_path.name,
            "scan": it.scan_path.name if it.scan_path else None,
            "truth": f"{it.id}.truth.json",
        }
        for it in items
    ]
    _json(out_dir / "manifest.json", {"seed": seed, "count": count, "items": manifest})
    return items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=72)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-scans", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    items = generate_corpus(args.out_dir, args.count, args.seed, scans=not args.no_scans)
    elapsed = time.perf_counter() - started
    pages = sum(it.pages for it in items)
    multi = sum(it.pages > 1 for it in items)
    print(
        f"wrote {len(items)} invoices ({pages} pages, {multi} multi-page) "
        f"to {args.out_dir} in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
