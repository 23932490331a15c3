"""`WebPubSubService`: the hubs, mounted on the host's aiohttp app."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from devhost.webpubsub._client_endpoint import ClientEndpoint
from devhost.webpubsub._errors import InvalidAction
from devhost.webpubsub._hub import Hub
from devhost.webpubsub._output import parse_actions
from devhost.webpubsub._rest import PREFIX, RestApi
from devhost.webpubsub._tokens import (
    client_audience,
    connection_string,
    sign_client_token,
    ws_endpoint,
)


class WebPubSubService:
    """A local Web PubSub service: in-memory hubs, groups, users and connections."""

    def __init__(self, access_key: str) -> None:
        if not access_key:
            raise ValueError("access_key must not be empty")
        self.access_key = access_key
        self._hubs: dict[str, Hub] = {}

    def hub(self, name: str) -> Hub:
        """The hub called `name`; hub names are case-insensitive, as in the real service."""
        key = name.lower()
        if key not in self._hubs:
            self._hubs[key] = Hub(key)
        return self._hubs[key]

    def mount(self, app: web.Application) -> None:
        """Serve the client endpoint and the REST API on `app` (call before it starts).

        Routes: `/client/hubs/{hub}`, `/client/` (hub in the query) and `/api/hubs/{hub}/...`.
        aiohttp tries routes in the order they were added, so mount this before any catch-all
        `/api/{route}` for HTTP triggers.
        """
        client = ClientEndpoint(self.access_key, self.hub)
        rest = RestApi(self.access_key, self.hub)
        app.router.add_get("/client/hubs/{hub}", client.handle)
        app.router.add_get("/client/", client.handle)
        app.router.add_route("*", PREFIX + "{hub}/{operation:.*}", rest.handle)
        app.on_shutdown.append(self._close_connections)

    def connection_string(self, base_url: str) -> str:
        """A connection string `WebPubSubServiceClient.from_connection_string` accepts."""
        return connection_string(base_url, self.access_key)

    def connection_info(
        self,
        hub: str,
        user_id: str | None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        minutes: int = 60,
        base_url: str | None = None,
    ) -> dict[str, str]:
        """What a `webPubSubConnection` input binding yields: baseUrl, url, accessToken.

        `base_url` (required; last so that it may be passed by position or by name) is where
        the host serves this service, e.g. http://127.0.0.1:7071.
        """
        if not base_url:
            raise TypeError("connection_info() needs base_url")
        if not hub:
            raise ValueError("the webPubSubConnection binding names no hub")
        token = sign_client_token(
            self.access_key,
            client_audience(base_url, hub),
            user_id=user_id,
            roles=roles,
            groups=groups,
            minutes=minutes,
        )
        client_url = f"{ws_endpoint(base_url)}/client/hubs/{hub}"
        return {
            "baseUrl": client_url,
            "url": f"{client_url}?access_token={token}",
            "accessToken": token,
        }

    async def apply_output(self, hub: str, value: str | bytes) -> None:
        """Carry out what a function set on a `webPubSub` output binding.

        Raises `InvalidAction` (and does nothing) when any action is malformed.
        """
        if not hub:
            raise InvalidAction("the webPubSub binding names no hub")
        target = self.hub(hub)
        for action in parse_actions(value):
            action(target)

    async def _close_connections(self, app: web.Application) -> None:
        for hub in self._hubs.values():
            hub.close_all(reason="the host is shutting down")
