"""The Function App composes its blueprints; liveness answers without dependencies."""

from __future__ import annotations

import json

import azure.functions as func
from azure.functions.decorators.function_app import Function


def test_function_app_registers_health_as_anonymous_get_route(
    functions: dict[str, Function],
) -> None:
    # The raw bindings are the JSON the Functions host reads.
    bindings = [json.loads(raw) for raw in functions["health"].get_raw_bindings()]
    trigger = next(b for b in bindings if b["type"] == "httpTrigger")
    assert trigger["route"] == "health"
    assert trigger["methods"] == ["GET"]
    assert trigger["authLevel"] == "ANONYMOUS"


def test_health_returns_ok_json_without_touching_dependencies(
    functions: dict[str, Function],
) -> None:
    handler = functions["health"].get_user_function()
    request = func.HttpRequest(method="GET", url="/api/health", body=b"")
    response = handler(request)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body())["status"] == "ok"


def test_funcignore_keeps_development_files_out_of_the_deployment() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    ignored = set((root / ".funcignore").read_text().split())
    # local data holds dev-issuer private keys and database files: never deploy it
    assert {"tests", "bench", "devhost", ".venv", "node_modules", ".data",
            "local.settings.json"} <= ignored  # fmt: skip
