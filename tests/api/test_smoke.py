from __future__ import annotations

from psycopg_pool import ConnectionPool

from tests.support.api import Client
from tests.support.invoices import store


def test_owner_reads_own_invoice(api: Client, pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        invoice_id = store(conn, "dev-alice")
    token = api.token("alice", "viewer")
    response = api.get(f"/api/invoices/{invoice_id}", token=token)
    assert response.status == 200, response.body
    assert response.json()["id"] == str(invoice_id)
    listing = api.get("/api/invoices", token=token)
    assert listing.status == 200, listing.body
    print(listing.json())
