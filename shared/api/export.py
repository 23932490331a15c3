"""CSV and JSON export, produced incrementally from a server-side cursor.

`export_chunks` yields encoded chunks as rows arrive, so memory holds one batch of rows and one
chunk, not the whole result. CSV cells that a spreadsheet would run as a formula (= + - @ at the
start of a text cell) are prefixed with a quote: exported invoices are attacker-controlled text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

from shared.extraction.schema import INVOICE_FIELDS, MONEY_FIELDS
from shared.storage.records import InvoiceRecord

CSV_COLUMNS = ("id", "status", *INVOICE_FIELDS, "line_item_count", "warnings", "created_at")
_NUMERIC = frozenset(MONEY_FIELDS) | {"line_item_count"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = str(value) if not isinstance(value, Decimal) else format(value, "f")
    if name not in _NUMERIC and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_rows(records: Iterable[InvoiceRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        values = record.model_dump(mode="python")
        values["line_item_count"] = len(record.line_items)
        writer.writerow([_cell(name, values.get(name)) for name in CSV_COLUMNS])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_rows(records: Iterable[InvoiceRecord]) -> Iterator[str]:
    pending: list[str] = ["["]
    size = 1
    first = True
    for record in records:
        piece = ("" if first else ",") + record.model_dump_json()
        first = False
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(pending)
            pending, size = [], 0
    pending.append("]")
    yield "".join(pending)


def export_chunks(records: Iterable[InvoiceRecord], fmt: str) -> Iterator[bytes]:
    rows = _csv_rows(records) if fmt == "csv" else _json_rows(records)
    for chunk in rows:
        if chunk:
            yield chunk.encode("utf-8")


def content_type(fmt: str) -> str:
    return "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
