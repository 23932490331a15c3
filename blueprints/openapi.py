"""GET /api/openapi.json: the OpenAPI document (bearer JWT checked in code, like every route)."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]
PUBLIC = func.AuthLevel.ANONYMOUS


@bp.route(route="openapi.json", methods=["GET"], auth_level=PUBLIC)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "openapi")
