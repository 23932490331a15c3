"""Calling a function the way the Python worker does, and logging one line per invocation.

The worker calls the user function with keyword arguments, one per binding (`$return` aside),
plus `context` when the function asks for it; an output binding's parameter gets a `func.Out`
to `set()`. Synchronous functions run in a thread pool, coroutines on the host's event loop.
Input bindings other than the trigger, and output bindings other than `http`, are served by
resolvers and handlers the host registers per binding type (durable client, Web PubSub).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import azure.functions as func

from devhost.registry import RETURN, Binding, FunctionSpec

logger = logging.getLogger("devhost.invocations")

T = TypeVar("T")

# Resolves an input binding to the value the worker would pass (binding, binding data).
InputResolver = Callable[[Binding, "BindingData"], Awaitable[Any]]
# Applies an output binding's value once the function has returned.
OutputHandler = Callable[[Binding, Any, "BindingData"], Awaitable[None]]


def converter(binding_type: str) -> Any:
    """The SDK's converter for a binding type: what the worker decodes and encodes with."""
    return func.get_binding_registry().get(binding_type)  # type: ignore[no-untyped-call]


class Out(func.Out[T], Generic[T]):
    """What an output binding's parameter receives (`get()` is None until `set()`)."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: T) -> None:
        self._value = val

    def get(self) -> T:
        value: T = self._value
        return value


class _TraceContext(func._abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class InvocationContext(func.Context):
    """The `context` parameter: invocation id, function name and directory."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = _TraceContext()
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property  # the SDK's annotation says type[local]; the worker returns an instance
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _TraceContext:
        return self._trace_context

    @property  # no retry policies in devhost: there is never a retry context
    def retry_context(self) -> None:  # type: ignore[override]
        return None


@dataclass
class BindingData:
    """Values binding expressions ({...}) resolve against, keys compared case-insensitively."""

    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = {key.lower(): _lower_keys(value) for key, value in self.values.items()}

    def resolve(self, template: str) -> str:
        def replace(match: re.Match[str]) -> str:
            return self.lookup(match.group(1).strip())

        return re.sub(r"\{([^{}]+)\}", replace, template)

    def lookup(self, expression: str) -> str:
        lowered = expression.lower()
        if lowered in ("rand-guid", "sys.randguid"):
            return str(uuid.uuid4())
        if lowered in ("datetime", "sys.utcnow"):
            return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        value: Any = self.values
        for part in lowered.split("."):
            if not isinstance(value, dict) or part not in value:
                raise BindingExpressionError(f"no value for binding expression '{{{expression}}}'")
            value = value[part]
        return str(value)


def _lower_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): v for k, v in value.items()}
    return value


class BindingExpressionError(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    invocation_id: str
    # The function's return value (`$return`), or the value set on a named `http` output.
    http_response: Any
    return_value: Any


class Invoker:
    def __init__(
        self,
        *,
        function_directory: str,
        max_threads: int | None = None,
    ) -> None:
        self._function_directory = function_directory
        self._executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="function")
        self._resolvers: dict[str, InputResolver] = {}
        self._handlers: dict[str, OutputHandler] = {}

    def register_input(self, binding_type: str, resolver: InputResolver) -> None:
        self._resolvers[binding_type] = resolver

    def register_output(self, binding_type: str, handler: OutputHandler) -> None:
        self._handlers[binding_type] = handler

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        binding_data: BindingData | None = None,
        *,
        invocation_id: str | None = None,
    ) -> Outcome:
        """Run one invocation; log its line; re-raise what the function (or a binding) raised."""
        invocation_id = invocation_id or str(uuid.uuid4())
        data = binding_data or BindingData()
        started = time.monotonic()
        try:
            outcome = await self._invoke(spec, trigger_value, data, invocation_id)
        except BaseException as exc:
            elapsed = (time.monotonic() - started) * 1000
            logger.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %s: %s",
                spec.name,
                invocation_id,
                elapsed,
                type(exc).__name__,
                exc,
                exc_info=not isinstance(exc, asyncio.CancelledError),
            )
            raise
        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
            spec.name,
            invocation_id,
            elapsed,
        )
        return outcome

    async def _invoke(
        self, spec: FunctionSpec, trigger_value: Any, data: BindingData, invocation_id: str
    ) -> Outcome:
        kwargs: dict[str, Any] = {spec.trigger.name: trigger_value}
        for binding in spec.inputs:
            kwargs[binding.name] = await self._resolvers[binding.type](binding, data)
        outs: dict[str, Out[Any]] = {}
        for binding in spec.outputs:
            if binding.name != RETURN:
                outs[binding.name] = kwargs[binding.name] = Out()
        if spec.takes_context:
            kwargs["context"] = InvocationContext(
                invocation_id, spec.name, self._function_directory
            )
        result = await self.call(spec.callable, spec.is_async, kwargs)
        http_response = None
        for binding in spec.outputs:
            value = result if binding.name == RETURN else outs[binding.name].get()
            if binding.type == "http":
                http_response = value
            elif value is not None:
                await self._handlers[binding.type](binding, value, data)
        return Outcome(
            invocation_id=invocation_id, http_response=http_response, return_value=result
        )

    async def call(
        self, target: Callable[..., Any], is_async: bool, kwargs: Mapping[str, Any]
    ) -> Any:
        """Call user code: a coroutine on this loop, anything else on the thread pool."""
        if is_async:
            return await target(**kwargs)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, target, **kwargs)
        return await loop.run_in_executor(self._executor, call)
