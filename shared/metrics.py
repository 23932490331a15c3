"""Prometheus metrics: the app's own registry, what the code records, and gauges read from
PostgreSQL at scrape time.

Counters and histograms live in the process that recorded them (a scaled-out app has one set
per instance, summed by Prometheus across scrapes of each); the gauges come from the database,
so any instance answers them for the whole system.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg import sql

from shared.storage.jobs import STUCK_CONDITION

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "invoices_http_requests_total",
    "HTTP requests answered, by route, method and status code",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "invoices_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DOCUMENTS = Counter(
    "invoices_documents_processed_total",
    "Documents the processing flow finished, by outcome and extractor",
    ["outcome", "extractor"],
    registry=REGISTRY,
)
STAGE_DURATION = Histogram(
    "invoices_stage_duration_seconds",
    "Time one document spends in a processing stage",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
CONFIDENCE = Histogram(
    "invoices_extraction_confidence",
    "Mean field confidence of each stored invoice",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
    registry=REGISTRY,
)

LLM_REQUESTS = Counter(
    "invoices_llm_requests_total",
    "Calls to the LLM, by model and outcome (ok, invalid_output, rate_limited, server_error, "
    "timeout, circuit_open, budget_exhausted, error)",
    ["model", "outcome"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "invoices_llm_tokens_total",
    "Tokens the LLM billed, by model and kind (prompt, completion)",
    ["model", "kind"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "invoices_llm_cost_usd_total",
    "Estimated LLM spend in US dollars at the configured prices, by model",
    ["model"],
    registry=REGISTRY,
)
LLM_DURATION = Histogram(
    "invoices_llm_request_duration_seconds",
    "Time one LLM call takes, retries included, by model",
    ["model"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
    registry=REGISTRY,
)
LLM_CACHE = Counter(
    "invoices_llm_cache_lookups_total",
    "Extraction result cache lookups, by result (hit, miss)",
    ["result"],
    registry=REGISTRY,
)
EMBEDDING_REQUESTS = Counter(
    "invoices_embedding_requests_total",
    "Requests to the embeddings model, by model and outcome (ok, error); an invoice whose "
    "embedding failed is stored without one",
    ["model", "outcome"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "invoices_possible_duplicates_total",
    "Stored invoices linked to an earlier invoice they probably duplicate, by match (key, vector)",
    ["match"],
    registry=REGISTRY,
)


@contextmanager
def _timed(stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_DURATION.labels(stage).observe(time.perf_counter() - started)


def stage(name: str) -> AbstractContextManager[None]:
    """`with stage("parse"): ...` records the block's duration."""
    return _timed(name)


class DatabaseGauges(Collector):
    """Gauges of the whole system, queried when Prometheus scrapes."""

    def __init__(self, connect: Callable[[], AbstractContextManager[Any]]) -> None:
        self.connect = connect

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("invoices_jobs", "Jobs by status", labels=["status"])
        invoices = GaugeMetricFamily(
            "invoices_invoices", "Live invoices by status", labels=["status"]
        )
        review = GaugeMetricFamily("invoices_review_queue", "Invoices waiting for review")
        stuck = GaugeMetricFamily(
            "invoices_jobs_stuck",
            "Unfinished jobs none of whose documents moved for STUCK_AFTER_SECONDS (30 min)",
        )
        oldest = GaugeMetricFamily(
            "invoices_oldest_unfinished_job_age_seconds",
            "Age of the oldest job still pending or running (0 when none)",
        )
        try:
            with self.connect() as conn:
                for status, count in conn.execute(
                    "SELECT status, count(*) FROM jobs GROUP BY status"
                ).fetchall():
                    jobs.add_metric([status], count)
                by_status = dict(
                    conn.execute(
                        "SELECT status, count(*) FROM invoices WHERE deleted_at IS NULL "
                        "GROUP BY status"
                    ).fetchall()
                )
                stuck_count = conn.execute(
                    sql.SQL("SELECT count(*) FROM jobs j WHERE {}").format(STUCK_CONDITION)
                ).fetchone()
                age = conn.execute(
                    "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM jobs "
                    "WHERE status IN ('pending', 'running')"
                ).fetchone()
        except Exception:  # a scrape must answer even when the database does not
            log.warning("database gauges unavailable for this scrape", exc_info=True)
            return
        for status, count in by_status.items():
            invoices.add_metric([status], count)
        review.add_metric([], by_status.get("needs_review", 0))
        oldest.add_metric([], float(age[0]) if age else 0.0)
        stuck.add_metric([], stuck_count[0] if stuck_count else 0)
        yield from (jobs, invoices, review, oldest, stuck)


_gauges: DatabaseGauges | None = None


def exposition(connect: Callable[[], AbstractContextManager[Any]]) -> bytes:
    """The Prometheus text format of everything; registers the database gauges once."""
    global _gauges
    if _gauges is None:
        _gauges = DatabaseGauges(connect)
        REGISTRY.register(_gauges)
    _gauges.connect = connect
    return generate_latest(REGISTRY)
