"""Invoice routes: read, filters, pagination, corrections, review, delete, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from decimal import Decimal
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from shared.extraction.schema import LineItem
from tests.api.conftest import User
from tests.support.api import Client
from tests.support.invoices import make_invoice, store

ALL = {"acme_old", "acme_new", "globex", "review", "undated"}


def _ids(response_json: dict[str, Any]) -> list[str]:
    return [item["id"] for item in response_json["items"]]


def test_get_returns_fields_line_items_and_etag(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner, vendor_name="Globex SA", invoice_id="F-1001")
    response = api.get(f"/api/invoices/{invoice_id}", token=alice.token("viewer"))
    assert response.status == 200
    body = response.json()
    assert body["vendor_name"] == "Globex SA"
    assert body["invoice_id"] == "F-1001"
    assert body["invoice_total"] == "119.00"  # money is a string: never a float
    assert body["line_items"][0]["description"] == "Paper A4"
    assert body["status"] == "extracted"
    assert response.headers["ETag"] == '"1"'


def test_unknown_and_malformed_ids_are_404_problems(api: Client, alice: User) -> None:
    for path in ("/api/invoices/00000000-0000-0000-0000-000000000000", "/api/invoices/nope"):
        response = api.get(path, token=alice.token("viewer"))
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        assert response.json()["code"] == "not_found"


def _seed(pool: ConnectionPool, owner: str) -> dict[str, str]:
    rows: dict[str, dict[str, Any]] = {
        "acme_old": dict(
            vendor_name="Acme Supplies GmbH",
            invoice_date=dt.date(2025, 1, 10),
            currency="EUR",
            subtotal=Decimal("10.00"),
            total_tax=Decimal("0"),
            invoice_total=Decimal("10.00"),
        ),
        "acme_new": dict(
            vendor_name="ACME supplies gmbh",
            invoice_date=dt.date(2026, 6, 1),
            due_date=dt.date(2026, 7, 1),
            currency="EUR",
            subtotal=Decimal("500.00"),
            total_tax=Decimal("95.00"),
            invoice_total=Decimal("595.00"),
        ),
        "globex": dict(
            vendor_name="Globex 100% Corp",
            invoice_date=dt.date(2026, 2, 1),
            currency="USD",
            subtotal=Decimal("1000.00"),
            total_tax=Decimal("0"),
            invoice_total=Decimal("1000.00"),
            line_items=[LineItem(description="Turbo encabulator", amount=Decimal("1000.00"))],
        ),
        "review": dict(
            vendor_name="Initech_Ltd",
            invoice_date=dt.date(2026, 3, 3),
            currency="GBP",
            subtotal=Decimal("50.00"),
            total_tax=Decimal("10.00"),
            invoice_total=Decimal("99.00"),
        ),  # totals mismatch -> needs_review
        "undated": dict(vendor_name="Umbrella", invoice_date=None, currency="EUR"),
    }
    ids = {}
    with pool.connection() as conn:
        for name, fields in rows.items():
            ids[name] = str(store(conn, owner, make_invoice(**({"line_items": []} | fields))))
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALL),
        ({"status": "needs_review"}, {"review", "undated"}),
        ({"status": "extracted,needs_review"}, ALL),
        ({"vendor": "acme"}, {"acme_old", "acme_new"}),
        ({"vendor": "100%"}, {"globex"}),  # % is a character, not a wildcard
        ({"vendor": "globex_"}, set()),  # _ is a character, not a wildcard
        ({"vendor": "Initech_"}, {"review"}),
        ({"currency": "USD"}, {"globex"}),
        ({"date_from": "2026-01-01"}, {"acme_new", "globex", "review"}),
        ({"date_to": "2025-12-31"}, {"acme_old"}),
        ({"date_from": "2026-02-01", "date_to": "2026-03-03"}, {"globex", "review"}),
        ({"min_total": "500"}, {"acme_new", "globex"}),
        ({"max_total": "99"}, {"acme_old", "review"}),
        ({"min_total": "99", "max_total": "595.00"}, {"acme_new", "review", "undated"}),
        ({"q": "encabulator"}, {"globex"}),
        ({"q": "globex"}, {"globex"}),
        ({"vendor": "acme", "currency": "EUR", "min_total": "100"}, {"acme_new"}),
    ],
)
def test_list_filters(
    api: Client, pool: ConnectionPool, alice: User, query: dict[str, str], expected: set[str]
) -> None:
    ids = _seed(pool, alice.owner)
    response = api.get("/api/invoices", token=alice.token("viewer"), query=query)
    assert response.status == 200, response.body
    names = {name for name, value in ids.items() if value in _ids(response.json())}
    assert names == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "paid"}, "status.0"),
        ({"currency": "euro"}, "currency"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"min_total": "ten"}, "min_total"),
        ({"min_total": "NaN"}, "min_total"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"sort": "vendor_name"}, "sort"),
        ({"colour": "red"}, "colour"),
        ({"vendor": "x" * 201}, "vendor"),
    ],
)
def test_bad_filters_are_400_naming_the_field(
    api: Client, alice: User, query: dict[str, str], field: str
) -> None:
    response = api.get("/api/invoices", token=alice.token("viewer"), query=query)
    assert response.status == 400
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["field"] == field
    assert problem["type"] == "urn:invoices:problem:validation_failed"


def test_inverted_ranges_are_400(api: Client, alice: User) -> None:
    for query in (
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"min_total": "10", "max_total": "1"},
    ):
        response = api.get("/api/invoices", token=alice.token("viewer"), query=query)
        assert response.status == 400


def _date(n: int) -> dt.date | None:
    """Ties and missing dates, so the sort's tie-breaker and NULL handling are exercised."""
    return dt.date(2026, 1, 1 + n % 3) if n % 4 else None


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-invoice_date", "invoice_date"])
def test_pagination_walks_every_row_once_in_a_stable_order(
    api: Client, pool: ConnectionPool, alice: User, sort: str
) -> None:
    with pool.connection() as conn:
        expected = {str(store(conn, alice.owner, invoice_date=_date(n))) for n in range(23)}
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "5", "sort": sort} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/invoices", token=alice.token("viewer"), query=query).json()
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == expected
    full = api.get(
        "/api/invoices", token=alice.token("viewer"), query={"sort": sort, "limit": "50"}
    )
    assert _ids(full.json()) == seen


def test_pagination_neither_skips_nor_repeats_while_inserts_happen(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        before = {str(store(conn, alice.owner)) for _ in range(30)}
    stop = threading.Event()
    inserted: list[str] = []

    def writer() -> None:
        with pool.connection() as conn:
            while not stop.is_set() and len(inserted) < 200:
                inserted.append(str(store(conn, alice.owner)))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen: list[str] = []
        cursor = None
        for sort in ("-created_at",):
            while True:
                query = {"limit": "4", "sort": sort} | ({"cursor": cursor} if cursor else {})
                page = api.get("/api/invoices", token=alice.token("viewer"), query=query).json()
                seen += _ids(page)
                cursor = page["next_cursor"]
                if cursor is None:
                    break
    finally:
        stop.set()
        thread.join()
    assert inserted, "the writer inserted nothing while the pages were read"
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert before <= set(seen), "a row that existed before the walk was skipped"


def test_a_cursor_is_bound_to_its_query(api: Client, pool: ConnectionPool, alice: User) -> None:
    with pool.connection() as conn:
        for _ in range(3):
            store(conn, alice.owner)
    token = alice.token("viewer")
    cursor = api.get("/api/invoices", token=token, query={"limit": "1"}).json()["next_cursor"]
    assert cursor
    other = api.get(
        "/api/invoices", token=token, query={"limit": "1", "cursor": cursor, "currency": "EUR"}
    )
    assert other.status == 400 and other.json()["field"] == "cursor"
    for forged in ("AAAA", cursor[:-3], "not base64!", "x" * 600):
        response = api.get("/api/invoices", token=token, query={"limit": "1", "cursor": forged})
        assert response.status == 400, forged


def test_patch_corrects_audits_and_moves_out_of_review(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner, invoice_total=Decimal("999.00"))
    token = alice.token("processor")
    before = api.get(f"/api/invoices/{invoice_id}", token=token).json()
    assert before["status"] == "needs_review"
    assert "totals_mismatch" in before["warnings"]

    response = api.patch(
        f"/api/invoices/{invoice_id}", token=token, json_body={"invoice_total": "119.00"}
    )
    assert response.status == 200, response.body
    after = response.json()
    assert after["invoice_total"] == "119.00"
    assert after["status"] == "extracted"
    assert after["warnings"] == []
    assert after["confidence"]["invoice_total"] == 1.0
    assert after["version"] == before["version"] + 1

    events = api.get(f"/api/invoices/{invoice_id}/events", token=token).json()["items"]
    corrected = [e for e in events if e["action"] == "corrected"]
    assert {"field": "invoice_total", "old_value": "999.00", "new_value": "119.00"}.items() <= (
        corrected[0].items()
    )
    assert corrected[0]["actor"] == alice.owner
    assert any(e["field"] == "status" and e["new_value"] == "extracted" for e in corrected)


def test_patch_that_breaks_totals_sends_the_invoice_to_review(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner)
    token = alice.token("processor")
    response = api.patch(f"/api/invoices/{invoice_id}", token=token, json_body={"total_tax": 20.5})
    assert response.status == 200
    assert response.json()["status"] == "needs_review"
    assert response.json()["total_tax"] == "20.5"  # a JSON number stays exact


def test_patch_replaces_line_items_and_clears_with_null(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner, purchase_order="PO-1")
    token = alice.token("processor")
    items = [{"description": "Toner", "amount": "60.00"}, {"description": "Ink", "amount": "40.00"}]
    response = api.patch(
        f"/api/invoices/{invoice_id}",
        token=token,
        json_body={"line_items": items, "purchase_order": None},
    )
    body = response.json()
    assert [item["description"] for item in body["line_items"]] == ["Toner", "Ink"]
    assert body["purchase_order"] is None
    assert body["status"] == "extracted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invoice_total": "12,50"}, "invoice_total"),
        ({"invoice_date": "31/12/2026"}, "invoice_date"),
        ({"currency": "eur"}, "currency"),
        ({"status": "approved"}, "status"),  # status moves only through approve/reject
        ({"owner": "someone-else"}, "owner"),
        ({"line_items": [{"colour": "red"}]}, "line_items.0.colour"),
        ({}, "body"),
    ],
)
def test_patch_rejects_invalid_corrections_naming_the_field(
    api: Client, pool: ConnectionPool, alice: User, body: dict[str, Any], field: str
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner)
    response = api.patch(f"/api/invoices/{invoice_id}", token=alice.token(), json_body=body)
    assert response.status == 400, response.body
    assert response.json()["field"] == field
    unchanged = api.get(f"/api/invoices/{invoice_id}", token=alice.token()).json()
    assert unchanged["version"] == 1


def test_patch_body_must_be_a_json_object(api: Client, pool: ConnectionPool, alice: User) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner)
    for body in (b"[1]", b"{not json", b"\xff\xfe"):
        response = api.patch(
            f"/api/invoices/{invoice_id}",
            token=alice.token(),
            body=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 400
        assert response.json()["field"] == "body"


def test_if_match_guards_against_lost_updates(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner)
    token = alice.token()
    etag = api.get(f"/api/invoices/{invoice_id}", token=token).headers["ETag"]
    path = f"/api/invoices/{invoice_id}"
    first = api.patch(
        path, token=token, json_body={"payment_terms": "30"}, headers={"If-Match": etag}
    )
    assert first.status == 200
    stale = api.patch(
        path, token=token, json_body={"payment_terms": "60"}, headers={"If-Match": etag}
    )
    assert stale.status == 412
    assert stale.json()["code"] == "version_mismatch"


def test_approve_and_reject_are_final_and_audited(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        approved, rejected = store(conn, alice.owner), store(conn, alice.owner)
    token = alice.token("processor")
    response = api.post(f"/api/invoices/{approved}/approve", token=token)
    assert response.status == 200 and response.json()["status"] == "approved"
    assert api.post(f"/api/invoices/{approved}/approve", token=token).status == 200  # idempotent
    assert api.post(f"/api/invoices/{approved}/reject", token=token).status == 409
    assert (
        api.patch(f"/api/invoices/{approved}", token=token, json_body={"payment_terms": "x"}).status
        == 409
    )

    response = api.post(
        f"/api/invoices/{rejected}/reject", token=token, json_body={"reason": "duplicate of INV-7"}
    )
    assert response.status == 200 and response.json()["status"] == "rejected"
    events = api.get(f"/api/invoices/{rejected}/events", token=token).json()["items"]
    assert events[-1]["action"] == "rejected"
    assert events[-1]["new_value"] == {"status": "rejected", "reason": "duplicate of INV-7"}
    assert events[-1]["actor"] == alice.owner


def test_delete_is_soft_and_audited(api: Client, pool: ConnectionPool, alice: User) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, alice.owner)
    token = alice.token("processor")
    assert api.delete(f"/api/invoices/{invoice_id}", token=token).status == 204
    assert api.get(f"/api/invoices/{invoice_id}", token=token).status == 404
    assert api.delete(f"/api/invoices/{invoice_id}", token=token).status == 404
    assert str(invoice_id) not in _ids(api.get("/api/invoices", token=token).json())
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT deleted_at IS NOT NULL, (SELECT array_agg(action ORDER BY id) "
            "FROM invoice_events WHERE invoice_id = %s) FROM invoices WHERE id = %s",
            (invoice_id, invoice_id),
        ).fetchone()
    assert row == (True, ["created", "deleted"])


def test_similar_finds_the_near_duplicate_first(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    paper = [LineItem(description="Recycled paper A4 80g, 5 reams", amount=Decimal("100.00"))]
    with pool.connection() as conn:
        original = store(
            conn,
            alice.owner,
            make_invoice(
                vendor_name="Papeterie Dupont SARL", invoice_id="PD-2291", line_items=paper
            ),
        )
        rescan = store(
            conn,
            alice.owner,
            make_invoice(
                vendor_name="Papeterie Dupont SARL", invoice_id="PD-2291", line_items=paper
            ),
        )
        for vendor in ("Globex", "Initech", "Hooli"):
            store(
                conn,
                alice.owner,
                make_invoice(
                    vendor_name=vendor,
                    line_items=[LineItem(description="Consulting hours", amount=Decimal("100.00"))],
                ),
            )

    response = api.get(
        f"/api/invoices/{original}/similar", token=alice.token("viewer"), query={"limit": "3"}
    )
    assert response.status == 200
    items = response.json()["items"]
    assert len(items) == 3
    assert items[0]["invoice"]["id"] == str(rescan)
    assert items[0]["score"] > items[1]["score"]
    assert str(original) not in [item["invoice"]["id"] for item in items]


def test_search_combines_words_and_similarity(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        exact = store(
            conn, alice.owner, make_invoice(vendor_name="Wayne Enterprises", invoice_id="WE-42")
        )
        others = [
            store(conn, alice.owner, make_invoice(vendor_name=f"Vendor {n}")) for n in range(5)
        ]

    token = alice.token("viewer")
    found = api.get("/api/invoices/search", token=token, query={"q": "wayne"}).json()["items"]
    assert found[0]["invoice"]["id"] == str(exact)
    # A typo finds nothing by words but the vector side still ranks the right invoice first.
    fuzzy = api.get("/api/invoices/search", token=token, query={"q": "Wayn Enterprise"}).json()
    assert fuzzy["items"][0]["invoice"]["id"] == str(exact)
    assert {str(o) for o in others} >= {i["invoice"]["id"] for i in fuzzy["items"][1:]}
    assert api.get("/api/invoices/search", token=token, query={}).status == 400


def test_export_csv_and_json_with_filters(api: Client, pool: ConnectionPool, alice: User) -> None:
    ids = _seed(pool, alice.owner)
    token = alice.token("viewer")
    response = api.get(
        "/api/invoices/export", token=token, query={"format": "csv", "vendor": "acme"}
    )
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert {row["id"] for row in rows} == {ids["acme_old"], ids["acme_new"]}
    assert {row["invoice_total"] for row in rows} == {"10.00", "595.00"}

    response = api.get("/api/invoices/export", token=token, query={"format": "json"})
    assert response.content_type == "application/json"
    exported = response.json()
    assert {item["id"] for item in exported} == set(ids.values())
    globex = next(item for item in exported if item["id"] == ids["globex"])
    assert globex["line_items"][0]["description"] == "Turbo encabulator"


def test_export_neutralises_spreadsheet_formulas(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        store(
            conn,
            alice.owner,
            vendor_name='=HYPERLINK("http://evil","x")',
            total_discount=Decimal("-5.00"),
            invoice_total=Decimal("114.00"),
        )
    response = api.get("/api/invoices/export", token=alice.token("viewer"), query={"format": "csv"})
    row = next(csv.DictReader(io.StringIO(response.body.decode())))
    assert row["vendor_name"].startswith("'=")
    assert row["total_discount"] == "-5.00"  # numbers are left alone
