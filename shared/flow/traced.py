"""Every flow activity runs through `run_activity` (blueprints/flow.py binds them so).

Inside, log lines carry the job, the orchestration instance (which the orchestrators add to
every activity input), the document's position in the job, and its document and invoice ids as
far as the input knows them; the activity is a span of the trace; and it ends with one line
saying how it went, with the ids its result added. Only ids, outcomes and error codes are
logged, never file names, blob paths or document text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from shared.logs import log_context
from shared.telemetry import span

log = logging.getLogger(__name__)
R = TypeVar("R")
_IDS = ("job_id", "instance_id", "position", "document_id", "invoice_id")


def correlation(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The log fields an activity's input (or result) identifies."""
    fields = {name: payload.get(name) for name in _IDS}
    # A duplicate names the invoice it duplicates.
    fields["invoice_id"] = fields["invoice_id"] or payload.get("duplicate")
    return fields


def _outcome(result: object) -> str:
    if isinstance(result, Mapping):
        if isinstance(result.get("failed"), Mapping):
            return f"failed ({result['failed'].get('code')})"
        if result.get("duplicate"):
            return "duplicate"
    return "done"


def run_activity(name: str, payload: Mapping[str, Any], work: Callable[[], R]) -> R:
    """Run one activity's `work` in its log context and span; log its outcome and time."""
    started = time.perf_counter()
    fields = correlation(payload)
    with (
        log_context(activity=name, owner=payload.get("owner"), **fields),
        span(f"activity {name}", attributes={"activity": name, **fields}),
    ):
        try:
            result = work()
        except Exception:
            elapsed = (time.perf_counter() - started) * 1000
            log.warning("%s raised after %.0f ms", name, elapsed, exc_info=True)
            raise
        learned = correlation(result) if isinstance(result, Mapping) else {}
        with log_context(**{key: value for key, value in learned.items() if value is not None}):
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s in %.0f ms", name, _outcome(result), elapsed)
    return result
