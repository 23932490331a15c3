"""Job ids and owners from blob paths.

A blob lands at `invoices-incoming/{owner}/{upload-id}/{filename}`. The job id hashes the path
with the content, so the trigger firing twice for the same bytes (at-least-once delivery, a
re-sent Event Grid event) starts one orchestration, while new bytes under the same name are a
new job.
"""

from __future__ import annotations

import hashlib
import re

_OWNER = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def job_id_for(blob_path: str, content_sha256: str) -> str:
    digest = hashlib.sha256(f"{blob_path}\n{content_sha256}".encode()).hexdigest()
    return f"job-{digest[:32]}"


def owner_of(blob_path: str) -> str | None:
    """The owner prefix, or None when the blob sits outside any owner's folder."""
    parts = blob_path.split("/")
    if len(parts) < 3 or not all(parts) or parts[0] in (".", ".."):
        return None
    return parts[0] if _OWNER.match(parts[0]) else None
