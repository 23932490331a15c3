"""Structured logs: correlation fields from the call in progress, redaction, one format.

`log_context(job_id=..., request_id=...)` binds fields for the code it wraps (contextvars, so
threads and asyncio tasks each see their own); every record logged inside carries them. The API
dispatch binds the request id and route, the flow's activities the job, orchestration instance
and document (shared/flow/traced.py). An owner id is never logged: `owner=` becomes
`owner_hash`, the first 16 hex digits of its SHA-256, enough to tell one user's lines from
another's.

`configure_logging` (called once at start-up by shared.observability) puts two filters and the
formatter on every handler of the root logger (the Functions worker's, which forwards to the
host, or the devhost's console), or on a new stderr handler when there is none:
- `CorrelationFilter` copies the bound fields onto each record;
- `RedactionFilter` rewrites the message, traceback and stack of each record with secrets
  replaced (bearer tokens and JWTs, Authorization headers, function keys, API keys, connection
  string keys and passwords, SAS signatures, passwords in URLs). Document contents are never
  logged in the first place: log ids and codes, not names, paths or text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from shared.config import LogSettings

CORRELATION_FIELDS = (
    "request_id",
    "route",
    "job_id",
    "instance_id",
    "activity",
    "position",
    "document_id",
    "invoice_id",
    "owner_hash",
)
_fields: ContextVar[Mapping[str, Any]] = ContextVar("log_fields", default=MappingProxyType({}))
REDACTED = "[REDACTED]"


def owner_hash(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind correlation fields (None values are skipped; `owner` is stored hashed)."""
    owner = fields.pop("owner", None)
    if owner:
        fields["owner_hash"] = owner_hash(str(owner))
    unknown = set(fields) - set(CORRELATION_FIELDS)
    if unknown:
        raise ValueError(f"not correlation fields: {sorted(unknown)}")
    bound = {name: value for name, value in fields.items() if value is not None}
    token = _fields.set({**_fields.get(), **bound})
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields() -> Mapping[str, Any]:
    return _fields.get()


# Names whose value is a secret, wherever they appear as `name=value` or `name: value`
# (connection strings, headers, dict and JSON reprs, environment dumps like DB_PASSWORD=...).
_SENSITIVE_NAMES = (
    r"authorization|x-functions-key|x-api-key|api[-_]?key|client[-_]?secret|secret|password|"
    r"passwd|pwd|access[-_]?token|refresh[-_]?token|id[-_]?token|token|signature|"
    r"accountkey|sharedaccesskey|sharedaccesssignature|accesskey|connection[-_]?string"
)
_VALUE = rf"(?!{re.escape(REDACTED)})[^\s'\";&,)}}\]]+"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A JWT anywhere (three base64url parts, the first a JSON header).
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Bearer/Basic credentials, in a header or a repr of one.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (
        re.compile(rf"(?i)(?<![a-z0-9])({_SENSITIVE_NAMES})(['\"]?\s*[=:]\s*['\"]?){_VALUE}"),
        rf"\1\2{REDACTED}",
    ),
    # A SAS signature or a function key in a query string (`code` alone is too common a word).
    (re.compile(rf"(?i)([?&](?:sig|code)=){_VALUE}"), rf"\1{REDACTED}"),
    # A password in a URL: scheme://user:password@host.
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    # OpenAI-style API keys.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class CorrelationFilter(logging.Filter):
    """Copies the bound correlation fields onto the record (an explicit `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


_traceback_formatter = logging.Formatter()


class RedactionFilter(logging.Filter):
    """Formats the message (and traceback) now and stores it redacted, so every handler,
    formatter and exporter after it sees only the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: keep what can be shown, never fail the caller
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def correlation_of(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in CORRELATION_FIELDS if hasattr(record, name)}


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exception(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(_traceback_formatter.formatException(record.exc_info))
    parts = [part for part in (record.exc_text, record.stack_info) if part]
    return "\n".join(parts) or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, the correlation fields,
    and `exception` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **correlation_of(record),
        }
        exception = _exception(record)
        if exception:
            document["exception"] = exception
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`timestamp LEVEL logger: message key=value ...`, for reading on a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={value}" for name, value in correlation_of(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = f"{line} {fields}" if fields else line
        exception = _exception(record)
        return f"{line}\n{exception}" if exception else line


# Libraries whose INFO lines are per HTTP request or per telemetry export: kept at WARNING
# unless LOG_LEVEL is DEBUG.
_CHATTY = (
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.identity",
    "azure.monitor.opentelemetry.exporter",
    "urllib3",
)


def install(handler: logging.Handler, log_format: str) -> None:
    """Give one handler the app's filters and formatter (idempotent)."""
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    present = {type(f) for f in handler.filters}
    for kind in (CorrelationFilter, RedactionFilter):
        if kind not in present:
            handler.addFilter(kind())


def quiet_libraries(level: str) -> dict[str, int]:
    """Keep the chatty libraries at WARNING unless `level` is DEBUG; returns their old levels."""
    chatty_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    previous = {}
    for name in _CHATTY:
        previous[name] = logging.getLogger(name).level
        logging.getLogger(name).setLevel(chatty_level)
    return previous


def configure_logging(settings: LogSettings) -> None:
    root = logging.getLogger()
    root.setLevel(settings.level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        install(handler, settings.format)
    quiet_libraries(settings.level)
