"""One authenticated call: the request, who made it, and the services to answer it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.api.http import ApiRequest
from shared.auth.principal import Principal
from shared.errors import ValidationFailed
from shared.services import Services
from shared.storage.scope import Scope

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024


def _reject_nul(value: Any, field: str) -> None:
    """NUL cannot be stored in PostgreSQL text and is never meant: refuse it at the edge."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationFailed(f"{field}: contains a NUL character", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, field)
            _reject_nul(item, key if field == "body" else f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{field}.{index}")


@dataclass(frozen=True)
class Call:
    request: ApiRequest
    principal: Principal
    services: Services

    @property
    def scope(self) -> Scope:
        if self.principal.is_admin:
            return Scope.everyone(self.principal.user_id)
        return Scope.user(self.principal.user_id)

    def query(self, model: type[M]) -> M:
        for name, value in self.request.query.items():
            _reject_nul(value, name)
        try:
            return model.model_validate(dict(self.request.query))
        except ValidationError as exc:
            raise ValidationFailed.from_pydantic(exc, "query") from exc

    def body(self, model: type[M]) -> M:
        raw = self.request.body
        if len(raw) > MAX_BODY_BYTES:
            raise ValidationFailed("the request body is larger than 1 MiB", field="body")
        content_type = (self.request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/merge-patch+json", ""):
            raise ValidationFailed("the request body must be application/json", field="body")
        try:
            data: Any = json.loads(raw or b"{}", parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed("the request body is not valid JSON", field="body") from exc
        if not isinstance(data, dict):
            raise ValidationFailed("the request body must be a JSON object", field="body")
        _reject_nul(data, "body")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ValidationFailed.from_pydantic(exc, "body") from exc

    def route_param(self, name: str) -> str:
        return self.request.route_params.get(name, "")
