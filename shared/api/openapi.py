"""The OpenAPI 3.1 document, generated from the route table and the same pydantic models that
validate requests and shape responses, so it cannot drift from what the code accepts."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared import __version__
from shared.api.problems import PROBLEM_TYPE
from shared.api.routes import ROUTES, Route

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")
_REASONS = {
    400: "The request breaks the contract; `field` names the parameter",
    401: "No valid bearer token",
    403: "The caller's roles do not allow this",
    404: "No such resource for this caller",
    409: "The resource's state does not allow this",
    412: "If-Match does not match the current version",
    429: "Rate limited; see Retry-After",
    500: "Internal error",
    503: "A dependency is unavailable",
}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    field: str | None = None


Refs = dict[tuple[Any, JsonSchemaMode], Any]


def _schemas() -> tuple[Refs, dict[str, Any]]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for route in ROUTES:
        if route.query:
            models.append((route.query, "validation"))
        if route.body:
            models.append((route.body, "validation"))
        if route.response:
            models.append((route.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    defs: dict[str, Any] = top.get("$defs", {})
    return dict(refs), defs


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[Any]:
    schema = components[model.__name__]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _operation(
    route: Route,
    refs: Refs,
    components: dict[str, Any],
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
    }
    parameters: list[Any] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    if route.query:
        parameters += _query_parameters(route.query, components)
    if route.name == "realtime_negotiate":
        parameters.append(
            {
                "name": "x-ms-client-principal-id",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Your user_id (GET /api/me); Easy Auth sets it in Azure",
            }
        )
    if route.name == "patch_invoice":
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The ETag of the version being corrected",
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": route.summary}
    if route.status != 204:
        schema = refs[(route.response, "serialization")] if route.response else {}
        success["content"] = {media: {"schema": schema} for media in route.media_types}
    responses: dict[str, Any] = {str(route.status): success}
    problem_ref = refs[(Problem, "serialization")]
    for status in route.errors:
        responses[str(status)] = {
            "description": _REASONS[status],
            "content": {"application/problem+json": {"schema": problem_ref}},
        }
    operation["responses"] = responses
    if route.role is None:
        operation["security"] = []
    else:
        operation["description"] = f"Requires the `{route.role.value}` role (or above)."
    return operation


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    refs, components = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault("/" + route.path, {})[route.method.lower()] = _operation(
            route, refs, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Invoice processing API",
            "version": __version__,
            "description": (
                "Errors are application/problem+json; `type` is "
                + PROBLEM_TYPE.format(code="{code}")
                + ". Every route but /health needs a bearer JWT."
            ),
        },
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
