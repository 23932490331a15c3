"""System-wide numbers for operators (GET /api/ops/stats), read in one snapshot.

Like every repository query, each statement carries the caller's scope: an administrator's is
every owner, so the numbers are the whole system's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from psycopg import Connection, sql
from pydantic import BaseModel, Field

from shared.extraction.schema import InvoiceStatus
from shared.storage.jobs import JOB_STATUSES, STUCK_AFTER_SECONDS, STUCK_CONDITION
from shared.storage.scope import Scope

Conn = Connection[Any]
DOCUMENT_STATUSES = ("pending", "processing", "extracted", "failed")
OUTCOMES = ("extracted", "duplicate", "failed")
_LLM_FIELDS = ("calls", "tokens", "prompt_tokens", "completion_tokens", "pages", "cost_usd")


class ErrorCount(BaseModel):
    code: str
    count: int


class Processed(BaseModel):
    """Documents the flow finished in a window, by outcome."""

    extracted: int = 0
    duplicate: int = 0
    failed: int = 0


class LlmTotals(BaseModel):
    """LLM usage summed over owners (table llm_usage, kept by the LLM extractor)."""

    calls: int = 0
    tokens: int = Field(default=0, description="Billed, plus any reserved by calls in flight")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    pages: int = 0
    cost_usd: Decimal = Field(default=Decimal(0), description="At the configured prices")


class SystemStats(BaseModel):
    at: dt.datetime = Field(description="When the numbers were read (database time)")
    invoices: dict[str, int] = Field(description="Live invoices by status")
    documents: dict[str, int] = Field(description="Documents by status")
    jobs: dict[str, int] = Field(description="Jobs by status")
    review_queue: int = Field(description="Invoices waiting for review")
    failures_by_code: list[ErrorCount] = Field(
        description="Failed documents of all jobs by error code, most frequent first"
    )
    processed_last_24h: Processed
    processed_last_7d: Processed
    oldest_unfinished_job_age_seconds: float | None = Field(
        description="Age of the oldest pending or running job; null when there is none"
    )
    stuck_jobs: int = Field(
        description=f"Unfinished jobs none of whose documents moved for {STUCK_AFTER_SECONDS} s"
    )
    llm_this_month: LlmTotals = Field(description="The current calendar month (UTC)")
    llm_all_time: LlmTotals


def _by_status(conn: Conn, statement: sql.Composed, statuses: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    counts.update({status: count for status, count in conn.execute(statement).fetchall()})
    return counts


def _llm_totals(conn: Conn, condition: sql.Composed) -> LlmTotals:
    columns = sql.SQL(", ").join(
        sql.SQL("coalesce(sum(u.{}), 0)").format(sql.Identifier(name)) for name in _LLM_FIELDS
    )
    row = conn.execute(
        sql.SQL("SELECT {} FROM llm_usage u WHERE {}").format(columns, condition)
    ).fetchone()
    assert row is not None
    return LlmTotals(**dict(zip(_LLM_FIELDS, row, strict=True)))


def system_stats(conn: Conn, scope: Scope, *, top: int = 10) -> SystemStats:
    jobs_scope = scope.clause("j.owner")
    # One snapshot: every number below describes the same moment.
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        at_row = conn.execute("SELECT now()").fetchone()
        invoices = _by_status(
            conn,
            sql.SQL(
                "SELECT i.status, count(*) FROM invoices i WHERE i.deleted_at IS NULL AND {} "
                "GROUP BY i.status"
            ).format(scope.clause("i.owner")),
            tuple(status.value for status in InvoiceStatus),
        )
        documents = _by_status(
            conn,
            sql.SQL("SELECT d.status, count(*) FROM documents d WHERE {} GROUP BY d.status").format(
                scope.clause("d.owner")
            ),
            DOCUMENT_STATUSES,
        )
        jobs = _by_status(
            conn,
            sql.SQL("SELECT j.status, count(*) FROM jobs j WHERE {} GROUP BY j.status").format(
                jobs_scope
            ),
            JOB_STATUSES,
        )
        failures = conn.execute(
            sql.SQL(
                """SELECT coalesce(d.error_code, 'unknown'), count(*)
                   FROM job_documents d JOIN jobs j ON j.id = d.job_id
                   WHERE d.outcome = 'failed' AND {}
                   GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {}"""
            ).format(jobs_scope, sql.Literal(top))
        ).fetchall()
        windows = conn.execute(
            sql.SQL(
                """SELECT d.outcome,
                          count(*) FILTER (WHERE d.updated_at >= now() - interval '24 hours'),
                          count(*)
                   FROM job_documents d JOIN jobs j ON j.id = d.job_id
                   WHERE d.outcome <> 'pending' AND d.updated_at >= now() - interval '7 days'
                     AND {}
                   GROUP BY d.outcome"""
            ).format(jobs_scope)
        ).fetchall()
        owners = scope.clause("u.owner")
        current = sql.SQL("u.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date")
        this_month = _llm_totals(conn, sql.SQL("{} AND {}").format(owners, current))
        all_time = _llm_totals(conn, sql.SQL("{}").format(owners))
        unfinished = conn.execute(
            sql.SQL(
                """SELECT extract(epoch FROM now() - min(j.created_at)),
                          count(*) FILTER (WHERE {})
                   FROM jobs j WHERE j.status IN ('pending', 'running') AND {}"""
            ).format(STUCK_CONDITION, jobs_scope)
        ).fetchone()
    assert at_row is not None and unfinished is not None
    day = Processed(**{outcome: n for outcome, n, _ in windows if outcome in OUTCOMES})
    week = Processed(**{outcome: n for outcome, _, n in windows if outcome in OUTCOMES})
    oldest, stuck = unfinished
    return SystemStats(
        at=at_row[0],
        invoices=invoices,
        documents=documents,
        jobs=jobs,
        review_queue=invoices[InvoiceStatus.NEEDS_REVIEW.value],
        failures_by_code=[ErrorCount(code=code, count=count) for code, count in failures],
        processed_last_24h=day,
        processed_last_7d=week,
        oldest_unfinished_job_age_seconds=float(oldest) if oldest is not None else None,
        stuck_jobs=stuck,
        llm_this_month=this_month,
        llm_all_time=all_time,
    )
