"""GET /api/metrics: who may scrape, what it says, and the gauges read from PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from azure.functions.decorators.function_app import Function
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from shared.config import Settings
from shared.services import Services, use_services
from tests.api.conftest import User
from tests.support.api import Client
from tests.support.invoices import store

SCRAPE_TOKEN = "scrape-4f8a0b"


@pytest.fixture
def scrapable(
    api_settings: Settings, api_services: Services, pool: ConnectionPool
) -> Iterator[None]:
    use_services(Services(dataclasses.replace(api_settings, metrics_token=SCRAPE_TOKEN), pool=pool))
    yield
    use_services(api_services)


EXPORTED = (
    "invoices_http_requests",
    "invoices_http_request_duration_seconds",
    "invoices_documents_processed",
    "invoices_stage_duration_seconds",
    "invoices_extraction_confidence",
    "invoices_jobs",
    "invoices_invoices",
    "invoices_review_queue",
    "invoices_oldest_unfinished_job_age_seconds",
    "invoices_jobs_stuck",
)


def _families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_refuse_requests_without_credentials(api: Client, alice: User) -> None:
    assert api.get("/api/metrics").status == 401
    assert api.get("/api/metrics", headers={"Authorization": "Bearer wrong"}).status == 401
    assert api.get("/api/metrics", token=alice.token("processor")).status == 403


def test_an_admin_or_the_scrape_token_reads_prometheus_text(
    api: Client, alice: User, scrapable: None
) -> None:
    for headers in ({"Authorization": f"Bearer {alice.token('admin')}"},
                    {"Authorization": f"Bearer {SCRAPE_TOKEN}"}):  # fmt: skip
        response = api.get("/api/metrics", headers=headers)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        families = _families(response.body.decode())
        for name in EXPORTED:
            assert name in families, name


def test_requests_are_counted_by_route_and_status(api: Client, alice: User) -> None:
    from shared.metrics import REGISTRY

    labels = {"route": "list_invoices", "method": "GET", "status": "401"}
    before = REGISTRY.get_sample_value("invoices_http_requests_total", labels) or 0
    for _ in range(3):
        api.get("/api/invoices")
    assert REGISTRY.get_sample_value("invoices_http_requests_total", labels) == before + 3


def test_gauges_come_from_the_database(
    api: Client, alice: User, pool: ConnectionPool, scrapable: None
) -> None:
    with pool.connection() as conn:
        store(conn, alice.owner, invoice_total=None)  # missing total -> needs_review
        expected = conn.execute(
            "SELECT count(*) FROM invoices WHERE status = 'needs_review' AND deleted_at IS NULL"
        ).fetchone()
    response = api.get("/api/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    queue = next(
        sample.value
        for family in text_string_to_metric_families(response.body.decode())
        if family.name == "invoices_review_queue"
        for sample in family.samples
    )
    assert expected is not None and queue >= 1
    # other tests may add to the queue between the two reads, never remove from it
    assert queue >= expected[0]


@pytest.fixture
def key_auth(
    api_settings: Settings, api_services: Services, pool: ConnectionPool
) -> Iterator[None]:
    settings = dataclasses.replace(api_settings, metrics_auth="function_key")
    use_services(Services(settings, pool=pool))
    yield
    use_services(api_services)


def test_the_metrics_function_is_anonymous_unless_function_key_auth_is_chosen(
    functions: dict[str, Function],
) -> None:
    # Imported with METRICS_AUTH unset: the app checks the JWT or METRICS_TOKEN itself.
    # (METRICS_AUTH=function_key makes it AuthLevel.FUNCTION: tests/e2e/test_observability.py.)
    bindings = [json.loads(raw) for raw in functions["metrics"].get_raw_bindings()]
    trigger = next(b for b in bindings if b["type"] == "httpTrigger")
    assert trigger["authLevel"] == "ANONYMOUS"


def test_with_function_key_auth_the_app_serves_what_the_host_let_through(
    api: Client, alice: User, key_auth: None
) -> None:
    # The host checks the key's value before the function runs; the app only insists that one
    # was presented, so a function left anonymous by mistake still serves nobody.
    assert api.get("/api/metrics").status == 401
    assert api.get("/api/metrics", token=alice.token("admin")).status == 401
    by_header = api.get("/api/metrics", headers={"x-functions-key": "checked-by-the-host"})
    by_query = api.get("/api/metrics", query={"code": "checked-by-the-host"})
    for response in (by_header, by_query):
        assert response.status == 200, response.body
        assert "invoices_jobs_stuck" in _families(response.body.decode())
