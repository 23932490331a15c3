"""Operator handlers (role admin): system numbers, failed and stuck jobs, reprocessing.

They live under /api/ops/ because the Functions host refuses function routes that start with
"admin" (its own management API is at /admin).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.api.call import Call
from shared.api.http import ApiResponse, OrchestrationStart
from shared.api.jobs import RetryStarted, restart_orchestration
from shared.storage import jobs, stats

log = logging.getLogger(__name__)

# Most jobs one reprocess request restarts: each is an orchestration and a burst of documents.
MAX_REPROCESS_JOBS = 100


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top: int = Field(default=10, ge=1, le=100, description="Error codes listed, most frequent")


def system_stats(call: Call) -> ApiResponse:
    query = call.query(StatsQuery)
    with call.services.connection() as conn:
        numbers = stats.system_stats(conn, call.scope, top=query.top)
    return ApiResponse.json(200, numbers)


class ProblemJobsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: jobs.ProblemState = Field(
        default="problems",
        description="failed: finished with failed documents (or rejected as a whole); "
        "stuck: unfinished and not moving; problems: either",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


def problem_jobs(call: Call) -> ApiResponse:
    query = call.query(ProblemJobsQuery)
    with call.services.connection() as conn:
        page = jobs.problem_page(
            conn, call.scope, state=query.state, limit=query.limit, cursor=query.cursor
        )
    return ApiResponse.json(200, page)


JobId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ReprocessRequest(BaseModel):
    """Either `job_ids`, or a filter (`failed_since` and/or `error_code`) choosing finished
    jobs with failed documents, oldest first, at most `limit` of them. With `job_ids`,
    `error_code` narrows which failed documents run again."""

    model_config = ConfigDict(extra="forbid")

    job_ids: list[JobId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_REPROCESS_JOBS,
        description=f"Jobs to re-run (at most {MAX_REPROCESS_JOBS}); stuck jobs restart",
    )
    failed_since: AwareDatetime | None = Field(
        default=None, description="Jobs with a document that failed at or after this time"
    )
    error_code: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="Only documents that failed with this code",
    )
    limit: int = Field(
        default=20, ge=1, le=MAX_REPROCESS_JOBS, description="Most jobs a filter restarts"
    )

    @model_validator(mode="after")
    def _one_selection(self) -> ReprocessRequest:
        if self.job_ids is not None:
            if self.failed_since is not None:
                raise ValueError("give job_ids or failed_since, not both")
        elif self.failed_since is None and self.error_code is None:
            raise ValueError("give job_ids, or failed_since and/or error_code")
        if self.failed_since is not None and self.failed_since > dt.datetime.now(dt.UTC):
            raise ValueError("failed_since is in the future")
        return self


class ReprocessSkipped(BaseModel):
    job_id: str
    reason: jobs.RestartRefusal = Field(
        description="not_found; running (still moving: its own run finishes it); "
        "nothing_to_retry (no failed document whose bytes are kept)"
    )


class ReprocessStarted(BaseModel):
    started: list[RetryStarted]
    skipped: list[ReprocessSkipped]
    more: bool = Field(description="The filter matched more jobs than `limit`; send it again")


def reprocess(call: Call) -> ApiResponse:
    body = call.body(ReprocessRequest)
    started: list[RetryStarted] = []
    skipped: list[ReprocessSkipped] = []
    starts: list[OrchestrationStart] = []
    with call.services.connection() as conn:
        if body.job_ids is not None:
            chosen, more = list(dict.fromkeys(body.job_ids)), False
        else:
            chosen, more = jobs.failed_job_ids(
                conn, call.scope, since=body.failed_since, error_code=body.error_code,
                limit=body.limit,
            )  # fmt: skip
        for job_id in chosen:
            outcome = jobs.prepare_restart(conn, call.scope, job_id, error_code=body.error_code)
            if isinstance(outcome, str):
                skipped.append(ReprocessSkipped(job_id=job_id, reason=outcome))
                continue
            start = restart_orchestration(outcome, call.services.settings)
            starts.append(start)
            started.append(
                RetryStarted(job_id=job_id, retried=outcome.pending, instance_id=start.instance_id)
            )
    log.info("reprocess: %d jobs started, %d skipped", len(started), len(skipped))
    response = ApiResponse.json(202, ReprocessStarted(started=started, skipped=skipped, more=more))
    response.starts = starts
    return response
