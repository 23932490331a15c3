"""GET /api/jobs, /api/jobs/{id} and POST /api/jobs/{id}/retry."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints._http import serve, serve_with_client

bp = df.Blueprint()
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT is checked in code


@bp.route(route="jobs", methods=["GET"], auth_level=PUBLIC)
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "list_jobs")


@bp.route(route="jobs/{id}", methods=["GET"], auth_level=PUBLIC)
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "get_job")


@bp.route(route="jobs/{id}/retry", methods=["POST"], auth_level=PUBLIC)
@bp.durable_client_input(client_name="client")
async def retry_job(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await serve_with_client(req, "retry_job", client)
