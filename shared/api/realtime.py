"""Who am I, and a Web PubSub connection for live progress.

The connection comes from the Functions host's webPubSubConnection input binding, whose user id
is the `x-ms-client-principal-id` header (Easy Auth sets it in Azure; other clients send their
`user_id` from GET /api/me). The handler accepts it only when it names the caller the bearer
token proved, and the blueprint adds that user to its group `user:{id}`: the connection gets the
caller's own messages and cannot join any group itself.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from shared.api.call import Call
from shared.api.http import ApiResponse
from shared.errors import Forbidden, ServiceUnavailable, ValidationFailed

PRINCIPAL_HEADER = "x-ms-client-principal-id"


class Me(BaseModel):
    user_id: str = Field(description="Owner id of everything this user uploads")
    roles: list[str]


class RealtimeConnection(BaseModel):
    url: str = Field(description="WebSocket URL with its access token")
    base_url: str
    access_token: str
    groups: list[str] = Field(description="Groups whose messages this connection receives")


def me(call: Call) -> ApiResponse:
    roles = sorted(role.value for role in call.principal.roles)
    return ApiResponse.json(200, Me(user_id=call.principal.user_id, roles=roles))


def negotiate(call: Call) -> ApiResponse:
    connection = call.request.bindings.get("connection")
    claimed = call.request.header(PRINCIPAL_HEADER)
    if not claimed:
        raise ValidationFailed(
            f"send your user id (GET /api/me) in the {PRINCIPAL_HEADER} header",
            field=PRINCIPAL_HEADER,
        )
    if claimed != call.principal.user_id:
        raise Forbidden(f"{PRINCIPAL_HEADER} does not name the authenticated user")
    try:
        info: dict[str, Any] = json.loads(connection or "")
        body = RealtimeConnection(
            url=info["url"],
            base_url=info["baseUrl"],
            access_token=info["accessToken"],
            groups=[f"user:{call.principal.user_id}"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceUnavailable("the real-time service gave no connection") from exc
    response = ApiResponse.json(200, body)
    response.outputs["actions"] = join_own_group(call.principal.user_id)
    return response


def join_own_group(user_id: str) -> str:
    """The webPubSub output binding value that puts the user in its own group."""
    return json.dumps(
        {"actionName": "addUserToGroup", "userId": user_id, "group": f"user:{user_id}"}
    )
