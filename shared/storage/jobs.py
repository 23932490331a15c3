"""The jobs repository: one row per orchestration (id = instance id) and its documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from psycopg import Connection, sql
from psycopg.rows import dict_row

from shared.errors import NotFound
from shared.storage.query import decode_cursor, encode_cursor
from shared.storage.records import JobDocument, JobPage, JobRecord, ProblemJob, ProblemJobPage
from shared.storage.scope import Scope

Conn = Connection[Any]
JOB_STATUSES = ("pending", "running", "completed", "completed_with_errors", "failed")
# A job is stuck when it is unfinished and none of its documents moved for this long: every
# recorded document bumps updated_at, so a slow but moving batch of thousands is not stuck.
STUCK_AFTER_SECONDS = 1800
STUCK_CONDITION = sql.SQL(
    "j.status IN ('pending', 'running') AND j.updated_at < now() - make_interval(secs => {})"
).format(sql.Literal(STUCK_AFTER_SECONDS))
# Finished with documents (or the whole upload) failed: what an operator may want to re-run.
FAILED_CONDITION = sql.SQL("j.status IN ('failed', 'completed_with_errors')")
ProblemState = Literal["failed", "stuck", "problems"]
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


@dataclass(frozen=True)
class ManifestEntry:
    """One document of a job: where its bytes are staged, and what became of it."""

    position: int
    name: str
    staged_blob: str | None = None
    sha256: str | None = None
    outcome: str = "pending"
    error_code: str | None = None
    error_message: str | None = None


def add_documents(conn: Conn, job_id: str, entries: Sequence[ManifestEntry]) -> None:
    """Write the job's manifest; a re-run after a crash finds it written and changes nothing."""
    with conn.transaction():
        _lock_job(conn, job_id)
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO job_documents (job_id, position, name, staged_blob, sha256,
                                              outcome, error_code, error_message)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (job_id, position) DO NOTHING""",
                [
                    (job_id, e.position, e.name, e.staged_blob, e.sha256, e.outcome,
                     e.error_code, e.error_message)
                    for e in entries
                ],
            )  # fmt: skip
        _recount(conn, job_id)


def manifest(
    conn: Conn, job_id: str, *, after: int = -1, limit: int = 1000, outcome: str | None = None
) -> list[ManifestEntry]:
    rows = conn.execute(
        """SELECT position, name, staged_blob, sha256, outcome, error_code, error_message
           FROM job_documents
           WHERE job_id = %s AND position > %s AND (%s::text IS NULL OR outcome = %s)
           ORDER BY position LIMIT %s""",
        (job_id, after, outcome, outcome, limit),
    ).fetchall()
    return [ManifestEntry(*row) for row in rows]


def record_document(
    conn: Conn,
    *,
    job_id: str,
    position: int,
    outcome: str,
    document_id: UUID | None = None,
    invoice_id: UUID | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Record (or overwrite, on retry) what the job did with one document, and recount."""
    with conn.transaction():
        _lock_job(conn, job_id)
        conn.execute(
            """UPDATE job_documents SET document_id = %s, outcome = %s, invoice_id = %s,
                   error_code = %s, error_message = %s, updated_at = now()
               WHERE job_id = %s AND position = %s""",
            (document_id, outcome, invoice_id, error_code, error_message, job_id, position),
        )
        _recount(conn, job_id)


def reset_failed(conn: Conn, scope: Scope, job_id: str) -> int:
    """Mark a job's failed documents pending again (a retry); returns how many."""
    with conn.transaction():
        owned = conn.execute(
            sql.SQL("SELECT 1 FROM jobs j WHERE j.id = %s AND {} FOR UPDATE").format(
                scope.clause("j.owner")
            ),
            (job_id,),
        ).fetchone()
        if owned is None:
            raise NotFound(f"job {job_id} not found")
        count = _reset_failed_documents(conn, job_id, None)
        if count:
            _reopen(conn, job_id)
    return count


def _reset_failed_documents(conn: Conn, job_id: str, error_code: str | None) -> int:
    """Failed documents whose bytes are staged (a rejected upload's are not) become pending."""
    return conn.execute(
        """UPDATE job_documents SET outcome = 'pending', error_code = NULL,
               error_message = NULL, updated_at = now()
           WHERE job_id = %s AND outcome = 'failed' AND staged_blob IS NOT NULL
             AND (%s::text IS NULL OR error_code = %s)""",
        (job_id, error_code, error_code),
    ).rowcount


def _reopen(conn: Conn, job_id: str) -> None:
    conn.execute(
        "UPDATE jobs SET status = 'running', finished_at = NULL, error = NULL, "
        "updated_at = now() WHERE id = %s",
        (job_id,),
    )
    _recount(conn, job_id)


@dataclass(frozen=True)
class Restart:
    """A job made ready to run again: what a new orchestration over it needs to know."""

    job_id: str
    owner: str
    source_blob: str
    total: int
    # Documents the new run will process: the failed ones reset, plus, for a stuck job, those
    # its dead run never reached.
    pending: int
    retried: int


RestartRefusal = Literal["not_found", "running", "nothing_to_retry"]


def prepare_restart(
    conn: Conn, scope: Scope, job_id: str, *, error_code: str | None = None
) -> Restart | RestartRefusal:
    """Reset a finished job's failed documents (only those failed with `error_code`, if
    given), or a stuck job's, so that a new orchestration re-runs them (and, for a stuck job,
    the documents its run never reached, then finishes it). A job still moving is refused
    ("running"): its own run will finish it."""
    with conn.transaction():
        row = conn.execute(
            sql.SQL(
                "SELECT j.owner, j.source_blob, j.status IN ('pending', 'running'), ({}) "
                "FROM jobs j WHERE j.id = %s AND {} FOR UPDATE"
            ).format(STUCK_CONDITION, scope.clause("j.owner")),
            (job_id,),
        ).fetchone()
        if row is None:
            return "not_found"
        owner, source_blob, unfinished, stuck = row
        if unfinished and not stuck:
            return "running"
        retried = _reset_failed_documents(conn, job_id, error_code)
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'pending') "
            "FROM job_documents WHERE job_id = %s",
            (job_id,),
        ).fetchone()
        total, pending = counts if counts else (0, 0)
        # A stuck job restarts even with nothing pending: its run died before finishing it.
        if not pending and not stuck:
            return "nothing_to_retry"
        _reopen(conn, job_id)
    return Restart(job_id, owner, source_blob, total, pending, retried)


def failed_job_ids(
    conn: Conn,
    scope: Scope,
    *,
    since: dt.datetime | None,
    error_code: str | None,
    limit: int,
) -> tuple[list[str], bool]:
    """Finished jobs with a failed document that can be re-run (its bytes are staged), failed
    at or after `since` and with `error_code` when given; oldest first. Returns the first
    `limit` ids and whether there are more."""
    rows = conn.execute(
        sql.SQL(
            """SELECT j.id FROM jobs j
               WHERE {} AND {} AND EXISTS (
                   SELECT 1 FROM job_documents d
                   WHERE d.job_id = j.id AND d.outcome = 'failed' AND d.staged_blob IS NOT NULL
                     AND (%(since)s::timestamptz IS NULL OR d.updated_at >= %(since)s)
                     AND (%(code)s::text IS NULL OR d.error_code = %(code)s))
               ORDER BY j.updated_at, j.id LIMIT %(limit)s"""
        ).format(FAILED_CONDITION, scope.clause("j.owner")),
        {"since": since, "code": error_code, "limit": limit + 1},
    ).fetchall()
    ids = [row[0] for row in rows]
    return ids[:limit], len(ids) > limit


def _lock_job(conn: Conn, job_id: str) -> None:
    """Serialise a job's writers: documents finish concurrently, and two recounts that each
    miss the other's uncommitted outcome would leave the counts one short."""
    conn.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (job_id,))


def _recount(conn: Conn, job_id: str) -> None:
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


def finish(conn: Conn, job_id: str, *, error: str | None = None) -> bool:
    """Close the job: failed with `error`, else completed (with errors if any document failed).

    A job with pending documents stays open (returns False): a retry is processing them, and
    this is a late re-run of an earlier run's last step (its host died before recording it).
    """
    with conn.transaction():
        closed = conn.execute(
            """UPDATE jobs j SET
                   status = CASE WHEN %(error)s::text IS NOT NULL THEN 'failed'
                                 WHEN documents_failed > 0 THEN 'completed_with_errors'
                                 ELSE 'completed' END,
                   error = %(error)s, finished_at = now(), updated_at = now()
               WHERE id = %(id)s
                 AND NOT EXISTS (SELECT 1 FROM job_documents d
                                 WHERE d.job_id = j.id AND d.outcome = 'pending')""",
            {"error": error, "id": job_id},
        ).rowcount
    return closed == 1


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
            "SELECT position, name, document_id, outcome, error_code, error_message, invoice_id "
            "FROM job_documents WHERE job_id = %s ORDER BY position",
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
    conditions: list[sql.Composable] = [scope.clause("j.owner")]
    if status:
        conditions.append(sql.SQL("j.status = {}").format(sql.Literal(status)))
    rows, next_cursor = _page(conn, _COLUMNS, conditions, f"jobs:{status or ''}", limit, cursor)
    return JobPage(items=[JobRecord.model_validate(row) for row in rows], next_cursor=next_cursor)


def problem_page(
    conn: Conn, scope: Scope, *, state: ProblemState, limit: int = 50, cursor: str | None = None
) -> ProblemJobPage:
    """Failed jobs (finished with failed documents, or failed as a whole), stuck jobs, or both
    ("problems"), newest first, each with its failed documents counted by error code."""
    chosen = {
        "failed": FAILED_CONDITION,
        "stuck": STUCK_CONDITION,
        "problems": sql.SQL("(({}) OR ({}))").format(FAILED_CONDITION, STUCK_CONDITION),
    }
    conditions = [scope.clause("j.owner"), chosen[state]]  # fmt: skip
    columns = sql.SQL("{}, ({}) AS stuck").format(_COLUMNS, STUCK_CONDITION)
    rows, next_cursor = _page(conn, columns, conditions, f"problem-jobs:{state}", limit, cursor)
    codes: dict[str, dict[str, int]] = {row["id"]: {} for row in rows}
    if rows:
        for job_id, code, count in conn.execute(
            """SELECT job_id, coalesce(error_code, 'unknown'), count(*) FROM job_documents
               WHERE job_id = ANY(%s) AND outcome = 'failed' GROUP BY 1, 2 ORDER BY 1, 3 DESC""",
            (list(codes),),
        ).fetchall():
            codes[job_id][code] = count
    items = [ProblemJob.model_validate({**row, "failure_codes": codes[row["id"]]}) for row in rows]
    return ProblemJobPage(items=items, next_cursor=next_cursor)


def _page(
    conn: Conn,
    columns: sql.Composable,
    conditions: list[sql.Composable],
    fingerprint: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One keyset page of jobs, newest first; the cursor is bound to `fingerprint`."""
    if cursor:
        key, last_id = decode_cursor(cursor, fingerprint)
        conditions = [
            *conditions,
            sql.SQL("(j.created_at, j.id) < ({}::timestamptz, {})").format(
                sql.Literal(key), sql.Literal(str(last_id))
            ),
        ]
    statement = sql.SQL(
        "SELECT {} FROM jobs j WHERE {} ORDER BY j.created_at DESC, j.id DESC LIMIT {}"
    ).format(columns, sql.SQL(" AND ").join(conditions), sql.Literal(limit + 1))
    with conn.cursor(row_factory=dict_row) as db:
        rows = db.execute(statement).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(fingerprint, last["created_at"].isoformat(), last["id"])
    return rows, next_cursor
