"""What the blob trigger decides: which job a new blob starts, or why it is quarantined."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from shared.blobs import move_to_processed, move_to_quarantine
from shared.errors import NotFound
from shared.flow.ids import job_id_for, owner_of
from shared.services import Services

log = logging.getLogger(__name__)
_READ_CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Start:
    job_id: str
    input: dict[str, Any]


def decide(blob_name: str, stream: Readable, services: Services) -> Start | None:
    """`blob_name` is "container/path" as the trigger gives it. None: nothing to start."""
    _, _, blob_path = blob_name.partition("/")
    owner = owner_of(blob_path)
    if owner is None:
        move_to_quarantine(
            services.blobs,
            services.settings.blobs,
            blob_path,
            "outside_owner_prefix: uploads go to {owner}/{upload-id}/{filename}",
        )
        log.warning("quarantined a blob outside any owner's prefix")
        return None
    digest = hashlib.sha256()
    while chunk := stream.read(_READ_CHUNK):
        digest.update(chunk)
    job_id = job_id_for(blob_path, digest.hexdigest())
    return Start(
        job_id,
        {
            "job_id": job_id,
            "owner": owner,
            "blob_path": blob_path,
            "window": services.settings.flow_window,
            "chunk": services.settings.flow_chunk,
        },
    )


def file_duplicate(blob_path: str, services: Services) -> None:
    """An upload whose job already finished arrived again: move it where the first one went."""
    with contextlib.suppress(NotFound):  # already moved by a concurrent trigger
        move_to_processed(services.blobs, services.settings.blobs, blob_path)
