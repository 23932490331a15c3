"""The orchestrators, as generators over the durable context (DESIGN.md section 5).

They are deterministic: no I/O, no clocks but `context.current_utc_datetime`, no settings
(the window and retry policy arrive in the input and from the blueprint). Activities are
called by name; the blueprint (blueprints/flow.py) binds those names to shared.flow.activities.

`ingest`: one upload. begin_job (validate, expand a ZIP, write the manifest) -> the pending
documents in chunks of CHUNK, each document a `process_document` sub-orchestration, at most
`window` at a time -> finish_job (counts, status, move the upload). After each chunk the
orchestration continues as new, so a batch of thousands of documents keeps a short history.

`process_document`: parse -> extract -> store, each with the retry policy; a document that
fails for good (or after its retries) is recorded with its reason and the batch goes on.

Every activity input carries `instance_id`, the orchestration that called it, so the activity's
log lines and spans can name it (shared/flow/traced.py); activities ignore it otherwise.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from shared.flow.messages import message

CHUNK = 100  # default documents per orchestration generation (continue-as-new between chunks)

BEGIN_JOB = "begin_job"
NEXT_DOCUMENTS = "next_documents"
PARSE = "parse_document"
EXTRACT = "extract_document"
STORE = "store_document"
RECORD_OUTCOME = "record_outcome"
FINISH_JOB = "finish_job"
SEND_PROGRESS = "send_progress"
PROCESS_DOCUMENT = "process_document"


class Context(Protocol):
    """The part of DurableOrchestrationContext the orchestrators use."""

    instance_id: str

    @property
    def current_utc_datetime(self) -> Any: ...

    def get_input(self) -> Any: ...

    def call_activity(self, name: Any, input_: Any = None) -> Any: ...

    def call_activity_with_retry(
        self, name: Any, retry_options: Any, input_: Any = None
    ) -> Any: ...

    def call_sub_orchestrator(
        self, name: Any, input_: Any = None, instance_id: str | None = None
    ) -> Any: ...

    def task_any(self, activities: list[Any]) -> Any: ...

    def set_custom_status(self, status: Any) -> None: ...

    def continue_as_new(self, input_: Any) -> None: ...


Steps = Generator[Any, Any, Any]


def ingest(context: Context, retry: Any) -> Steps:
    job = dict(context.get_input())
    job_id, owner = job["job_id"], job["owner"]
    if "total" not in job:  # the first generation
        begun = yield context.call_activity_with_retry(BEGIN_JOB, retry, _traced(context, job))
        job.update(total=begun["total"], processed=0, after=-1, failed=0)
        if begun["rejected"]:
            return (yield from _finish(context, retry, job, begun["rejected"]))
        yield from _progress(context, job, "job.progress", stage="started")
    context.set_custom_status(_status(job, "processing"))
    chunk = job.get("chunk", CHUNK)
    batch = yield context.call_activity_with_retry(
        NEXT_DOCUMENTS,
        retry,
        _traced(context, {"job_id": job_id, "after": job["after"], "limit": chunk}),
    )
    running: list[Any] = []
    for document in batch:
        payload = {**document, "job_id": job_id, "owner": owner, "source_blob": job["blob_path"]}
        child_id = f"{job_id}:{document['position']}:{job.get('attempt', 0)}"
        running.append(context.call_sub_orchestrator(PROCESS_DOCUMENT, payload, child_id))
        job["after"] = document["position"]
        if len(running) >= job.get("window", 8):
            yield from _collect_one(context, job, running)
    while running:
        yield from _collect_one(context, job, running)
    if len(batch) == chunk:
        context.continue_as_new(job)
        return None
    return (yield from _finish(context, retry, job, None))


def _collect_one(context: Context, job: dict[str, Any], running: list[Any]) -> Steps:
    done = yield context.task_any(running)
    running.remove(done)
    outcome: dict[str, Any] = done.result if isinstance(done.result, dict) else {}
    if not outcome:  # the sub-orchestration itself failed (not a document error)
        outcome = {"outcome": "failed", "error": "processing failed"}
    job["processed"] += 1
    failed = outcome["outcome"] == "failed"
    job["failed"] += 1 if failed else 0
    context.set_custom_status(_status(job, "processing"))
    yield from _progress(
        context,
        job,
        "document.failed" if failed else "document.completed",
        stage=outcome["outcome"],
        document_id=outcome.get("document_id"),
        invoice_id=outcome.get("invoice_id"),
        error=outcome.get("error"),
    )


def _finish(context: Context, retry: Any, job: dict[str, Any], rejected: Any) -> Steps:
    summary = yield context.call_activity_with_retry(
        FINISH_JOB,
        retry,
        _traced(
            context,
            {"job_id": job["job_id"], "blob_path": job["blob_path"], "rejected": rejected},
        ),
    )
    job["processed"] = summary["total"]
    context.set_custom_status(_status(job, "completed") | {"status": summary["status"]})
    messages = []
    if rejected:
        messages.append(_message(context, job, "document.failed", stage="failed",
                                 error=rejected["message"]))  # fmt: skip
    messages.append(_message(context, job, "job.completed", stage=summary["status"]))
    yield context.call_activity(
        SEND_PROGRESS,
        _traced(context, {"job_id": job["job_id"], "owner": job["owner"], "messages": messages}),
    )
    return summary


def _traced(context: Context, payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "instance_id": context.instance_id}


def _status(job: dict[str, Any], stage: str) -> dict[str, Any]:
    return {"stage": stage, "processed": job["processed"], "total": job["total"],
            "failed": job["failed"]}  # fmt: skip


def _message(context: Context, job: dict[str, Any], kind: Any, **fields: Any) -> dict[str, Any]:
    return message(
        kind,
        job_id=job["job_id"],
        at=context.current_utc_datetime,
        processed=job["processed"],
        total=job["total"],
        **fields,
    )


def _progress(context: Context, job: dict[str, Any], kind: Any, **fields: Any) -> Steps:
    # Progress is best effort: a Web PubSub outage must not fail the job, so no retries and
    # the activity itself swallows delivery errors.
    body = _message(context, job, kind, **fields)
    yield context.call_activity(
        SEND_PROGRESS,
        _traced(context, {"job_id": job["job_id"], "owner": job["owner"], "messages": [body]}),
    )


def process_document(context: Context, retry: Any) -> Steps:
    document = _traced(context, dict(context.get_input()))
    try:
        parsed = yield context.call_activity_with_retry(PARSE, retry, document)
        if "duplicate" in parsed:
            yield from _record(context, retry, document, parsed)
            return {"outcome": "duplicate", "document_id": parsed["document_id"],
                    "invoice_id": parsed["duplicate"]}  # fmt: skip
        if "failed" in parsed:
            return (yield from _record(context, retry, document, parsed))
        document["document_id"] = parsed["document_id"]
        extracted = yield context.call_activity_with_retry(
            EXTRACT, retry, document | {"parsed_blob": parsed["parsed_blob"]}
        )
        if "failed" in extracted:
            return (yield from _record(context, retry, document, extracted))
        stored = yield context.call_activity_with_retry(
            STORE, retry, document | {"invoice_blob": extracted["invoice_blob"]}
        )
    except Exception:  # an activity failed after all its retries: the document fails alone
        failure = {"failed": {"code": "processing_failed",
                              "message": "processing failed after repeated attempts"}}  # fmt: skip
        return (yield from _record(context, retry, document, failure))
    return {"outcome": "extracted", "document_id": document["document_id"],
            "invoice_id": stored["invoice_id"]}  # fmt: skip


def _record(context: Context, retry: Any, document: dict[str, Any], result: Any) -> Steps:
    payload = {
        "job_id": document["job_id"],
        "position": document["position"],
        "document_id": result.get("document_id") or document.get("document_id"),
        "failed": result.get("failed"),
        "duplicate": result.get("duplicate"),
        "instance_id": context.instance_id,
    }
    yield context.call_activity_with_retry(RECORD_OUTCOME, retry, payload)
    failure = result.get("failed")
    return {
        "outcome": "failed" if failure else "duplicate",
        "document_id": payload["document_id"],
        "error": f"{failure['code']}: {failure['message']}" if failure else None,
    }
