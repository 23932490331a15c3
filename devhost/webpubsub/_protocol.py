"""The client side of json.webpubsub.azure.v1: what a connection may ask, and the acks.

Requests: `joinGroup`, `leaveGroup` (role webpubsub.joinLeaveGroup[.<group>]), `sendToGroup`
(role webpubsub.sendToGroup[.<group>], optional `noEcho`), `event` (there is no upstream
here, so it is acknowledged and dropped) and `ping`. A request with an `ackId` gets
`{"type": "ack", "ackId", "success"[, "error": {"name", "message"}]}`; error names are
`Forbidden`, `Duplicate` (an ackId this connection already had acknowledged) and, for a
well-formed request with unusable fields, `InvalidData`. A frame that is not a JSON object of
a known type makes the service decline the client, as the real one does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from devhost.webpubsub._errors import Forbidden, InvalidPayload, WebPubSubError
from devhost.webpubsub._hub import Connection, Hub
from devhost.webpubsub._messages import Delivery, Payload

SUBPROTOCOL = "json.webpubsub.azure.v1"
MAX_GROUP_NAME = 1024


class ProtocolViolation(WebPubSubError):
    """A frame the service does not understand; the connection is closed."""


def handle_frame(hub: Hub, connection: Connection, frame: str) -> None:
    """Carry out one request frame from a subprotocol client."""
    try:
        request = json.loads(frame)
    except ValueError as error:
        raise ProtocolViolation(f"frame is not JSON: {error}") from error
    if not isinstance(request, dict):
        raise ProtocolViolation("frame is not a JSON object")
    kind = request.get("type")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise ProtocolViolation(f"unknown request type {kind!r}")
    ack_id = _ack_id(request)
    if ack_id is not None and ack_id in connection.acked:
        _ack(connection, ack_id, "Duplicate", f"ackId {ack_id} was already processed")
        return
    try:
        handler(hub, connection, request)
    except Forbidden as error:
        _ack(connection, ack_id, "Forbidden", str(error))
    except InvalidPayload as error:
        _ack(connection, ack_id, "InvalidData", str(error))
    else:
        if ack_id is not None:
            connection.acked.add(ack_id)
        _ack(connection, ack_id)


def _join_group(hub: Hub, connection: Connection, request: Mapping[str, Any]) -> None:
    group = _group(request)
    connection.require("joinLeaveGroup", group)
    hub.join(connection, group)


def _leave_group(hub: Hub, connection: Connection, request: Mapping[str, Any]) -> None:
    group = _group(request)
    connection.require("joinLeaveGroup", group)
    hub.leave(connection, group)


def _send_to_group(hub: Hub, connection: Connection, request: Mapping[str, Any]) -> None:
    group = _group(request)
    payload = Payload.from_client(request.get("dataType"), request.get("data"))
    connection.require("sendToGroup", group)
    excluded = {connection.id} if request.get("noEcho") is True else set()
    delivery = Delivery(payload, group=group, from_user_id=connection.user_id)
    hub.send_to_group(group, delivery, excluded)


def _event(hub: Hub, connection: Connection, request: Mapping[str, Any]) -> None:
    if not isinstance(request.get("event"), str) or not request["event"]:
        raise InvalidPayload("event request needs a non-empty 'event' name")
    Payload.from_client(request.get("dataType"), request.get("data"))


def _ping(hub: Hub, connection: Connection, request: Mapping[str, Any]) -> None:
    connection.send_json({"type": "pong"})


_Handler = Callable[[Hub, Connection, Mapping[str, Any]], None]
_HANDLERS: Mapping[str, _Handler] = {
    "joinGroup": _join_group,
    "leaveGroup": _leave_group,
    "sendToGroup": _send_to_group,
    "event": _event,
    "ping": _ping,
}


def _ack_id(request: Mapping[str, Any]) -> int | None:
    ack_id = request.get("ackId")
    if ack_id is None:
        return None
    if isinstance(ack_id, bool) or not isinstance(ack_id, int) or ack_id < 0:
        raise ProtocolViolation(f"ackId {ack_id!r} is not an unsigned integer")
    return ack_id


def _group(request: Mapping[str, Any]) -> str:
    group = request.get("group")
    if not isinstance(group, str) or not 0 < len(group) <= MAX_GROUP_NAME:
        raise InvalidPayload(f"group must be a string of 1 to {MAX_GROUP_NAME} characters")
    return group


def _ack(
    connection: Connection, ack_id: int | None, error: str | None = None, message: str = ""
) -> None:
    if ack_id is None:
        return
    frame: dict[str, Any] = {"type": "ack", "ackId": ack_id, "success": error is None}
    if error is not None:
        frame["error"] = {"name": error, "message": message}
    connection.send_json(frame)
