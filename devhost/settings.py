"""App settings and host.json, read the way Core Tools and the Functions host read them.

- `local.settings.json` (else `local.settings.sample.json`): `Values` become environment
  variables of the process, except those the environment already sets to a non-empty value
  (Core Tools: "Skipping '...' from local settings as it's already defined").
  `ConnectionStrings` are host configuration (`ConnectionStrings:<name>`), used to resolve a
  binding's `connection`.
- A binding's `connection` name N resolves like the WebJobs SDK: `ConnectionStrings:N`, then
  `AzureWebJobsN`, then `N`; or, identity-based, `N__blobServiceUri` / `N__serviceUri`.
- `%NAME%` in a binding property is replaced by the app setting NAME at start-up; a missing
  setting stops the start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.errors import DevhostError

SETTINGS_FILE = "local.settings.json"
SAMPLE_SETTINGS_FILE = "local.settings.sample.json"

# Azurite's well-known development account (public and documented; useless outside Azurite).
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEV_BLOB_PORT = 10000
DEV_QUEUE_PORT = 10001

_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")


@dataclass(frozen=True)
class AppSettings:
    """The app's effective settings: the environment over the settings file."""

    values: Mapping[str, str]
    connection_strings: Mapping[str, str] = field(default_factory=dict)
    # The file they came from (None: neither file exists, the environment alone).
    source: Path | None = None
    # What `apply` puts into the process environment.
    file_values: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """A setting's value; an empty value counts as unset."""
        value = self.values.get(name)
        return value if value else None

    def connection(self, name: str) -> str | None:
        """The connection string a binding's `connection` name refers to, if any."""
        for candidate in (name, f"AzureWebJobs{name}"):
            value = self.connection_strings.get(candidate)
            if value:
                return value
        return self.get(f"AzureWebJobs{name}") or self.get(name)

    def resolve(self, text: str, *, where: str) -> str:
        """Replace every %NAME% by its setting; `where` names the binding for the error."""

        def replace(match: re.Match[str]) -> str:
            value = self.get(match.group(1))
            if value is None:
                raise DevhostError(
                    f"{where}: '%{match.group(1)}%' does not resolve to a value "
                    "(set it in local.settings.json or the environment)"
                )
            return value

        return _SETTING_EXPRESSION.sub(replace, text)

    def apply(self, environ: MutableMapping[str, str]) -> dict[str, str | None]:
        """Export the file's Values to `environ`; return the previous values to restore."""
        previous: dict[str, str | None] = {}
        for name, value in self.file_values.items():
            if environ.get(name):
                continue
            previous[name] = environ.get(name)
            environ[name] = value
        return previous


def restore(environ: MutableMapping[str, str], previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def settings_path(root: Path) -> Path | None:
    for name in (SETTINGS_FILE, SAMPLE_SETTINGS_FILE):
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def load_app_settings(
    root: Path, environ: Mapping[str, str], *, path: Path | None = None
) -> AppSettings:
    """Read `path` (default: local.settings.json, else the sample) under the environment."""
    source = path or settings_path(root)
    file_values: dict[str, str] = {}
    connection_strings: dict[str, str] = {}
    if source is not None:
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DevhostError(f"{source}: cannot read settings: {exc}") from exc
        if not isinstance(document, dict):
            raise DevhostError(f"{source}: expected a JSON object")
        if document.get("IsEncrypted") is True:
            raise DevhostError(f"{source}: encrypted settings are not supported")
        file_values = _strings(document.get("Values", {}), source, "Values")
        connection_strings = _connection_strings(document.get("ConnectionStrings", {}), source)
    values = dict(file_values)
    for name, value in environ.items():
        if value or name not in values:
            values[name] = value
    return AppSettings(
        values=values,
        connection_strings=connection_strings,
        source=source,
        file_values=file_values,
    )


def _strings(section: object, source: Path, name: str) -> dict[str, str]:
    if not isinstance(section, dict):
        raise DevhostError(f"{source}: '{name}' must be an object")
    result: dict[str, str] = {}
    for key, value in section.items():
        if isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            result[key] = str(value)
        elif value is None:
            result[key] = ""
        else:
            raise DevhostError(f"{source}: {name}.{key} must be a string")
    return result


def _connection_strings(section: object, source: Path) -> dict[str, str]:
    if not isinstance(section, dict):
        raise DevhostError(f"{source}: 'ConnectionStrings' must be an object")
    result: dict[str, str] = {}
    for key, value in section.items():
        # Core Tools accepts both "name": "value" and "name": {"ConnectionString": "value"}.
        if isinstance(value, dict):
            value = value.get("ConnectionString", "")
        if not isinstance(value, str):
            raise DevhostError(f"{source}: ConnectionStrings.{key} must be a string")
        result[key] = value
    return result


@dataclass(frozen=True)
class StorageAccount:
    """Where a storage connection points: endpoints and how to authenticate."""

    blob_endpoint: str
    queue_endpoint: str | None
    account_name: str | None = None
    account_key: str | None = None
    # Identity-based connections (`N__blobServiceUri`): DefaultAzureCredential.
    uses_identity: bool = False
    connection_string: str | None = None


def parse_connection_string(value: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in value.split(";"):
        if not item.strip():
            continue
        key, sep, rest = item.partition("=")
        if not sep:
            raise DevhostError(f"malformed storage connection string part {key.strip()!r}")
        parts[key.strip().lower()] = rest.strip()
    return parts


def development_storage() -> StorageAccount:
    blob = f"http://127.0.0.1:{DEV_BLOB_PORT}/{DEV_ACCOUNT_NAME}"
    queue = f"http://127.0.0.1:{DEV_QUEUE_PORT}/{DEV_ACCOUNT_NAME}"
    return StorageAccount(
        blob_endpoint=blob,
        queue_endpoint=queue,
        account_name=DEV_ACCOUNT_NAME,
        account_key=DEV_ACCOUNT_KEY,
        connection_string=(
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};"
            f"AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={blob};QueueEndpoint={queue};"
        ),
    )


def storage_account(settings: AppSettings, connection: str, *, where: str) -> StorageAccount:
    """Resolve a storage binding's `connection` the way the WebJobs SDK does."""
    value = settings.connection(connection)
    if value:
        return _account_from_connection_string(value, where=where)
    for prefix in (connection, f"AzureWebJobs{connection}"):
        uri = settings.get(f"{prefix}__blobServiceUri") or settings.get(f"{prefix}__serviceUri")
        if uri:
            return StorageAccount(
                blob_endpoint=uri.rstrip("/"),
                queue_endpoint=(settings.get(f"{prefix}__queueServiceUri") or "").rstrip("/")
                or None,
                uses_identity=True,
            )
    raise DevhostError(
        f"{where}: storage connection '{connection}' is not set (neither a connection string "
        f"'{connection}' nor '{connection}__blobServiceUri')"
    )


def _account_from_connection_string(value: str, *, where: str) -> StorageAccount:
    parts = parse_connection_string(value)
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return development_storage()
    name = parts.get("accountname")
    key = parts.get("accountkey")
    protocol = parts.get("defaultendpointsprotocol", "https")
    suffix = parts.get("endpointsuffix", "core.windows.net")
    blob = parts.get("blobendpoint") or (name and f"{protocol}://{name}.blob.{suffix}")
    if not blob:
        raise DevhostError(f"{where}: the storage connection string has no blob endpoint")
    queue = parts.get("queueendpoint") or (name and f"{protocol}://{name}.queue.{suffix}") or None
    if name is None:
        name = _account_from_endpoint(blob)
    return StorageAccount(
        blob_endpoint=blob.rstrip("/"),
        queue_endpoint=queue.rstrip("/") if queue else None,
        account_name=name,
        account_key=key,
        connection_string=value,
    )


def _account_from_endpoint(endpoint: str) -> str | None:
    path = endpoint.split("://", 1)[-1].split("/", 1)
    return path[1].strip("/") if len(path) > 1 and path[1].strip("/") else None


@dataclass(frozen=True)
class HostJson:
    """The parts of host.json the devhost honours."""

    route_prefix: str = "api"
    # durableTask.hubName, %SETTING% still unresolved.
    hub_name: str | None = None
    max_concurrent_activities: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def load_host_json(root: Path) -> HostJson:
    path = root / "host.json"
    if not path.is_file():
        return HostJson()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DevhostError(f"{path}: cannot read host.json: {exc}") from exc
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {}
    durable = extensions.get("durableTask") or {}
    prefix = http.get("routePrefix", "api")
    if not isinstance(prefix, str):
        raise DevhostError(f"{path}: extensions.http.routePrefix must be a string")
    activities = durable.get("maxConcurrentActivityFunctions")
    return HostJson(
        route_prefix=prefix.strip("/"),
        hub_name=durable.get("hubName"),
        max_concurrent_activities=activities if isinstance(activities, int) else None,
        raw=document,
    )
