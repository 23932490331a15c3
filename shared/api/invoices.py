"""Invoice handlers: list, get, correct, delete, review, similar, search, export, document URL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.api.call import Call
from shared.api.export import content_type, export_chunks
from shared.api.http import ApiResponse
from shared.errors import NotFound, ValidationFailed
from shared.extraction.schema import InvoiceHeader, LineItem
from shared.storage import invoices
from shared.storage.query import MAX_AMOUNT, InvoiceFilters, InvoiceSort
from shared.storage.records import ScoredInvoice


class _FilteredQuery(InvoiceFilters):
    def filters(self) -> InvoiceFilters:
        """The filters alone (what the cursor is bound to), without the query's other fields."""
        return InvoiceFilters.model_validate(
            self.model_dump(include=set(InvoiceFilters.model_fields), exclude_unset=True)
        )


class InvoiceListQuery(_FilteredQuery):
    sort: InvoiceSort = InvoiceSort.NEWEST
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class ExportQuery(_FilteredQuery):
    format: Literal["csv", "json"] = "csv"


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=200, description="What to look for")
    limit: int = Field(default=20, ge=1, le=100)


class SimilarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=10, ge=1, le=100)


class InvoicePatch(InvoiceHeader):
    """A JSON merge patch: fields present are set (null clears), fields absent stay."""

    line_items: list[LineItem] | None = Field(
        default=None, description="Replaces all line items when present", max_length=1000
    )

    @model_validator(mode="after")
    def _amounts_in_range(self) -> InvoicePatch:
        rows: list[tuple[str, BaseModel]] = [("", self)]
        rows += [(f"line_items.{n}.", item) for n, item in enumerate(self.line_items or ())]
        for prefix, row in rows:
            for name, value in row:
                if isinstance(value, Decimal) and not (
                    value.is_finite() and abs(value) < MAX_AMOUNT
                ):
                    raise ValidationFailed(
                        f"{prefix}{name}: must be a finite amount below 10^15",
                        field=f"{prefix}{name}",
                    )
        return self


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ScoredInvoices(BaseModel):
    items: list[ScoredInvoice]


class DocumentLink(BaseModel):
    url: str = Field(description="Read-only, expires at expires_at")
    expires_at: dt.datetime


DOCUMENT_URL_MINUTES = 5


def invoice_id(call: Call) -> UUID:
    raw = call.route_param("id")
    try:
        return UUID(raw)
    except ValueError:
        # Not a well-formed id, so no such invoice: the same answer as for an unknown one.
        raise NotFound(f"invoice {raw[:64]} not found") from None


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def list_invoices(call: Call) -> ApiResponse:
    query = call.query(InvoiceListQuery)
    with call.services.connection() as conn:
        page = invoices.list_page(
            conn,
            call.scope,
            query.filters(),
            sort=query.sort,
            limit=query.limit,
            cursor=query.cursor,
        )
    return ApiResponse.json(200, page)


def get_invoice(call: Call) -> ApiResponse:
    with call.services.connection() as conn:
        record = invoices.get(conn, call.scope, invoice_id(call))
    return ApiResponse.json(200, record, _etag(record.version))


def _expected_version(call: Call) -> int | None:
    raw = call.request.header("if-match")
    if raw is None:
        return None
    try:
        return int(raw.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise ValidationFailed("If-Match must be an ETag from this API", field="If-Match") from None


def patch_invoice(call: Call) -> ApiResponse:
    patch = call.body(InvoicePatch)
    changes = patch.model_dump(include=patch.model_fields_set)
    target = invoice_id(call)
    with call.services.connection() as conn:
        text = invoices.document_text(conn, call.scope, target)
        record = invoices.correct(
            conn,
            call.scope,
            target,
            changes,
            document_text=text,
            expected_version=_expected_version(call),
        )
    return ApiResponse.json(200, record, _etag(record.version))


def delete_invoice(call: Call) -> ApiResponse:
    with call.services.connection() as conn:
        invoices.soft_delete(conn, call.scope, invoice_id(call))
    return ApiResponse.empty()


def approve_invoice(call: Call) -> ApiResponse:
    with call.services.connection() as conn:
        record = invoices.approve(conn, call.scope, invoice_id(call))
    return ApiResponse.json(200, record, _etag(record.version))


def reject_invoice(call: Call) -> ApiResponse:
    body = call.body(RejectBody)
    with call.services.connection() as conn:
        record = invoices.reject(conn, call.scope, invoice_id(call), body.reason)
    return ApiResponse.json(200, record, _etag(record.version))


def invoice_events(call: Call) -> ApiResponse:
    with call.services.connection() as conn:
        history = invoices.events(conn, call.scope, invoice_id(call))
    return ApiResponse.json(200, {"items": [event.model_dump(mode="json") for event in history]})


def similar_invoices(call: Call) -> ApiResponse:
    query = call.query(SimilarQuery)
    with call.services.connection() as conn:
        found = invoices.similar(conn, call.scope, invoice_id(call), limit=query.limit)
    return ApiResponse.json(200, ScoredInvoices(items=found))


def search_invoices(call: Call) -> ApiResponse:
    query = call.query(SearchQuery)
    with call.services.connection() as conn:
        found = invoices.search(
            conn, call.scope, query.q, embedder=call.services.embedder, limit=query.limit
        )
    return ApiResponse.json(200, ScoredInvoices(items=found))


def export_invoices(call: Call) -> ApiResponse:
    query = call.query(ExportQuery)
    with call.services.connection() as conn:
        records = invoices.iter_filtered(conn, call.scope, query.filters())
        # The Python worker (azure-functions 1.x) sends whole bodies; the chunks bound the
        # encoder's memory, and the server-side cursor bounds the rows held at once.
        body = b"".join(export_chunks(records, query.format))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return ApiResponse(
        200,
        body,
        {
            "Content-Type": content_type(query.format),
            "Content-Disposition": f'attachment; filename="invoices-{stamp}.{query.format}"',
            "Cache-Control": "no-store",
        },
    )


def document_link(call: Call) -> ApiResponse:
    from shared.blobs import read_url

    with call.services.connection() as conn:
        blob_path = invoices.document_blob_path(conn, call.scope, invoice_id(call))
    now = dt.datetime.now(dt.UTC)
    settings = call.services.settings.blobs
    url = read_url(
        call.services.blobs,
        settings,
        settings.incoming_container,
        blob_path,
        now,
        minutes=DOCUMENT_URL_MINUTES,
    )
    expires = now + dt.timedelta(minutes=DOCUMENT_URL_MINUTES)
    return ApiResponse.json(200, DocumentLink(url=url, expires_at=expires))
