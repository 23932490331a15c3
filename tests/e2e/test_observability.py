"""Observability on the running stack: the metrics a processed batch moves, the log lines its
documents leave, and /api/metrics behind a function key.

The devhost runs activities in its own process, so the counters are read where Prometheus
would read them: GET /api/metrics on the stack.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.devhost.host_support import wait_until
from tests.e2e.stack import Stack, make_stack
from tests.e2e.test_flow import SAMPLES, drop, wait_for_job, zip_of


def scrape(stack: Stack, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, _, headers = stack.call_full("GET", "/api/health")  # warm, and a cheap sanity check
    assert status == 200 and headers["x-request-id"]
    request = urllib.request.Request(
        stack.base_url + "/api/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    """The sum of `name` over every label set that has `labels` (e.g. all extractors)."""
    return sum(
        value
        for (sample, label_set), value in samples.items()
        if sample == name and set(labels.items()) <= set(label_set)
    )


def quiet(stack: Stack) -> bool:
    """No orchestration running or waiting (earlier tests' work would move the counters)."""
    status, instances = stack.call(
        "GET", "/runtime/webhooks/durabletask/instances?runtimeStatus=Running,Pending"
    )
    return status == 200 and not instances


def test_a_processed_batch_moves_the_counters_by_exactly_its_documents_and_its_logs_name_the_job(
    stack: Stack, invoice_pdfs: list[Path]
) -> None:
    user = f"u{uuid.uuid4().hex[:10]}"
    owner, token = f"dev-{user}", stack.token(user, "viewer")
    admin = stack.token(f"a{uuid.uuid4().hex[:10]}", "admin")
    good = {f"batch/{n}.pdf": invoice_pdfs[n].read_bytes() for n in (3, 4, 5)}
    good["batch/scan.jpg"] = (SAMPLES / "factura-es-scan.jpg").read_bytes()  # needs OCR
    broken = {"batch/truncated.pdf": invoice_pdfs[6].read_bytes()[:300],
              "batch/notes.txt": b"meeting notes, not an invoice"}  # fmt: skip
    wait_until(lambda: quiet(stack), 180, 0.5)
    log_offset = stack.log_path.stat().st_size
    before = scrape(stack, admin)

    _, job_id = drop(stack, owner, "metrics.zip", zip_of(good | broken))
    job = wait_for_job(stack, token, job_id)
    assert (job["documents_succeeded"], job["documents_failed"]) == (len(good), len(broken))
    wait_until(lambda: quiet(stack), 60, 0.2)  # the orchestration's last steps are done too
    after = scrape(stack, admin)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    documents = "invoices_documents_processed_total"
    assert moved(documents, outcome="extracted") == len(good)
    assert moved(documents, outcome="failed") == len(broken)  # rejected at intake
    assert moved(documents, outcome="duplicate") == 0
    stages = "invoices_stage_duration_seconds_count"
    assert moved(stages, stage="parse") == len(good)  # the broken never reach parsing
    assert moved(stages, stage="ocr") == 1  # only the scan
    assert moved(stages, stage="extract") == len(good)
    assert moved(stages, stage="store") == len(good)
    assert moved("invoices_extraction_confidence_count") == len(good)
    assert moved("invoices_http_requests_total", route="metrics", status="200") == 1

    # The host's log: JSON lines; every activity line of this job names it.
    with stack.log_path.open("rb") as log:
        log.seek(log_offset)
        lines = [json.loads(line) for line in log.read().decode().splitlines()
                 if line.startswith("{")]  # fmt: skip
    mine = [line for line in lines if line.get("job_id") == job_id]
    activities = Counter(line["activity"] for line in mine if "activity" in line)
    assert activities["begin_job"] == 1 and activities["finish_job"] == 1
    for name in ("parse_document", "extract_document", "store_document"):
        assert activities[name] == len(good), (name, activities)
    stored = [line for line in mine if line.get("activity") == "store_document"]
    invoice_ids = {d["invoice_id"] for d in job["documents"] if d["invoice_id"]}
    assert {line["invoice_id"] for line in stored} == invoice_ids
    assert {line["document_id"] for line in stored} == {
        d["document_id"] for d in job["documents"] if d["outcome"] == "extracted"
    }
    for line in stored:
        # the per-document sub-orchestration: job:position:attempt
        assert line["instance_id"] == f"{job_id}:{line['position']}:0"
        assert line["owner_hash"] and owner not in json.dumps(line)
    begin = next(line for line in mine if line.get("activity") == "begin_job")
    assert begin["instance_id"] == job_id
    text = "\n".join(json.dumps(line) for line in lines)
    assert "meeting notes" not in text and "truncated.pdf" not in text  # no content, no names
    assert "AccountKey=" not in text


@pytest.fixture
def key_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = make_stack(tmp_path, database_url, f"e2e{uuid.uuid4().hex[:8]}")
    stack.env["METRICS_AUTH"] = "function_key"
    stack.start()
    yield stack
    stack.stop()


def _function_key(stack: Stack, name: str) -> dict[str, Any]:
    # Where this stack's `devhost start` keeps its keys (DEVHOST_DATA_DIR).
    keys_file = Path(stack.env["DEVHOST_DATA_DIR"]) / "devhost" / "keys.json"
    keys: dict[str, Any] = json.loads(keys_file.read_text())
    return {"function": keys["functionKeys"][name]["default"], "host": keys["hostKeys"]["default"]}


def test_metrics_behind_a_function_key_on_the_host(key_stack: Stack) -> None:
    keys = _function_key(key_stack, "metrics")
    admin = key_stack.token(f"a{uuid.uuid4().hex[:10]}", "admin")
    assert key_stack.call("GET", "/api/metrics")[0] == 401  # the host refuses, no key
    assert key_stack.call("GET", "/api/metrics", token=admin)[0] == 401  # a JWT is no key
    wrong = {"x-functions-key": "not-a-key"}
    assert key_stack.call("GET", "/api/metrics", headers=wrong)[0] == 401
    other_function = _function_key(key_stack, "list_invoices")["function"]
    assert key_stack.call("GET", f"/api/metrics?code={other_function}")[0] == 401
    for path, headers in (
        ("/api/metrics", {"x-functions-key": keys["function"]}),
        (f"/api/metrics?code={keys['function']}", {}),
        ("/api/metrics", {"x-functions-key": keys["host"]}),
    ):
        request = urllib.request.Request(key_stack.base_url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain; version=")
            assert "invoices_jobs_stuck" in answer.read().decode()
    # every other route is unchanged: anonymous at the host, JWT in the app
    status, _ = key_stack.call("GET", "/api/jobs", token=admin)
    assert status == 200
