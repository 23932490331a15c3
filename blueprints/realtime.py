"""GET /api/me and GET /api/realtime/negotiate (Web PubSub bindings)."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT is checked in code


@bp.route(route="me", methods=["GET"], auth_level=PUBLIC)
def me(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "me")


@bp.route(route="realtime/negotiate", methods=["GET"], auth_level=PUBLIC)
@bp.generic_input_binding(
    arg_name="connection",
    type="webPubSubConnection",
    hub="invoices",
    userId="{headers.x-ms-client-principal-id}",
    connection="WebPubSubConnectionString",
)
@bp.generic_output_binding(
    arg_name="actions", type="webPubSub", hub="invoices", connection="WebPubSubConnectionString"
)
def realtime_negotiate(
    req: func.HttpRequest, connection: str, actions: func.Out[str]
) -> func.HttpResponse:
    return serve(
        req, "realtime_negotiate", bindings={"connection": connection}, outputs={"actions": actions}
    )
