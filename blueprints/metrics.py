"""GET /api/metrics: Prometheus text (an admin's bearer JWT, or the METRICS_TOKEN scrape token)."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="metrics", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def metrics(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "metrics")
