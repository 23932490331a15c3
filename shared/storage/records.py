"""What the repositories return: the canonical schema plus where it lives and who owns it.

These models are also the API's response bodies (and so its OpenAPI schemas).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.extraction.schema import InvoiceFields, InvoiceHeader, InvoiceStatus, LlmUsage


class _Stored(BaseModel):
    id: UUID
    document_id: UUID
    owner: str
    status: InvoiceStatus
    confidence: dict[str, float] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    extractor: str
    pages: int
    version: int = Field(description="Bumped on every change; sent as the ETag")
    duplicate_of: UUID | None = Field(
        default=None,
        description="The earlier invoice this one probably duplicates (same vendor, number and "
        "total, or a near-identical embedding); such an invoice carries the warning "
        "possible_duplicate and waits for review",
    )
    llm: LlmUsage | None = Field(
        default=None, description="The LLM calls behind the extraction; null: rules only"
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class InvoiceSummary(InvoiceHeader, _Stored):
    """An invoice in a list: every field but the line items."""

    model_config = ConfigDict(extra="forbid")


class InvoiceRecord(InvoiceFields, _Stored):
    """One invoice with its line items."""

    model_config = ConfigDict(extra="forbid")


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )


class ScoredInvoice(BaseModel):
    invoice: InvoiceSummary
    score: float = Field(description="Higher is closer; comparable within one response only")


class InvoiceEvent(BaseModel):
    id: int
    invoice_id: UUID
    actor: str
    action: str
    field: str | None
    old_value: Any = None
    new_value: Any = None
    at: dt.datetime


class JobDocument(BaseModel):
    position: int
    name: str
    document_id: UUID | None
    outcome: str
    error_code: str | None
    error_message: str | None
    invoice_id: UUID | None


class JobRecord(BaseModel):
    id: str
    owner: str
    source_blob: str
    status: str
    documents_total: int
    documents_succeeded: int
    documents_failed: int
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime
    documents: list[JobDocument] | None = Field(
        default=None, description="Per-document outcomes; only on a single job"
    )


class JobPage(BaseModel):
    items: list[JobRecord]
    next_cursor: str | None = None


class ProblemJob(JobRecord):
    """A failed or stuck job, for operators."""

    stuck: bool = Field(description="Unfinished, and none of its documents moved for 30 minutes")
    failure_codes: dict[str, int] = Field(description="Its failed documents, by error code")


class ProblemJobPage(BaseModel):
    items: list[ProblemJob]
    next_cursor: str | None = None
