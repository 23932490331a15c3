"""The one adapter between the Functions HTTP trigger and shared.api."""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from shared.api.http import ApiRequest
from shared.api.routes import BY_NAME, dispatch
from shared.services import get_services


def serve(req: func.HttpRequest, route_name: str) -> func.HttpResponse:
    request = ApiRequest(
        method=req.method.upper(),
        path=urlsplit(req.url).path,
        route_params=dict(req.route_params),
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
    )
    response = dispatch(BY_NAME[route_name], request, get_services)
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    return func.HttpResponse(
        body=response.body,
        status_code=response.status,
        headers=response.headers,
        mimetype=content_type.split(";")[0].strip(),
    )
