"""Real-time messages (DESIGN.md section 7) and where they go: groups job:{id} and user:{owner}."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

MessageType = Literal["job.progress", "document.completed", "document.failed", "job.completed"]


def message(
    kind: MessageType,
    *,
    job_id: str,
    at: dt.datetime,
    stage: str | None = None,
    processed: int | None = None,
    total: int | None = None,
    document_id: str | None = None,
    invoice_id: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "type": kind,
        "job_id": job_id,
        "document_id": document_id,
        "stage": stage,
        "processed": processed,
        "total": total,
        "invoice_id": invoice_id,
        "error": error,
        "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }


def groups_for(job_id: str, owner: str) -> tuple[str, str]:
    return f"job:{job_id}", f"user:{owner}"


def output_actions(owner: str, messages: list[dict[str, Any]]) -> str:
    """The webPubSub output binding value: every message to the job's and the owner's group."""
    actions = [
        {"actionName": "sendToGroup", "group": group, "data": json.dumps(body), "dataType": "json"}
        for body in messages
        for group in groups_for(body["job_id"], owner)
    ]
    return json.dumps(actions)
