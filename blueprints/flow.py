"""The processing flow: blob trigger -> ingest orchestration -> per-document sub-orchestrations.

Bindings only; the steps are shared.flow.orchestration and the work shared.flow.activities.
Each activity runs through shared.flow.traced.run_activity: its log lines carry the job,
orchestration instance and document they concern, and it is a span of the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import azure.durable_functions as df
import azure.functions as func

from shared.flow import activities, intake_trigger, orchestration
from shared.flow.traced import run_activity
from shared.services import Services, get_services

log = logging.getLogger(__name__)
bp = df.Blueprint()
R = TypeVar("R")

# Transient failures (storage or database hiccups, a restarted worker) retry three times with
# a short back-off; a document that still fails is recorded as failed and the batch goes on.
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)


@bp.blob_trigger(
    arg_name="blob",
    path="invoices-incoming/{name}",
    connection="INVOICES_STORAGE",
    source="EventGrid",
)
@bp.durable_client_input(client_name="client")
async def on_incoming_blob(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    services = get_services()
    start = intake_trigger.decide(blob.name or "", blob, services)
    if start is None:
        return
    existing = await client.get_status(start.job_id)
    if existing and existing.runtime_status is not None:
        log.info("job %s already started for this blob and content", start.job_id)
        if existing.runtime_status.name in ("Completed", "Failed", "Terminated"):
            # The same bytes dropped again after their job finished: file them with it.
            intake_trigger.file_duplicate(start.input["blob_path"], services)
        return
    await client.start_new("ingest", start.job_id, start.input)


@bp.orchestration_trigger(context_name="context")
def ingest(context: df.DurableOrchestrationContext) -> Any:
    return (yield from orchestration.ingest(context, RETRY))


@bp.orchestration_trigger(context_name="context")
def process_document(context: df.DurableOrchestrationContext) -> Any:
    return (yield from orchestration.process_document(context, RETRY))


def _run(name: str, step: Callable[[Services, dict[str, Any]], R], payload: dict[str, Any]) -> R:
    return run_activity(name, payload, lambda: step(get_services(), payload))


@bp.activity_trigger(input_name="payload")
def begin_job(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("begin_job", activities.begin_job, payload)


@bp.activity_trigger(input_name="payload")
def next_documents(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return _run("next_documents", activities.next_documents, payload)


@bp.activity_trigger(input_name="payload")
def parse_document(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("parse_document", activities.parse, payload)


@bp.activity_trigger(input_name="payload")
def extract_document(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("extract_document", activities.extract, payload)


@bp.activity_trigger(input_name="payload")
def store_document(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("store_document", activities.store, payload)


@bp.activity_trigger(input_name="payload")
def record_outcome(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("record_outcome", activities.record_outcome, payload)


@bp.activity_trigger(input_name="payload")
def finish_job(payload: dict[str, Any]) -> dict[str, Any]:
    return _run("finish_job", activities.finish_job, payload)


@bp.activity_trigger(input_name="payload")
@bp.generic_output_binding(
    arg_name="actions", type="webPubSub", hub="invoices", connection="WebPubSubConnectionString"
)
def send_progress(payload: dict[str, Any], actions: func.Out[str]) -> None:
    from shared.flow.messages import output_actions

    run_activity(
        "send_progress",
        payload,
        lambda: actions.set(output_actions(payload["owner"], payload["messages"])),
    )
