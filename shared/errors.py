"""One error hierarchy for the whole product.

The HTTP layer maps these to problem+json in one place; the pipeline turns
`DocumentRejected` into a failed-document record with its reason code.
"""

from __future__ import annotations

from pydantic import ValidationError as PydanticValidationError


class InvoiceError(Exception):
    """Base of every error the product raises on purpose."""

    code: str = "invoice_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class DocumentRejected(InvoiceError):
    """Input that is not a processable document.

    `code` is stable (clients and tests match on it); `message` is for humans.
    """

    code = "document_rejected"


class ExtractionFailed(InvoiceError):
    """A valid document from which no invoice could be extracted."""

    code = "extraction_failed"


class NotFound(InvoiceError):
    code = "not_found"


class Forbidden(InvoiceError):
    code = "forbidden"


class ConfigurationError(InvoiceError):
    code = "configuration_error"


class Unauthorized(InvoiceError):
    """No credentials, or credentials that do not verify (HTTP 401)."""

    code = "unauthorized"


class ValidationFailed(InvoiceError):
    """Input that breaks the contract; `field` names the offending parameter or body field."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field

    @classmethod
    def from_pydantic(cls, exc: PydanticValidationError, default_field: str) -> ValidationFailed:
        """The first error, naming the field; pydantic's message, never the offending input."""
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or default_field
        return cls(f"{location}: {first['msg']}", field=location)


class Conflict(InvoiceError):
    """The request does not fit the resource's current state (e.g. approving a rejected invoice)."""

    code = "conflict"


class RateLimited(InvoiceError):
    """Too many requests; `retry_after` is whole seconds until one more is allowed."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(InvoiceError):
    """A dependency (database, storage, identity provider) cannot be reached (HTTP 503)."""

    code = "service_unavailable"


class EmbeddingFailed(InvoiceError):
    """The embedding model could not embed a text (unreachable, refused, or wrong dimension)."""

    code = "embedding_failed"
