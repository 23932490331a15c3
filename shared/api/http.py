"""Framework-free request and response: what blueprints convert `func.HttpRequest` to and from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    # Lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Input binding values the Functions host resolved for this call, by argument name.
    bindings: Mapping[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class OrchestrationStart:
    """An orchestration the HTTP layer must start after answering (it owns the durable client)."""

    name: str
    instance_id: str
    input: Any


@dataclass
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Orchestrations the HTTP layer starts after answering (a retry starts one, a batch several).
    starts: list[OrchestrationStart] = field(default_factory=list)
    # Output binding values to set, by argument name (e.g. Web PubSub actions).
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, data: BaseModel | Any, headers: Mapping[str, str] | None = None
    ) -> ApiResponse:
        if isinstance(data, BaseModel):
            body = data.model_dump_json(exclude_none=False).encode()
        else:
            body = json.dumps(data, ensure_ascii=False, default=str).encode()
        return cls(
            status,
            body,
            {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        )

    @classmethod
    def empty(cls, status: int = 204) -> ApiResponse:
        return cls(status, b"", {"Cache-Control": "no-store"})
