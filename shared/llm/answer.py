"""Reading the LLM's answer into the schema, and merging the answers to a chunked document.

An answer that is not a JSON object, or was cut off (finish_reason "length"), is invalid as a
whole (`llm_invalid_output`). A single value that does not fit its field ("next Tuesday" as a
date, an object as an amount) is dropped and named, so one bad value does not cost the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.errors import ExtractionFailed
from shared.extraction.schema import (
    DECIMAL_FIELDS,
    INVOICE_FIELDS,
    LINE_ITEM_FIELDS,
    MONEY_FIELDS,
    InvoiceFields,
    InvoiceHeader,
    LineItem,
)

LLM_INVALID_VALUE = "llm_invalid_value"


class LlmInvalidOutput(ExtractionFailed):
    code = "llm_invalid_output"


def _clean(name: str, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if name in DECIMAL_FIELDS:
            # "1 234.50", "EUR 12.00": the prompt asks for plain numbers; forgive spacing only.
            value = value.replace(" ", "").replace("\u00a0", "")
            try:
                Decimal(value)
            except InvalidOperation:
                raise ValueError(name) from None
        if name == "iban":
            value = value.replace(" ", "").upper()
    return value


def _fields(
    model: type[BaseModel], names: Sequence[str], data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The values of `names` in `data` that fit `model`'s fields, and the names that did not."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name in names:
        value = data.get(name)
        if value is None or value == "":
            continue
        try:
            checked = model.model_validate({name: _clean(name, value)})
        except (ValidationError, ValueError):
            dropped.append(name)
            continue
        kept[name] = getattr(checked, name)
    return kept, dropped


def parse_answer(content: str, finish_reason: str) -> tuple[InvoiceFields, list[str]]:
    """The invoice an answer describes, and the names of values that had to be dropped."""
    if finish_reason == "length":
        raise LlmInvalidOutput("the LLM's answer was cut off before it ended (token limit)")
    if finish_reason == "content_filter":
        raise LlmInvalidOutput("the LLM endpoint's content filter withheld the answer")
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise LlmInvalidOutput(f"the LLM's answer is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise LlmInvalidOutput("the LLM's answer is not a JSON object")
    raw_items = data.get("line_items") or []
    if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
        raise LlmInvalidOutput("the LLM's answer has no list of line items")
    header, dropped = _fields(InvoiceHeader, INVOICE_FIELDS, data)
    items: list[LineItem] = []
    for position, raw in enumerate(raw_items):
        values, bad = _fields(LineItem, LINE_ITEM_FIELDS, raw)
        dropped += [f"line_items[{position}].{name}" for name in bad]
        if values:
            items.append(LineItem(**values))
    return InvoiceFields(**header, line_items=items), dropped


# Totals are printed at the end: for them the last part that has a value wins.
_LAST_WINS = frozenset(MONEY_FIELDS)


def merge_parts(parts: Sequence[InvoiceFields]) -> InvoiceFields:
    """One invoice from the answers to each part of a long document: header fields from the
    first part that has them (totals from the last), line items in order. An item repeated
    across a page break (the same row at the end of one part and the start of the next) is
    kept once."""
    if len(parts) == 1:
        return parts[0]
    header: dict[str, Any] = {}
    for name in INVOICE_FIELDS:
        ordered = reversed(parts) if name in _LAST_WINS else iter(parts)
        for part in ordered:
            value = getattr(part, name)
            if value is not None:
                header[name] = value
                break
    items: list[LineItem] = []
    for part in parts:
        for position, item in enumerate(part.line_items):
            if position == 0 and items and items[-1] == item:
                continue
            items.append(item)
    return InvoiceFields(**header, line_items=items)


def as_answer(invoice: InvoiceFields) -> dict[str, Any]:
    """An invoice in the answer's own shape (every field present), for few-shot examples."""
    data = invoice.model_dump(mode="json")
    return {
        **{name: data.get(name) for name in INVOICE_FIELDS},
        "line_items": [
            {name: item.get(name) for name in LINE_ITEM_FIELDS} for item in data["line_items"]
        ],
    }
