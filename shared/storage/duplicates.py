"""Near duplicates: is an invoice just stored probably one its owner already has?

The same bytes twice never get here: a document is unique per owner and SHA-256, and the flow
reports the second as a `duplicate` of the existing invoice without storing anything. This finds
the same invoice arriving as other bytes (a rescan, a phone photo, a PDF sent again) and links it
to the earlier one, which stays the original:

1. By key: same owner, same invoice number and total, same vendor (name or tax id, compared
   as letters and digits, case-insensitively; `duplicate_key()` in migration 0004).
2. Else by vector: the nearest invoices of the same owner, embedded by the same model, closer
   than DUPLICATE_MAX_DISTANCE (cosine). Two invoices dated differently are not duplicates
   however close: a monthly invoice repeats its vendor, customer, lines and total under a new
   number and date.

A match sets `duplicate_of`, adds the warning `possible_duplicate` and sends the invoice to
review. Never itself, never a deleted invoice, never another owner's (the owner is in the SQL);
among several candidates, one that is not itself a copy, and then the earliest.
Owners are serialised here by an advisory lock, so two copies stored at the same moment cannot
both miss each other: the second to take the lock sees the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from psycopg import Connection

from shared.metrics import DUPLICATES

Conn = Connection[Any]

WARNING = "possible_duplicate"
# Namespace of the per-owner advisory locks (two-key form: never collides with single-key locks).
_LOCK_SPACE = 0x64757073  # "dups"
# Nearest vectors looked at; the earliest of those under the threshold is the original.
_CANDIDATES = 10


@dataclass(frozen=True)
class DuplicateMatch:
    original: UUID
    match: Literal["key", "vector"]
    # Cosine distance between the two embeddings (vector matches only).
    distance: float | None = None


def _by_key(conn: Conn, owner: str, invoice_id: UUID) -> DuplicateMatch | None:
    row = conn.execute(
        """SELECT c.id
           FROM invoices n
           JOIN invoices c
             ON c.owner = n.owner
            AND duplicate_key(c.invoice_id) = duplicate_key(n.invoice_id)
            AND c.invoice_total = n.invoice_total
           WHERE n.id = %(id)s AND n.owner = %(owner)s AND c.owner = %(owner)s
             AND c.id <> n.id AND c.deleted_at IS NULL
             AND c.invoice_id IS NOT NULL AND c.invoice_total IS NOT NULL
             AND (duplicate_key(c.vendor_name) = duplicate_key(n.vendor_name)
                  OR duplicate_key(c.vendor_tax_id) = duplicate_key(n.vendor_tax_id))
           ORDER BY c.duplicate_of IS NOT NULL, c.created_at, c.id
           LIMIT 1""",
        {"id": invoice_id, "owner": owner},
    ).fetchone()
    return DuplicateMatch(row[0], "key") if row else None


def _by_vector(
    conn: Conn, owner: str, invoice_id: UUID, vector: list[float], model: str, max_distance: float
) -> DuplicateMatch | None:
    # As in invoices.similar: the vector is a constant, so the planner can walk the HNSW index,
    # and the owner filter keeps the walk going until enough of the owner's vectors are found.
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    row = conn.execute(
        """SELECT c.id, nearest.distance
           FROM (SELECT e.invoice_id, e.embedding <=> %(vector)s::vector AS distance
                 FROM embeddings e
                 WHERE e.owner = %(owner)s AND e.model = %(model)s AND e.invoice_id <> %(id)s
                 ORDER BY e.embedding <=> %(vector)s::vector
                 LIMIT %(candidates)s) nearest
           JOIN invoices c ON c.id = nearest.invoice_id
           JOIN invoices n ON n.id = %(id)s AND n.owner = %(owner)s
           WHERE c.owner = %(owner)s AND c.deleted_at IS NULL AND c.id <> n.id
             AND nearest.distance < %(max_distance)s
             AND (c.invoice_date IS NULL OR n.invoice_date IS NULL
                  OR c.invoice_date = n.invoice_date)
           ORDER BY c.duplicate_of IS NOT NULL, c.created_at, c.id
           LIMIT 1""",
        {"vector": str(vector), "owner": owner, "model": model, "id": invoice_id,
         "candidates": _CANDIDATES, "max_distance": max_distance},
    ).fetchone()  # fmt: skip
    return DuplicateMatch(row[0], "vector", float(row[1])) if row else None


def find_original(
    conn: Conn,
    *,
    owner: str,
    invoice_id: UUID,
    vector: list[float] | None,
    model: str,
    max_distance: float,
) -> DuplicateMatch | None:
    """The earlier live invoice of `owner` that `invoice_id` probably duplicates, if any."""
    found = _by_key(conn, owner, invoice_id)
    if found is None and vector is not None and max_distance > 0:
        found = _by_vector(conn, owner, invoice_id, vector, model, max_distance)
    return found


def link_possible_duplicate(
    conn: Conn,
    *,
    owner: str,
    invoice_id: UUID,
    vector: list[float] | None,
    model: str,
    max_distance: float,
) -> DuplicateMatch | None:
    """Within the transaction that stored `invoice_id` (its embedding written): look for the
    original and, when found, link, warn and send the invoice to review."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, owner))
    found = find_original(
        conn, owner=owner, invoice_id=invoice_id, vector=vector, model=model,
        max_distance=max_distance,
    )  # fmt: skip
    if found is None:
        return None
    conn.execute(
        """UPDATE invoices
           SET duplicate_of = %(original)s, status = 'needs_review',
               warnings = CASE WHEN %(warning)s = ANY (warnings) THEN warnings
                               ELSE array_append(warnings, %(warning)s) END
           WHERE id = %(id)s AND owner = %(owner)s""",
        {"original": found.original, "warning": WARNING, "id": invoice_id, "owner": owner},
    )
    DUPLICATES.labels(found.match).inc()
    return found
