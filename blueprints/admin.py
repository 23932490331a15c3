"""Operator routes (role admin): GET /api/ops/stats, GET /api/ops/jobs, POST /api/ops/reprocess.

Under ops/ because the Functions host reserves route templates starting with "admin".
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from blueprints._http import serve, serve_with_client

bp = df.Blueprint()
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT (role admin) is checked in code


@bp.route(route="ops/stats", methods=["GET"], auth_level=PUBLIC)
def system_stats(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "system_stats")


@bp.route(route="ops/jobs", methods=["GET"], auth_level=PUBLIC)
def problem_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "problem_jobs")


@bp.route(route="ops/reprocess", methods=["POST"], auth_level=PUBLIC)
@bp.durable_client_input(client_name="client")
async def reprocess_jobs(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    return await serve_with_client(req, "reprocess_jobs", client)
