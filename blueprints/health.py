"""Liveness: answers without touching any dependency, so a probe never flaps with them."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "health")
