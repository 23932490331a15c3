"""The OpenAPI document and the problem+json contract."""

from __future__ import annotations

from typing import Any

from azure.functions.decorators.function_app import Function
from openapi_spec_validator import validate

from shared.api.openapi import openapi_document
from shared.services import Services, use_services
from tests.api.conftest import User
from tests.support.api import Client, http_functions


def _registered(functions: dict[str, Function]) -> set[tuple[str, str]]:
    return {
        (method.lower(), "/" + route.template)
        for route in http_functions(functions)
        for method in route.methods
    }


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_every_registered_http_function_is_documented_and_nothing_else(
    functions: dict[str, Function],
) -> None:
    assert _registered(functions) == _documented(openapi_document())


def test_no_route_claims_a_prefix_the_functions_host_reserves(
    functions: dict[str, Function],
) -> None:
    """The host refuses to load a function whose route template starts with "admin" or
    "runtime" (its own APIs), whatever the route prefix; the devhost does not check it."""
    for route in http_functions(functions):
        assert not route.template.lower().startswith(("admin", "runtime")), route.name


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_operation_ids_are_the_function_names(functions: dict[str, Function]) -> None:
    document = openapi_document()
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert ids == {route.name for route in http_functions(functions)}


def test_list_parameters_come_from_the_filter_model() -> None:
    operation = openapi_document()["paths"]["/invoices"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"status", "vendor", "currency", "date_from", "date_to", "min_total", "max_total", "q",
            "sort", "limit", "cursor"} == names  # fmt: skip


def test_only_health_is_public() -> None:
    document = openapi_document()
    public = [
        path
        for path, item in document["paths"].items()
        for op in item.values()
        if op.get("security") == []
    ]
    assert public == ["/health"]


def test_served_document_equals_the_generated_one(api: Client, alice: User) -> None:
    response = api.get("/api/openapi.json", token=alice.token("viewer"))
    assert response.status == 200
    assert response.json() == openapi_document()


def test_problem_details_shape(api: Client, alice: User) -> None:
    response = api.get("/api/invoices/search", token=alice.token("viewer"))
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "code", "instance", "field"}
    assert problem["status"] == 400
    assert problem["instance"] == "/api/invoices/search"
    assert problem["field"] == "q"


def test_database_outage_is_a_503_problem(api: Client, alice: User, api_services: Services) -> None:
    from psycopg_pool import ConnectionPool as Pool

    dead = Pool(
        "postgresql://nobody@127.0.0.1:1/none", min_size=0, max_size=1, open=False, timeout=0.5
    )
    dead.open(wait=False)
    use_services(Services(api_services.settings, pool=dead))
    try:
        response = api.get("/api/invoices", token=alice.token("viewer"))
    finally:
        use_services(api_services)
        dead.close()
    assert response.status == 503
    assert response.json()["code"] == "service_unavailable"
    assert "127.0.0.1" not in response.body.decode()


def test_detailed_health_reports_each_dependency(api: Client, alice: User) -> None:
    assert api.get("/api/health/detailed", token=alice.token("processor")).status == 403
    response = api.get("/api/health/detailed", token=alice.token("admin"))
    assert response.status == 200, response.body
    body = response.json()
    by_name = {d["name"]: d for d in body["dependencies"]}
    assert by_name["postgresql"]["status"] == "up" and by_name["postgresql"]["latency_ms"] >= 0
    assert by_name["blob_storage"]["status"] == "up"
    assert by_name["redis"]["status"] == "not_configured"
    assert body["status"] == "ok"


def test_a_stopped_database_is_down_while_liveness_stays_up(
    api: Client, alice: User, api_services: Services
) -> None:
    from psycopg_pool import ConnectionPool as Pool

    dead = Pool("postgresql://nobody@127.0.0.1:1/none", min_size=0, max_size=1, open=False,
                timeout=0.5)  # fmt: skip
    dead.open(wait=False)
    use_services(Services(api_services.settings, pool=dead))
    try:
        detailed = api.get("/api/health/detailed", token=alice.token("admin"))
        liveness = api.get("/api/health")
    finally:
        use_services(api_services)
        dead.close()
    assert liveness.status == 200
    assert detailed.status == 503
    body = detailed.json()
    assert body["status"] == "down"
    database = next(d for d in body["dependencies"] if d["name"] == "postgresql")
    assert database["status"] == "down" and "127.0.0.1" not in str(database)


def test_detailed_health_probes_the_llm_when_the_extractor_uses_it(
    api: Client, alice: User, api_services: Services
) -> None:
    import dataclasses

    from shared.config import LlmSettings
    from tests.fakes.openai_server import fake_openai

    def llm_health(extractor: str, base_url: str) -> tuple[int, dict[str, Any]]:
        llm = LlmSettings(base_url=base_url, model="m", timeout_seconds=2)
        settings = dataclasses.replace(api_services.settings, extractor=extractor, llm=llm)
        use_services(Services(settings, pool=api_services.pool))
        try:
            response = api.get("/api/health/detailed", token=alice.token("admin"))
        finally:
            use_services(api_services)
        body = response.json()
        return response.status, next(d for d in body["dependencies"] if d["name"] == "llm")

    with fake_openai() as server:
        status, llm = llm_health("llm", server.base_url)
        assert (status, llm["status"], llm["required"]) == (200, "up", True)
        assert llm["latency_ms"] >= 0
        gone = server.base_url
    status, llm = llm_health("llm", gone)  # the server stopped: a required dependency is down
    assert (status, llm["status"]) == (503, "down")
    status, llm = llm_health("auto", gone)  # with auto the rules stand in: degraded, not down
    assert (status, llm["status"], llm["required"]) == (200, "down", False)
