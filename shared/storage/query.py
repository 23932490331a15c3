"""Invoice filters, sort orders and the opaque keyset cursor.

Keyset pagination: a page ends at a (sort key, id) pair and the next page starts strictly after
it, so rows inserted or deleted meanwhile never make a page skip or repeat a row. The cursor is
base64url JSON bound to the filters it was made for; a cursor reused with other filters, or
tampered with, is a validation error rather than a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import ValidationFailed
from shared.extraction.schema import InvoiceStatus

# Larger than any invoice, small enough that PostgreSQL's NUMERIC never overflows.
MAX_AMOUNT = Decimal(10) ** 15


class InvoiceSort(StrEnum):
    NEWEST = "-created_at"
    OLDEST = "created_at"
    INVOICE_DATE_DESC = "-invoice_date"
    INVOICE_DATE_ASC = "invoice_date"


class InvoiceFilters(BaseModel):
    """The filters shared by list and export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: tuple[InvoiceStatus, ...] = Field(
        default=(), description="One or more statuses, comma-separated"
    )
    vendor: str | None = Field(
        default=None, min_length=1, max_length=200, description="Case-insensitive substring"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    date_from: dt.date | None = Field(default=None, description="invoice_date on or after")
    date_to: dt.date | None = Field(default=None, description="invoice_date on or before")
    min_total: Decimal | None = Field(
        default=None, ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="invoice_total at least"
    )
    max_total: Decimal | None = Field(
        default=None, ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="invoice_total at most"
    )
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Free text: words in any field or line item (web search syntax)",
    )

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("min_total", "max_total")
    @classmethod
    def _finite(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> InvoiceFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        if (
            self.min_total is not None
            and self.max_total is not None
            and self.min_total > self.max_total
        ):
            raise ValueError("min_total is above max_total")
        return self

    def where(self) -> list[sql.Composable]:
        """SQL conditions on the `invoices` table (alias i); values are bound literals."""
        parts: list[sql.Composable] = []
        if self.status:
            parts.append(
                sql.SQL("i.status = ANY({})").format(sql.Literal([s.value for s in self.status]))
            )
        if self.vendor:
            # Escape LIKE's own wildcards: the user's text is a substring, not a pattern.
            escaped = self.vendor.lower().replace("\\", "\\\\").replace("%", "\\%")
            escaped = escaped.replace("_", "\\_")
            parts.append(
                sql.SQL("lower(i.vendor_name) LIKE {}").format(sql.Literal(f"%{escaped}%"))
            )
        if self.currency:
            parts.append(sql.SQL("i.currency = {}").format(sql.Literal(self.currency)))
        if self.date_from:
            parts.append(sql.SQL("i.invoice_date >= {}").format(sql.Literal(self.date_from)))
        if self.date_to:
            parts.append(sql.SQL("i.invoice_date <= {}").format(sql.Literal(self.date_to)))
        if self.min_total is not None:
            parts.append(sql.SQL("i.invoice_total >= {}").format(sql.Literal(self.min_total)))
        if self.max_total is not None:
            parts.append(sql.SQL("i.invoice_total <= {}").format(sql.Literal(self.max_total)))
        if self.q:
            parts.append(
                sql.SQL("i.search @@ websearch_to_tsquery('simple', {})").format(
                    sql.Literal(self.q)
                )
            )
        return parts

    def fingerprint(self, sort: InvoiceSort) -> str:
        canonical = json.dumps([sort.value, self.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_NO_DATE = dt.date.min  # NULL invoice dates sort as the earliest date (coalesce in SQL too)


def sort_key_sql(sort: InvoiceSort) -> tuple[sql.Composable, bool]:
    """The sort key expression and whether it descends."""
    if sort in (InvoiceSort.NEWEST, InvoiceSort.OLDEST):
        return sql.SQL("i.created_at"), sort is InvoiceSort.NEWEST
    return (
        sql.SQL("coalesce(i.invoice_date, '-infinity'::date)"),
        sort is InvoiceSort.INVOICE_DATE_DESC,
    )


def sort_value(sort: InvoiceSort, row: dict[str, Any]) -> str:
    if sort in (InvoiceSort.NEWEST, InvoiceSort.OLDEST):
        created: dt.datetime = row["created_at"]
        return created.isoformat()
    invoice_date: dt.date | None = row["invoice_date"]
    return invoice_date.isoformat() if invoice_date else "-infinity"


def encode_cursor(fingerprint: str, key: str, last_id: UUID | str) -> str:
    payload = json.dumps({"f": fingerprint, "k": key, "i": str(last_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[str, str]:
    invalid = ValidationFailed("cursor is not valid for this query", field="cursor")
    if len(cursor) > 512:
        raise invalid
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        key, last_id = data["k"], data["i"]
        if data["f"] != fingerprint or not isinstance(key, str) or not isinstance(last_id, str):
            raise invalid
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise invalid from exc
    return key, last_id


def keyset_condition(sort: InvoiceSort, key: str, last_id: str) -> sql.Composable:
    expression, descending = sort_key_sql(sort)
    invalid = ValidationFailed("cursor is not valid for this query", field="cursor")
    value: object
    try:
        last_id = str(UUID(last_id))
        if sort in (InvoiceSort.NEWEST, InvoiceSort.OLDEST):
            value = dt.datetime.fromisoformat(key)
            cast = sql.SQL("timestamptz")
        else:
            value = key if key == "-infinity" else dt.date.fromisoformat(key).isoformat()
            cast = sql.SQL("date")
    except ValueError as exc:
        raise invalid from exc
    operator = sql.SQL("<") if descending else sql.SQL(">")
    return sql.SQL("({}, i.id) {} ({}::{}, {}::uuid)").format(
        expression, operator, sql.Literal(str(value)), cast, sql.Literal(str(last_id))
    )


def order_by(sort: InvoiceSort) -> sql.Composable:
    expression, descending = sort_key_sql(sort)
    direction = sql.SQL("DESC") if descending else sql.SQL("ASC")
    return sql.SQL("{} {}, i.id {}").format(expression, direction, direction)
