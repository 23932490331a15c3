"""Invoice embeddings for similarity search and duplicate detection (a pgvector column).

Two embedders behind one protocol:
- `HashingEmbedder`, the default, needs no model and no network: signed feature hashing of the
  words and character trigrams of what identifies an invoice (parties, references, line items,
  amounts), L2-normalised so cosine distance compares documents of any length. Two scans of the
  same invoice land close together; invoices from one vendor for similar goods land near each
  other.
- `OpenAIEmbedder`: an embeddings model on Azure OpenAI (the deployment named by
  EMBEDDINGS_MODEL) or any OpenAI-compatible endpoint, asked for EMBEDDINGS_DIMENSIONS
  dimensions (text-embedding-3-* shorten their vectors on request).

Every vector is stored with its embedder's `model`; vectors of different models are never
compared (shared/storage/vectors.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import openai

from shared.errors import EmbeddingFailed
from shared.extraction.schema import InvoiceFields
from shared.extraction.text import fold
from shared.metrics import EMBEDDING_REQUESTS

if TYPE_CHECKING:
    from openai import OpenAI

    from shared.config import Settings

log = logging.getLogger(__name__)

# What migration 0001 created (vector(256)); EMBEDDINGS_DIMENSIONS may set another per deployment.
EMBEDDING_DIMENSIONS = 256


class Embedder(Protocol):
    """Turns texts into vectors of `dimensions` floats, compared by cosine distance.

    `model` names where the vectors come from: stored with each vector, so vectors of another
    model (or of another configuration of it) are never compared with this one's.
    `embed_texts` returns one vector per text, in order, or raises EmbeddingFailed.
    """

    @property
    def model(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed_text(self, text: str) -> list[float]: ...

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]: ...


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
    def __init__(self, dimensions: int = EMBEDDING_DIMENSIONS) -> None:
        self._dimensions = dimensions
        self._model = f"hashing-v1-{dimensions}"

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _features(self, text: str) -> Iterable[tuple[str, float]]:
        for word in fold(text).split():
            yield "w:" + word, 1.0
            padded = f" {word} "
            for start in range(len(padded) - 2):
                yield "c:" + padded[start : start + 3], 0.5

    def embed_text(self, text: str) -> list[float]:
        vector = [0.0] * self._dimensions
        for feature, weight in self._features(text):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dimensions
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign * weight
        norm = math.sqrt(sum(value * value for value in vector))
        if norm == 0.0:
            # pgvector's cosine distance is undefined for a zero vector: use a fixed unit vector.
            vector[0] = 1.0
            return vector
        return [value / norm for value in vector]

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_text(text) for text in texts]

    def embed_invoice(self, invoice: InvoiceFields) -> list[float]:
        return self.embed_text(invoice_text(invoice))


class OpenAIEmbedder:
    """An embeddings model behind the openai client (Azure OpenAI: `model` is the deployment).

    Texts go `batch_size` to a request. The client's own retries handle 429, 5xx, timeouts and
    connection errors (honouring Retry-After); what still fails raises EmbeddingFailed, and so
    does an answer of the wrong shape (a model that ignores `dimensions`, like ada-002).
    """

    def __init__(
        self, client: OpenAI, model: str, dimensions: int, *, batch_size: int = 64
    ) -> None:
        self._client = client
        self._model = model
        self._dimensions = dimensions
        self.batch_size = batch_size

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed_text(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += self._request(list(texts[start : start + self.batch_size]))
        return vectors

    def _request(self, batch: list[str]) -> list[list[float]]:
        try:
            response = self._client.embeddings.create(
                model=self._model,
                input=batch,
                dimensions=self._dimensions,
                encoding_format="float",
            )
        except openai.OpenAIError as exc:
            EMBEDDING_REQUESTS.labels(self._model, "error").inc()
            raise EmbeddingFailed(f"embeddings model {self._model}: {exc}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            EMBEDDING_REQUESTS.labels(self._model, "error").inc()
            raise EmbeddingFailed(
                f"embeddings model {self._model} returned {len(data)} vectors "
                f"for {len(batch)} texts"
            )
        for item in data:
            if len(item.embedding) != self._dimensions:
                EMBEDDING_REQUESTS.labels(self._model, "error").inc()
                raise EmbeddingFailed(
                    f"embeddings model {self._model} returned {len(item.embedding)} dimensions, "
                    f"EMBEDDINGS_DIMENSIONS is {self._dimensions} (does it support `dimensions`?)"
                )
        EMBEDDING_REQUESTS.labels(self._model, "ok").inc()
        return [list(item.embedding) for item in data]


def make_embedder(settings: Settings) -> Embedder:
    """The embeddings model when EMBEDDINGS_MODEL names one, else the offline hashing embedder."""
    dimensions = settings.embeddings.dimensions
    model = settings.llm.embeddings_model
    if not model:
        return HashingEmbedder(dimensions)
    from shared.llm.connection import openai_client

    client = openai_client(settings.llm).with_options(
        timeout=settings.embeddings.timeout_seconds,
        max_retries=settings.llm.max_attempts - 1,
    )
    return OpenAIEmbedder(client, model, dimensions)
