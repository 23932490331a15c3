"""Who may call what: roles on every route, ownership in SQL, tokens, hostile input."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from shared.api.routes import ROUTES, Route
from shared.auth.principal import Role
from shared.storage import documents, jobs
from tests.api.conftest import User, new_user
from tests.e2e.stack import Stack
from tests.support.api import Client, Response
from tests.support.invoices import store

# A request each route accepts from an authorised caller.
BODIES: dict[str, Any] = {
    "patch_invoice": {"payment_terms": "Net 30"},
    "reject_invoice": {"reason": "wrong vendor"},
    "create_upload": {"filename": "scan.pdf"},
    # A filter that matches no job: the call is accepted and starts nothing.
    "reprocess_jobs": {"error_code": "no_job_failed_with_this_code"},
}
QUERIES: dict[str, dict[str, str]] = {"search_invoices": {"q": "acme"}}
PROTECTED = [route for route in ROUTES if route.role is not None]
# Routes whose functions need bindings only a Functions host provides (durable client,
# Web PubSub connection): called over HTTP on the devhost stack running the same app.
HOST_ROUTES = {"retry_job", "realtime_negotiate", "reprocess_jobs"}


class Caller:
    """Sends a request to the route's function: in-process, or through the devhost stack."""

    def __init__(self, api: Client, stack: Stack) -> None:
        self.api, self.stack = api, stack

    def token(self, route: Route, user: str, *roles: str) -> str:
        if route.name in HOST_ROUTES:
            return self.stack.token(user, *roles)
        return self.api.token(user, *roles)

    def send(
        self, route: Route, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if route.name in HOST_ROUTES:
            status, answer, response_headers = self.stack.call_full(
                route.method, path, body=body, headers=headers
            )
            return status, response_headers, answer
        response = self.api.request(
            route.method, path, headers=headers, json_body=body, query=QUERIES.get(route.name)
        )
        json_body = response.content_type.endswith("json") and response.body
        payload = response.json() if json_body else response.body
        return response.status, dict(response.headers), payload


@pytest.fixture
def caller(api: Client, stack: Stack) -> Caller:
    return Caller(api, stack)


def _seed_job(pool: ConnectionPool, owner: str) -> str:
    job_id = f"job-{uuid.uuid4().hex}"
    with pool.connection() as conn:
        jobs.start(conn, job_id=job_id, owner=owner, source_blob=f"{owner}/u/batch.zip")
        document = documents.register(
            conn,
            owner=owner,
            sha256=hashlib.sha256(job_id.encode()).hexdigest(),
            blob_path=f"{owner}/u/batch.zip",
        )
        jobs.add_documents(conn, job_id, [jobs.ManifestEntry(0, "a.pdf", "staged/a.pdf")])
        jobs.record_document(
            conn, job_id=job_id, position=0, outcome="failed", document_id=document.id,
            error_code="unsupported_type", error_message="not a document",
        )  # fmt: skip
    return job_id


def _call(api: Client, route: Route, ids: dict[str, str], token: str | None) -> Response:
    path = "/api/" + route.path.replace("{id}", ids["job" if route.tag == "jobs" else "invoice"])
    return api.request(
        route.method, path, token=token, json_body=BODIES.get(route.name),
        query=QUERIES.get(route.name),
    )  # fmt: skip


def _path(route: Route, ids: dict[str, str]) -> str:
    return "/api/" + route.path.replace("{id}", ids["job" if route.tag == "jobs" else "invoice"])


@pytest.fixture
def owned(api: Client, pool: ConnectionPool, alice: User) -> dict[str, str]:
    with pool.connection() as conn:
        invoice = str(store(conn, alice.owner))
    return {"invoice": invoice, "job": _seed_job(pool, alice.owner)}


def _allowed(route: Route, roles: tuple[str, ...]) -> bool:
    assert route.role is not None
    return any(Role(role).rank >= route.role.rank for role in roles)


@pytest.mark.parametrize("roles", [(), ("viewer",), ("processor",), ("admin",), ("guest",)])
@pytest.mark.parametrize("route", PROTECTED, ids=lambda route: route.name)
def test_every_role_on_every_route(
    caller: Caller, alice: User, owned: dict[str, str], route: Route, roles: tuple[str, ...]
) -> None:
    headers = {"Authorization": f"Bearer {caller.token(route, alice.name, *roles)}"}
    if route.name == "realtime_negotiate":
        headers["x-ms-client-principal-id"] = alice.owner
    status, _, body = caller.send(route, _path(route, owned), headers, BODIES.get(route.name))
    if _allowed(route, tuple(r for r in roles if r in Role.__members__.values())):
        assert status < 400, (route.name, roles, body)
    else:
        assert status == 403, (route.name, roles, body)
        assert body["code"] == "forbidden"


@pytest.mark.parametrize("route", PROTECTED, ids=lambda route: route.name)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "bearer x.y.z"],
)
def test_every_route_needs_a_valid_bearer_token(
    caller: Caller, owned: dict[str, str], route: Route, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    if route.name == "realtime_negotiate":  # its binding needs the header to run at all
        headers["x-ms-client-principal-id"] = "dev-anyone"
    status, response_headers, body = caller.send(
        route, _path(route, owned), headers, BODIES.get(route.name)
    )
    assert status == 401, body
    assert body["type"] == "urn:invoices:problem:unauthorized"
    assert response_headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(api: Client, alice: User) -> None:
    token = api.token(alice.name, "admin", minutes=-5)
    assert api.get("/api/invoices", token=token).status == 401


def test_health_needs_no_token(api: Client) -> None:
    response = api.get("/api/health")
    assert response.status == 200
    assert response.json()["status"] == "ok"


ID_ROUTES = [r for r in PROTECTED if "{id}" in r.path and r.tag == "invoices"]


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda route: route.name)
def test_another_users_invoice_is_indistinguishable_from_a_missing_one(
    api: Client, pool: ConnectionPool, alice: User, bob: User, route: Route
) -> None:
    with pool.connection() as conn:
        alices = str(store(conn, alice.owner))
    missing = str(uuid.uuid4())
    theirs = _call(api, route, {"invoice": alices, "job": ""}, bob.token("processor"))
    absent = _call(api, route, {"invoice": missing, "job": ""}, bob.token("processor"))
    assert theirs.status == absent.status == 404
    assert theirs.json() | {"detail": "", "instance": ""} == absent.json() | {
        "detail": "",
        "instance": "",
    }
    assert theirs.json()["detail"].replace(alices, missing) == absent.json()["detail"]
    # and nothing changed
    mine = api.get(f"/api/invoices/{alices}", token=alice.token("viewer")).json()
    assert mine["version"] == 1 and mine["status"] == "extracted"


def test_lists_search_export_and_jobs_show_only_the_callers_own(
    api: Client, pool: ConnectionPool, alice: User, bob: User
) -> None:
    with pool.connection() as conn:
        alices = str(store(conn, alice.owner, vendor_name="Secret Vendor Alice"))
        bobs = str(store(conn, bob.owner, vendor_name="Secret Vendor Bob"))
    alice_job = _seed_job(pool, alice.owner)
    token = bob.token("viewer")
    listed = [i["id"] for i in api.get("/api/invoices", token=token).json()["items"]]
    assert listed == [bobs]
    found = api.get("/api/invoices/search", token=token, query={"q": "secret vendor alice"})
    assert [i["invoice"]["id"] for i in found.json()["items"]] == [bobs]
    exported = api.get("/api/invoices/export", token=token, query={"format": "json"}).json()
    assert [i["id"] for i in exported] == [bobs]
    similar = api.get(f"/api/invoices/{bobs}/similar", token=token).json()["items"]
    assert alices not in [i["invoice"]["id"] for i in similar]
    assert api.get(f"/api/jobs/{alice_job}", token=token).status == 404
    assert alice_job not in [j["id"] for j in api.get("/api/jobs", token=token).json()["items"]]


def test_admin_sees_and_acts_on_every_owners_invoices(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        alices = str(store(conn, alice.owner))
    admin = new_user(api)
    token = admin.token("admin")
    assert api.get(f"/api/invoices/{alices}", token=token).json()["owner"] == alice.owner
    assert api.post(f"/api/invoices/{alices}/approve", token=token).status == 200
    events = api.get(f"/api/invoices/{alices}/events", token=alice.token("viewer")).json()
    assert events["items"][-1]["actor"] == admin.owner  # the audit trail names the admin


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE invoices; --",
    "\\'; SELECT pg_sleep(5); --",
    "1) OR (1=1",
    "%' OR owner LIKE '%",
    '" OR ""="',
    "$$; DELETE FROM invoices; $$",
    "\x00",
    "'::text || (SELECT owner FROM invoices LIMIT 1) || '",
]
FILTERS = ["status", "vendor", "currency", "date_from", "date_to", "min_total", "max_total", "q",
           "sort", "cursor", "limit"]  # fmt: skip


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("name", FILTERS)
def test_sql_injection_in_every_filter_is_inert(
    api: Client, pool: ConnectionPool, alice: User, bob: User, name: str, value: str
) -> None:
    with pool.connection() as conn:
        store(conn, bob.owner)
        mine = str(store(conn, alice.owner))
    token = alice.token("viewer")
    for path in ("/api/invoices", "/api/invoices/export"):
        response = api.get(path, token=token, query={name: value})
        assert response.status in (200, 400), (path, response.body)
        if response.status == 200 and path == "/api/invoices":
            assert {i["owner"] for i in response.json()["items"]} <= {alice.owner}
    search = api.get("/api/invoices/search", token=token, query={"q": value})
    assert search.status in (200, 400)
    if search.status == 200:
        assert {i["invoice"]["owner"] for i in search.json()["items"]} <= {alice.owner}
    assert api.get(f"/api/invoices/{mine}", token=token).status == 200


def test_injection_strings_are_stored_as_text(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    with pool.connection() as conn:
        invoice = str(store(conn, alice.owner))
    hostile = "Robert'); DROP TABLE invoices;--"
    response = api.patch(
        f"/api/invoices/{invoice}", token=alice.token(), json_body={"vendor_name": hostile}
    )
    assert response.status == 200
    assert api.get(f"/api/invoices/{invoice}", token=alice.token()).json()["vendor_name"] == hostile
    found = api.get("/api/invoices", token=alice.token(), query={"vendor": "drop table"}).json()
    assert [i["id"] for i in found["items"]] == [invoice]


def test_errors_never_leak_internals(api: Client, alice: User) -> None:
    response = api.get(
        "/api/invoices", token=alice.token("viewer"), query={"min_total": "1e999999"}
    )
    text = response.body.decode()
    assert response.status in (200, 400)
    for leak in ("Traceback", "psycopg", "SELECT", 'File "', "line "):
        assert leak not in text
