"""pytest plugin: call the app's HTTP functions as the Functions host would.

`api` routes a request by the function's own route template and methods to the function that
function_app.py registered, passing a real `func.HttpRequest`; the response is the function's
`func.HttpResponse`. Services use the real PostgreSQL, Azurite and the local dev issuer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
import pytest
from azure.functions.decorators.function_app import Function
from psycopg_pool import ConnectionPool

from shared.auth.devissuer import mint_token
from shared.config import (
    AuthSettings,
    DatabaseSettings,
    RateLimits,
    Settings,
    parse_issuers,
)
from shared.services import Services, use_services
from tests.support.azurite import Azurite


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


@dataclass(frozen=True)
class HttpFunction:
    name: str
    methods: frozenset[str]
    template: str
    pattern: re.Pattern[str]
    function: Function

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.template.split("/") if not part.startswith("{"))


def http_functions(functions: Mapping[str, Function]) -> list[HttpFunction]:
    found = []
    for name, function in functions.items():
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        template: str = getattr(trigger, "route", None) or name
        declared = getattr(trigger, "methods", None) or ()
        methods = frozenset(str(m).split(".")[-1].upper() for m in declared)
        pattern = re.compile(
            "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        )
        found.append(HttpFunction(name, methods, template, pattern, function))
    # Literal segments win over parameters, as in the Functions host's router.
    found.sort(key=lambda f: -f.literal_segments)
    return found


class Client:
    def __init__(self, functions: Mapping[str, Function], key_dir: Path) -> None:
        self.routes = http_functions(functions)
        self.key_dir = key_dir

    def token(self, user: str, *roles: str, minutes: int = 60) -> str:
        return mint_token(self.key_dir, user, list(roles), minutes=minutes)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        route_path = path.removeprefix("/api/")
        for route in self.routes:
            match = route.pattern.match(route_path)
            if match and method.upper() in route.methods:
                break
        else:
            return Response(404, {}, b"no function for this route")
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        url = "http://localhost/api/" + route_path + ("?" + urlencode(query) if query else "")
        request = func.HttpRequest(
            method=method.upper(),
            url=url,
            headers=all_headers,
            params=dict(query or {}),
            route_params=match.groupdict(),
            body=body or b"",
        )
        response: func.HttpResponse = route.function.get_user_function()(request)
        return Response(response.status_code, dict(response.headers), response.get_body())

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def dev_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dev-issuer")


@pytest.fixture(scope="session")
def api_settings(database_url: str, dev_key_dir: Path, azurite: Azurite) -> Settings:
    issuers = parse_issuers(json.dumps([{"kind": "dev", "key_dir": str(dev_key_dir)}]))
    return Settings(
        database=DatabaseSettings(url=database_url, pool_max=4),
        auth=AuthSettings(issuers=issuers),
        # Generous: route tests make many calls; the rate-limit tests set their own.
        rate_limits=RateLimits(api_per_minute=100_000, uploads_per_minute=100_000),
        blobs=azurite.settings,
    )


@pytest.fixture(scope="session")
def api_services(api_settings: Settings, pool: ConnectionPool) -> Iterator[Services]:
    services = Services(api_settings, pool=pool)
    use_services(services)
    yield services
    use_services(None)


@pytest.fixture(scope="session")
def api(functions: dict[str, Function], api_services: Services, dev_key_dir: Path) -> Client:
    return Client(functions, dev_key_dir)
