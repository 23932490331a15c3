"""Message data in its three forms, and the frames a connection receives.

A `Payload` is bytes plus a `dataType`. It arrives from the REST API (the content type says
the type), from a client's `sendToGroup` (JSON in the frame) or from an output binding action
(the extension's rules). A subprotocol client gets it back as JSON for `json`, a string for
`text` and base64 for `binary`; a simple WebSocket client gets the raw text or binary frame.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from devhost.webpubsub._errors import InvalidPayload

DataType = Literal["json", "text", "binary"]
DATA_TYPES: frozenset[str] = frozenset({"json", "text", "binary"})
_CONTENT_TYPES: Mapping[str, DataType] = {
    "application/json": "json",
    "text/plain": "text",
    "application/octet-stream": "binary",
}


@dataclass(frozen=True)
class Payload:
    data_type: DataType
    body: bytes

    def __post_init__(self) -> None:
        try:
            if self.data_type == "json":
                json.loads(self.body)
            elif self.data_type == "text":
                self.body.decode("utf-8")
        except ValueError as error:  # UnicodeDecodeError is a ValueError too
            raise InvalidPayload(f"data is not valid {self.data_type}: {error}") from error

    @classmethod
    def from_content_type(cls, content_type: str, body: bytes) -> Payload:
        """The body of a REST `:send` call."""
        media_type = content_type.split(";", 1)[0].strip().lower()
        data_type = _CONTENT_TYPES.get(media_type)
        if data_type is None:
            expected = ", ".join(_CONTENT_TYPES)
            raise InvalidPayload(f"content type {content_type!r} is not one of {expected}")
        return cls(data_type, body)

    @classmethod
    def from_client(cls, data_type: object, data: object) -> Payload:
        """`data` of a subprotocol `sendToGroup` request (`dataType` defaults to json)."""
        kind = parse_data_type(data_type, default="json")
        if kind == "json":
            return cls(kind, json.dumps(data).encode())
        if not isinstance(data, str):
            raise InvalidPayload(f"data of dataType {kind!r} must be a string")
        if kind == "text":
            return cls(kind, data.encode())
        try:
            return cls(kind, base64.b64decode(data, validate=True))
        except binascii.Error as error:
            raise InvalidPayload(f"binary data is not base64: {error}") from error

    @classmethod
    def from_action(cls, data_type: object, data: object) -> Payload:
        """`data` of an output binding action, read as the Functions extension reads it.

        A string is taken as its UTF-8 bytes whatever the `dataType` (json data is stringified
        JSON); a Node-style `{"type": "Buffer", "data": [..]}` is taken as those bytes; any
        other JSON value is taken as its serialization. `dataType` defaults to text.
        """
        kind = parse_data_type(data_type, default="text")
        if isinstance(data, str):
            return cls(kind, data.encode())
        buffer = _buffer_bytes(data)
        if buffer is not None:
            return cls(kind, buffer)
        if data is None:
            raise InvalidPayload("action has no data")
        return cls(kind, json.dumps(data).encode())

    def client_data(self) -> Any:
        """`data` as a subprotocol client receives it."""
        if self.data_type == "json":
            return json.loads(self.body)
        if self.data_type == "text":
            return self.body.decode("utf-8")
        return base64.b64encode(self.body).decode("ascii")


@dataclass(frozen=True)
class Delivery:
    """One message on its way to connections: from the server, or through a group."""

    payload: Payload
    group: str | None = None
    from_user_id: str | None = None

    @functools.cached_property
    def pubsub_frame(self) -> str:
        frame: dict[str, Any] = {"type": "message", "from": "group" if self.group else "server"}
        if self.group is not None:
            frame["group"] = self.group
        if self.from_user_id is not None:
            frame["fromUserId"] = self.from_user_id
        frame["dataType"] = self.payload.data_type
        frame["data"] = self.payload.client_data()
        return json.dumps(frame)

    @functools.cached_property
    def raw_frame(self) -> str | bytes:
        if self.payload.data_type == "binary":
            return self.payload.body
        return self.payload.body.decode("utf-8")


def parse_data_type(value: object, *, default: DataType) -> DataType:
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in DATA_TYPES:
        raise InvalidPayload(f"dataType {value!r} is not one of json, text, binary")
    return cast(DataType, value.lower())


def _buffer_bytes(data: object) -> bytes | None:
    if not isinstance(data, Mapping) or str(data.get("type", "")).lower() != "buffer":
        return None
    octets = data.get("data")
    if not isinstance(octets, list) or not all(
        isinstance(octet, int) and 0 <= octet < 256 for octet in octets
    ):
        raise InvalidPayload("Buffer data must be a list of byte values")
    return bytes(octets)
