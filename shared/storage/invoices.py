"""The invoices repository: store extraction results, read, correct, review, delete.

Every function takes a `Scope`; its owner condition is part of the SQL of every statement, so an
invoice of another owner is indistinguishable from one that does not exist (NotFound, never
Forbidden). Every change writes `invoice_events` in the same transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from shared.config import Settings
from shared.embeddings import Embedder
from shared.errors import Conflict, EmbeddingFailed, NotFound, ValidationFailed
from shared.extraction.schema import (
    INVOICE_FIELDS,
    LINE_ITEM_FIELDS,
    ExtractedInvoice,
    InvoiceStatus,
    LineItem,
)
from shared.extraction.validation import validate
from shared.storage import duplicates, vectors, vendors
from shared.storage.query import (
    InvoiceFilters,
    InvoiceSort,
    decode_cursor,
    encode_cursor,
    keyset_condition,
    order_by,
    sort_value,
)
from shared.storage.records import (
    InvoiceEvent,
    InvoicePage,
    InvoiceRecord,
    InvoiceSummary,
    ScoredInvoice,
)
from shared.storage.scope import Scope

Conn = Connection[Any]
log = logging.getLogger(__name__)

_META = (
    "id",
    "document_id",
    "owner",
    "status",
    "confidence",
    "warnings",
    "extractor",
    "pages",
    "version",
    "llm",
    "duplicate_of",
    "created_at",
    "updated_at",
)
_COLUMNS = sql.SQL(", ").join(sql.Identifier("i", name) for name in _META + INVOICE_FIELDS)
# Text a person would search for: parties, references, and (via refresh_search) line items.
_SEARCH_FIELDS = (
    "vendor_name",
    "vendor_address",
    "vendor_tax_id",
    "customer_name",
    "customer_address",
    "customer_tax_id",
    "customer_id",
    "invoice_id",
    "purchase_order",
    "iban",
)
_REVIEWABLE = (InvoiceStatus.EXTRACTED, InvoiceStatus.NEEDS_REVIEW)


def _not_found(invoice_id: UUID | str) -> NotFound:
    return NotFound(f"invoice {invoice_id} not found")


def _summary(row: Mapping[str, Any]) -> InvoiceSummary:
    return InvoiceSummary.model_validate(dict(row))


def _refresh_search(conn: Conn, invoice_id: UUID) -> None:
    conn.execute(
        sql.SQL(
            """UPDATE invoices i SET search = to_tsvector('simple', concat_ws(' ', {fields},
                   (SELECT string_agg(concat_ws(' ', li.description, li.product_code), ' ')
                      FROM line_items li WHERE li.invoice_id = i.id)))
               WHERE i.id = %s"""
        ).format(fields=sql.SQL(", ").join(sql.Identifier("i", f) for f in _SEARCH_FIELDS)),
        (invoice_id,),
    )


def _write_line_items(conn: Conn, invoice_id: UUID, items: list[LineItem]) -> None:
    conn.execute("DELETE FROM line_items WHERE invoice_id = %s", (invoice_id,))
    if not items:
        return
    columns = ("invoice_id", "position", *LINE_ITEM_FIELDS)
    statement = sql.SQL("INSERT INTO line_items ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            statement,
            [
                (invoice_id, position, *(getattr(item, name) for name in LINE_ITEM_FIELDS))
                for position, item in enumerate(items)
            ],
        )


def _event(
    conn: Conn,
    invoice_id: UUID,
    owner: str,
    actor: str,
    action: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
) -> None:
    conn.execute(
        """INSERT INTO invoice_events
               (invoice_id, owner, actor, action, field, old_value, new_value)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (invoice_id, owner, actor, action, field, _json(old), _json(new)),
    )


def _json(value: Any) -> Jsonb | None:
    if value is None:
        return None
    return Jsonb(json.loads(json.dumps(value, default=str)))


def store_extracted(
    conn: Conn,
    *,
    owner: str,
    document_id: UUID,
    invoice: ExtractedInvoice,
    embedder: Embedder,
    actor: str = "pipeline",
    duplicate_max_distance: float = Settings.duplicate_max_distance,
) -> UUID:
    """Insert the invoice extracted from a document; idempotent by document.

    A retried activity finds the invoice its first attempt stored and returns it unchanged.
    The invoice, its line items, its embedding and the near-duplicate check (shared/storage/
    duplicates.py) are one transaction; an embedding that fails leaves the invoice without one.
    """
    existing = invoice_for_document(conn, owner, document_id)
    if existing is not None:
        return existing
    # Before the transaction: a slow embeddings model must not hold it open.
    vector = vectors.embed_invoice(embedder, invoice)
    with conn.transaction():
        existing = conn.execute(
            "SELECT id FROM invoices WHERE document_id = %s AND owner = %s",
            (document_id, owner),
        ).fetchone()
        if existing:
            found: UUID = existing[0]
            return found
        names: tuple[str, ...] = (
            "owner",
            "document_id",
            "status",
            "confidence",
            "warnings",
            "extractor",
            "pages",
            "llm",
        )
        values: list[Any] = [
            owner,
            document_id,
            invoice.status.value,
            Jsonb(invoice.confidence),
            invoice.warnings,
            invoice.extractor,
            invoice.pages,
            Jsonb(invoice.llm.model_dump(mode="json")) if invoice.llm else None,
        ]
        names += INVOICE_FIELDS
        values += [getattr(invoice, name) for name in INVOICE_FIELDS]
        row = conn.execute(
            sql.SQL(
                "INSERT INTO invoices ({}) VALUES ({}) "
                "ON CONFLICT (document_id) DO NOTHING RETURNING id"
            ).format(
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
            ),
            values,
        ).fetchone()
        if row is None:  # a concurrent attempt won the race
            raise Conflict(f"document {document_id} already has an invoice")
        invoice_id: UUID = row[0]
        _write_line_items(conn, invoice_id, invoice.line_items)
        _refresh_search(conn, invoice_id)
        if vector is not None:
            vectors.write(conn, invoice_id, owner, embedder.model, vector)
        original = duplicates.link_possible_duplicate(
            conn, owner=owner, invoice_id=invoice_id, vector=vector, model=embedder.model,
            max_distance=duplicate_max_distance,
        )  # fmt: skip
        created: dict[str, str] = {"status": invoice.status.value}
        if original is not None:
            created = {"status": InvoiceStatus.NEEDS_REVIEW.value,
                       "duplicate_of": str(original.original), "match": original.match}  # fmt: skip
        _event(conn, invoice_id, owner, actor, "created", new=created)
    return invoice_id


def _load(conn: Conn, scope: Scope, invoice_id: UUID, *, lock: bool = False) -> InvoiceRecord:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(
            sql.SQL(
                "SELECT {} FROM invoices i WHERE i.id = %s AND i.deleted_at IS NULL AND {} {}"
            ).format(_COLUMNS, scope.clause("i.owner"), sql.SQL("FOR UPDATE" if lock else "")),
            (invoice_id,),
        ).fetchone()
        if row is None:
            raise _not_found(invoice_id)
        items = cursor.execute(
            sql.SQL("SELECT {} FROM line_items WHERE invoice_id = %s ORDER BY position").format(
                sql.SQL(", ").join(map(sql.Identifier, LINE_ITEM_FIELDS))
            ),
            (invoice_id,),
        ).fetchall()
    return InvoiceRecord.model_validate({**row, "line_items": items})


def get(conn: Conn, scope: Scope, invoice_id: UUID) -> InvoiceRecord:
    with conn.transaction():
        return _load(conn, scope, invoice_id)


def list_page(
    conn: Conn,
    scope: Scope,
    filters: InvoiceFilters,
    *,
    sort: InvoiceSort = InvoiceSort.NEWEST,
    limit: int = 50,
    cursor: str | None = None,
) -> InvoicePage:
    fingerprint = filters.fingerprint(sort)
    conditions = [sql.SQL("i.deleted_at IS NULL"), scope.clause("i.owner"), *filters.where()]
    if cursor:
        key, last_id = decode_cursor(cursor, fingerprint)
        conditions.append(keyset_condition(sort, key, last_id))
    statement = sql.SQL("SELECT {} FROM invoices i WHERE {} ORDER BY {} LIMIT {}").format(
        _COLUMNS, sql.SQL(" AND ").join(conditions), order_by(sort), sql.Literal(limit + 1)
    )
    with conn.cursor(row_factory=dict_row) as db:
        rows = db.execute(statement).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(fingerprint, sort_value(sort, last), last["id"])
    return InvoicePage(items=[_summary(row) for row in rows], next_cursor=next_cursor)


def iter_filtered(
    conn: Conn, scope: Scope, filters: InvoiceFilters, *, batch: int = 500
) -> Iterator[InvoiceRecord]:
    """Every matching invoice with its line items, oldest first, through a server-side cursor,
    so memory stays flat however many rows match (export)."""
    conditions = [sql.SQL("i.deleted_at IS NULL"), scope.clause("i.owner"), *filters.where()]
    items_sql = sql.SQL(
        """coalesce((SELECT json_agg(json_build_object({}) ORDER BY li.position)
                     FROM line_items li WHERE li.invoice_id = i.id), '[]'::json) AS line_items"""
    ).format(
        sql.SQL(", ").join(
            sql.SQL("{}, li.{}").format(sql.Literal(name), sql.Identifier(name))
            for name in LINE_ITEM_FIELDS
        )
    )
    statement = sql.SQL("SELECT {}, {} FROM invoices i WHERE {} ORDER BY {}").format(
        _COLUMNS, items_sql, sql.SQL(" AND ").join(conditions), order_by(InvoiceSort.OLDEST)
    )
    with conn.transaction(), conn.cursor(name="export", row_factory=dict_row) as db:
        db.itersize = batch
        db.execute(statement)
        for row in db:
            yield InvoiceRecord.model_validate(row)


# Fields a person may correct. Money and dates arrive as JSON strings and are parsed by the schema.
CORRECTABLE = (*INVOICE_FIELDS, "line_items")


def correct(
    conn: Conn,
    scope: Scope,
    invoice_id: UUID,
    changes: Mapping[str, Any],
    *,
    document_text: str | None = None,
    expected_version: int | None = None,
) -> InvoiceRecord:
    """Apply a reviewer's corrections, audit each changed field, re-validate.

    Corrected fields get confidence 1.0 (a person read them); the checks run again on the whole
    invoice, so fixing what was wrong moves it out of review and a correction that breaks the
    totals sends it back.
    """
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} is not a correctable field", field=unknown[0])
    if not changes:
        raise ValidationFailed("no fields to correct", field="body")
    with conn.transaction():
        current = _load(conn, scope, invoice_id, lock=True)
        if expected_version is not None and expected_version != current.version:
            raise Conflict(
                f"invoice {invoice_id} changed since version {expected_version}",
                code="version_mismatch",
            )
        if current.status not in _REVIEWABLE:
            raise Conflict(f"invoice {invoice_id} is {current.status.value} and can't change")
        merged = current.model_dump(include=set(CORRECTABLE)) | dict(changes)
        try:
            candidate = ExtractedInvoice.model_validate(
                {
                    **merged,
                    "confidence": current.confidence,
                    "warnings": current.warnings,
                    "status": current.status,
                    "extractor": current.extractor,
                    "pages": current.pages,
                }
            )
        except ValidationError as exc:
            raise ValidationFailed.from_pydantic(exc, "body") from exc
        changed = [
            name for name in CORRECTABLE if getattr(candidate, name) != getattr(current, name)
        ]
        if not changed:
            return current
        confidence = dict(candidate.confidence) | {name: 1.0 for name in changed}
        candidate = candidate.model_copy(update={"confidence": confidence})
        checked = validate(
            candidate,
            document_text if document_text is not None else "",
            confirmed=frozenset(changed) | _confirmed_before(conn, invoice_id),
        )
        owner = current.owner
        assignments: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder())
            for name in changed
            if name != "line_items"
        ]
        values = [getattr(checked, name) for name in changed if name != "line_items"]
        assignments += [
            sql.SQL("status = %s"),
            sql.SQL("confidence = %s"),
            sql.SQL("warnings = %s"),
            sql.SQL("version = version + 1"),
            sql.SQL("updated_at = now()"),
        ]
        values += [checked.status.value, Jsonb(checked.confidence), checked.warnings]
        conn.execute(
            sql.SQL("UPDATE invoices SET {} WHERE id = %s AND {}").format(
                sql.SQL(", ").join(assignments), scope.clause()
            ),
            [*values, invoice_id],
        )
        if "line_items" in changed:
            _write_line_items(conn, invoice_id, checked.line_items)
        for name in changed:
            _event(
                conn,
                invoice_id,
                owner,
                scope.actor,
                "corrected",
                name,
                _plain(getattr(current, name)),
                _plain(getattr(checked, name)),
            )
        if current.status != checked.status:
            _event(
                conn,
                invoice_id,
                owner,
                scope.actor,
                "corrected",
                "status",
                current.status.value,
                checked.status.value,
            )
        # The correction teaches the vendor's next invoices (shared/storage/vendors.py).
        vendors.remember(conn, owner, invoice_id, checked, changed, document_text or "")
        _refresh_search(conn, invoice_id)
        return _load(conn, scope, invoice_id)


def _confirmed_before(conn: Conn, invoice_id: UUID) -> frozenset[str]:
    """Fields a person corrected earlier stay confirmed through later corrections."""
    rows = conn.execute(
        "SELECT DISTINCT field FROM invoice_events "
        "WHERE invoice_id = %s AND action = 'corrected' AND field IS NOT NULL",
        (invoice_id,),
    ).fetchall()
    return frozenset(row[0] for row in rows)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


def _set_status(
    conn: Conn, scope: Scope, invoice_id: UUID, target: InvoiceStatus, reason: str | None
) -> InvoiceRecord:
    with conn.transaction():
        current = _load(conn, scope, invoice_id, lock=True)
        if current.status == target:
            return current  # approving twice is a no-op, not an error
        if current.status not in _REVIEWABLE:
            raise Conflict(f"invoice {invoice_id} is already {current.status.value}")
        conn.execute(
            sql.SQL(
                "UPDATE invoices SET status = %s, version = version + 1, updated_at = now() "
                "WHERE id = %s AND {}"
            ).format(scope.clause()),
            (target.value, invoice_id),
        )
        action = "approved" if target is InvoiceStatus.APPROVED else "rejected"
        new_value: dict[str, str] = {"status": target.value}
        if reason:
            new_value["reason"] = reason
        _event(
            conn,
            invoice_id,
            current.owner,
            scope.actor,
            action,
            "status",
            current.status.value,
            new_value,
        )
        return _load(conn, scope, invoice_id)


def approve(conn: Conn, scope: Scope, invoice_id: UUID) -> InvoiceRecord:
    return _set_status(conn, scope, invoice_id, InvoiceStatus.APPROVED, None)


def reject(conn: Conn, scope: Scope, invoice_id: UUID, reason: str | None) -> InvoiceRecord:
    return _set_status(conn, scope, invoice_id, InvoiceStatus.REJECTED, reason)


def soft_delete(conn: Conn, scope: Scope, invoice_id: UUID) -> None:
    with conn.transaction():
        row = conn.execute(
            sql.SQL(
                "UPDATE invoices SET deleted_at = now(), version = version + 1, updated_at = now() "
                "WHERE id = %s AND deleted_at IS NULL AND {} RETURNING owner"
            ).format(scope.clause()),
            (invoice_id,),
        ).fetchone()
        if row is None:
            raise _not_found(invoice_id)
        _event(conn, invoice_id, row[0], scope.actor, "deleted")


def restore_for_document(
    conn: Conn, owner: str, document_id: UUID, actor: str = "pipeline"
) -> UUID | None:
    """Bring back the deleted invoice of a document uploaded again (its corrections intact).

    A document has one invoice (invoices.document_id is unique): the same bytes uploaded after
    their invoice was deleted mean "I want it back", not a second invoice.
    """
    with conn.transaction():
        row = conn.execute(
            """UPDATE invoices SET deleted_at = NULL, version = version + 1, updated_at = now()
               WHERE owner = %s AND document_id = %s AND deleted_at IS NOT NULL RETURNING id""",
            (owner, document_id),
        ).fetchone()
        if row is None:
            return None
        restored: UUID = row[0]
        _event(conn, restored, owner, actor, "restored")
        return restored


def events(conn: Conn, scope: Scope, invoice_id: UUID) -> list[InvoiceEvent]:
    with conn.transaction():
        _load(conn, scope, invoice_id)
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(
                "SELECT id, invoice_id, actor, action, field, old_value, new_value, at "
                "FROM invoice_events WHERE invoice_id = %s ORDER BY id",
                (invoice_id,),
            ).fetchall()
    return [InvoiceEvent.model_validate(row) for row in rows]


def _document_column(conn: Conn, scope: Scope, invoice_id: UUID, column: str) -> Any:
    row = conn.execute(
        sql.SQL(
            "SELECT d.{} FROM invoices i JOIN documents d ON d.id = i.document_id "
            "WHERE i.id = %s AND i.deleted_at IS NULL AND {}"
        ).format(sql.Identifier(column), scope.clause("i.owner")),
        (invoice_id,),
    ).fetchone()
    if row is None:
        raise _not_found(invoice_id)
    return row[0]


def document_text(conn: Conn, scope: Scope, invoice_id: UUID) -> str:
    text: str | None = _document_column(conn, scope, invoice_id, "text")
    return text or ""


def similar(conn: Conn, scope: Scope, invoice_id: UUID, *, limit: int = 10) -> list[ScoredInvoice]:
    """Nearest neighbours by cosine distance among the caller's live invoices whose vectors come
    from the same model (an invoice without a vector has no neighbours, and is no one's)."""
    with conn.transaction():
        _load(conn, scope, invoice_id)
        target = conn.execute(
            "SELECT embedding, model FROM embeddings WHERE invoice_id = %s", (invoice_id,)
        ).fetchone()
        if target is None:
            return []
        # The vector is sent as a value, not joined in: only `ORDER BY embedding <=> constant`
        # lets the planner walk the HNSW index. Filtered scans keep walking the graph until
        # enough rows pass the owner filter.
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(
                sql.SQL(
                    """SELECT {columns}, 1 - nearest.distance AS score
                       FROM (SELECT e.invoice_id, e.embedding <=> %(vector)s AS distance
                             FROM embeddings e
                             WHERE e.invoice_id <> %(id)s AND e.model = %(model)s
                               AND {scope_e}
                             ORDER BY e.embedding <=> %(vector)s
                             LIMIT %(candidates)s) nearest
                       JOIN invoices i ON i.id = nearest.invoice_id
                       WHERE i.deleted_at IS NULL
                       ORDER BY nearest.distance, i.id
                       LIMIT %(limit)s"""
                ).format(columns=_COLUMNS, scope_e=scope.clause("e.owner")),
                {"vector": target[0], "model": target[1], "id": invoice_id,
                 "candidates": limit + 20, "limit": limit},
            ).fetchall()  # fmt: skip
    return [_scored(row) for row in rows]


def _scored(row: dict[str, Any]) -> ScoredInvoice:
    score = float(row.pop("score"))
    return ScoredInvoice(invoice=_summary(row), score=round(score, 6))


def search(
    conn: Conn,
    scope: Scope,
    text: str,
    *,
    embedder: Embedder,
    limit: int = 20,
    candidates: int | None = None,
) -> list[ScoredInvoice]:
    """Full-text matches and vector neighbours of the query, merged by reciprocal rank fusion.

    Words match exactly what full text finds (an invoice number, a vendor); the vector side finds
    what is spelled differently or only close (typos, OCR errors, another word order).
    Each side contributes `candidates` (default twice the limit): deeper lists cost time on the
    filtered HNSW walk and barely change the fused top. Vectors of another model are not
    compared; when the embeddings model fails, words alone answer.
    """
    candidates = candidates or 2 * limit
    try:
        vector: str | None = str(embedder.embed_text(text))
    except EmbeddingFailed as exc:
        log.warning("search without the vector side: %s", exc)
        vector = None
    with conn.transaction():
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(
                sql.SQL(
                    """WITH query AS (SELECT websearch_to_tsquery('simple', %(text)s) AS q),
                       lexical AS (
                           SELECT i.id, row_number() OVER (
                                      ORDER BY ts_rank_cd(i.search, query.q) DESC, i.id) AS rank
                           FROM invoices i, query
                           WHERE i.search @@ query.q AND i.deleted_at IS NULL AND {scope_i}
                           ORDER BY ts_rank_cd(i.search, query.q) DESC, i.id
                           LIMIT %(candidates)s),
                       nearest AS (
                           SELECT e.invoice_id AS id, e.embedding <=> %(vector)s::vector AS d
                           FROM embeddings e
                           WHERE %(vector)s::vector IS NOT NULL AND e.model = %(model)s
                             AND {scope_e}
                           ORDER BY e.embedding <=> %(vector)s::vector
                           LIMIT %(candidates)s),
                       semantic AS (
                           SELECT id, row_number() OVER (ORDER BY d, id) AS rank FROM nearest),
                       fused AS (
                           SELECT id, sum(1.0 / (60 + rank)) AS score
                           FROM (SELECT * FROM lexical UNION ALL SELECT * FROM semantic) ranked
                           GROUP BY id)
                       SELECT {columns}, fused.score
                       FROM fused JOIN invoices i ON i.id = fused.id
                       WHERE i.deleted_at IS NULL
                       ORDER BY fused.score DESC, i.id
                       LIMIT %(limit)s"""
                ).format(
                    columns=_COLUMNS,
                    scope_i=scope.clause("i.owner"),
                    scope_e=scope.clause("e.owner"),
                ),
                {
                    "text": text,
                    "vector": vector,
                    "model": embedder.model,
                    "candidates": candidates,
                    "limit": limit,
                },
            ).fetchall()
    return [_scored(row) for row in rows]


def document_blob_path(conn: Conn, scope: Scope, invoice_id: UUID) -> str:
    path: str = _document_column(conn, scope, invoice_id, "blob_path")
    return path


def invoice_for_document(conn: Conn, owner: str, document_id: UUID) -> UUID | None:
    """The live invoice extracted from a document, if any (duplicate detection by bytes)."""
    row = conn.execute(
        "SELECT id FROM invoices WHERE owner = %s AND document_id = %s AND deleted_at IS NULL",
        (owner, document_id),
    ).fetchone()
    return row[0] if row else None
