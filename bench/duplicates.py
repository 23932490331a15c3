"""Near-duplicate detection on the generated corpus: the distances behind DUPLICATE_MAX_DISTANCE,
and what the real detection (shared/storage/duplicates.py) links.

    .venv/bin/python -m bench.duplicates [--count 36] [--seed 11] [--database-url URL]

Generates `--count` invoices with their scans and extracts both with the rules extractor. Prints
the cosine distances of the hashing embedder between
- rescan: an invoice's text PDF and its scan (the same invoice, OCR errors and all),
- same vendor: two different invoices, the second moved to the first one's vendor and customer
  (name, tax id, address, IBAN; its own number, date, lines and total),
- different: two different invoices,
then stores them through `store_extracted` into a fresh database (the embedded PostgreSQL unless
`--database-url`), each case under its own owner, and counts what was linked: every scan after
its PDF; every same-vendor pair; each invoice with next month's invoice (same lines and total,
new number and date); and each invoice re-issued the same day under a new number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import platform
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from shared.config import DatabaseSettings, Settings
from shared.embeddings import HashingEmbedder, invoice_text
from shared.extraction.schema import ExtractedInvoice
from shared.pipeline import process_bytes
from shared.storage import documents, invoices
from shared.storage.database import embedded_url, open_pool
from tests.corpus.generator import generate_corpus

_VENDOR = ("vendor_name", "vendor_tax_id", "vendor_address", "iban", "customer_name")


def _extract(path: Path) -> ExtractedInvoice | None:
    results = process_bytes(path.name, path.read_bytes(), Settings())
    return results[0].invoice if results else None


def _distance(embedder: HashingEmbedder, a: ExtractedInvoice, b: ExtractedInvoice) -> float:
    va, vb = embedder.embed_text(invoice_text(a)), embedder.embed_text(invoice_text(b))
    return max(0.0, 1.0 - sum(x * y for x, y in zip(va, vb, strict=True)))


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    quantiles = (
        statistics.quantiles(ordered, n=10, method="inclusive") if len(ordered) > 1 else ordered * 9
    )
    return (
        f"n={len(ordered):4d}  min {ordered[0]:.3f}  p10 {quantiles[0]:.3f}  "
        f"median {statistics.median(ordered):.3f}  p90 {quantiles[-1]:.3f}  max {ordered[-1]:.3f}"
    )


class Store:
    """store_extracted as the flow calls it, one document per invoice."""

    def __init__(self, conn: psycopg.Connection[Any], max_distance: float) -> None:
        self.conn = conn
        self.max_distance = max_distance
        self.embedder = HashingEmbedder()

    def __call__(self, owner: str, invoice: ExtractedInvoice) -> uuid.UUID:
        sha = uuid.uuid4().hex * 2
        document = documents.register(self.conn, owner=owner, sha256=sha, blob_path="bench")
        return invoices.store_extracted(
            self.conn, owner=owner, document_id=document.id, invoice=invoice,
            embedder=self.embedder, duplicate_max_distance=self.max_distance,
        )  # fmt: skip

    def link(self, invoice_id: uuid.UUID) -> tuple[uuid.UUID | None, str | None]:
        row = self.conn.execute(
            "SELECT i.duplicate_of, e.new_value ->> 'match' FROM invoices i "
            "JOIN invoice_events e ON e.invoice_id = i.id AND e.action = 'created' "
            "WHERE i.id = %s",
            (invoice_id,),
        ).fetchone()
        assert row is not None
        return row[0], row[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=36)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-distance", type=float, default=Settings.duplicate_max_distance)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-duplicates-"))
    started = time.perf_counter()
    items = generate_corpus(workdir / "corpus", count=args.count, seed=args.seed, scans=True)
    pdfs: dict[str, ExtractedInvoice] = {}
    scans: dict[str, ExtractedInvoice] = {}
    for item in items:
        pdf = _extract(item.pdf_path)
        scan = _extract(item.scan_path) if item.scan_path else None
        if pdf is not None:
            pdfs[item.id] = pdf
            if scan is not None:
                scans[item.id] = scan
    print(
        f"{len(items)} invoices and their scans extracted in {time.perf_counter() - started:.0f} s"
    )

    embedder = HashingEmbedder()
    same_vendor = {
        (a, b): pdfs[b].model_copy(update={name: getattr(pdfs[a], name) for name in _VENDOR})
        for a, b in itertools.combinations(pdfs, 2)
    }
    print("cosine distance (hashing embedder):")
    print("  rescan       ", _summary([_distance(embedder, pdfs[k], s) for k, s in scans.items()]))
    print("  same vendor  ", _summary([_distance(embedder, pdfs[a], v)
                                       for (a, _), v in same_vendor.items()]))  # fmt: skip
    print("  different    ", _summary([_distance(embedder, pdfs[a], pdfs[b])
                                       for a, b in itertools.combinations(pdfs, 2)]))  # fmt: skip

    url = args.database_url or embedded_url(
        workdir / "postgres", keep_running=False, delete_on_exit=True
    )
    open_pool(DatabaseSettings(url=url), embedding_dimensions=embedder.dimensions).close()
    run = uuid.uuid4().hex[:8]
    with psycopg.connect(url, autocommit=True) as conn:
        store = Store(conn, args.max_distance)
        rescans: Counter[str] = Counter()
        for key, scan in scans.items():
            owner = f"{run}-rescan-{key}"
            original = store(owner, pdfs[key])
            linked, match = store.link(store(owner, scan))
            rescans["linked by " + str(match) if linked == original else "not linked"] += 1
        wrong: Counter[str] = Counter()
        for (a, b), moved in same_vendor.items():
            owner = f"{run}-vendor-{a}-{b}"
            store(owner, pdfs[a])
            wrong["same vendor"] += store.link(store(owner, moved))[0] is not None
        for key, invoice in pdfs.items():
            owner = f"{run}-monthly-{key}"
            store(owner, invoice)
            month = (invoice.invoice_date or dt.date(2025, 1, 15)) + dt.timedelta(days=31)
            nxt = invoice.model_copy(
                update={"invoice_id": f"{invoice.invoice_id or ''}-N", "invoice_date": month}
            )
            wrong["next month"] += store.link(store(owner, nxt))[0] is not None
            owner = f"{run}-reissued-{key}"
            store(owner, invoice)
            again = invoice.model_copy(update={"invoice_id": f"{invoice.invoice_id or ''}-R"})
            wrong["re-issued same day"] += store.link(store(owner, again))[0] is not None
    print(f"stored with DUPLICATE_MAX_DISTANCE={args.max_distance:g}:")
    print(f"  scans after their PDF ({len(scans)}): "
          + ", ".join(f"{n} {what}" for what, n in sorted(rescans.items())))  # fmt: skip
    print(f"  same-vendor pairs linked: {wrong['same vendor']} of {len(same_vendor)}")
    print(f"  next month's invoice linked: {wrong['next month']} of {len(pdfs)}")
    print(f"  re-issued the same day under a new number, linked: "
          f"{wrong['re-issued same day']} of {len(pdfs)}")  # fmt: skip
    print(f"({platform.python_version()}, {platform.machine()})")


if __name__ == "__main__":
    main()
