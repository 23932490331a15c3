"""Operator routes: GET /api/ops/stats, GET /api/ops/jobs, POST /api/ops/reprocess.

Numbers and lists are checked exactly through the repositories with one fresh owner's scope
(the same SQL the admin's every-owner scope runs), and through the routes for shape, access and
validation. Reprocess is checked in-process through `dispatch` (what it resets, which
orchestrations it asks for) and end to end on the devhost stack (the orchestration it starts
re-runs the document and finishes the job).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from shared.api.http import ApiRequest, ApiResponse
from shared.api.routes import BY_NAME, dispatch
from shared.services import Services
from shared.storage import documents, jobs, stats
from shared.storage.scope import Scope
from tests.api.conftest import User, new_user
from tests.devhost.host_support import wait_until
from tests.e2e.stack import REPO, Stack
from tests.e2e.test_flow import drop, wait_for_job
from tests.support.api import Client
from tests.support.invoices import store


def _code() -> str:
    """An error code no other test uses, so filters select only this test's jobs."""
    return f"test_{uuid.uuid4().hex[:10]}"


def _job(
    pool: ConnectionPool,
    owner: str,
    entries: list[tuple[str, str | None]],
    *,
    finish: bool = True,
    idle_minutes: int = 0,
) -> str:
    """A job whose documents ended as `entries` (outcome, error code); failed documents have
    staged bytes unless their code is "rejected_member"."""
    job_id = f"job-{uuid.uuid4().hex}"
    staged = f"invoices-staging/{job_id}/{{:05d}}/source"
    manifest = [
        jobs.ManifestEntry(
            position,
            f"doc-{position}.pdf",
            None if code == "rejected_member" else staged.format(position),
            hashlib.sha256(f"{job_id}{position}".encode()).hexdigest(),
            outcome,
            code,
            "simulated" if code else None,
        )
        for position, (outcome, code) in enumerate(entries)
    ]  # fmt: skip
    with pool.connection() as conn:
        jobs.start(conn, job_id=job_id, owner=owner, source_blob=f"{owner}/u/batch.zip")
        jobs.add_documents(conn, job_id, manifest)
        if finish:
            jobs.finish(conn, job_id)
        if idle_minutes:
            conn.execute(
                "UPDATE jobs SET updated_at = now() - make_interval(mins => %s), "
                "created_at = now() - make_interval(mins => %s) WHERE id = %s",
                (idle_minutes, idle_minutes + 30, job_id),
            )
    return job_id


def _outcomes(pool: ConnectionPool, job_id: str) -> list[tuple[str, str | None]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT outcome, error_code FROM job_documents WHERE job_id = %s ORDER BY position",
            (job_id,),
        ).fetchall()
    return [(outcome, code) for outcome, code in rows]


def _status(pool: ConnectionPool, job_id: str) -> str:
    with pool.connection() as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return str(row[0])


# --- GET /api/ops/stats ---------------------------------------------------------------------


def test_stats_count_exactly_what_an_owner_has(pool: ConnectionPool, owner: str) -> None:
    code_a, code_b = _code(), _code()
    with pool.connection() as conn:
        statuses = ("extracted", "extracted", "needs_review", "approved", "rejected")
        for status in (*statuses, "approved"):
            conn.execute(
                "UPDATE invoices SET status = %s WHERE id = %s", (status, store(conn, owner))
            )
        # the last one is deleted: live invoices only
        conn.execute(
            "UPDATE invoices SET deleted_at = now() WHERE id = ("
            "SELECT id FROM invoices WHERE owner = %s ORDER BY created_at DESC LIMIT 1)",
            (owner,),
        )
        failed_document = documents.register(
            conn, owner=owner, sha256=hashlib.sha256(owner.encode()).hexdigest(),
            blob_path=f"{owner}/u/x.pdf",
        )  # fmt: skip
        documents.mark_failed(conn, failed_document.id, code=code_a, reason="simulated")
    finished = _job(pool, owner, [("extracted", None), ("failed", code_a), ("failed", code_a),
                                  ("failed", code_b), ("duplicate", None)])  # fmt: skip
    _job(pool, owner, [("pending", None)], finish=False, idle_minutes=120)  # stuck
    _job(pool, owner, [("pending", None)], finish=False)  # running and moving
    with pool.connection() as conn:
        # one of the finished job's documents finished three days ago
        conn.execute(
            "UPDATE job_documents SET updated_at = now() - interval '3 days' "
            "WHERE job_id = %s AND position = 0",
            (finished,),
        )
        conn.execute(
            """INSERT INTO llm_usage (owner, month, tokens, prompt_tokens, completion_tokens,
                                      calls, pages, cost_usd)
               VALUES (%(o)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date,
                       1000, 700, 300, 3, 4, 0.0125),
                      (%(o)s, '2025-01-01', 100, 60, 40, 1, 1, 0.001)""",
            {"o": owner},
        )
        numbers = stats.system_stats(conn, Scope.user(owner), top=1)
    assert numbers.invoices == {"extracted": 2, "needs_review": 1, "approved": 1, "rejected": 1}
    assert numbers.review_queue == 1
    assert numbers.documents == {"pending": 0, "processing": 0, "extracted": 6, "failed": 1}
    assert numbers.jobs == {"pending": 0, "running": 2, "completed": 0,
                            "completed_with_errors": 1, "failed": 0}  # fmt: skip
    assert [(e.code, e.count) for e in numbers.failures_by_code] == [(code_a, 2)]  # top=1
    assert numbers.processed_last_24h.model_dump() == {"extracted": 0, "duplicate": 1, "failed": 3}
    assert numbers.processed_last_7d.model_dump() == {"extracted": 1, "duplicate": 1, "failed": 3}
    assert numbers.stuck_jobs == 1
    age = numbers.oldest_unfinished_job_age_seconds
    assert age is not None and 150 * 60 - 60 < age < 150 * 60 + 60  # created 150 minutes ago
    assert numbers.llm_this_month.model_dump() == {
        "calls": 3, "tokens": 1000, "prompt_tokens": 700, "completion_tokens": 300, "pages": 4,
        "cost_usd": Decimal("0.0125"),
    }  # fmt: skip
    assert numbers.llm_all_time.model_dump() == {
        "calls": 4, "tokens": 1100, "prompt_tokens": 760, "completion_tokens": 340, "pages": 5,
        "cost_usd": Decimal("0.0135"),
    }  # fmt: skip


def test_stats_of_an_owner_with_nothing(pool: ConnectionPool, owner: str) -> None:
    with pool.connection() as conn:
        numbers = stats.system_stats(conn, Scope.user(owner))
    assert numbers.oldest_unfinished_job_age_seconds is None
    assert numbers.stuck_jobs == 0 and numbers.failures_by_code == []
    assert numbers.llm_all_time.calls == 0 and numbers.llm_all_time.cost_usd == 0
    assert set(numbers.jobs.values()) == {0}


def test_stats_route_answers_admins_with_the_whole_system(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    code = _code()
    _job(pool, alice.owner, [("failed", code)] * 3)
    _job(pool, alice.owner, [("pending", None)], finish=False, idle_minutes=45)
    admin = new_user(api)
    response = api.get("/api/ops/stats", token=admin.token("admin"), query={"top": "100"})
    assert response.status == 200, response.body
    body = response.json()
    assert {"code": code, "count": 3} in body["failures_by_code"]
    assert body["stuck_jobs"] >= 1
    assert body["jobs"]["completed_with_errors"] >= 1
    assert set(body["invoices"]) == {"extracted", "needs_review", "approved", "rejected"}
    assert dt.datetime.fromisoformat(body["at"]).tzinfo is not None
    assert set(body["llm_this_month"]) == {"calls", "tokens", "prompt_tokens",
                                           "completion_tokens", "pages", "cost_usd"}  # fmt: skip
    assert response.headers["x-request-id"]
    for top in ("0", "101", "x"):
        bad = api.get("/api/ops/stats", token=admin.token("admin"), query={"top": top})
        assert bad.status == 400 and bad.json()["field"] == "top"


# --- GET /api/ops/jobs ----------------------------------------------------------------------


def test_problem_jobs_by_state_with_failure_codes(pool: ConnectionPool, owner: str) -> None:
    code = _code()
    failed = _job(pool, owner, [("extracted", None), ("failed", code), ("failed", code),
                                ("failed", "rejected_member")])  # fmt: skip
    _job(pool, owner, [("extracted", None)])  # completed: no problem
    stuck = _job(pool, owner, [("failed", code), ("pending", None)], finish=False,
                 idle_minutes=90)  # fmt: skip
    _job(pool, owner, [("pending", None)], finish=False)  # running and moving
    with pool.connection() as conn:
        mine = Scope.user(owner)
        by_state = {
            state: jobs.problem_page(conn, mine, state=state).items
            for state in ("failed", "stuck", "problems")
        }
    assert [j.id for j in by_state["failed"]] == [failed]
    assert [j.id for j in by_state["stuck"]] == [stuck]
    assert {j.id for j in by_state["problems"]} == {failed, stuck}
    assert by_state["failed"][0].failure_codes == {code: 2, "rejected_member": 1}
    assert by_state["failed"][0].stuck is False
    assert by_state["stuck"][0].stuck is True and by_state["stuck"][0].failure_codes == {code: 1}


def test_problem_jobs_route_pages_every_owners_problems(
    api: Client, pool: ConnectionPool, alice: User, bob: User
) -> None:
    code = _code()
    expected = {_job(pool, user.owner, [("failed", code)]) for user in (alice, bob) for _ in (1, 2)}
    token = new_user(api).token("admin")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):  # newest first: this test's jobs are on the first pages
        query = {"state": "failed", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/ops/jobs", token=token, query=query)
        assert page.status == 200, page.body
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if expected <= {item["id"] for item in seen} or cursor is None:
            break
    ids = [item["id"] for item in seen]
    assert expected <= set(ids) and len(ids) == len(set(ids))  # no page repeats a job
    mine = [item for item in seen if item["id"] in expected]
    assert {item["owner"] for item in mine} == {alice.owner, bob.owner}
    assert all(item["failure_codes"] == {code: 1} and item["stuck"] is False for item in mine)
    assert cursor is not None
    reused = api.get("/api/ops/jobs", token=token, query={"state": "stuck", "cursor": cursor})
    assert reused.status == 400 and reused.json()["field"] == "cursor"
    wrong = api.get("/api/ops/jobs", token=token, query={"state": "broken"})
    assert wrong.status == 400 and wrong.json()["field"] == "state"


# --- POST /api/ops/reprocess ----------------------------------------------------------------


def _reprocess(api: Client, services: Services, token: str, body: Any) -> ApiResponse:
    """Through dispatch, as the function does, without the durable client: the response says
    which orchestrations the function would start."""
    request = ApiRequest(
        "POST", "/api/ops/reprocess",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        body=json.dumps(body).encode(),
    )  # fmt: skip
    return dispatch(BY_NAME["reprocess_jobs"], request, lambda: services)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"job_ids": []}, "job_ids"),
        ({"job_ids": [f"job-{n}" for n in range(101)]}, "job_ids"),
        ({"job_ids": [""]}, "job_ids.0"),
        ({"job_ids": ["job-1", "x" * 201]}, "job_ids.1"),
        ({"job_ids": ["job-1"], "failed_since": "2026-01-01T00:00:00Z"}, "body"),
        ({"failed_since": "2026-01-01T00:00:00"}, "failed_since"),  # no time zone
        ({"failed_since": "2999-01-01T00:00:00Z"}, "body"),
        ({"error_code": "DROP TABLE jobs"}, "error_code"),
        ({"error_code": "x", "limit": 0}, "limit"),
        ({"error_code": "x", "limit": 101}, "limit"),
        ({"error_code": "x", "everything": True}, "everything"),
        ({"job_ids": "job-1"}, "job_ids"),
    ],
)
def test_reprocess_refuses_bad_requests_as_problems(
    api: Client, api_services: Services, body: Any, field: str
) -> None:
    response = _reprocess(api, api_services, new_user(api).token("admin"), body)
    assert response.status == 400, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["code"] == "validation_failed" and problem["field"] == field
    assert not response.starts


def test_reprocess_by_job_ids_resets_only_what_can_run_again(
    api: Client, api_services: Services, pool: ConnectionPool, owner: str
) -> None:
    code, other = _code(), _code()
    target = _job(pool, owner, [("extracted", None), ("failed", code), ("failed", other),
                                ("failed", code), ("failed", "rejected_member")])  # fmt: skip
    completed = _job(pool, owner, [("extracted", None)])
    moving = _job(pool, owner, [("pending", None)], finish=False)
    stuck = _job(pool, owner, [("extracted", None), ("pending", None)], finish=False,
                 idle_minutes=60)  # fmt: skip
    never_began = _job(pool, owner, [], finish=False, idle_minutes=60)
    missing = f"job-{uuid.uuid4().hex}"
    token = new_user(api).token("admin")
    first = _reprocess(api, api_services, token, {"job_ids": [target], "error_code": code})
    assert first.status == 202, first.body
    answer = json.loads(first.body)
    assert [(s["job_id"], s["retried"]) for s in answer["started"]] == [(target, 2)]
    # only the documents that failed with the code run again; a rejected member never can
    assert _outcomes(pool, target) == [
        ("extracted", None), ("pending", None), ("failed", other), ("pending", None),
        ("failed", "rejected_member"),
    ]  # fmt: skip
    assert _status(pool, target) == "running"
    (start,) = first.starts
    assert start.name == "ingest" and start.instance_id == answer["started"][0]["instance_id"]
    assert start.instance_id.startswith(f"{target}:retry:")
    assert start.input["job_id"] == target and start.input["owner"] == owner
    assert (start.input["total"], start.input["processed"], start.input["after"]) == (5, 3, -1)

    everything = [target, completed, moving, stuck, never_began, missing, target]
    second = _reprocess(api, api_services, token, {"job_ids": everything})
    answer = json.loads(second.body)
    skipped = {s["job_id"]: s["reason"] for s in answer["skipped"]}
    assert skipped == {target: "running", completed: "nothing_to_retry", moving: "running",
                       missing: "not_found"}  # fmt: skip
    started = {s["job_id"]: s for s in answer["started"]}
    assert set(started) == {stuck, never_began}  # listed twice, considered once
    inputs = {start.input["job_id"]: start.input for start in second.starts}
    # a stuck job re-runs what its dead run never reached, and then finishes
    assert (inputs[stuck]["total"], inputs[stuck]["processed"]) == (2, 1)
    # a job whose manifest was never written starts from the top (begin_job)
    assert "total" not in inputs[never_began]
    assert answer["more"] is False


def test_reprocess_by_filter_takes_the_oldest_matching_jobs_up_to_the_limit(
    api: Client, api_services: Services, pool: ConnectionPool, alice: User, bob: User
) -> None:
    code = _code()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    older = _job(pool, alice.owner, [("failed", code), ("extracted", None)])
    newer = _job(pool, bob.owner, [("failed", code)])
    _job(pool, alice.owner, [("failed", "rejected_member")])  # nothing staged: never selected
    token = new_user(api).token("admin")
    request = {"failed_since": since.isoformat(), "error_code": code, "limit": 1}
    first = json.loads(_reprocess(api, api_services, token, request).body)
    assert [s["job_id"] for s in first["started"]] == [older] and first["more"] is True
    second = json.loads(_reprocess(api, api_services, token, request).body)
    assert [s["job_id"] for s in second["started"]] == [newer] and second["more"] is False
    third = json.loads(_reprocess(api, api_services, token, request).body)
    assert third == {"started": [], "skipped": [], "more": False}
    later = {"failed_since": dt.datetime.now(dt.UTC).isoformat(), "error_code": code}
    assert json.loads(_reprocess(api, api_services, token, later).body)["started"] == []


def test_reprocess_on_the_stack_reruns_the_failed_document_and_finishes_the_job(
    stack: Stack, pool: ConnectionPool
) -> None:
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", stack.token(user, "viewer")
    _, job_id = drop(
        stack, owner, "invoice.pdf", (REPO / "samples" / "invoice-en.pdf").read_bytes()
    )
    done = wait_for_job(stack, token, job_id)
    assert done["status"] == "completed"
    document_id = done["documents"][0]["document_id"]
    code = _code()
    # Say the document had failed for good after its retries: recorded as the flow would.
    with pool.connection() as conn:
        documents.mark_failed(conn, uuid.UUID(document_id), code=code, reason="simulated")
        jobs.record_document(conn, job_id=job_id, position=0, outcome="failed",
                             document_id=uuid.UUID(document_id), error_code=code,
                             error_message="simulated")  # fmt: skip
        jobs.finish(conn, job_id)
    assert _status(pool, job_id) == "completed_with_errors"

    admin = stack.token(f"a{uuid.uuid4().hex[:10]}", "admin")
    status, answer, headers = stack.call_full(
        "POST", "/api/ops/reprocess", token=admin, body={"job_ids": [job_id]}
    )
    assert status == 202, answer
    assert [s["job_id"] for s in answer["started"]] == [job_id]
    assert headers["x-request-id"]
    again = wait_for_job(stack, token, job_id)
    assert (again["status"], again["documents_succeeded"], again["documents_failed"]) == (
        "completed",
        1,
        0,
    )
    assert again["documents"][0]["outcome"] == "extracted"
    # The job row is closed by the orchestration's last activity; the orchestration itself
    # completes a moment later (it still sends the final progress message).
    url = f"/runtime/webhooks/durabletask/instances/{answer['started'][0]['instance_id']}"

    def completed() -> bool:
        status, instance = stack.call("GET", url)
        return status == 200 and instance["runtimeStatus"] == "Completed"

    wait_until(completed, 30, 0.2)
