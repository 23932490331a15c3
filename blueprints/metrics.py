"""GET /api/metrics: Prometheus text.

METRICS_AUTH decides who may scrape, and so the function's auth level, when this module is
imported (the Functions host reads auth levels when it indexes the app, so a change of the
setting takes a restart):
- `token` (default): AuthLevel.ANONYMOUS; the app checks an admin's bearer JWT or the static
  METRICS_TOKEN.
- `function_key`: AuthLevel.FUNCTION; the host checks a function key (`x-functions-key` header
  or `?code=`) and the app asks for nothing more.
"""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve
from shared.config import metrics_auth_mode

bp = func.Blueprint()  # type: ignore[no-untyped-call]
AUTH_LEVEL = (
    func.AuthLevel.FUNCTION if metrics_auth_mode() == "function_key" else func.AuthLevel.ANONYMOUS
)


@bp.route(route="metrics", methods=["GET"], auth_level=AUTH_LEVEL)
def metrics(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "metrics")
