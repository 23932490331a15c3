"""The service REST API under `/api/hubs/{hub}/...`, as `WebPubSubServiceClient` calls it.

Every call carries `Authorization: Bearer <HS256 JWT>` whose `aud` is the request URL; a bad
token gets 401. Path segments are matched percent-decoded, so group and user names may hold
any character the SDK quotes. `api-version` is accepted whatever its value; `filter` on sends
is refused (400) rather than ignored, because ignoring it would send to too many clients.
Unknown connections give 404 where the SDK expects one (add to group, permissions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web

from devhost.webpubsub._errors import InvalidPayload, TokenRejected
from devhost.webpubsub._hub import Hub, Permission, parse_permission
from devhost.webpubsub._messages import Delivery, Payload
from devhost.webpubsub._tokens import (
    bearer_token,
    client_audience,
    sign_client_token,
    verify_service_token,
)

PREFIX = "/api/hubs/"


class _Problem(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = web.json_response({"code": code, "message": message}, status=status)


@dataclass(frozen=True)
class _Call:
    request: web.Request
    hub: Hub
    params: dict[str, str]
    access_key: str

    def excluded(self) -> set[str]:
        return set(self.request.query.getall("excluded", []))

    def reason(self) -> str | None:
        return self.request.query.get("reason")

    def target(self) -> str | None:
        return self.request.query.get("targetName") or None

    def permission(self) -> Permission:
        permission = parse_permission(self.params["permission"])
        if permission is None:
            raise _Problem(400, "InvalidPermission", "permission is sendToGroup or joinLeaveGroup")
        return permission

    async def delivery(self, group: str | None = None) -> Delivery:
        if "filter" in self.request.query:
            raise _Problem(400, "NotSupported", "the local service does not evaluate 'filter'")
        body = await self.request.read()
        try:
            payload = Payload.from_content_type(self.request.content_type, body)
        except InvalidPayload as error:
            raise _Problem(400, "InvalidPayload", str(error)) from error
        return Delivery(payload, group=group)


_Handler = Callable[[_Call], Awaitable[web.Response]]


class RestApi:
    def __init__(self, access_key: str, hub: Callable[[str], Hub]) -> None:
        self._access_key = access_key
        self._hub = hub

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return _Problem(401, "Unauthorized", "a Bearer token is required").response
        try:
            verify_service_token(self._access_key, token, request.url)
        except TokenRejected as error:
            return _Problem(401, "Unauthorized", str(error)).response

        path = request.raw_path.split("?", 1)[0]
        hub_name, *segments = (unquote(part) for part in path[len(PREFIX) :].split("/"))
        allowed: list[str] = []
        for method, pattern, handler in _ROUTES:
            params = _match(pattern, segments)
            if params is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            call = _Call(request, self._hub(hub_name), params, self._access_key)
            try:
                return await handler(call)
            except _Problem as problem:
                return problem.response
        if allowed:
            return _Problem(405, "MethodNotAllowed", f"use {', '.join(allowed)}").response
        return _Problem(404, "NotFound", f"no operation {request.method} {path}").response


def _match(pattern: Sequence[str], segments: Sequence[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{"):
            if not actual:
                return None
            params[expected.strip("{}")] = actual
        elif expected != actual:
            return None
    return params


def _done(status: int) -> web.Response:
    return web.Response(status=status)


def _exists(found: bool) -> web.Response:
    return web.Response(status=200 if found else 404)


def _found(found: bool) -> web.Response:
    if not found:
        raise _Problem(404, "NotFound", "no such connection")
    return web.Response(status=200)


# The hub as a whole


async def _send_to_all(call: _Call) -> web.Response:
    call.hub.send_to_all(await call.delivery(), call.excluded())
    return _done(202)


async def _close_all(call: _Call) -> web.Response:
    call.hub.close_all(call.excluded(), call.reason())
    return _done(204)


async def _generate_token(call: _Call) -> web.Response:
    query = call.request.query
    try:
        minutes = int(query.get("minutesToExpire", "60"))
    except ValueError as error:
        raise _Problem(400, "InvalidParameter", "minutesToExpire is an integer") from error
    base_url = f"{call.request.scheme}://{call.request.host}"
    token = sign_client_token(
        call.access_key,
        client_audience(base_url, call.hub.name),
        user_id=query.get("userId"),
        roles=query.getall("role", []),
        groups=query.getall("group", []),
        minutes=minutes,
    )
    return web.json_response({"token": token})


# Groups


async def _send_to_group(call: _Call) -> web.Response:
    group = call.params["group"]
    call.hub.send_to_group(group, await call.delivery(group), call.excluded())
    return _done(202)


async def _close_group(call: _Call) -> web.Response:
    call.hub.close_group(call.params["group"], call.excluded(), call.reason())
    return _done(204)


async def _group_exists(call: _Call) -> web.Response:
    return _exists(call.hub.group_exists(call.params["group"]))


async def _list_group(call: _Call) -> web.Response:
    members = [
        {"connectionId": connection.id, "userId": connection.user_id}
        for connection in call.hub.group_members(call.params["group"])
    ]
    top = call.request.query.get("top")
    if top is not None and top.isdigit():
        members = members[: int(top)]
    return web.json_response({"value": members})


async def _add_connection_to_group(call: _Call) -> web.Response:
    added = call.hub.add_connection_to_group(call.params["connectionId"], call.params["group"])
    return _found(added)


async def _remove_connection_from_group(call: _Call) -> web.Response:
    call.hub.remove_connection_from_group(call.params["connectionId"], call.params["group"])
    return _done(204)


# Users


async def _send_to_user(call: _Call) -> web.Response:
    call.hub.send_to_user(call.params["userId"], await call.delivery())
    return _done(202)


async def _close_user(call: _Call) -> web.Response:
    call.hub.close_user(call.params["userId"], call.excluded(), call.reason())
    return _done(204)


async def _user_exists(call: _Call) -> web.Response:
    return _exists(call.hub.user_exists(call.params["userId"]))


async def _add_user_to_group(call: _Call) -> web.Response:
    call.hub.add_user_to_group(call.params["userId"], call.params["group"])
    return _done(200)


async def _remove_user_from_group(call: _Call) -> web.Response:
    call.hub.remove_user_from_group(call.params["userId"], call.params["group"])
    return _done(204)


async def _remove_user_from_all_groups(call: _Call) -> web.Response:
    call.hub.remove_user_from_all_groups(call.params["userId"])
    return _done(204)


# Connections


async def _send_to_connection(call: _Call) -> web.Response:
    call.hub.send_to_connection(call.params["connectionId"], await call.delivery())
    return _done(202)


async def _close_connection(call: _Call) -> web.Response:
    call.hub.close_connection(call.params["connectionId"], call.reason())
    return _done(204)


async def _connection_exists(call: _Call) -> web.Response:
    return _exists(call.hub.connection_exists(call.params["connectionId"]))


async def _remove_connection_from_all_groups(call: _Call) -> web.Response:
    call.hub.remove_connection_from_all_groups(call.params["connectionId"])
    return _done(204)


# Permissions


async def _grant_permission(call: _Call) -> web.Response:
    connection_id = call.params["connectionId"]
    return _found(call.hub.grant_permission(connection_id, call.permission(), call.target()))


async def _revoke_permission(call: _Call) -> web.Response:
    connection_id = call.params["connectionId"]
    if not call.hub.revoke_permission(connection_id, call.permission(), call.target()):
        raise _Problem(404, "NotFound", "no such connection")
    return _done(204)


async def _has_permission(call: _Call) -> web.Response:
    connection_id = call.params["connectionId"]
    return _exists(call.hub.has_permission(connection_id, call.permission(), call.target()))


_GROUP = ("groups", "{group}")
_USER = ("users", "{userId}")
_CONNECTION = ("connections", "{connectionId}")
_PERMISSION = ("permissions", "{permission}", "connections", "{connectionId}")
_ROUTES: Sequence[tuple[str, tuple[str, ...], _Handler]] = (
    ("POST", (":send",), _send_to_all),
    ("POST", (":closeConnections",), _close_all),
    ("POST", (":generateToken",), _generate_token),
    ("POST", (*_GROUP, ":send"), _send_to_group),
    ("POST", (*_GROUP, ":closeConnections"), _close_group),
    ("HEAD", _GROUP, _group_exists),
    ("GET", (*_GROUP, "connections"), _list_group),
    ("PUT", (*_GROUP, *_CONNECTION), _add_connection_to_group),
    ("DELETE", (*_GROUP, *_CONNECTION), _remove_connection_from_group),
    ("POST", (*_USER, ":send"), _send_to_user),
    ("POST", (*_USER, ":closeConnections"), _close_user),
    ("HEAD", _USER, _user_exists),
    ("PUT", (*_USER, *_GROUP), _add_user_to_group),
    ("DELETE", (*_USER, *_GROUP), _remove_user_from_group),
    ("DELETE", (*_USER, "groups"), _remove_user_from_all_groups),
    ("POST", (*_CONNECTION, ":send"), _send_to_connection),
    ("DELETE", _CONNECTION, _close_connection),
    ("HEAD", _CONNECTION, _connection_exists),
    ("DELETE", (*_CONNECTION, "groups"), _remove_connection_from_all_groups),
    ("PUT", _PERMISSION, _grant_permission),
    ("DELETE", _PERMISSION, _revoke_permission),
    ("HEAD", _PERMISSION, _has_permission),
)
