"""What the app declares: every function with its trigger and bindings, checked at start-up.

The app module's `app` (a `func.FunctionApp` or `df.DFApp`) lists its functions through the SDK
(`get_functions()`, the same call the Python worker's indexing makes). Nothing here knows a
function by name: each is described by its raw binding JSON. A binding type the devhost cannot
serve stops the start-up with a message naming the function and the type, as does a binding
that names a parameter the function does not have, or a `%SETTING%` that is not set.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from devhost.errors import DevhostError
from devhost.settings import AppSettings

# Triggers and bindings the devhost serves, by binding type.
TRIGGER_TYPES = frozenset({"httpTrigger", "blobTrigger", "orchestrationTrigger", "activityTrigger"})
INPUT_TYPES = frozenset({"durableClient", "webPubSubConnection"})
OUTPUT_TYPES = frozenset({"http", "webPubSub"})
DURABLE_TRIGGERS = frozenset({"orchestrationTrigger", "activityTrigger"})
# The Python worker passes an invocation context to a parameter with this name.
CONTEXT_PARAMETER = "context"
RETURN = "$return"

# Expressions in {braces} that the devhost resolves, per trigger type (others stop start-up).
_BRACES = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Binding:
    """One entry of the function's binding JSON, %SETTING% expressions already resolved."""

    name: str
    type: str
    direction: str  # "in", "out" or "inout"
    properties: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger: Binding
    inputs: tuple[Binding, ...]
    outputs: tuple[Binding, ...]
    # What the worker calls (for durable clients, the SDK's wrapper around the user's code).
    callable: Callable[..., Any]
    is_async: bool
    takes_context: bool
    # The SDK's own object (the durable engine wants it for orchestrators and activities).
    sdk_function: Any = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        return self.trigger.type

    @property
    def function_id(self) -> str:
        """The id the host gives a function (blob receipts and poison messages carry it)."""
        return f"Host.Functions.{self.name}"

    def output(self, binding_type: str) -> Binding | None:
        return next((b for b in self.outputs if b.type == binding_type), None)


@dataclass(frozen=True)
class Registry:
    functions: Mapping[str, FunctionSpec]

    def of_kind(self, *kinds: str) -> list[FunctionSpec]:
        return [spec for spec in self.functions.values() if spec.kind in kinds]

    def uses_binding(self, binding_type: str) -> bool:
        return any(
            b.type == binding_type
            for spec in self.functions.values()
            for b in (spec.trigger, *spec.inputs, *spec.outputs)
        )

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self.functions.values())


def import_app(module_name: str) -> Any:
    """Import `module_name` and return its function app (the module's `app`)."""
    try:
        module: ModuleType = importlib.import_module(module_name)
    except ImportError as exc:
        raise DevhostError(f"cannot import the app module {module_name!r}: {exc}") from exc
    app = getattr(module, "app", None)
    if app is None or not callable(getattr(app, "get_functions", None)):
        raise DevhostError(f"{module_name}.app is not a FunctionApp (no get_functions())")
    return app


_functions_by_app: dict[int, tuple[Any, list[Any]]] = {}


def app_functions(app: Any) -> list[Any]:
    """The app's `Function` objects. The SDK builds them once per app (a second
    `get_functions()` refuses the names it has seen), so they are kept per app."""
    cached = _functions_by_app.get(id(app))
    if cached is not None and cached[0] is app:
        return cached[1]
    if getattr(app, "functions_bindings", None):
        # Someone else (a test fixture) already listed them: start the name check afresh.
        app.functions_bindings = {}
    functions = list(app.get_functions())
    _functions_by_app[id(app)] = (app, functions)
    return functions


def build_registry(functions: list[Any], settings: AppSettings) -> Registry:
    """Describe and check every function; the first problem found stops the start-up."""
    specs: dict[str, FunctionSpec] = {}
    for function in functions:
        spec = _describe(function, settings)
        specs[spec.name] = spec
    return Registry(specs)


def _describe(function: Any, settings: AppSettings) -> FunctionSpec:
    name: str = function.get_function_name()
    trigger: Binding | None = None
    inputs: list[Binding] = []
    outputs: list[Binding] = []
    for raw in function.get_raw_bindings():
        binding = _binding(name, json.loads(raw), settings)
        if binding.type in TRIGGER_TYPES:
            trigger = binding
        elif binding.type.endswith("Trigger"):
            raise DevhostError(
                f"function '{name}': trigger type '{binding.type}' is not supported by devhost"
            )
        elif binding.type in INPUT_TYPES and binding.direction == "in":
            inputs.append(binding)
        elif binding.type in OUTPUT_TYPES and binding.direction == "out":
            outputs.append(binding)
        else:
            raise DevhostError(
                f"function '{name}': binding type '{binding.type}' "
                f"({binding.direction}) is not supported by devhost"
            )
    if trigger is None:
        raise DevhostError(f"function '{name}' has no trigger")
    if trigger.type == "httpTrigger" and not any(b.type == "http" for b in outputs):
        raise DevhostError(f"function '{name}': an HTTP trigger needs an 'http' output binding")
    user_callable = function.get_user_function()
    spec = FunctionSpec(
        name=name,
        trigger=trigger,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        callable=user_callable,
        is_async=inspect.iscoroutinefunction(user_callable),
        takes_context=_takes_context(user_callable),
        sdk_function=function,
    )
    _check_parameters(spec)
    _check_expressions(spec)
    return spec


def _binding(function_name: str, raw: Mapping[str, Any], settings: AppSettings) -> Binding:
    binding_name = str(raw.get("name", ""))
    where = f"function '{function_name}', binding '{binding_name}'"
    properties = {
        key: settings.resolve(value, where=where) if isinstance(value, str) else value
        for key, value in raw.items()
    }
    return Binding(
        name=binding_name,
        type=str(raw.get("type", "")),
        direction=str(raw.get("direction", "in")).lower(),
        properties=properties,
    )


def _parameters(target: Callable[..., Any]) -> list[str]:
    # The durable-client wrapper takes *args/**kwargs; the user's signature is behind it.
    original = getattr(target, "client_function", None) or target
    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _takes_context(target: Callable[..., Any]) -> bool:
    return CONTEXT_PARAMETER in _parameters(target)


def _check_parameters(spec: FunctionSpec) -> None:
    """The worker's indexing rule: each binding but `$return` is a parameter, and back."""
    if spec.kind == "orchestrationTrigger":
        return  # the SDK's wrapper takes the context positionally
    parameters = set(_parameters(spec.callable)) - {CONTEXT_PARAMETER}
    bound = {b.name for b in (spec.trigger, *spec.inputs, *spec.outputs) if b.name != RETURN}
    unbound = sorted(parameters - bound)
    if unbound:
        raise DevhostError(
            f"function '{spec.name}': parameter(s) {', '.join(unbound)} have no binding"
        )
    missing = sorted(bound - parameters)
    if missing and parameters:
        raise DevhostError(
            f"function '{spec.name}': binding(s) {', '.join(missing)} name no parameter"
        )


def route_parameters(template: str) -> set[str]:
    """Parameter names of a route template ({id:int}, {name?}, {*rest})."""
    names = set()
    for body in _BRACES.findall(template):
        name = re.split(r"[:=?]", body.lstrip("*"), maxsplit=1)[0]
        names.add(name.strip().lower())
    return names


def blob_path_parameters(path: str) -> set[str]:
    return {body.strip().lower() for body in _BRACES.findall(path)}


_SYSTEM_EXPRESSIONS = frozenset({"rand-guid", "datetime", "sys.randguid", "sys.utcnow"})


def _check_expressions(spec: FunctionSpec) -> None:
    """Binding expressions ({...}) in input and output bindings must be ones devhost resolves."""
    if spec.kind == "httpTrigger":
        available = route_parameters(str(spec.trigger.get("route") or spec.name))
        prefixes: tuple[str, ...] = ("headers.", "query.")
    elif spec.kind == "blobTrigger":
        available = blob_path_parameters(str(spec.trigger.get("path", ""))) | {
            "blobtrigger",
            "uri",
        }
        prefixes = ("metadata.",)
    else:
        available, prefixes = set(), ()
    for binding in (*spec.inputs, *spec.outputs):
        for key, value in binding.properties.items():
            if not isinstance(value, str):
                continue
            for expression in _BRACES.findall(value):
                lowered = expression.strip().lower()
                if (
                    lowered in available
                    or lowered in _SYSTEM_EXPRESSIONS
                    or lowered.startswith(prefixes)
                ):
                    continue
                raise DevhostError(
                    f"function '{spec.name}': binding '{binding.name}' property '{key}': "
                    f"expression '{{{expression}}}' is not supported by devhost for a "
                    f"{spec.kind} function"
                )
