"""API latency at scale: list, filters, search and similarity at 100,000 invoices, and export.

    .venv/bin/python -m bench.api [--invoices 100000] [--owners 10] [--runs 200]
                                  [--database-url URL]

Seeds a fresh database (the embedded PostgreSQL 18 + pgvector unless --database-url) with
synthetic invoices spread over `--owners` owners (line items, search vectors and embeddings
included, bulk-loaded with COPY), then times requests through `dispatch`, the same path an
HTTP function takes minus the Functions host: bearer-token verification, rate limiting,
validation, SQL, JSON. Prints p50/p95 per request type and export throughput.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from shared.api.http import ApiRequest, ApiResponse
from shared.api.routes import BY_NAME, dispatch
from shared.auth.devissuer import mint_token
from shared.config import AuthSettings, DatabaseSettings, RateLimits, Settings, parse_issuers
from shared.embeddings import HashingEmbedder, invoice_text
from shared.extraction.schema import InvoiceFields, LineItem
from shared.services import Services
from shared.storage.database import embedded_url, open_pool

VENDOR_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Oscorp",
    "Nakatomi",
    "Gringotts",
    "Monarch",
    "Dunder",
    "Pied",
    "Piper",
    "Aperture",
    "Black",
    "Mesa",
    "Blue",
    "Sun",
    "Buy",
    "More",
    "Gekko",
    "Krusty",
    "Lacuna",
    "Massive",
    "Dynamic",
    "Prestige",
    "Rekall",
)
SUFFIXES = ("GmbH", "SARL", "Ltd", "BV", "S.p.A.", "S.L.", "Inc", "AG")
GOODS = (
    "paper A4 80g",
    "toner cartridge black",
    "consulting hours",
    "server rack 42U",
    "cloud storage 1 TB",
    "office chairs",
    "coffee beans 1 kg",
    "cleaning service",
    "laptop 14 inch",
    "monitor 27 inch",
    "shipping",
    "software licence annual",
    "maintenance contract",
    "printer service",
    "training day",
    "travel expenses",
)
STATUSES = ("extracted", "needs_review", "approved", "rejected")
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP", "CHF")


def synthetic_invoice(rng: random.Random) -> tuple[InvoiceFields, str]:
    vendor = f"{rng.choice(VENDOR_WORDS)} {rng.choice(VENDOR_WORDS)} {rng.choice(SUFFIXES)}"
    items = []
    for _ in range(rng.randint(1, 6)):
        quantity = Decimal(rng.randint(1, 20))
        price = Decimal(rng.randint(100, 200_000)) / 100
        items.append(
            LineItem(
                description=rng.choice(GOODS).capitalize(),
                quantity=quantity,
                unit_price=price,
                amount=quantity * price,
            )
        )
    subtotal = sum((item.amount or Decimal(0) for item in items), Decimal(0))
    tax = (subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
    issued = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 1000))
    invoice = InvoiceFields(
        vendor_name=vendor,
        customer_name=f"{rng.choice(VENDOR_WORDS)} Customer",
        invoice_id=f"INV-{rng.randint(1, 10**7):07d}",
        invoice_date=issued,
        due_date=issued + dt.timedelta(days=30),
        currency=rng.choice(CURRENCIES),
        subtotal=subtotal,
        total_tax=tax,
        invoice_total=subtotal + tax,
        line_items=items,
    )
    return invoice, rng.choice(STATUSES)  # fmt: skip


def seed(url: str, owners: list[str], count: int, rng: random.Random) -> None:
    embedder = HashingEmbedder()
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with (
            cursor.copy("COPY documents (id, owner, sha256, blob_path, status) FROM STDIN") as docs,
        ):
            document_ids = []
            for n in range(count):
                document_id = uuid.uuid4()
                document_ids.append(document_id)
                owner = owners[n % len(owners)]
                docs.write_row((document_id, owner, uuid.uuid4().hex * 2,
                                f"{owner}/{n}/invoice.pdf", "extracted"))  # fmt: skip
        columns = ("id", "owner", "document_id", "status", "extractor", "pages", "vendor_name",
                   "customer_name", "invoice_id", "invoice_date", "due_date", "currency",
                   "subtotal", "total_tax", "invoice_total", "confidence",
                   "created_at")  # fmt: skip
        base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        with (
            cursor.copy(f"COPY invoices ({', '.join(columns)}) FROM STDIN") as invoices,
            # line items and embeddings go through temp files' worth of rows in memory: fine at 100k
        ):
            lines: list[tuple[Any, ...]] = []
            vectors: list[tuple[Any, ...]] = []
            for n, document_id in enumerate(document_ids):
                invoice, status = synthetic_invoice(rng)
                invoice_id = uuid.uuid4()
                owner = owners[n % len(owners)]
                invoices.write_row((
                    invoice_id, owner, document_id, status, "rules", 1, invoice.vendor_name,
                    invoice.customer_name, invoice.invoice_id, invoice.invoice_date,
                    invoice.due_date, invoice.currency, invoice.subtotal, invoice.total_tax,
                    invoice.invoice_total, json.dumps({"vendor_name": 0.9}),
                    base + dt.timedelta(seconds=n * 30),
                ))  # fmt: skip
                for position, item in enumerate(invoice.line_items):
                    lines.append((invoice_id, position, item.description, item.quantity,
                                  item.unit_price, item.amount))  # fmt: skip
                vector = embedder.embed_text(invoice_text(invoice))
                vectors.append((invoice_id, owner, embedder.model, str(vector)))
        with cursor.copy("COPY line_items (invoice_id, position, description, quantity, "
                         "unit_price, amount) FROM STDIN") as copy:  # fmt: skip
            for row in lines:
                copy.write_row(row)
        with cursor.copy(
            "COPY embeddings (invoice_id, owner, model, embedding) FROM STDIN"
        ) as copy:
            for row in vectors:
                copy.write_row(row)
        cursor.execute(
            """UPDATE invoices i SET search = to_tsvector('simple', concat_ws(' ', i.vendor_name,
                   i.customer_name, i.invoice_id, l.text))
               FROM (SELECT invoice_id, string_agg(description, ' ') AS text
                     FROM line_items GROUP BY invoice_id) l
               WHERE l.invoice_id = i.id"""
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"seeded {count} invoices in {time.perf_counter() - started:.0f} s")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(
    name: str, route: str, make: Callable[[int], ApiRequest], runs: int, services: Services
) -> dict[str, Any]:
    samples: list[float] = []
    rows = 0
    for n in range(runs + 5):
        request = make(n)
        started = time.perf_counter()
        response: ApiResponse = dispatch(BY_NAME[route], request, lambda: services)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"{name}: HTTP {response.status}: {response.body[:300]!r}")
        if n >= 5:  # warm-up
            samples.append(elapsed)
            body = json.loads(response.body)
            rows += len(body["items"]) if isinstance(body, dict) else 0
    result = {"name": name, "p50": statistics.median(samples), "p95": percentile(samples, 0.95),
              "rows": rows / runs}  # fmt: skip
    print(f"| {name} | {result['p50']:.1f} | {result['p95']:.1f} | {result['rows']:.1f} |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--owners", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = args.database_url or embedded_url(workdir / "pg", keep_running=False)
    key_dir = workdir / "issuer"
    settings = Settings(
        database=DatabaseSettings(url=url, pool_max=2),
        auth=AuthSettings(issuers=parse_issuers(json.dumps([{"kind": "dev",
                                                              "key_dir": str(key_dir)}]))),
        rate_limits=RateLimits(api_per_minute=10**6, uploads_per_minute=1),
    )  # fmt: skip
    pool = open_pool(settings.database)
    owners = [f"dev-bench{n}" for n in range(args.owners)]
    seed(url, owners, args.invoices, rng)
    services = Services(settings, pool=pool)
    user = mint_token(key_dir, "bench0", ["processor"], minutes=600)
    admin = mint_token(key_dir, "admin", ["admin"], minutes=600)
    with pool.connection() as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM invoices WHERE owner = %s ORDER BY random() LIMIT 1000", (owners[0],)
        ).fetchall()]  # fmt: skip
    print(
        f"\n{platform.processor() or platform.machine()}, {args.invoices} invoices, "
        f"{args.owners} owners ({args.invoices // args.owners} each), {args.runs} runs each\n"
    )
    print("| request | p50 ms | p95 ms | rows |\n|---|---:|---:|---:|")

    def get(
        route: str, token: str, query: dict[str, str] | None = None, invoice: str | None = None
    ) -> ApiRequest:
        return ApiRequest("GET", "/api/" + route, {"id": invoice} if invoice else {}, query or {},
                          {"authorization": f"Bearer {token}"})  # fmt: skip

    def cursor_after(pages: int, query: dict[str, str]) -> str:
        cursor = None
        for _ in range(pages):
            q = query | ({"cursor": cursor} if cursor else {})
            cursor = json.loads(dispatch(BY_NAME["list_invoices"], get("invoices", user, q),
                                         lambda: services).body)["next_cursor"]  # fmt: skip
        assert isinstance(cursor, str)
        return cursor

    deep = cursor_after(min(20, args.invoices // args.owners // 50 - 1), {"limit": "50"})
    vendors = [w.lower() for w in VENDOR_WORDS]
    results = [
        timed("list: first page (50), newest first", "list_invoices",
              lambda n: get("invoices", user, {"limit": "50"}), args.runs, services),
        timed("list: deep page by cursor", "list_invoices",
              lambda n: get("invoices", user, {"limit": "50", "cursor": deep}), args.runs,
              services),
        timed("list: status + currency + date range", "list_invoices",
              lambda n: get("invoices", user, {"status": "needs_review", "currency": "EUR",
                                               "date_from": "2025-01-01",
                                               "date_to": "2025-06-30"}), args.runs, services),
        timed("list: amount range, by invoice date", "list_invoices",
              lambda n: get("invoices", user, {"min_total": "1000", "max_total": "5000",
                                               "sort": "-invoice_date"}), args.runs, services),
        timed("list: vendor substring", "list_invoices",
              lambda n: get("invoices", user, {"vendor": vendors[n % len(vendors)]}),
              args.runs, services),
        timed("list: free text (q)", "list_invoices",
              lambda n: get("invoices", user, {"q": GOODS[n % len(GOODS)].split()[0]}),
              args.runs, services),
        timed("list: admin, all owners, status filter", "list_invoices",
              lambda n: get("invoices", admin, {"status": "approved"}), args.runs, services),
        timed("similar (10 nearest)", "similar_invoices",
              lambda n: get("invoices/x/similar", user, {}, str(ids[n % len(ids)])),
              args.runs, services),
        timed("search (full text + vector)", "search_invoices",
              lambda n: get("invoices/search", user, {"q": f"{vendors[n % len(vendors)]} "
                                                           f"{GOODS[n % len(GOODS)]}"}),
              args.runs, services),
    ]  # fmt: skip
    del results
    print()
    for fmt in ("csv", "json"):
        started = time.perf_counter()
        response = dispatch(
            BY_NAME["export_invoices"],
            get("invoices/export", user, {"format": fmt}),
            lambda: services,
        )
        elapsed = time.perf_counter() - started
        rows = args.invoices // args.owners
        print(f"export {fmt}: {rows} invoices, {len(response.body) / 1e6:.1f} MB in {elapsed:.2f} s"
              f" = {rows / elapsed:,.0f} invoices/s")  # fmt: skip
    pool.close()


if __name__ == "__main__":
    main()
