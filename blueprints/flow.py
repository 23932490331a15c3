"""The processing flow: blob trigger -> ingest orchestration -> per-document sub-orchestrations.

Bindings only; the steps are shared.flow.orchestration and the work shared.flow.activities.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.flow import activities, intake_trigger, orchestration
from shared.services import get_services

log = logging.getLogger(__name__)
bp = df.Blueprint()

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


@bp.activity_trigger(input_name="payload")
def begin_job(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.begin_job(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def next_documents(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return activities.next_documents(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def parse_document(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.parse(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def extract_document(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.extract(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def store_document(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.store(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def record_outcome(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.record_outcome(get_services(), payload)


@bp.activity_trigger(input_name="payload")
def finish_job(payload: dict[str, Any]) -> dict[str, Any]:
    return activities.finish_job(get_services(), payload)


@bp.activity_trigger(input_name="payload")
@bp.generic_output_binding(
    arg_name="actions", type="webPubSub", hub="invoices", connection="WebPubSubConnectionString"
)
def send_progress(payload: dict[str, Any], actions: func.Out[str]) -> None:
    from shared.flow.messages import output_actions

    actions.set(output_actions(payload["owner"], payload["messages"]))
