"""The jobs repository: one row per orchestration (id = instance id) and its documents."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from shared.errors import NotFound
from shared.storage.query import decode_cursor, encode_cursor
from shared.storage.records import JobDocument, JobPage, JobRecord
from shared.storage.scope import Scope

Conn = Connection[Any]
JOB_STATUSES = ("pending", "running", "completed", "completed_with_errors", "failed")
_COLUMNS = sql.SQL(
    "j.id, j.owner, j.source_blob, j.status, j.documents_total, j.documents_succeeded, "
    "j.documents_failed, j.error, j.created_at, j.started_at, j.finished_at, j.updated_at"
)


def start(conn: Conn, *, job_id: str, owner: str, source_blob: str) -> None:
    """Create the job, or leave it as it is when a trigger fires twice."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO jobs (id, owner, source_blob, status, started_at)
               VALUES (%s, %s, %s, 'running', now())
               ON CONFLICT (id) DO NOTHING""",
            (job_id, owner, source_blob),
        )


def record_document(
    conn: Conn,
    *,
    job_id: str,
    name: str,
    outcome: str,
    document_id: UUID | None = None,
    invoice_id: UUID | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Record (or update, on retry) what the job did with one document, and recount."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO job_documents
                   (job_id, name, document_id, outcome, invoice_id, error_code, error_message)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (job_id, name) DO UPDATE SET
                   document_id = EXCLUDED.document_id, outcome = EXCLUDED.outcome,
                   invoice_id = EXCLUDED.invoice_id, error_code = EXCLUDED.error_code,
                   error_message = EXCLUDED.error_message, updated_at = now()""",
            (job_id, name, document_id, outcome, invoice_id, error_code, error_message),
        )
        conn.execute(
            """UPDATE jobs j SET
                   documents_total = c.total, documents_succeeded = c.succeeded,
                   documents_failed = c.failed, updated_at = now()
               FROM (SELECT count(*) AS total,
                            count(*) FILTER (WHERE outcome IN ('extracted', 'duplicate'))
                                AS succeeded,
                            count(*) FILTER (WHERE outcome = 'failed') AS failed
                     FROM job_documents WHERE job_id = %s) c
               WHERE j.id = %s""",
            (job_id, job_id),
        )


def finish(conn: Conn, job_id: str, *, error: str | None = None) -> None:
    """Close the job: failed with `error`, else completed (with errors if any document failed)."""
    with conn.transaction():
        conn.execute(
            """UPDATE jobs SET
                   status = CASE WHEN %(error)s::text IS NOT NULL THEN 'failed'
                                 WHEN documents_failed > 0 THEN 'completed_with_errors'
                                 ELSE 'completed' END,
                   error = %(error)s, finished_at = now(), updated_at = now()
               WHERE id = %(id)s""",
            {"error": error, "id": job_id},
        )


def get(conn: Conn, scope: Scope, job_id: str) -> JobRecord:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(
            sql.SQL("SELECT {} FROM jobs j WHERE j.id = %s AND {}").format(
                _COLUMNS, scope.clause("j.owner")
            ),
            (job_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} not found")
        documents = cursor.execute(
            "SELECT name, document_id, outcome, error_code, error_message, invoice_id "
            "FROM job_documents WHERE job_id = %s ORDER BY name",
            (job_id,),
        ).fetchall()
    return JobRecord.model_validate(
        {**row, "documents": [JobDocument.model_validate(d) for d in documents]}
    )


def list_page(
    conn: Conn,
    scope: Scope,
    *,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    fingerprint = f"jobs:{status or ''}"
    conditions: list[sql.Composable] = [scope.clause("j.owner")]
    if status:
        conditions.append(sql.SQL("j.status = {}").format(sql.Literal(status)))
    if cursor:
        key, last_id = decode_cursor(cursor, fingerprint)
        conditions.append(
            sql.SQL("(j.created_at, j.id) < ({}::timestamptz, {})").format(
                sql.Literal(key), sql.Literal(str(last_id))
            )
        )
    statement = sql.SQL(
        "SELECT {} FROM jobs j WHERE {} ORDER BY j.created_at DESC, j.id DESC LIMIT {}"
    ).format(_COLUMNS, sql.SQL(" AND ").join(conditions), sql.Literal(limit + 1))
    with conn.cursor(row_factory=dict_row) as db:
        rows = db.execute(statement).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(fingerprint, last["created_at"].isoformat(), last["id"])
    return JobPage(items=[JobRecord.model_validate(row) for row in rows], next_cursor=next_cursor)
