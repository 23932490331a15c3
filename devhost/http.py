"""HTTP triggers on a real HTTP server, routed the way the Functions host routes them.

- Every function's route sits under host.json's `extensions.http.routePrefix` (default `api`).
- Route templates follow ASP.NET Core: `{id}`, `{id:int}`, `{id:int?}`, `{name=default}`,
  `{*rest}`, several constraints chained (`{code:alpha:length(3)}`); literals compare
  case-insensitively. When several templates match, literal segments win over constrained
  parameters, which win over plain parameters, which win over catch-alls.
- A declared `methods` list restricts the function; a request with another method, like a path
  no function serves, gets 404 (the host registers method-constrained routes).
- `authLevel` anonymous/function/admin is checked against the keys file (see keys.py); a missing
  or wrong key gets 401.
- The request reaches the function as the worker's `HttpRequest` (built by the SDK's own
  converter from the same fields the host sends) and the response goes back through the SDK's
  `HttpResponse` converter: status, headers, cookies, body. A plain `str` return is a 200
  text/plain body; no response at all is a 204.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from azure.functions.meta import Datum
from multidict import CIMultiDict

from devhost.errors import DevhostError
from devhost.invocation import BindingData, BindingExpressionError, Invoker, converter
from devhost.keys import KEY_HEADER, KEY_QUERY, FunctionKeys
from devhost.registry import FunctionSpec

logger = logging.getLogger("devhost.http")

_ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"})

# Segment precedence, lower first (ASP.NET Core's inbound route precedence).
_LITERAL, _COMPLEX, _CONSTRAINED, _PARAMETER, _CATCH_ALL = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Callable[[str], bool], ...]
    optional: bool
    default: str | None
    catch_all: bool


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]
    parameters: tuple[Parameter, ...]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for parameter in self.parameters:
            raw = found.group(parameter.name)
            if raw is None or raw == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                    continue
                if parameter.optional or parameter.catch_all:
                    continue
                return None
            value = unquote(raw)
            if not all(check(value) for check in parameter.constraints):
                return None
            values[parameter.name] = value
        return values


def parse_route(template: str, *, where: str) -> RouteTemplate:
    """Compile an ASP.NET Core route template; `where` names the function in errors."""
    segments = template.strip("/").split("/") if template.strip("/") else []
    pattern = ""
    parameters: list[Parameter] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        if segment == "":
            raise DevhostError(f"{where}: route '{template}' has an empty segment")
        tokens = _tokens(segment, template, where)
        literals, bodies = tokens[0::2], tokens[1::2]
        separator = "/" if index else ""
        if not bodies:
            pattern += re.escape(separator + segment)
            precedence.append(_LITERAL)
            continue
        segment_parameters = [_parameter(body, template, where) for body in bodies]
        parameters.extend(segment_parameters)
        if len(bodies) == 1 and literals == ["", ""]:
            only = segment_parameters[0]
            capture = "(?P<%s>.*)" if only.catch_all else "(?P<%s>[^/]+)"
            capture %= only.name
            if only.catch_all or only.optional or only.default is not None:
                pattern += f"(?:{re.escape(separator)}{capture})?"
            else:
                pattern += re.escape(separator) + capture
            if only.catch_all:
                precedence.append(_CATCH_ALL)
            else:
                precedence.append(_CONSTRAINED if only.constraints else _PARAMETER)
            continue
        # A complex segment such as "{name}.{ext}": every parameter is required.
        piece = re.escape(separator + literals[0])
        for parameter, literal in zip(segment_parameters, literals[1:], strict=True):
            if parameter.catch_all:
                raise DevhostError(f"{where}: a catch-all must be a whole segment in '{template}'")
            piece += f"(?P<{parameter.name}>[^/]+?)" + re.escape(literal)
        pattern += piece
        precedence.append(_COMPLEX)
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise DevhostError(f"{where}: route '{template}' repeats a parameter name")
    return RouteTemplate(
        template=template,
        pattern=re.compile(pattern, re.IGNORECASE),
        parameters=tuple(parameters),
        precedence=tuple(precedence),
    )


def _tokens(segment: str, template: str, where: str) -> list[str]:
    """Split a segment into literal, parameter, literal, ...; `{{` and `}}` escape braces."""
    parts: list[str] = []
    current = ""
    index = 0
    while index < len(segment):
        char, following = segment[index], segment[index + 1 : index + 2]
        if char in "{}" and following == char:
            current += char
            index += 2
        elif char == "}":
            raise DevhostError(f"{where}: route '{template}' has unbalanced braces")
        elif char == "{":
            parts.append(current)
            current = ""
            index += 1
            while True:
                if index >= len(segment):
                    raise DevhostError(f"{where}: route '{template}' has unbalanced braces")
                char, following = segment[index], segment[index + 1 : index + 2]
                if char in "{}" and following == char:
                    current += char
                    index += 2
                elif char == "}":
                    index += 1
                    break
                else:
                    current += char
                    index += 1
            parts.append(current)
            current = ""
        else:
            current += char
            index += 1
    parts.append(current)
    return parts


def _parameter(body: str, template: str, where: str) -> Parameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default: str | None = None
    if "=" in body:
        body, default = body.split("=", 1)
    optional = body.endswith("?")
    body = body.rstrip("?")
    name, *constraint_texts = _split_constraints(body)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise DevhostError(f"{where}: route '{template}' has a bad parameter name '{name}'")
    constraints = tuple(_constraint(text, template, where) for text in constraint_texts)
    return Parameter(name, constraints, optional, default, catch_all)


def _split_constraints(body: str) -> list[str]:
    """Split `name:c1:c2(args)` on colons that are not inside parentheses (regex(a:b))."""
    parts: list[str] = []
    depth, current = 0, ""
    for char in body:
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


def _is_int(value: str, bits: int) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value):
        return False
    limit = 1 << (bits - 1)
    return -limit <= int(value) < limit


def _is_number(value: str) -> bool:
    try:
        decimal.Decimal(value)
    except decimal.InvalidOperation:
        return False
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None


def _is_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: _is_int(v, 32),
    "long": lambda v: _is_int(v, 64),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _is_guid,
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "decimal": _is_number,
    "double": _is_number,
    "float": _is_number,
    "datetime": _is_datetime,
    "required": lambda v: v != "",
}


def _constraint(text: str, template: str, where: str) -> Callable[[str], bool]:
    found = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
    if found is None:
        raise DevhostError(f"{where}: route '{template}': bad constraint '{text}'")
    kind, argument = found.group(1).lower(), found.group(2)
    if argument is None and kind in _SIMPLE_CONSTRAINTS:
        return _SIMPLE_CONSTRAINTS[kind]
    if argument is not None and kind == "regex":
        expression = re.compile(argument, re.IGNORECASE)
        return lambda v: expression.search(v) is not None
    numbers = _numbers(argument) if argument is not None else None
    if numbers is not None:
        if kind == "minlength" and len(numbers) == 1:
            return lambda v: len(v) >= numbers[0]
        if kind == "maxlength" and len(numbers) == 1:
            return lambda v: len(v) <= numbers[0]
        if kind == "length" and len(numbers) in (1, 2):
            low, high = numbers[0], numbers[-1]
            return lambda v: low <= len(v) <= high
        if kind == "min" and len(numbers) == 1:
            return lambda v: _is_int(v, 64) and int(v) >= numbers[0]
        if kind == "max" and len(numbers) == 1:
            return lambda v: _is_int(v, 64) and int(v) <= numbers[0]
        if kind == "range" and len(numbers) == 2:
            return lambda v: _is_int(v, 64) and numbers[0] <= int(v) <= numbers[1]
    raise DevhostError(f"{where}: route '{template}': constraint '{text}' is not supported")


def _numbers(argument: str) -> list[int] | None:
    try:
        return [int(part) for part in argument.split(",")]
    except ValueError:
        return None


@dataclass(frozen=True)
class HttpRoute:
    spec: FunctionSpec
    route: RouteTemplate
    methods: frozenset[str]
    auth_level: str


def http_routes(functions: Sequence[FunctionSpec]) -> list[HttpRoute]:
    routes = []
    for spec in functions:
        trigger = spec.trigger
        template = str(trigger.get("route") or spec.name)
        declared = trigger.get("methods") or []
        methods = frozenset(str(m).split(".")[-1].upper() for m in declared) or _ALL_METHODS
        level = str(trigger.get("authLevel") or "function").split(".")[-1].lower()
        if level not in ("anonymous", "function", "admin"):
            raise DevhostError(f"function '{spec.name}': unknown authLevel '{level}'")
        where = f"function '{spec.name}'"
        routes.append(HttpRoute(spec, parse_route(template, where=where), methods, level))
    # Stable: among equal precedence, the order the app declared its functions.
    routes.sort(key=lambda r: r.route.precedence)
    return routes


class HttpTriggers:
    """The aiohttp handler that serves every HTTP-triggered function."""

    def __init__(
        self,
        functions: Sequence[FunctionSpec],
        *,
        route_prefix: str,
        keys: FunctionKeys,
        invoker: Invoker,
    ) -> None:
        self.routes = http_routes(functions)
        self.prefix = route_prefix.strip("/")
        self.keys = keys
        self.invoker = invoker
        self._converter = converter("httpTrigger")
        self._response_converter = converter("http")

    def mount(self, app: web.Application) -> None:
        path = f"/{self.prefix}/{{tail:.*}}" if self.prefix else "/{tail:.*}"
        app.router.add_route("*", path, self.handle)
        if self.prefix:
            app.router.add_route("*", f"/{self.prefix}", self.handle)

    def find(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.routes:
            values = route.route.match(path)
            if values is not None and method in route.methods:
                return route, values
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        relative = raw_path[len(self.prefix) + 1 :] if self.prefix else raw_path
        found = self.find(request.method, relative.strip("/"))
        if found is None:
            return web.Response(status=404)
        route, route_values = found
        presented = request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY)
        if not self.keys.authorizes(route.auth_level, route.spec.name, presented):
            return web.Response(status=401)
        body = await request.read()
        http_request = self._decode_request(request, route_values, body)
        binding_data = BindingData(
            {
                **route_values,
                "headers": dict(http_request.headers),
                "query": dict(http_request.params),
            }
        )
        try:
            outcome = await self.invoker.invoke(route.spec, http_request, binding_data)
        except BindingExpressionError as exc:
            return web.Response(status=500, text=str(exc))
        except Exception:
            # Logged with its traceback by the invoker; the client learns nothing more.
            return web.Response(status=500)
        return self._encode_response(outcome.http_response)

    def _decode_request(
        self, request: web.Request, route_values: dict[str, str], body: bytes
    ) -> Any:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query: dict[str, str] = {}
        for name, value in request.query.items():
            # The host hands the worker one string per name, repeated values comma-joined.
            query[name] = f"{query[name]},{value}" if name in query else value
        datum = Datum(
            type="http",
            value={
                "method": Datum(request.method, "string"),
                "url": Datum(str(request.url), "string"),
                "headers": {n: Datum(v, "string") for n, v in headers.items()},
                "query": {n: Datum(v, "string") for n, v in query.items()},
                "params": {n: Datum(v, "string") for n, v in route_values.items()},
                "body": Datum(body, "bytes"),
            },
        )
        return self._converter.decode(datum, trigger_metadata=None)

    def _encode_response(self, value: Any) -> web.StreamResponse:
        if value is None:
            return web.Response(status=204)
        datum = self._response_converter.encode(value, expected_type=None)
        if datum.type == "string":
            return web.Response(status=200, text=datum.value, content_type="text/plain")
        fields = datum.value
        headers: CIMultiDict[str] = CIMultiDict()
        for name, header in fields["headers"].items():
            headers.add(name, header.value)
        for cookie in fields.get("cookies") or []:
            for morsel in cookie.values():
                headers.add("Set-Cookie", morsel.OutputString())
        return web.Response(
            status=int(fields["status_code"].value),
            body=fields["body"].value or b"",
            headers=headers,
        )
