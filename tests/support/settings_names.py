"""The names of the settings the app reads, derived from the code rather than listed by hand.

Tests that hold other files to the code (local.settings.sample.json, the README, main.bicep)
start from these functions, so a setting added to shared/config.py is checked everywhere
without anyone remembering to update a list.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from shared import config

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_JSON = REPO_ROOT / "host.json"

# Setting names are identifiers such as OCR_DPI or INVOICES_STORAGE__blobServiceUri; the
# upper-case first letter keeps dictionary keys and messages out.
_SETTING_NAME = re.compile(r"[A-Z][A-Za-z0-9_]+")
# host.json and binding properties name app settings as %NAME%.
_HOST_REFERENCE = re.compile(r"%([A-Za-z][A-Za-z0-9_]*)%")


def _mentions_environment(node: ast.AST) -> bool:
    """True when the expression is, or contains, `env` or `os.environ`."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id == "env":
            return True
        if (
            isinstance(inner, ast.Attribute)
            and inner.attr == "environ"
            and isinstance(inner.value, ast.Name)
            and inner.value.id == "os"
        ):
            return True
    return False


def variables_read_by_load_settings() -> set[str]:
    """The variable names shared/config.py reads from the environment mapping.

    A read is `env.get(NAME)` (or `os.environ.get`), or any call that is handed the mapping
    together with a constant name: `_int(env, NAME, ...)`, `_bool(env, NAME, ...)`,
    `_choice(os.environ if env is None else env, NAME, ...)`, and whatever parser comes next.
    """
    tree = ast.parse(Path(config.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_get = (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and _mentions_environment(func.value)
        )
        if not is_get and not any(_mentions_environment(arg) for arg in node.args):
            continue
        for arg in node.args:
            if (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _SETTING_NAME.fullmatch(arg.value)
            ):
                names.add(arg.value)
    return names


def settings_referenced_by_host_json() -> set[str]:
    """App settings host.json reads through %NAME% (e.g. the durable task hub's name)."""
    return set(_HOST_REFERENCE.findall(HOST_JSON.read_text(encoding="utf-8")))


def sample_local_settings() -> dict[str, str]:
    """The `Values` of local.settings.sample.json."""
    raw = json.loads((REPO_ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    values: dict[str, str] = raw["Values"]
    return values
