"""The durable client HTTP API, as the Durable extension serves it, over a `DurableEngine`.

`azure.durable_functions.DurableOrchestrationClient` calls it relative to the binding's
`rpcBaseUrl`; the URLs of `create_check_status_response` point under
/runtime/webhooks/durabletask. The host mounts the same handlers at both paths:

    POST   orchestrators/{functionName}[/{instanceId}]   start (body: JSON input) -> 202
    GET    instances/{instanceId}                        status -> 200 done, 202 running, 404
    GET    instances                                     list (runtimeStatus, createdTimeFrom,
                                                         createdTimeTo, instanceIdPrefix, top)
    POST   instances/{instanceId}/raiseEvent/{name}      -> 202, 404, 410 when finished
    POST   instances/{instanceId}/terminate?reason=      -> 202, 404, 410
    POST   instances/{instanceId}/suspend|resume         -> 202, 404, 410
    POST   instances/{instanceId}/restart                -> 202 with the new instance id
    DELETE instances/{instanceId}                        purge -> 200 {"instancesDeleted"}, 404
    DELETE instances                                     purge by filter -> 200, 404 when none

Bodies are JSON; the SDK double-encodes inputs and event data (a JSON string holding JSON text),
which is unwrapped here, so both it and curl work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from devhost.durable.engine import DurableEngine, InstanceStatus
from devhost.durable.errors import InstanceGone, InstanceNotFound, UnknownOrchestrator
from devhost.durable.store import InstanceQuery

RPC_PATH = "/durabletask"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"
CONNECTION = "Storage"
INSTANCE_PLACEHOLDER = "INSTANCEID"
CONTINUATION_HEADER = "x-ms-continuation-token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_binding(
    base_url: str, task_hub: str, *, rpc_path: str = RPC_PATH, webhook_path: str = WEBHOOK_PATH
) -> dict[str, Any]:
    """The `durableClient` binding value (JSON-encode it for the function) for a host whose
    origin is `base_url` (e.g. http://127.0.0.1:7071)."""
    origin = base_url.rstrip("/")
    webhook = f"{origin}{webhook_path}"
    query = _required_query(task_hub)
    start = f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return {
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{query}",
            "createAndWaitOnNewInstancePostUri": (
                f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                f"&{query}"
            ),
        },
        "managementUrls": management_urls(webhook, INSTANCE_PLACEHOLDER, task_hub),
        "baseUrl": webhook,
        "requiredQueryStringParameters": query,
        "rpcBaseUrl": f"{origin}{rpc_path.rstrip('/')}/",
        "httpBaseUrl": "",
        "maxGrpcMessageSizeInBytes": 0,
        "grpcHttpClientTimeout": "00:01:40",
    }


def management_urls(webhook: str, instance_id: str, task_hub: str) -> dict[str, str]:
    """The check-status payload: the instance's management URLs under `webhook`."""
    query = _required_query(task_hub)
    instance = f"{webhook}/instances/{instance_id}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{instance}?{query}",
        "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{instance}?{query}",
        "restartPostUri": f"{instance}/restart?{query}",
        "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
    }


def mount_client_api(
    app: web.Application,
    engine: DurableEngine,
    *,
    base_path: str,
    webhook_path: str = WEBHOOK_PATH,
) -> None:
    """Add the client API's routes under `base_path` (check-status URLs use `webhook_path`)."""
    api = _ClientApi(engine, webhook_path)
    base = base_path.rstrip("/")
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/orchestrators/{function}", api.start),
        ("POST", "/orchestrators/{function}/{instance}", api.start),
        ("GET", "/instances", api.list_instances),
        ("GET", "/instances/", api.list_instances),
        ("DELETE", "/instances", api.purge_where),
        ("DELETE", "/instances/", api.purge_where),
        ("GET", "/instances/{instance}", api.status),
        ("DELETE", "/instances/{instance}", api.purge),
        ("POST", "/instances/{instance}/raiseEvent/{event}", api.raise_event),
        ("POST", "/instances/{instance}/terminate", api.terminate),
        ("POST", "/instances/{instance}/suspend", api.suspend),
        ("POST", "/instances/{instance}/resume", api.resume),
        ("POST", "/instances/{instance}/restart", api.restart),
        ("POST", "/instances/{instance}/rewind", api.rewind),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, f"{base}{path}", _mapping_errors(handler))


def status_json(status: InstanceStatus, *, show_input: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": status.name,
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status,
        "input": _value(status.input) if show_input else None,
        "customStatus": _value(status.custom_status),
        "output": _value(status.output),
        "createdTime": _time(status.created_time),
        "lastUpdatedTime": _time(status.last_updated_time),
    }
    if status.history is not None:
        body["historyEvents"] = status.history
    return body


class _BadRequest(Exception):
    pass


def _mapping_errors(handler: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InstanceNotFound as exc:
            return web.json_response(str(exc), status=404)
        except InstanceGone as exc:
            return web.json_response(str(exc), status=410)
        except UnknownOrchestrator as exc:
            return web.json_response(
                {"Message": str(exc), "ExceptionMessage": str(exc)}, status=400
            )
        except _BadRequest as exc:
            return web.json_response({"Message": str(exc)}, status=400)

    return handle


class _ClientApi:
    def __init__(self, engine: DurableEngine, webhook_path: str) -> None:
        self.engine = engine
        self.webhook_path = webhook_path

    def _links(self, request: web.Request, instance_id: str) -> dict[str, str]:
        webhook = f"{request.scheme}://{request.host}{self.webhook_path}"
        return management_urls(webhook, quote(instance_id, safe=""), self.engine.task_hub) | {
            "id": instance_id
        }

    async def start(self, request: web.Request) -> web.StreamResponse:
        input_json = await _body_json_text(request)
        instance_id = await self.engine.start_new_json(
            request.match_info["function"], request.match_info.get("instance"), input_json
        )
        links = self._links(request, instance_id)
        timeout = request.query.get("timeout")
        if timeout:
            try:
                status = await self.engine.wait_for_completion(instance_id, float(timeout))
            except TimeoutError:
                pass
            else:
                return web.json_response(status_json(status), status=200)
        return web.json_response(
            links, status=202, headers={"Location": links["statusQueryGetUri"], "Retry-After": "1"}
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        instance_id = request.match_info["instance"]
        status = await self.engine.get_status(
            instance_id, show_history=_flag(request, "showHistory", False)
        )
        if status is None:
            return web.Response(status=404)
        body = status_json(status, show_input=_flag(request, "showInput", True))
        if status.runtime_status in ("Pending", "Running", "Suspended"):
            links = self._links(request, instance_id)
            headers = {"Location": links["statusQueryGetUri"], "Retry-After": "1"}
            return web.json_response(body, status=202, headers=headers)
        failed = status.runtime_status == "Failed"
        if failed and _flag(request, "returnInternalServerErrorOnFailure", False):
            return web.json_response(body, status=500)
        return web.json_response(body, status=200)

    async def list_instances(self, request: web.Request) -> web.StreamResponse:
        query = _query(request)
        top = query.top
        if top is not None:
            # One more than asked, to know whether a continuation token is due.
            query = dataclasses.replace(query, top=top + 1)
        statuses = await self.engine.list_instances(query)
        headers = {}
        if top is not None and len(statuses) > top:
            statuses = statuses[:top]
            headers[CONTINUATION_HEADER] = str(query.skip + top)
        show_input = _flag(request, "showInput", True)
        return web.json_response(
            [status_json(s, show_input=show_input) for s in statuses], headers=headers
        )

    async def purge(self, request: web.Request) -> web.StreamResponse:
        deleted = await self.engine.purge(request.match_info["instance"])
        return web.json_response({"instancesDeleted": deleted}, status=200 if deleted else 404)

    async def purge_where(self, request: web.Request) -> web.StreamResponse:
        deleted = await self.engine.purge_where(_query(request))
        return web.json_response({"instancesDeleted": deleted}, status=200 if deleted else 404)

    async def raise_event(self, request: web.Request) -> web.StreamResponse:
        data = await _body_json_text(request)
        await self.engine.raise_event_json(
            request.match_info["instance"], request.match_info["event"], data
        )
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.StreamResponse:
        await self.engine.terminate(request.match_info["instance"], request.query.get("reason", ""))
        return web.Response(status=202)

    async def suspend(self, request: web.Request) -> web.StreamResponse:
        await self.engine.suspend(request.match_info["instance"], request.query.get("reason", ""))
        return web.Response(status=202)

    async def resume(self, request: web.Request) -> web.StreamResponse:
        await self.engine.resume(request.match_info["instance"], request.query.get("reason", ""))
        return web.Response(status=202)

    async def restart(self, request: web.Request) -> web.StreamResponse:
        new_id = _flag(request, "restartWithNewInstanceId", True)
        instance_id = await self.engine.restart(
            request.match_info["instance"], new_instance_id=new_id
        )
        return web.json_response(instance_id, status=202)

    async def rewind(self, request: web.Request) -> web.StreamResponse:
        return web.json_response("rewind is not supported by the devhost", status=501)


async def _body_json_text(request: web.Request) -> str | None:
    """The request body as JSON text; a JSON string holding JSON (what the SDK sends) is
    unwrapped once."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise _BadRequest("the request body is not JSON") from exc
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return json.dumps(value)
        return value
    return json.dumps(value)


def _query(request: web.Request) -> InstanceQuery:
    statuses = [s for s in request.query.get("runtimeStatus", "").split(",") if s]
    top = request.query.get("top")
    skip = request.headers.get(CONTINUATION_HEADER) or "0"
    try:
        return InstanceQuery(
            runtime_status=statuses or None,
            created_from=_parse_time(request.query.get("createdTimeFrom")),
            created_to=_parse_time(request.query.get("createdTimeTo")),
            instance_id_prefix=request.query.get("instanceIdPrefix") or None,
            top=int(top) if top else None,
            skip=int(skip),
        )
    except ValueError as exc:
        raise _BadRequest(f"bad query: {exc}") from exc


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def _value(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _required_query(task_hub: str) -> str:
    return f"taskHub={quote(task_hub, safe='')}&connection={CONNECTION}"
