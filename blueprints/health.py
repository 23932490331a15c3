"""Liveness: answers without touching any dependency, so a probe never flaps with them."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "health")


@bp.route(route="health/detailed", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health_detailed(req: func.HttpRequest) -> func.HttpResponse:
    """Each dependency's status and latency; an admin's bearer JWT is checked in code."""
    return serve(req, "health_detailed")
