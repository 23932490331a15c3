"""One progress reporter for every runner of the pipeline (CLI now, orchestration later).

Contract: the pipeline SHALL report `parse` when it starts on a document and then
exactly one of `completed` or `failed` (with the reason code) when it is done; a
reporter SHALL NOT raise, so a broken progress channel never fails a document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    stage: str
    document: str
    processed: int
    total: int
    error: str | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class ProgressReporter(Protocol):
    def report(self, event: ProgressEvent) -> None: ...


class NullReporter:
    def report(self, event: ProgressEvent) -> None:
        return None
