"""What a `webPubSub` output binding does with the value a function sets.

The value is one action object or a list of them, each with an `actionName` (any case, as the
extension reads it) and the fields the Functions docs list: `data`/`dataType`/`excluded` for
the sends, `userId`, `connectionId`, `group`, `reason`, `permission` and `targetName`. Field
names are matched without regard to case, as Newtonsoft does. Every action is checked before
any is carried out, so a bad list changes nothing. Actions on a connection that is gone do
nothing (the real service would answer 404 and the extension would fail the invocation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from devhost.webpubsub._errors import InvalidAction, InvalidPayload
from devhost.webpubsub._hub import Hub, Permission, parse_permission
from devhost.webpubsub._messages import Delivery, Payload

Action = Callable[[Hub], object]


def parse_actions(value: str | bytes) -> list[Action]:
    try:
        document = json.loads(value)
    except ValueError as error:
        raise InvalidAction(f"webPubSub output is not JSON: {error}") from error
    items = document if isinstance(document, list) else [document]
    return [_parse(item, index) for index, item in enumerate(items)]


class _Fields:
    def __init__(self, item: Mapping[str, Any], name: str, index: int) -> None:
        self._fields = {key.lower(): value for key, value in item.items()}
        self._where = f"action {index} ({name})"

    def text(self, key: str) -> str:
        value = self._fields.get(key.lower())
        if not isinstance(value, str) or not value:
            raise InvalidAction(f"{self._where} needs a non-empty string {key!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._fields.get(key.lower())
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidAction(f"{self._where}: {key!r} must be a string")
        return value or None

    def excluded(self) -> frozenset[str]:
        value = self._fields.get("excluded")
        if value is None:
            return frozenset()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidAction(f"{self._where}: 'excluded' must be a list of connection ids")
        return frozenset(value)

    def delivery(self, group: str | None = None) -> Delivery:
        try:
            payload = Payload.from_action(self._fields.get("datatype"), self._fields.get("data"))
        except InvalidPayload as error:
            raise InvalidAction(f"{self._where}: {error}") from error
        return Delivery(payload, group=group)

    def permission(self) -> Permission:
        permission = parse_permission(self.text("permission"))
        if permission is None:
            raise InvalidAction(f"{self._where}: permission is sendToGroup or joinLeaveGroup")
        return permission


def _send_to_all(fields: _Fields) -> Action:
    delivery, excluded = fields.delivery(), fields.excluded()
    return lambda hub: hub.send_to_all(delivery, excluded)


def _send_to_group(fields: _Fields) -> Action:
    group = fields.text("group")
    delivery, excluded = fields.delivery(group), fields.excluded()
    return lambda hub: hub.send_to_group(group, delivery, excluded)


def _send_to_user(fields: _Fields) -> Action:
    user_id, delivery = fields.text("userId"), fields.delivery()
    return lambda hub: hub.send_to_user(user_id, delivery)


def _send_to_connection(fields: _Fields) -> Action:
    connection_id, delivery = fields.text("connectionId"), fields.delivery()
    return lambda hub: hub.send_to_connection(connection_id, delivery)


def _add_user_to_group(fields: _Fields) -> Action:
    user_id, group = fields.text("userId"), fields.text("group")
    return lambda hub: hub.add_user_to_group(user_id, group)


def _remove_user_from_group(fields: _Fields) -> Action:
    user_id, group = fields.text("userId"), fields.text("group")
    return lambda hub: hub.remove_user_from_group(user_id, group)


def _remove_user_from_all_groups(fields: _Fields) -> Action:
    user_id = fields.text("userId")
    return lambda hub: hub.remove_user_from_all_groups(user_id)


def _add_connection_to_group(fields: _Fields) -> Action:
    connection_id, group = fields.text("connectionId"), fields.text("group")
    return lambda hub: hub.add_connection_to_group(connection_id, group)


def _remove_connection_from_group(fields: _Fields) -> Action:
    connection_id, group = fields.text("connectionId"), fields.text("group")
    return lambda hub: hub.remove_connection_from_group(connection_id, group)


def _close_all_connections(fields: _Fields) -> Action:
    excluded, reason = fields.excluded(), fields.optional_text("reason")
    return lambda hub: hub.close_all(excluded, reason)


def _close_client_connection(fields: _Fields) -> Action:
    connection_id, reason = fields.text("connectionId"), fields.optional_text("reason")
    return lambda hub: hub.close_connection(connection_id, reason)


def _close_group_connections(fields: _Fields) -> Action:
    group, excluded = fields.text("group"), fields.excluded()
    reason = fields.optional_text("reason")
    return lambda hub: hub.close_group(group, excluded, reason)


def _grant_permission(fields: _Fields) -> Action:
    connection_id, permission = fields.text("connectionId"), fields.permission()
    target = fields.optional_text("targetName")
    return lambda hub: hub.grant_permission(connection_id, permission, target)


def _revoke_permission(fields: _Fields) -> Action:
    connection_id, permission = fields.text("connectionId"), fields.permission()
    target = fields.optional_text("targetName")
    return lambda hub: hub.revoke_permission(connection_id, permission, target)


_PARSERS: Mapping[str, Callable[[_Fields], Action]] = {
    "sendtoall": _send_to_all,
    "sendtogroup": _send_to_group,
    "sendtouser": _send_to_user,
    "sendtoconnection": _send_to_connection,
    "addusertogroup": _add_user_to_group,
    "removeuserfromgroup": _remove_user_from_group,
    "removeuserfromallgroups": _remove_user_from_all_groups,
    "addconnectiontogroup": _add_connection_to_group,
    "removeconnectionfromgroup": _remove_connection_from_group,
    "closeallconnections": _close_all_connections,
    "closeclientconnection": _close_client_connection,
    "closegroupconnections": _close_group_connections,
    "grantpermission": _grant_permission,
    "revokepermission": _revoke_permission,
}


def _parse(item: object, index: int) -> Action:
    if not isinstance(item, Mapping):
        raise InvalidAction(f"action {index} is not a JSON object")
    names = [value for key, value in item.items() if str(key).lower() == "actionname"]
    name = names[0] if names else None
    if not isinstance(name, str) or (parser := _PARSERS.get(name.lower())) is None:
        raise InvalidAction(f"action {index} has no known actionName: {name!r}")
    return parser(_Fields(item, name, index))
