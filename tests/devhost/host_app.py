# mypy: disallow-untyped-decorators=False
"""A small function app that exercises every trigger and binding the devhost supports.

The devhost tests run it (`HostOptions(app_module="tests.devhost.host_app")`) with settings
that name the storage connection (`DEVHOST_STORAGE`), the Event Grid container
(`EVENT_GRID_CONTAINER`) and the Web PubSub hub (`DEVHOST_HUB`). Blob functions record each
call in `CALLS` so tests can wait for them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.functions.blob import InputStream as BlobInputStream

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@dataclass(frozen=True)
class Call:
    function: str
    name: str
    uri: str
    length: int | None
    content: bytes
    metadata: dict[str, str]
    properties: dict[str, Any]


CALLS: list[Call] = []
_calls_lock = threading.Lock()


def calls(function: str, name: str) -> list[Call]:
    with _calls_lock:
        return [c for c in CALLS if c.function == function and c.name == name]


def _record(function: str, blob: func.InputStream) -> None:
    assert isinstance(blob, BlobInputStream)  # the worker's concrete stream, not the ABC
    call = Call(
        function=function,
        name=blob.name or "",
        uri=blob.uri or "",
        length=blob.length,
        content=blob.read(),
        metadata=dict(blob.metadata or {}),
        properties=dict(blob.blob_properties or {}),
    )
    with _calls_lock:
        CALLS.append(call)


def _json(value: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


# -- HTTP: auth levels, routes, request and response ----------------------------------------


@app.route(route="ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> str:
    return "pong"


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_id", "route_params": dict(req.route_params)})


@app.route(route="items/{name:alpha:maxlength(8)}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_name", "route_params": dict(req.route_params)})


@app.route(route="items/special", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "special_item"})


@app.route(route="pages/{section}/{page:int?}", methods=["GET"], auth_level="anonymous")
def pages(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(route="files/{*path}", methods=["GET"], auth_level="anonymous")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(route="admin/stats", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_stats(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "admin_stats"})


@app.route(route="echo/{tag}", methods=["POST", "PUT"], auth_level="anonymous")
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Everything the worker's HttpRequest carries, and a response with status, headers, cookie."""
    body = req.get_body()
    document = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "header": req.headers.get("x-custom"),
        "body": body.decode(),
        "json": req.get_json() if body.startswith(b"{") else None,
    }
    response = _json(document, status=201)
    response.headers["X-Echo"] = req.route_params["tag"]
    response.headers["Set-Cookie"] = "session=abc; Path=/; HttpOnly"
    return response


@app.route(
    route="named-output", methods=["GET"], auth_level="anonymous", binding_arg_name="response"
)
def named_output(req: func.HttpRequest, response: func.Out[func.HttpResponse]) -> None:
    response.set(func.HttpResponse("from a named output", status_code=202))


@app.route(route="context", methods=["GET"], auth_level="anonymous")
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"invocation_id": context.invocation_id, "function": context.function_name})


@app.route(route="nothing", methods=["GET"], auth_level="anonymous")
def nothing(req: func.HttpRequest) -> None:
    return None


@app.route(route="broken", methods=["GET"], auth_level="anonymous")
async def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("this function always fails")


# -- Blob triggers ----------------------------------------------------------------------------


@app.blob_trigger(arg_name="blob", path="devhost-incoming/{name}", connection="DEVHOST_STORAGE")
def on_incoming(blob: func.InputStream) -> None:
    _record("on_incoming", blob)
    if (blob.name or "").split("/", 1)[1].startswith("fail-"):
        raise ValueError(f"cannot process {blob.name}")


@app.blob_trigger(
    arg_name="document",
    path="%EVENT_GRID_CONTAINER%/{owner}/{filename}.txt",
    connection="DEVHOST_STORAGE",
    source=func.BlobSource.EVENT_GRID,
)
def on_event_grid(document: func.InputStream) -> None:
    _record("on_event_grid", document)


# -- Durable Functions: a client starts an orchestration that calls an activity -------------


@app.route(route="orchestrations/{name}", methods=["POST"], auth_level="anonymous")
@app.durable_client_input(client_name="client")
async def start_orchestration(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.orchestration_trigger(context_name="context")
def greet_all(context: df.DurableOrchestrationContext) -> Generator[Any, Any, list[str]]:
    names: list[str] = context.get_input() or []
    greetings = yield context.task_all([context.call_activity("greet", n) for n in names])
    return list(greetings)


@app.activity_trigger(input_name="name")
@app.generic_output_binding(arg_name="actions", type="webPubSub", hub="%DEVHOST_HUB%")
def greet(name: str, actions: func.Out[str]) -> str:
    greeting = f"Hello, {name}!"
    actions.set(json.dumps({"actionName": "sendToAll", "data": greeting, "dataType": "text"}))
    return greeting


# -- Web PubSub: a connection for the caller, and a broadcast ---------------------------------


@app.route(route="realtime/negotiate", methods=["GET"], auth_level="anonymous")
@app.generic_input_binding(
    arg_name="connection",
    type="webPubSubConnection",
    hub="%DEVHOST_HUB%",
    userId="{headers.x-ms-client-principal-id}",
)
def negotiate(req: func.HttpRequest, connection: str) -> func.HttpResponse:
    return func.HttpResponse(connection, mimetype="application/json")


@app.route(route="realtime/broadcast", methods=["POST"], auth_level="anonymous")
@app.generic_output_binding(arg_name="actions", type="webPubSub", hub="%DEVHOST_HUB%")
def broadcast(req: func.HttpRequest, actions: func.Out[str]) -> func.HttpResponse:
    text = req.get_body().decode()
    actions.set(json.dumps([{"actionName": "sendToAll", "data": text, "dataType": "text"}]))
    return func.HttpResponse(status_code=202)
