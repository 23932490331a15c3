"""Liveness: answers without touching any dependency, so a probe never flaps with them."""

from __future__ import annotations

import json

import azure.functions as func

from shared import __version__

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    body = {"status": "ok", "version": __version__}
    return func.HttpResponse(
        json.dumps(body),
        status_code=200,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
