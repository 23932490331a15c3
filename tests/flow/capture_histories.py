"""Record the flow's orchestration histories from a real run, for the replay tests.

    .venv/bin/python -m tests.flow.capture_histories

Starts the local stack (devhost running function_app), drops a ZIP of three documents (one
broken) and a single PDF, waits for both jobs, and writes each orchestration's history as the
devhost recorded it (the input, the events) to tests/flow/histories/. Re-run it when the
orchestrators change on purpose; the replay tests then hold the new behaviour.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import psycopg

from shared.storage.database import embedded_url
from tests.corpus.generator import generate_item
from tests.e2e.stack import make_stack
from tests.e2e.test_flow import drop, wait_for_job, zip_of

OUT = Path(__file__).resolve().parent / "histories"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="capture-"))
    work.chmod(0o755)
    url = embedded_url(work / "pg", keep_running=False, delete_on_exit=True)
    pdfs = [generate_item(work, n, 404, scans=False).pdf_path for n in range(3)]
    hub = f"capture{uuid.uuid4().hex[:6]}"
    stack = make_stack(work, url, hub)
    stack.start()
    try:
        token = stack.token("capture", "viewer")
        batch = zip_of({"a.pdf": pdfs[0].read_bytes(), "b.pdf": pdfs[1].read_bytes(),
                        "broken.pdf": b"%PDF-1.7 nothing"})  # fmt: skip
        _, batch_job = drop(stack, "dev-capture", "batch.zip", batch)
        _, single_job = drop(stack, "dev-capture", "single.pdf", pdfs[2].read_bytes())
        wait_for_job(stack, token, batch_job)
        wait_for_job(stack, token, single_job)
    finally:
        stack.stop()
    OUT.mkdir(exist_ok=True)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT i.instance_id, i.name, i.input, "
            "       array_agg(h.event ORDER BY h.seq) "
            "FROM devhost_durable.instances i JOIN devhost_durable.history h "
            "  ON h.task_hub = i.task_hub AND h.instance_id = i.instance_id "
            "WHERE i.task_hub = %s GROUP BY i.instance_id, i.name, i.input",
            (hub,),
        ).fetchall()
    names = {batch_job: "ingest-zip", single_job: "ingest-single"}
    for instance_id, name, orchestration_input, events in rows:
        label = names.get(instance_id)
        if label is None and name == "process_document":
            parent, position = instance_id.split(":")[:2]
            label = f"{names[parent]}-document-{position}"
        if label is None:
            continue
        record = {"name": name, "instanceId": instance_id, "input": orchestration_input,
                  "history": events}  # fmt: skip
        (OUT / f"{label}.json").write_text(json.dumps(record, indent=1))
        print("wrote", label)


if __name__ == "__main__":
    main()
