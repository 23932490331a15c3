"""GET /api/jobs and /api/jobs/{id}."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT is checked in code


@bp.route(route="jobs", methods=["GET"], auth_level=PUBLIC)
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "list_jobs")


@bp.route(route="jobs/{id}", methods=["GET"], auth_level=PUBLIC)
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "get_job")
