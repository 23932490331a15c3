"""Job handlers: list and get (with per-document outcomes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.call import Call
from shared.api.http import ApiResponse
from shared.errors import NotFound
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
