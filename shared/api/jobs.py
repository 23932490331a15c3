"""Job handlers: list and get (with per-document outcomes)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.call import Call
from shared.api.http import ApiResponse, OrchestrationStart
from shared.config import Settings
from shared.errors import Conflict, NotFound
from shared.storage import jobs

_JOB_ID_MAX = 200


class JobListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "running", "completed", "completed_with_errors", "failed"] | None = (
        None
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


def job_id(call: Call) -> str:
    raw = call.route_param("id")
    if not raw or len(raw) > _JOB_ID_MAX:
        raise NotFound("job not found")
    return raw


def list_jobs(call: Call) -> ApiResponse:
    query = call.query(JobListQuery)
    with call.services.connection() as conn:
        page = jobs.list_page(
            conn, call.scope, status=query.status, limit=query.limit, cursor=query.cursor
        )
    return ApiResponse.json(200, page)


def get_job(call: Call) -> ApiResponse:
    with call.services.connection() as conn:
        record = jobs.get(conn, call.scope, job_id(call))
    return ApiResponse.json(200, record)


class RetryStarted(BaseModel):
    job_id: str
    retried: int = Field(description="Failed documents queued again")
    instance_id: str = Field(description="The orchestration that re-runs them")


def retry_job(call: Call) -> ApiResponse:
    """Re-run only the failed documents of a job (their staged bytes are kept for this)."""
    target = job_id(call)
    with call.services.connection() as conn:
        retried = jobs.reset_failed(conn, call.scope, target)
        if not retried:
            raise Conflict(f"job {target} has no failed documents to retry")
        record = jobs.get(conn, call.scope, target)
    restart = jobs.Restart(
        target, record.owner, record.source_blob, record.documents_total, retried, retried
    )
    start = restart_orchestration(restart, call.services.settings)
    response = ApiResponse.json(
        202, RetryStarted(job_id=target, retried=retried, instance_id=start.instance_id)
    )
    response.starts.append(start)
    return response


def restart_orchestration(restart: jobs.Restart, settings: Settings) -> OrchestrationStart:
    """A new `ingest` run over a job's pending documents, under its own instance id. A job
    whose manifest was never written (its first run died in begin_job) starts from the top."""
    instance_id = f"{restart.job_id}:retry:{uuid.uuid4().hex[:12]}"
    orchestration_input: dict[str, Any] = {
        "job_id": restart.job_id,
        "owner": restart.owner,
        "blob_path": restart.source_blob,
        "window": settings.flow_window,
        "chunk": settings.flow_chunk,
        "attempt": instance_id.rsplit(":", 1)[-1],
    }
    if restart.total:
        orchestration_input |= {
            "total": restart.total,
            "processed": restart.total - restart.pending,
            "failed": 0,
            "after": -1,
        }
    return OrchestrationStart("ingest", instance_id, orchestration_input)
