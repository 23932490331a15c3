"""POST /api/uploads."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT is checked in code


@bp.route(route="uploads", methods=["POST"], auth_level=PUBLIC)
def create_upload(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "create_upload")
