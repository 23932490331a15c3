"""A local Azure Web PubSub service for devhost.

What the host core uses (all of it on the event loop that serves the app):

- `WebPubSubService(access_key)` keeps hubs, groups, users and connections in memory.
- `service.mount(app)` serves, on the host's aiohttp app (before it starts, and before any
  catch-all `/api/...` route):
  - `GET /client/hubs/{hub}?access_token=...`: the client WebSocket. With the subprotocol
    `json.webpubsub.azure.v1` the client gets `{"type": "system", "event": "connected",
    "userId", "connectionId"}`, may `joinGroup`/`leaveGroup`/`sendToGroup` as its roles allow
    (`webpubsub.joinLeaveGroup[.<group>]`, `webpubsub.sendToGroup[.<group>]`) and gets acks
    and `{"type": "message", "from": "group"|"server", ...}`. A missing, expired or wrongly
    signed token, or one for another hub, gets 401 instead of an upgrade.
  - `/api/hubs/{hub}/...`: the REST API `WebPubSubServiceClient` calls (Bearer HS256 JWT
    signed with the access key, `aud` = the request URL).
- `service.connection_string(base_url)`: `Endpoint=http://127.0.0.1;Port=7071;AccessKey=...;
  Version=1.0;` for `WebPubSubServiceClient.from_connection_string` and app settings.
- `await service.apply_output(hub, value)`: a `webPubSub` output binding's value (one action
  object or a list, JSON text). Raises `InvalidAction` for what the extension would reject.
- `service.connection_info(hub, user_id, roles, groups, minutes, base_url=...)`: a
  `webPubSubConnection` input binding's value, `{"baseUrl", "url", "accessToken"}`, with the
  claims `get_client_access_token` puts in a token (`aud`, `iat`, `exp`, `sub`, `role`,
  `webpubsub.group`).

Not modelled: the reliable and protobuf subprotocols, upstream event handlers (client `event`
requests are acknowledged and dropped), OData `filter` on sends (refused with 400), and the
ttl of a user's group membership (it lasts as long as the service).
"""

from devhost.webpubsub._errors import (
    Forbidden,
    InvalidAction,
    InvalidPayload,
    TokenRejected,
    WebPubSubError,
)
from devhost.webpubsub._protocol import SUBPROTOCOL
from devhost.webpubsub._service import WebPubSubService

__all__ = [
    "SUBPROTOCOL",
    "Forbidden",
    "InvalidAction",
    "InvalidPayload",
    "TokenRejected",
    "WebPubSubError",
    "WebPubSubService",
]
