"""A hub's state: connections, groups, users, permissions.

Everything here is synchronous and runs on the host's event loop: a call that sends puts
frames on each target connection's outbox before it returns, so what one caller does in order
reaches every connection in that order. The WebSocket endpoint drains the outboxes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from devhost.webpubsub._errors import Forbidden
from devhost.webpubsub._messages import Delivery
from devhost.webpubsub._tokens import ClientIdentity

Permission = Literal["joinLeaveGroup", "sendToGroup"]
_PERMISSIONS: dict[str, Permission] = {
    "joinleavegroup": "joinLeaveGroup",
    "sendtogroup": "sendToGroup",
}


def parse_permission(name: str) -> Permission | None:
    """`joinLeaveGroup` or `sendToGroup` (any case), else None."""
    return _PERMISSIONS.get(name.lower())


def role(permission: Permission, group: str | None = None) -> str:
    """The role granting `permission` on `group`, or on every group when `group` is None."""
    return f"webpubsub.{permission}" + (f".{group}" if group else "")


@dataclass(frozen=True)
class Close:
    """Outbox item: say why (subprotocol clients only) and close the WebSocket."""

    reason: str | None = None


Outgoing = str | bytes | Close


@dataclass(eq=False)
class Connection:
    id: str
    user_id: str | None
    roles: set[str]
    pubsub: bool
    """True when the client speaks json.webpubsub.azure.v1; False for a simple WebSocket."""
    groups: set[str] = field(default_factory=set)
    acked: set[int] = field(default_factory=set)
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)

    def allowed(self, permission: Permission, group: str) -> bool:
        return role(permission) in self.roles or role(permission, group) in self.roles

    def require(self, permission: Permission, group: str) -> None:
        if not self.allowed(permission, group):
            raise Forbidden(f"the connection has no permission to {permission} {group!r}")

    def deliver(self, delivery: Delivery) -> None:
        self.outbox.put_nowait(delivery.pubsub_frame if self.pubsub else delivery.raw_frame)

    def send_json(self, frame: dict[str, Any]) -> None:
        """A protocol frame (system message, ack, pong); simple clients get none."""
        if self.pubsub:
            self.outbox.put_nowait(json.dumps(frame))

    def close(self, reason: str | None) -> None:
        self.send_json({"type": "system", "event": "disconnected", "message": reason or ""})
        self.outbox.put_nowait(Close(reason))


class Hub:
    def __init__(self, name: str) -> None:
        self.name = name
        self._connections: dict[str, Connection] = {}
        self._groups: dict[str, set[str]] = {}
        self._users: dict[str, set[str]] = {}
        # Users stay in a group added through the API while they come and go.
        self._user_groups: dict[str, set[str]] = {}

    # Connections

    def connect(self, identity: ClientIdentity, *, pubsub: bool) -> Connection:
        connection = Connection(
            id=secrets.token_urlsafe(16),
            user_id=identity.user_id,
            roles=set(identity.roles),
            pubsub=pubsub,
        )
        connection.send_json(
            {
                "type": "system",
                "event": "connected",
                "userId": connection.user_id,
                "connectionId": connection.id,
            }
        )
        self._connections[connection.id] = connection
        if connection.user_id is not None:
            self._users.setdefault(connection.user_id, set()).add(connection.id)
            for group in self._user_groups.get(connection.user_id, ()):
                self.join(connection, group)
        for group in identity.groups:
            self.join(connection, group)
        return connection

    def disconnect(self, connection: Connection) -> None:
        """Forget a connection whose WebSocket has ended."""
        if self._connections.pop(connection.id, None) is None:
            return
        for group in list(connection.groups):
            self.leave(connection, group)
        if connection.user_id is not None:
            _discard(self._users, connection.user_id, connection.id)

    def connection(self, connection_id: str) -> Connection | None:
        return self._connections.get(connection_id)

    def connection_exists(self, connection_id: str) -> bool:
        return connection_id in self._connections

    def user_exists(self, user_id: str) -> bool:
        return bool(self._users.get(user_id))

    def group_exists(self, group: str) -> bool:
        return bool(self._groups.get(group))

    def group_members(self, group: str) -> list[Connection]:
        return list(self._members(self._groups.get(group, ())))

    # Groups

    def join(self, connection: Connection, group: str) -> None:
        connection.groups.add(group)
        self._groups.setdefault(group, set()).add(connection.id)

    def leave(self, connection: Connection, group: str) -> None:
        connection.groups.discard(group)
        _discard(self._groups, group, connection.id)

    def add_connection_to_group(self, connection_id: str, group: str) -> bool:
        connection = self._connections.get(connection_id)
        if connection is not None:
            self.join(connection, group)
        return connection is not None

    def remove_connection_from_group(self, connection_id: str, group: str) -> None:
        connection = self._connections.get(connection_id)
        if connection is not None:
            self.leave(connection, group)

    def remove_connection_from_all_groups(self, connection_id: str) -> None:
        connection = self._connections.get(connection_id)
        if connection is not None:
            for group in list(connection.groups):
                self.leave(connection, group)

    def add_user_to_group(self, user_id: str, group: str) -> None:
        self._user_groups.setdefault(user_id, set()).add(group)
        for connection in self._user_connections(user_id):
            self.join(connection, group)

    def remove_user_from_group(self, user_id: str, group: str) -> None:
        _discard(self._user_groups, user_id, group)
        for connection in self._user_connections(user_id):
            self.leave(connection, group)

    def remove_user_from_all_groups(self, user_id: str) -> None:
        self._user_groups.pop(user_id, None)
        for connection in self._user_connections(user_id):
            for group in list(connection.groups):
                self.leave(connection, group)

    # Sending

    def send_to_all(self, delivery: Delivery, excluded: Collection[str] = ()) -> None:
        for connection in list(self._connections.values()):
            if connection.id not in excluded:
                connection.deliver(delivery)

    def send_to_group(self, group: str, delivery: Delivery, excluded: Collection[str] = ()) -> None:
        for connection in self.group_members(group):
            if connection.id not in excluded:
                connection.deliver(delivery)

    def send_to_user(self, user_id: str, delivery: Delivery) -> None:
        for connection in self._user_connections(user_id):
            connection.deliver(delivery)

    def send_to_connection(self, connection_id: str, delivery: Delivery) -> None:
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.deliver(delivery)

    # Closing

    def close_connection(self, connection_id: str, reason: str | None = None) -> None:
        connection = self._connections.get(connection_id)
        if connection is not None:
            self._close([connection], (), reason)

    def close_all(self, excluded: Collection[str] = (), reason: str | None = None) -> None:
        self._close(list(self._connections.values()), excluded, reason)

    def close_group(
        self, group: str, excluded: Collection[str] = (), reason: str | None = None
    ) -> None:
        self._close(self.group_members(group), excluded, reason)

    def close_user(
        self, user_id: str, excluded: Collection[str] = (), reason: str | None = None
    ) -> None:
        self._close(list(self._user_connections(user_id)), excluded, reason)

    # Permissions

    def grant_permission(
        self, connection_id: str, permission: Permission, target: str | None = None
    ) -> bool:
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.roles.add(role(permission, target))
        return connection is not None

    def revoke_permission(
        self, connection_id: str, permission: Permission, target: str | None = None
    ) -> bool:
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.roles.discard(role(permission, target))
        return connection is not None

    def has_permission(
        self, connection_id: str, permission: Permission, target: str | None = None
    ) -> bool:
        connection = self._connections.get(connection_id)
        if connection is None:
            return False
        if target is None:
            return role(permission) in connection.roles
        return connection.allowed(permission, target)

    def _close(
        self, connections: Iterable[Connection], excluded: Collection[str], reason: str | None
    ) -> None:
        for connection in connections:
            if connection.id not in excluded:
                # Forget it now so nothing more is queued behind the close.
                self.disconnect(connection)
                connection.close(reason)

    def _user_connections(self, user_id: str) -> Iterator[Connection]:
        return self._members(self._users.get(user_id, ()))

    def _members(self, connection_ids: Iterable[str]) -> Iterator[Connection]:
        for connection_id in list(connection_ids):
            connection = self._connections.get(connection_id)
            if connection is not None:
                yield connection


def _discard(index: dict[str, set[str]], key: str, value: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]
