"""Every HTTP route in one table, and `dispatch`, the one path every request takes.

dispatch: authenticate (bearer JWT) -> authorize (role) -> rate-limit (per user) -> handler,
and any error on the way becomes problem+json. Blueprints bind each Route to a trigger; the
OpenAPI document is generated from this table, and a test holds the two together.

Each request runs in a span and a log context with its request id (the caller's `x-request-id`
when it is a sane token, else a new one; echoed in the response) and route name, and, once
authenticated, the caller's hashed owner id.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from shared import __version__
from shared.api import admin, invoices, jobs, realtime, uploads
from shared.api import health as health_checks
from shared.api.call import Call
from shared.api.http import ApiRequest, ApiResponse
from shared.api.problems import from_error, internal_error
from shared.auth.principal import Principal, Role, require
from shared.errors import InvoiceError, Unauthorized
from shared.logs import log_context
from shared.metrics import HTTP_DURATION, HTTP_REQUESTS, exposition
from shared.services import Services
from shared.storage.records import (
    InvoicePage,
    InvoiceRecord,
    JobPage,
    JobRecord,
    ProblemJobPage,
)
from shared.storage.stats import SystemStats
from shared.telemetry import span

logger = logging.getLogger(__name__)

Handler = Callable[[Call], ApiResponse]


@dataclass(frozen=True)
class Route:
    name: str  # the function name and the OpenAPI operationId
    method: str
    path: str  # the Functions route template, without the /api prefix
    summary: str
    tag: str
    # None: public (no token, no rate limit). Only health.
    role: Role | None
    handler: Callable[..., ApiResponse]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media_types: tuple[str, ...] = ("application/json",)
    rate: Literal["api", "uploads"] = "api"
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 429, 500))
    # A Prometheus scrape target: also accepts `Authorization: Bearer <METRICS_TOKEN>`, or,
    # with METRICS_AUTH=function_key, whatever the Functions host let through (it checked a
    # function key; blueprints/metrics.py declares the function at AuthLevel.FUNCTION).
    scrape_token: bool = False


class Health(BaseModel):
    status: str
    version: str


def health(_: ApiRequest) -> ApiResponse:
    return ApiResponse.json(200, Health(status="ok", version=__version__))


def _metrics(call: Call) -> ApiResponse:
    body = exposition(call.services.connection)
    return ApiResponse(
        200, body, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )


def _openapi(call: Call) -> ApiResponse:
    from shared.api.openapi import openapi_document

    return ApiResponse.json(200, openapi_document())


V, P = Role.VIEWER, Role.PROCESSOR
_NO_ID = (400, 401, 403, 429, 500)

ROUTES: tuple[Route, ...] = (
    Route("health", "GET", "health", "Liveness", "operations", None, health,
          response=Health, errors=()),
    Route("health_detailed", "GET", "health/detailed",
          "Each dependency's status and latency (503 when a required one is down)", "operations",
          Role.ADMIN, health_checks.detailed, response=health_checks.DetailedHealth,
          errors=(401, 403, 429, 500)),
    Route("openapi", "GET", "openapi.json", "This document", "operations", V, _openapi,
          errors=(401, 403, 429, 500)),
    Route("metrics", "GET", "metrics",
          "Prometheus metrics (admin JWT or METRICS_TOKEN; a function key with "
          "METRICS_AUTH=function_key)", "operations", Role.ADMIN, _metrics,
          media_types=("text/plain",), errors=(401, 403, 429, 500), scrape_token=True),
    Route("me", "GET", "me", "Who the bearer token says you are", "operations", V, realtime.me,
          response=realtime.Me, errors=(401, 403, 429, 500)),
    Route("realtime_negotiate", "GET", "realtime/negotiate",
          "A Web PubSub connection that receives your own progress messages", "realtime", V,
          realtime.negotiate, response=realtime.RealtimeConnection,
          errors=(400, 401, 403, 429, 500, 503)),
    Route("create_upload", "POST", "uploads", "A write-only upload URL for one document",
          "uploads", P, uploads.create_upload, body=uploads.UploadRequest,
          response=uploads.UploadTicketOut, status=201, rate="uploads", errors=_NO_ID),
    Route("list_jobs", "GET", "jobs", "Jobs, newest first", "jobs", V, jobs.list_jobs,
          query=jobs.JobListQuery, response=JobPage, errors=_NO_ID),
    Route("get_job", "GET", "jobs/{id}", "A job with its per-document outcomes", "jobs", V,
          jobs.get_job, response=JobRecord),
    Route("retry_job", "POST", "jobs/{id}/retry", "Re-run the failed documents of a job", "jobs",
          P, jobs.retry_job, response=jobs.RetryStarted, status=202,
          errors=(400, 401, 403, 404, 409, 429, 500)),
    Route("list_invoices", "GET", "invoices", "Invoices: filters and keyset pagination",
          "invoices", V, invoices.list_invoices, query=invoices.InvoiceListQuery,
          response=InvoicePage, errors=_NO_ID),
    Route("search_invoices", "GET", "invoices/search", "Full-text and similarity search",
          "invoices", V, invoices.search_invoices, query=invoices.SearchQuery,
          response=invoices.ScoredInvoices, errors=_NO_ID),
    Route("export_invoices", "GET", "invoices/export", "Export as CSV or JSON (same filters)",
          "invoices", V, invoices.export_invoices, query=invoices.ExportQuery,
          media_types=("text/csv", "application/json"), errors=_NO_ID),
    Route("get_invoice", "GET", "invoices/{id}", "One invoice with its line items", "invoices",
          V, invoices.get_invoice, response=InvoiceRecord),
    Route("patch_invoice", "PATCH", "invoices/{id}", "Correct fields (JSON merge patch)",
          "invoices", P, invoices.patch_invoice, body=invoices.InvoicePatch,
          response=InvoiceRecord, errors=(400, 401, 403, 404, 409, 412, 429, 500)),
    Route("delete_invoice", "DELETE", "invoices/{id}", "Delete (soft; the audit trail stays)",
          "invoices", P, invoices.delete_invoice, status=204),
    Route("approve_invoice", "POST", "invoices/{id}/approve", "Approve", "invoices", P,
          invoices.approve_invoice, response=InvoiceRecord,
          errors=(400, 401, 403, 404, 409, 429, 500)),
    Route("reject_invoice", "POST", "invoices/{id}/reject", "Reject, with a reason",
          "invoices", P, invoices.reject_invoice, body=invoices.RejectBody,
          response=InvoiceRecord, errors=(400, 401, 403, 404, 409, 429, 500)),
    Route("invoice_events", "GET", "invoices/{id}/events", "The audit trail", "invoices", V,
          invoices.invoice_events),
    Route("similar_invoices", "GET", "invoices/{id}/similar", "Nearest invoices by embedding",
          "invoices", V, invoices.similar_invoices, query=invoices.SimilarQuery,
          response=invoices.ScoredInvoices),
    Route("invoice_document", "GET", "invoices/{id}/document",
          "A short-lived read URL for the source document", "invoices", V,
          invoices.document_link, response=invoices.DocumentLink),
    # Not under admin/: the Functions host reserves route templates that start with "admin"
    # (and "runtime") for its own APIs and refuses to load such a function.
    Route("system_stats", "GET", "ops/stats", "System-wide numbers for operators", "admin",
          Role.ADMIN, admin.system_stats, query=admin.StatsQuery, response=SystemStats,
          errors=_NO_ID),
    Route("problem_jobs", "GET", "ops/jobs", "Failed and stuck jobs of every owner", "admin",
          Role.ADMIN, admin.problem_jobs, query=admin.ProblemJobsQuery, response=ProblemJobPage,
          errors=_NO_ID),
    Route("reprocess_jobs", "POST", "ops/reprocess",
          "Re-run the failed documents of chosen or matching jobs (and restart stuck jobs)",
          "admin", Role.ADMIN, admin.reprocess, body=admin.ReprocessRequest,
          response=admin.ReprocessStarted, status=202, errors=(400, 401, 403, 429, 500, 503)),
)  # fmt: skip

BY_NAME = {route.name: route for route in ROUTES}


def _rate_limit(route: Route, services: Services, user_id: str) -> None:
    limits = services.settings.rate_limits
    per_minute = limits.uploads_per_minute if route.rate == "uploads" else limits.api_per_minute
    services.limiter.hit(f"{route.rate}:{user_id}", per_minute)


SCRAPER = Principal(user_id="metrics-scraper", roles=frozenset({Role.ADMIN}), issuer="metrics")


def _is_scrape(request: ApiRequest, services: Services) -> bool:
    if services.settings.metrics_auth == "function_key":
        # The host checked the key before the call got here. Its absence means the function
        # was not declared at AuthLevel.FUNCTION after all: refuse rather than serve anyone.
        if not (request.header("x-functions-key") or request.query.get("code")):
            raise Unauthorized("a function key is required (x-functions-key or ?code=)")
        return True
    token = services.settings.metrics_token
    presented = request.header("authorization") or ""
    return bool(token) and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")


def request_id(request: ApiRequest) -> str:
    """The caller's request id when it is a plain token (it goes into every log line), else new."""
    offered = request.header(REQUEST_ID_HEADER) or ""
    return offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def dispatch(
    route: Route, request: ApiRequest, get_services: Callable[[], Services]
) -> ApiResponse:
    """Answer one request, and count it (route, method, status, duration)."""
    started = time.perf_counter()
    rid = request_id(request)
    template = f"/api/{route.path}"
    attributes = {"http.request.method": request.method, "http.route": template,
                  "url.path": request.path, "request_id": rid}  # fmt: skip
    with (
        log_context(request_id=rid, route=route.name),
        span(f"{request.method} {template}", kind=SpanKind.SERVER, attributes=attributes) as s,
    ):
        response = _answer(route, request, get_services)
        s.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            s.set_status(StatusCode.ERROR)
    response.headers[REQUEST_ID_HEADER] = rid
    HTTP_REQUESTS.labels(route.name, request.method, str(response.status)).inc()
    HTTP_DURATION.labels(route.name).observe(time.perf_counter() - started)
    return response


def _answer(route: Route, request: ApiRequest, get_services: Callable[[], Services]) -> ApiResponse:
    """Services are looked up only for routes that need them, so the public health route
    works even when the configuration is broken."""
    try:
        if route.role is None:
            return route.handler(request)
        services = get_services()
        if route.scrape_token and _is_scrape(request, services):
            principal = SCRAPER
        else:
            principal = services.authenticator.authenticate(request.header("authorization"))
            require(principal, route.role)
            _rate_limit(route, services, principal.user_id)
        with log_context(owner=principal.user_id):
            return route.handler(Call(request, principal, services))
    except InvoiceError as error:
        # Codes only: messages may quote user input, and tokens never reach this far.
        logger.info("%s %s -> %s", request.method, route.name, error.code)
        return from_error(error, instance=request.path)
    except Exception:
        logger.exception("%s %s failed", request.method, route.name)
        return internal_error(request.path)
