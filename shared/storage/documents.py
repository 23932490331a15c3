"""The documents repository: one row per distinct file per owner (UNIQUE owner, sha256)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from shared.errors import NotFound

Conn = Connection[Any]


@dataclass(frozen=True)
class DocumentRow:
    id: UUID
    status: str
    # False when these bytes were already known for this owner (a duplicate upload).
    created: bool


def register(
    conn: Conn,
    *,
    owner: str,
    sha256: str,
    blob_path: str,
    member_name: str | None = None,
    media_type: str | None = None,
) -> DocumentRow:
    """Record a document, or find the one with the same bytes; safe when two callers race."""
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO documents (owner, sha256, blob_path, member_name, media_type)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (owner, sha256) DO UPDATE SET updated_at = documents.updated_at
               RETURNING id, status, (xmax = 0) AS created""",
            (owner, sha256, blob_path, member_name, media_type),
        ).fetchone()
    assert row is not None
    return DocumentRow(id=row[0], status=row[1], created=row[2])


def mark_parsed(
    conn: Conn, document_id: UUID, *, pages: int, text: str, media_type: str | None = None
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET pages = %s, text = %s, status = 'processing', "
            "media_type = coalesce(%s, media_type), updated_at = now() WHERE id = %s",
            (pages, text.replace("\x00", ""), media_type, document_id),
        )


def mark_extracted(conn: Conn, document_id: UUID) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET status = 'extracted', rejection_code = NULL, "
            "rejection_reason = NULL, updated_at = now() WHERE id = %s",
            (document_id,),
        )


def mark_failed(conn: Conn, document_id: UUID, *, code: str, reason: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET status = 'failed', rejection_code = %s, rejection_reason = %s, "
            "updated_at = now() WHERE id = %s",
            (code, reason, document_id),
        )


def sha256_of(conn: Conn, document_id: UUID) -> str:
    row = conn.execute("SELECT sha256 FROM documents WHERE id = %s", (document_id,)).fetchone()
    if row is None:
        raise NotFound(f"document {document_id} not found")
    return str(row[0])
