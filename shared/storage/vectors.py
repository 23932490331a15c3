"""The embeddings table: one vector per invoice, its dimension, and re-embedding.

- The dimension is fixed per deployment (EMBEDDINGS_DIMENSIONS). `ensure_dimensions` runs when
  the pool opens: a column of another size is resized while it holds no vector (the first start
  of a deployment), and refused with a ConfigurationError once it does (vectors of two sizes
  cannot be compared, and re-embedding is a deliberate step: `python -m shared reembed`).
- Each vector carries its embedder's `model`; queries compare only vectors of one model, so a
  deployment that switches models finds nothing by the old vectors until they are re-embedded.
- `embed_invoice` never fails a store: when the model cannot be reached the invoice is kept
  without a vector (it is absent from similarity and vector duplicate checks, nothing else) and
  `reembed` fills it in later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from shared.embeddings import Embedder, invoice_text
from shared.errors import ConfigurationError, EmbeddingFailed
from shared.extraction.schema import InvoiceFields
from shared.storage.migrate import hold_schema_lock

Conn = Connection[Any]
log = logging.getLogger(__name__)


def column_dimensions(conn: Conn) -> int:
    """The n of the embeddings column's vector(n)."""
    row = conn.execute(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
        "AND attname = 'embedding' AND NOT attisdropped"
    ).fetchone()
    if row is None:  # pragma: no cover - migration 0001 creates it
        raise ConfigurationError("the embeddings table has no embedding column: run the migrations")
    dimensions: int = row[0]
    return dimensions


def _resize(conn: Conn, dimensions: int) -> None:
    """Give the (empty) column another size and build its HNSW index again."""
    conn.execute("DROP INDEX IF EXISTS embeddings_hnsw")
    conn.execute(
        sql.SQL("ALTER TABLE embeddings ALTER COLUMN embedding TYPE vector({})").format(
            sql.Literal(dimensions)
        )
    )
    conn.execute(
        "CREATE INDEX embeddings_hnsw ON embeddings USING hnsw (embedding vector_cosine_ops)"
    )


def ensure_dimensions(conn: Conn, dimensions: int) -> None:
    """Hold the embeddings column to EMBEDDINGS_DIMENSIONS (called at start-up, after migrating).

    Under the schema lock, so instances starting together resize it once.
    """
    with conn.transaction():
        hold_schema_lock(conn)
        current = column_dimensions(conn)
        if current == dimensions:
            return
        if conn.execute("SELECT EXISTS (SELECT 1 FROM embeddings)").fetchone() == (True,):
            raise ConfigurationError(
                f"EMBEDDINGS_DIMENSIONS is {dimensions}, but the database holds "
                f"{current}-dimensional embeddings, and vectors of two sizes cannot be compared. "
                f"Set EMBEDDINGS_DIMENSIONS={current} (with the model that made them), or keep "
                f"{dimensions} and run `python -m shared reembed` with the new settings before "
                "starting: it replaces every stored vector"
            )
        _resize(conn, dimensions)
        log.info("embeddings column resized from %d to %d dimensions", current, dimensions)


def embed_invoice(embedder: Embedder, invoice: InvoiceFields) -> list[float] | None:
    """The invoice's vector, or None: nothing to embed, or the model failed (logged, counted)."""
    text = invoice_text(invoice)
    if not text.strip():
        return None  # a vector of nothing would be "identical" to every other empty invoice
    try:
        return embedder.embed_text(text)
    except EmbeddingFailed as exc:
        log.warning("invoice stored without an embedding: %s", exc)
        return None


def write(conn: Conn, invoice_id: UUID, owner: str, model: str, vector: list[float]) -> None:
    conn.execute(
        """INSERT INTO embeddings (invoice_id, owner, model, embedding)
           VALUES (%s, %s, %s, %s::vector)
           ON CONFLICT (invoice_id) DO UPDATE
               SET model = EXCLUDED.model, embedding = EXCLUDED.embedding, created_at = now()""",
        (invoice_id, owner, model, str(vector)),
    )


@dataclass(frozen=True)
class Reembedded:
    embedded: int
    # The column resized (from, to): every earlier vector was dropped. None: size unchanged.
    resized: tuple[int, int] | None = None


_TEXT_FIELDS = sql.SQL(", ").join(
    sql.Identifier("i", name)
    for name in ("vendor_name", "vendor_tax_id", "customer_name", "invoice_id", "purchase_order",
                 "currency", "invoice_total", "iban")
)  # fmt: skip


def reembed(conn: Conn, embedder: Embedder, *, batch: int = 64) -> Reembedded:
    """Give every live invoice a vector of `embedder`: those without one, or with another model's.

    When the column's size is not the embedder's, every stored vector is dropped first and the
    column resized. Batches commit as they go: after a failure (EmbeddingFailed propagates),
    running it again carries on where it stopped.
    """
    resized = None
    with conn.transaction():
        hold_schema_lock(conn)
        current = column_dimensions(conn)
        if current != embedder.dimensions:
            conn.execute("DELETE FROM embeddings")
            _resize(conn, embedder.dimensions)
            resized = (current, embedder.dimensions)
    embedded = 0
    after = UUID(int=0)
    statement = sql.SQL(
        """SELECT i.id, i.owner, {fields},
                  coalesce((SELECT json_agg(json_build_object('description', li.description,
                                                              'product_code', li.product_code)
                                            ORDER BY li.position)
                            FROM line_items li WHERE li.invoice_id = i.id), '[]') AS line_items
           FROM invoices i LEFT JOIN embeddings e ON e.invoice_id = i.id
           WHERE i.deleted_at IS NULL AND (e.invoice_id IS NULL OR e.model <> %(model)s)
             AND i.id > %(after)s
           ORDER BY i.id LIMIT %(batch)s"""
    ).format(fields=_TEXT_FIELDS)
    while True:
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(
                statement, {"model": embedder.model, "after": after, "batch": batch}
            ).fetchall()
        if not rows:
            break
        after = rows[-1]["id"]
        texts = {
            row["id"]: invoice_text(InvoiceFields.model_validate(_fields(row))) for row in rows
        }
        pending = [row for row in rows if texts[row["id"]].strip()]
        vectors = embedder.embed_texts([texts[row["id"]] for row in pending])
        with conn.transaction():
            for row, vector in zip(pending, vectors, strict=True):
                write(conn, row["id"], row["owner"], embedder.model, vector)
        embedded += len(pending)
    return Reembedded(embedded, resized)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in ("id", "owner")}
