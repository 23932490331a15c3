"""The one mapping from the error hierarchy to application/problem+json (RFC 9457).

`type` is a stable URN per error code; `detail` is the error's human message, which the code
raising it writes for clients: never a stack trace, SQL or a secret. Anything that is not an
InvoiceError becomes a bare 500 whose detail says nothing about the cause.
"""

from __future__ import annotations

import json
from typing import Any

from shared.api.http import ApiResponse
from shared.errors import (
    ConfigurationError,
    Conflict,
    DocumentRejected,
    ExtractionFailed,
    Forbidden,
    InvoiceError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)

PROBLEM_TYPE = "urn:invoices:problem:{code}"

# Most specific first: the first matching class decides the status.
_STATUS: tuple[tuple[type[InvoiceError], int, str], ...] = (
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not Found"),
    (ValidationFailed, 400, "Bad Request"),
    (RateLimited, 429, "Too Many Requests"),
    (Conflict, 409, "Conflict"),
    (DocumentRejected, 422, "Unprocessable Content"),
    (ExtractionFailed, 422, "Unprocessable Content"),
    (ServiceUnavailable, 503, "Service Unavailable"),
    (ConfigurationError, 500, "Internal Server Error"),
)
# Codes that change the status within a class.
_CODE_STATUS = {"version_mismatch": (412, "Precondition Failed")}


def problem(
    status: int,
    title: str,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE.format(code=code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return ApiResponse(
        status,
        json.dumps(body, ensure_ascii=False).encode(),
        {
            "Content-Type": "application/problem+json",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def from_error(error: InvoiceError, *, instance: str | None = None) -> ApiResponse:
    status, title = 400, "Bad Request"
    for cls, cls_status, cls_title in _STATUS:
        if isinstance(error, cls):
            status, title = cls_status, cls_title
            break
    status, title = _CODE_STATUS.get(error.code, (status, title))
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    detail = error.message
    if isinstance(error, ConfigurationError):
        detail = "the service is misconfigured"  # the message may name settings; keep it in logs
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, ValidationFailed) and error.field:
        extra["field"] = error.field
    return problem(
        status, title, error.code, detail, instance=instance, extra=extra, headers=headers
    )


def internal_error(instance: str | None = None) -> ApiResponse:
    return problem(
        500,
        "Internal Server Error",
        "internal_error",
        "the request failed; it has been logged",
        instance=instance,
    )
