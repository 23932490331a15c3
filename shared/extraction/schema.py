"""The canonical invoice schema (DESIGN.md section 4) as typed models.

Field names follow Azure AI Document Intelligence's prebuilt invoice model in
snake_case. Money is `Decimal` (serialised as a string in JSON so no float ever
touches it); dates are `datetime.date` (ISO `YYYY-MM-DD` in JSON).
`invoice_json_schema()` is what LLM structured outputs and the OpenAPI
document are generated from.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PARTY_FIELDS = (
    "vendor_name",
    "vendor_address",
    "vendor_tax_id",
    "customer_name",
    "customer_address",
    "customer_tax_id",
    "customer_id",
)
DOCUMENT_FIELDS = (
    "invoice_id",
    "invoice_date",
    "due_date",
    "purchase_order",
    "payment_terms",
    "service_start_date",
    "service_end_date",
)
MONEY_FIELDS = (
    "subtotal",
    "total_discount",
    "total_tax",
    "invoice_total",
    "amount_due",
    "previous_unpaid_balance",
)
PAYMENT_FIELDS = ("iban", "swift", "bank_account_number")
# Every field whose value is a decimal number (invoice money and line-item numbers).
DECIMAL_FIELDS = frozenset(MONEY_FIELDS) | {"quantity", "unit_price", "amount", "tax", "tax_rate"}
DATE_FIELDS = ("invoice_date", "due_date", "service_start_date", "service_end_date")
INVOICE_FIELDS = PARTY_FIELDS + DOCUMENT_FIELDS + ("currency",) + MONEY_FIELDS + PAYMENT_FIELDS
LINE_ITEM_FIELDS = (
    "description",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "tax",
    "tax_rate",
    "product_code",
    "date",
)


class InvoiceStatus(StrEnum):
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None
    tax_rate: Decimal | None = Field(default=None, description="Percent, e.g. 19 for 19 %")
    product_code: str | None = None
    date: dt.date | None = None


class InvoiceHeader(BaseModel):
    """Every extractable field but the line items; all optional because documents omit things."""

    model_config = ConfigDict(extra="forbid")

    vendor_name: str | None = None
    vendor_address: str | None = None
    vendor_tax_id: str | None = None
    customer_name: str | None = None
    customer_address: str | None = None
    customer_tax_id: str | None = None
    customer_id: str | None = None

    invoice_id: str | None = None
    invoice_date: dt.date | None = None
    due_date: dt.date | None = None
    purchase_order: str | None = None
    payment_terms: str | None = None
    service_start_date: dt.date | None = None
    service_end_date: dt.date | None = None

    currency: str | None = Field(default=None, description="ISO 4217 code")
    subtotal: Decimal | None = None
    total_discount: Decimal | None = None
    total_tax: Decimal | None = None
    invoice_total: Decimal | None = None
    amount_due: Decimal | None = None
    previous_unpaid_balance: Decimal | None = None

    iban: str | None = None
    swift: str | None = None
    bank_account_number: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency_is_iso(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("currency must be an ISO 4217 code such as EUR")
        return value


class InvoiceFields(InvoiceHeader):
    """Every extractable field."""

    line_items: list[LineItem] = Field(default_factory=list)


class LlmUsage(BaseModel):
    """What the LLM calls behind an invoice cost (none when the rules extractor worked alone)."""

    model: str
    prompt_version: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    # True: the answer came from the result cache and these numbers are the original call's.
    cached: bool = False


class ExtractedInvoice(InvoiceFields):
    """An extraction result: the fields plus how sure we are about them."""

    confidence: dict[str, float] = Field(
        default_factory=dict, description="Per field name, a confidence in [0, 1]"
    )
    warnings: list[str] = Field(default_factory=list)
    status: InvoiceStatus = InvoiceStatus.EXTRACTED
    extractor: str = "rules"
    pages: int = 0
    llm: LlmUsage | None = None

    def to_output(self) -> dict[str, Any]:
        """The JSON object of DESIGN.md section 4: fields flat, nulls left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["line_items"] = [
            item.model_dump(mode="json", exclude_none=True) for item in self.line_items
        ]
        return data


def invoice_json_schema() -> dict[str, Any]:
    """JSON Schema of the extractable fields (what an LLM is asked to fill)."""
    return InvoiceFields.model_json_schema()
