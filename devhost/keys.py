"""Function keys, kept in a local file the way the Functions host keeps them in its secrets store.

`.data/devhost/keys.json` (mode 0600), created with random keys on first start:

    {"masterKey": "...", "hostKeys": {"default": "..."},
     "functionKeys": {"<function>": {"default": "..."}}}

A function gets a key when it first appears. `authLevel` function accepts the function's own
keys, any host key or the master key; admin accepts only the master key. Clients send a key in
the `x-functions-key` header or the `code` query parameter.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devhost.errors import DevhostError

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


def new_key() -> str:
    # The host's keys are 40 random bytes, URL-safe base64 with a trailing "==" trimmed.
    return base64.urlsafe_b64encode(secrets.token_bytes(40)).decode().rstrip("=")


@dataclass(frozen=True)
class FunctionKeys:
    master: str
    host: Mapping[str, str]
    functions: Mapping[str, Mapping[str, str]]

    def function_key(self, function_name: str) -> str:
        return self.functions[function_name]["default"]

    def authorizes(self, level: str, function_name: str, presented: str | None) -> bool:
        """Whether `presented` opens a function declared with `level` (anonymous/function/admin)."""
        if level == "anonymous":
            return True
        if not presented:
            return False
        accepted = [self.master]
        if level == "function":
            accepted += self.host.values()
            accepted += self.functions.get(function_name, {}).values()
        return any(hmac.compare_digest(presented, key) for key in accepted)


def load_keys(path: Path, function_names: Iterable[str]) -> FunctionKeys:
    """Read the keys file, adding keys for functions that have none (and the file if missing).

    Hosts starting side by side share the file; a lock makes their updates take turns.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _load_locked(path, function_names)


def _load_locked(path: Path, function_names: Iterable[str]) -> FunctionKeys:
    document: dict[str, object] = {}
    if path.exists():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DevhostError(f"{path}: cannot read the function keys: {exc}") from exc
    changed = False
    master = document.get("masterKey")
    if not isinstance(master, str) or not master:
        master, changed = new_key(), True
    host = _key_set(document.get("hostKeys"))
    if not host:
        host, changed = {"default": new_key()}, True
    functions = {
        name: _key_set(keys)
        for name, keys in _mapping(document.get("functionKeys")).items()
        if _key_set(keys)
    }
    for name in function_names:
        if "default" not in functions.get(name, {}):
            functions[name] = {**functions.get(name, {}), "default": new_key()}
            changed = True
    keys = FunctionKeys(master=master, host=host, functions=functions)
    if changed:
        _save(path, keys)
    return keys


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _key_set(value: object) -> dict[str, str]:
    return {k: v for k, v in _mapping(value).items() if isinstance(v, str) and v}


def _save(path: Path, keys: FunctionKeys) -> None:
    document = {
        "masterKey": keys.master,
        "hostKeys": dict(keys.host),
        "functionKeys": {name: dict(k) for name, k in sorted(keys.functions.items())},
    }
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
