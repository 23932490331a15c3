"""Rate limits through the API: a burst gets exactly the limit, then 429 with Retry-After."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from psycopg_pool import ConnectionPool

from shared.config import RateLimits, Settings
from shared.services import Services, use_services
from tests.api.conftest import User
from tests.support.api import Client

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(params=[REDIS_URL, None], ids=["redis", "in-process"])
def limited(
    request: pytest.FixtureRequest,
    api_settings: Settings,
    api_services: Services,
    pool: ConnectionPool,
) -> Iterator[Settings]:
    settings = dataclasses.replace(
        api_settings,
        redis_url=request.param,
        rate_limits=RateLimits(api_per_minute=5, uploads_per_minute=2),
    )
    use_services(Services(settings, pool=pool))
    yield settings
    use_services(api_services)


def test_api_burst_gets_exactly_the_limit(api: Client, alice: User, limited: Settings) -> None:
    token = alice.token("viewer")
    with ThreadPoolExecutor(max_workers=8) as executor:
        responses = list(executor.map(lambda _: api.get("/api/invoices", token=token), range(20)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 5 + [429] * 15
    limited_response = next(r for r in responses if r.status == 429)
    assert limited_response.json()["code"] == "rate_limited"
    assert 1 <= int(limited_response.headers["Retry-After"]) <= 60


def test_limits_are_per_user(api: Client, alice: User, bob: User, limited: Settings) -> None:
    for _ in range(5):
        assert api.get("/api/invoices", token=alice.token("viewer")).status == 200
    assert api.get("/api/invoices", token=alice.token("viewer")).status == 429
    assert api.get("/api/invoices", token=bob.token("viewer")).status == 200


def test_uploads_have_their_own_tighter_limit(api: Client, alice: User, limited: Settings) -> None:
    token = alice.token("processor")
    statuses = [
        api.post("/api/uploads", token=token, json_body={"filename": "a.pdf"}).status
        for _ in range(4)
    ]
    assert statuses == [201, 201, 429, 429]
    assert api.get("/api/invoices", token=token).status == 200  # the API budget is separate
