"""The one adapter between the Functions HTTP trigger and shared.api."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.api.http import ApiRequest, ApiResponse
from shared.api.problems import from_error
from shared.api.routes import BY_NAME, REQUEST_ID_HEADER, dispatch
from shared.errors import ServiceUnavailable
from shared.services import get_services

log = logging.getLogger(__name__)


def _answer(
    req: func.HttpRequest, route_name: str, bindings: dict[str, Any] | None = None
) -> ApiResponse:
    request = ApiRequest(
        method=req.method.upper(),
        path=urlsplit(req.url).path,
        route_params=dict(req.route_params),
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
        bindings=bindings or {},
    )
    return dispatch(BY_NAME[route_name], request, get_services)


def _to_functions(response: ApiResponse) -> func.HttpResponse:
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    return func.HttpResponse(
        body=response.body,
        status_code=response.status,
        headers=response.headers,
        mimetype=content_type.split(";")[0].strip(),
    )


def serve(
    req: func.HttpRequest,
    route_name: str,
    *,
    bindings: dict[str, Any] | None = None,
    outputs: dict[str, func.Out[str]] | None = None,
) -> func.HttpResponse:
    """Answer through shared.api; `bindings` are input binding values for the handler, and
    `outputs` the output bindings it may set (by the same names the handler uses)."""
    response = _answer(req, route_name, bindings)
    for name, value in response.outputs.items():
        if outputs and name in outputs:
            outputs[name].set(value)
    return _to_functions(response)


async def serve_with_client(
    req: func.HttpRequest, route_name: str, client: Any
) -> func.HttpResponse:
    """For routes that start orchestrations: the handler decides, this starts them."""
    response = await asyncio.to_thread(_answer, req, route_name)
    failed = 0
    for start in response.starts:
        try:
            await client.start_new(start.name, start.instance_id, start.input)
        except Exception:
            log.exception("could not start orchestration %s", start.instance_id)
            failed += 1
    if failed:
        request_id = response.headers.get(REQUEST_ID_HEADER)
        response = from_error(
            ServiceUnavailable(
                f"{failed} of {len(response.starts)} orchestrations could not be started; try again"
            ),
            instance=urlsplit(req.url).path,
        )
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
    return _to_functions(response)
