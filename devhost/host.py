"""The local Functions host: one process, one port, the whole app.

Start-up, in order: read the settings (local.settings.json, else the sample) into the process
environment; read host.json; import the app module and describe every function (registry.py:
anything unsupported stops here); load the function keys; bind the port; start Azurite where
a local storage endpoint has no listener; then serve, on one aiohttp application:

- HTTP triggers under the route prefix (http.py);
- the durable client API at the client binding's rpcBaseUrl and under
  /runtime/webhooks/durabletask, with the durable engine running orchestrations and activities
  (devhost.durable), when the app has durable functions;
- the local Web PubSub service (devhost.webpubsub);
- `GET /admin/host/status` (master key), `GET /admin/host/ping`;

and scan blob containers for blob triggers (blobs.py). `stop()` undoes all of it, including the
environment variables it set.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.azurite import Azurite, ensure_azurite
from devhost.blobs import BlobTriggerService, blob_triggers, default_host_id
from devhost.errors import DevhostError
from devhost.http import HttpTriggers
from devhost.invocation import BindingData, Invoker
from devhost.keys import KEY_HEADER, KEY_QUERY, FunctionKeys, load_keys
from devhost.registry import (
    DURABLE_TRIGGERS,
    Binding,
    Registry,
    app_functions,
    build_registry,
    import_app,
)
from devhost.settings import (
    AppSettings,
    HostJson,
    StorageAccount,
    load_app_settings,
    load_host_json,
    restore,
    storage_account,
)

logger = logging.getLogger("devhost")

DEFAULT_PORT = 7071
DEFAULT_HUB = "TestHubName"
WEB_PUBSUB_CONNECTION = "WebPubSubConnectionString"


@dataclass
class HostOptions:
    root: Path = field(default_factory=Path.cwd)
    app_module: str = "function_app"
    port: int = DEFAULT_PORT
    bind: str = "127.0.0.1"
    # Default: local.settings.json in root, else local.settings.sample.json.
    settings_file: Path | None = None
    # Default: root/.data/devhost/keys.json.
    keys_file: Path | None = None
    poll_interval: float = 1.0
    start_azurite: bool = True
    # Start embedded PostgreSQL (unless DATABASE_URL is set) even if no durable function needs it.
    start_database: bool = False
    # Where Azurite's data and the function keys live. Default: root/.data. Two hosts running at
    # once need their own: Azurite instances sharing a folder overwrite each other's metadata.
    data_root: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.data_root or self.root / ".data"

    @staticmethod
    def data_root_from(environ: Mapping[str, str]) -> Path | None:
        """DEVHOST_DATA_DIR, when set (end-to-end tests give each stack its own)."""
        value = environ.get("DEVHOST_DATA_DIR")
        return Path(value) if value else None


class Host:
    def __init__(
        self, options: HostOptions, environ: MutableMapping[str, str] | None = None
    ) -> None:
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.settings: AppSettings | None = None
        self.host_json = HostJson()
        self.registry = Registry({})
        self.keys: FunctionKeys | None = None
        self.port = options.port
        self.database_url: str | None = None
        self.web_pubsub: Any = None
        self.durable_engine: Any = None
        self.blob_service: BlobTriggerService | None = None
        self.azurite = Azurite()
        self._previous_environ: dict[str, str | None] = {}
        self._runner: web.AppRunner | None = None
        self._invoker: Invoker | None = None
        self._task_hub = DEFAULT_HUB
        self._history_store: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _set_environ(self, name: str, value: str) -> None:
        if name not in self._previous_environ:
            self._previous_environ[name] = self.environ.get(name)
        self.environ[name] = value

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        options = self.options
        root = options.root.resolve()
        settings = load_app_settings(root, self.environ, path=options.settings_file)
        self.settings = settings
        self._previous_environ.update(settings.apply(self.environ))
        self.host_json = load_host_json(root)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        self.registry = build_registry(app_functions(import_app(options.app_module)), settings)
        http_functions = self.registry.of_kind("httpTrigger")
        keys_file = options.keys_file or options.data_dir / "devhost" / "keys.json"
        self.keys = load_keys(keys_file, [spec.name for spec in http_functions])

        listener = _bind(options.bind, options.port)
        self.port = listener.getsockname()[1]
        invoker = Invoker(
            function_directory=str(root),
            max_threads=_positive_int(settings.get("PYTHON_THREADPOOL_THREAD_COUNT")),
        )
        self._invoker = invoker
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_get("/admin/host/ping", _ping)
        app.router.add_get("/admin/host/status", self._status)
        app.router.add_get("/admin/devhost/webpubsub/client", self._web_pubsub_client)

        triggers = blob_triggers(self.registry.of_kind("blobTrigger"), settings)
        accounts: list[StorageAccount] = [t.account for t in triggers]
        receipts: StorageAccount | None = None
        if triggers:
            receipts = storage_account(settings, "AzureWebJobsStorage", where="blob triggers")
            accounts.append(receipts)
        if options.start_azurite:
            if not accounts and settings.get("AzureWebJobsStorage"):
                accounts.append(
                    storage_account(settings, "AzureWebJobsStorage", where="AzureWebJobsStorage")
                )
            self.azurite = ensure_azurite(accounts, options.data_dir / "azurite")

        if options.start_database or self._needs_durable():
            self._start_database()
        await self._setup_web_pubsub(app, invoker)
        if self._needs_durable():
            await self._setup_durable(app, invoker)

        HttpTriggers(
            http_functions,
            route_prefix=self.host_json.route_prefix,
            keys=self.keys,
            invoker=invoker,
        ).mount(app)

        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, listener, shutdown_timeout=2.0).start()

        if triggers:
            assert receipts is not None
            self.blob_service = BlobTriggerService(
                triggers,
                receipts=receipts,
                host_id=default_host_id(settings),
                invoker=invoker,
                poll_interval=options.poll_interval,
            )
            await self.blob_service.start()
        if self.durable_engine is not None:
            await self.durable_engine.start()
        logger.info(
            "devhost listening on %s with %d functions", self.base_url, len(self.registry.functions)
        )

    def _needs_durable(self) -> bool:
        return bool(self.registry.of_kind(*DURABLE_TRIGGERS)) or self.registry.uses_binding(
            "durableClient"
        )

    def _start_database(self) -> None:
        from shared.config import load_settings
        from shared.storage.database import database_url

        self.database_url = database_url(load_settings(self.environ).database)
        self._set_environ("DATABASE_URL", self.database_url)

    async def _setup_durable(self, app: web.Application, invoker: Invoker) -> None:
        try:
            from devhost.durable import (
                RPC_PATH,
                WEBHOOK_PATH,
                HistoryStore,
                client_binding,
                engine_from_functions,
                mount_client_api,
            )
        except ImportError as exc:
            raise DevhostError(f"the app has durable functions but devhost.durable: {exc}") from exc
        assert self.settings is not None and self.database_url is not None
        hub = self.host_json.hub_name or DEFAULT_HUB
        self._task_hub = self.settings.resolve(hub, where="host.json durableTask.hubName")
        self._history_store = HistoryStore(self.database_url)
        registry = self.registry

        def activity_adapter(function: Any) -> Callable[[Any], Awaitable[Any]]:
            # An activity with other bindings (a Web PubSub output, say) runs like any function.
            spec = registry.functions[function.get_function_name()]

            async def run(value: Any) -> Any:
                return (await invoker.invoke(spec, value)).return_value

            return run

        durable_functions = [spec.sdk_function for spec in registry.of_kind(*DURABLE_TRIGGERS)]
        self.durable_engine = engine_from_functions(
            durable_functions,
            self._history_store,
            task_hub=self._task_hub,
            activity_workers=self.host_json.max_concurrent_activities or 8,
            activity_adapter=activity_adapter,
            faults=_activity_faults(self.settings.get("DEVHOST_ACTIVITY_FAULTS")),
        )
        mount_client_api(app, self.durable_engine, base_path=RPC_PATH)
        mount_client_api(app, self.durable_engine, base_path=WEBHOOK_PATH)

        async def durable_client(binding: Binding, data: BindingData) -> str:
            task_hub = str(binding.get("taskHub") or self._task_hub)
            return json.dumps(client_binding(self.base_url, task_hub))

        invoker.register_input("durableClient", durable_client)

    async def _setup_web_pubsub(self, app: web.Application, invoker: Invoker) -> None:
        uses_bindings = self.registry.uses_binding("webPubSub") or self.registry.uses_binding(
            "webPubSubConnection"
        )
        try:
            from devhost.webpubsub import WebPubSubService
        except ImportError as exc:
            if uses_bindings:
                raise DevhostError(
                    f"the app has Web PubSub bindings but devhost.webpubsub: {exc}"
                ) from exc
            logger.warning("no local Web PubSub service: %s", exc)
            return
        service = WebPubSubService(secrets.token_urlsafe(32))
        service.mount(app)
        self.web_pubsub = service
        connection_names = {WEB_PUBSUB_CONNECTION} | {
            str(b.get("connection") or WEB_PUBSUB_CONNECTION)
            for spec in self.registry
            for b in (*spec.inputs, *spec.outputs)
            if b.type in ("webPubSub", "webPubSubConnection")
        }
        for name in sorted(connection_names):
            self._set_environ(name, service.connection_string(self.base_url))

        async def connection(binding: Binding, data: BindingData) -> str:
            hub = str(binding.get("hub") or "")
            user = data.resolve(str(binding.get("userId"))) if binding.get("userId") else None
            info = service.connection_info(hub, user, (), (), 60, base_url=self.base_url)
            return json.dumps(info)

        async def output(binding: Binding, value: Any, data: BindingData) -> None:
            if isinstance(value, bytes | bytearray):
                value = bytes(value).decode()
            elif not isinstance(value, str):
                value = json.dumps(value)
            await service.apply_output(str(binding.get("hub") or ""), value)

        invoker.register_input("webPubSubConnection", connection)
        invoker.register_output("webPubSub", output)

    async def _status(self, request: web.Request) -> web.Response:
        presented = request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY)
        if self.keys is None or not self.keys.authorizes("admin", "", presented):
            return web.Response(status=401)
        return web.json_response(self.status())

    async def _web_pubsub_client(self, request: web.Request) -> web.Response:
        """A client URL for the local Web PubSub service (master key): what `process` listens
        with. Query: hub, userId, group (repeatable; joined at connect)."""
        presented = request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY)
        if self.keys is None or not self.keys.authorizes("admin", "", presented):
            return web.Response(status=401)
        if self.web_pubsub is None:
            return web.Response(status=404, text="no local Web PubSub service")
        hub = request.query.get("hub", "")
        groups = request.query.getall("group", [])
        info = self.web_pubsub.connection_info(
            hub, request.query.get("userId"), (), groups, 60, base_url=self.base_url
        )
        return web.json_response(info)

    def status(self) -> dict[str, Any]:
        return {
            "state": "Running",
            "id": default_host_id(self.settings) if self.settings else None,
            "processId": os.getpid(),
            "baseUrl": self.base_url,
            "routePrefix": self.host_json.route_prefix,
            "functions": sorted(self.registry.functions),
            "webPubSub": self.web_pubsub is not None,
            "durable": self.durable_engine is not None,
        }

    def urls(self) -> list[str]:
        """One line per HTTP function (methods and URL), for `start` to print."""
        prefix = f"/{self.host_json.route_prefix}" if self.host_json.route_prefix else ""
        lines = []
        for spec in self.registry.of_kind("httpTrigger"):
            methods = spec.trigger.get("methods") or ["*"]
            route = str(spec.trigger.get("route") or spec.name)
            names = ",".join(str(m).split(".")[-1].upper() for m in methods)
            lines.append(f"{spec.name}: [{names}] {self.base_url}{prefix}/{route}")
        return lines

    async def stop(self) -> None:
        if self.blob_service is not None:
            await self.blob_service.stop()
            self.blob_service = None
        if self.durable_engine is not None:
            await self.durable_engine.stop()
            self.durable_engine = None
        if self._history_store is not None:
            self._history_store.close()
            self._history_store = None
            await _close_durable_client_session()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._invoker is not None:
            self._invoker.close()
            self._invoker = None
        self.azurite.stop()
        restore(self.environ, self._previous_environ)
        self._previous_environ = {}


async def _close_durable_client_session() -> None:
    """The durable SDK keeps one aiohttp session for its client calls and never closes it (the
    worker process just exits); close it so a stopped host leaves no unclosed session behind."""
    try:
        from azure.durable_functions.models.utils import http_utils

        await http_utils._close_session()
    except Exception as exc:  # a private helper of the SDK: its absence must not fail a stop
        logger.debug("durable client session not closed: %s", exc)


async def _ping(request: web.Request) -> web.Response:
    return web.Response(status=200)


def _bind(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise DevhostError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    listener.listen(128)
    listener.setblocking(False)
    return listener


def _activity_faults(spec: str | None) -> dict[str, int]:
    """DEVHOST_ACTIVITY_FAULTS="parse_document:2,store_document:1": each call of those activities
    fails that many times before it runs (resilience tests of retry policies)."""
    faults: dict[str, int] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, _, count = part.partition(":")
        if not count.strip().isdigit():
            raise DevhostError(f"DEVHOST_ACTIVITY_FAULTS: expected name:count, got {part!r}")
        faults[name.strip()] = int(count)
    return faults


def _positive_int(value: str | None) -> int | None:
    if value and value.isdigit() and int(value) > 0:
        return int(value)
    return None
