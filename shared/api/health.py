"""GET /api/health/detailed: each dependency's status and latency, for operators.

Required dependencies (PostgreSQL, blob storage) being down makes the answer 503; optional ones
(Redis: limits and key caching fall back in-process; Web PubSub: progress is best effort) are
reported but do not. Liveness (/api/health) never touches any of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from shared.api.call import Call
from shared.api.http import ApiResponse
from shared.cache import redis_client
from shared.services import Services

Status = Literal["up", "down", "not_configured"]


class Dependency(BaseModel):
    name: str
    required: bool
    status: Status
    latency_ms: float | None = None
    detail: str | None = None


class DetailedHealth(BaseModel):
    status: Literal["ok", "degraded", "down"]
    dependencies: list[Dependency]


def _probe(name: str, required: bool, check: Callable[[], None] | None) -> Dependency:
    if check is None:
        return Dependency(name=name, required=required, status="not_configured")
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure is "down"; the type names it, never a secret
        return Dependency(name=name, required=required, status="down", detail=type(exc).__name__)
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    return Dependency(name=name, required=required, status="up", latency_ms=elapsed)


def _database(services: Services) -> Callable[[], None]:
    def check() -> None:
        with services.connection() as conn:
            conn.execute("SELECT 1").fetchone()

    return check


def _blobs(services: Services) -> Callable[[], None]:
    def check() -> None:
        container = services.settings.blobs.incoming_container
        services.blobs.get_container_client(container).get_container_properties(timeout=5)

    return check


def _redis(url: str) -> Callable[[], None]:
    def check() -> None:
        client: Any = redis_client(url)
        try:
            client.ping()
        finally:
            client.close()

    return check


def dependencies(services: Services, environ_web_pubsub: str | None) -> list[Dependency]:
    settings = services.settings
    return [
        _probe("postgresql", True, _database(services)),
        _probe("blob_storage", True, _blobs(services)),
        _probe("redis", False, _redis(settings.redis_url) if settings.redis_url else None),
        Dependency(
            name="web_pubsub",
            required=False,
            status="up" if environ_web_pubsub else "not_configured",
            detail="connection configured" if environ_web_pubsub else None,
        ),
        _llm(services),
    ]


def _llm(services: Services) -> Dependency:
    """The LLM endpoint, when the extractor uses one: required with EXTRACTOR=llm (documents
    fail without it), optional with auto (the rules stand in). An open circuit is down
    without a probe: the breaker already knows."""
    settings = services.settings
    if settings.extractor == "rules" or not settings.llm.configured:
        detail = "EXTRACTOR=rules" if settings.extractor == "rules" else "no endpoint configured"
        return Dependency(name="llm", required=False, status="not_configured", detail=detail)
    required = settings.extractor == "llm"
    client = services.extractor.client
    if client is None:  # cannot happen when configured; keeps the types honest
        return Dependency(name="llm", required=required, status="not_configured")
    if client.breaker.state == "open":
        return Dependency(name="llm", required=required, status="down", detail="circuit open")
    dependency = _probe("llm", required, lambda: client.probe(timeout=5))
    return dependency.model_copy(update={"detail": dependency.detail or client.model})


def detailed(call: Call) -> ApiResponse:
    found = dependencies(call.services, call.services.settings.web_pubsub_connection)
    if any(d.required and d.status == "down" for d in found):
        status: Literal["ok", "degraded", "down"] = "down"
    elif any(d.status == "down" for d in found):
        status = "degraded"
    else:
        status = "ok"
    body = DetailedHealth(status=status, dependencies=found)
    return ApiResponse.json(503 if status == "down" else 200, body)
