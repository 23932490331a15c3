"""Invoice embeddings for similarity search and duplicate detection (a pgvector column).

`HashingEmbedder` needs no model and no network: signed feature hashing of the words and
character trigrams of what identifies an invoice (parties, references, line items, amounts),
L2-normalised so cosine distance compares documents of any length. Two scans of the same
invoice land close together; invoices from one vendor for similar goods land near each other.
An LLM embedding model (same dimension) can replace it behind the `Embedder` protocol.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Protocol

from shared.extraction.schema import InvoiceFields
from shared.extraction.text import fold

EMBEDDING_DIMENSIONS = 256  # fixed by the embeddings.embedding column (migration 0001)


class Embedder(Protocol):
    model: str

    def embed_text(self, text: str) -> list[float]: ...


def invoice_text(invoice: InvoiceFields) -> str:
    """The text that identifies an invoice: what a person would compare by eye."""
    parts: list[str | None] = [
        invoice.vendor_name,
        invoice.vendor_name,  # the vendor weighs more than any one line item
        invoice.vendor_tax_id,
        invoice.customer_name,
        invoice.invoice_id,
        invoice.purchase_order,
        invoice.currency,
        str(invoice.invoice_total) if invoice.invoice_total is not None else None,
        invoice.iban,
    ]
    for item in invoice.line_items:
        parts.append(item.description)
        parts.append(item.product_code)
    return " ".join(part for part in parts if part)


class HashingEmbedder:
    model = f"hashing-v1-{EMBEDDING_DIMENSIONS}"

    def __init__(self, dimensions: int = EMBEDDING_DIMENSIONS) -> None:
        self.dimensions = dimensions

    def _features(self, text: str) -> Iterable[tuple[str, float]]:
        for word in fold(text).split():
            yield "w:" + word, 1.0
            padded = f" {word} "
            for start in range(len(padded) - 2):
                yield "c:" + padded[start : start + 3], 0.5

    def embed_text(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for feature, weight in self._features(text):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign * weight
        norm = math.sqrt(sum(value * value for value in vector))
        if norm == 0.0:
            # pgvector's cosine distance is undefined for a zero vector: use a fixed unit vector.
            vector[0] = 1.0
            return vector
        return [value / norm for value in vector]

    def embed_invoice(self, invoice: InvoiceFields) -> list[float]:
        return self.embed_text(invoice_text(invoice))
