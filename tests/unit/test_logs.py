"""Structured logs (shared/logs.py): correlation fields, formats, levels and redaction, through
the real start-up configuration in a fresh process (shared.observability.setup, as
function_app.py calls it)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from shared.logs import CorrelationFilter, log_context, owner_hash, redact

REPO = Path(__file__).resolve().parents[2]

# Secrets of every kind the filter knows, as they would reach a log line.
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
SECRETS = {
    "bearer header": (f"headers {{'authorization': 'Bearer {JWT}'}}", JWT),
    "bare jwt": (f"token was {JWT}", JWT),
    "basic auth": ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    "function key header": ("{'x-functions-key': 'Fk3yV4lue_abcdefghij'}", "Fk3yV4lue_abcdefghij"),
    "function key query": ("GET /api/metrics?code=Qk3yV4lue_zyxw&x=1", "Qk3yV4lue_zyxw"),
    "account key": (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};",
        ACCOUNT_KEY,
    ),
    "sas signature": (
        "https://acct.blob.core.windows.net/c/b.pdf?sv=2024-08-04&se=2026&sp=r&sig=AbC%2Bsig%3D",
        "AbC%2Bsig%3D",
    ),
    "connection string password": (
        "Host=db;Username=app;Password=Hunter2-db-pass;Database=x",
        "Hunter2-db-pass",
    ),
    "url password": ("postgresql://app:s3cr3t-url-pw@db.internal:5432/invoices", "s3cr3t-url-pw"),
    "environment dump": ("DB_PASSWORD=envpass-991 OTHER=1", "envpass-991"),
    "api key json": ('{"api_key": "k-123456789abcdef"}', "k-123456789abcdef"),
    "openai key": ("using sk-proj-abcdefghijklmnopqrstuv", "sk-proj-abcdefghijklmnopqrstuv"),
    "client secret": ("client_secret=cs~0123456789", "cs~0123456789"),
}


@pytest.mark.parametrize("case", sorted(SECRETS))
def test_redact_removes_each_kind_of_secret(case: str) -> None:
    text, secret = SECRETS[case]
    redacted = redact(text)
    assert secret not in redacted
    assert "[REDACTED]" in redacted
    assert redact(redacted) == redacted  # idempotent: a second handler changes nothing


def test_redact_keeps_ordinary_text() -> None:
    line = "parse_document failed (no_invoice_found) in 35 ms job_id=job-1 position=3"
    assert redact(line) == line


def test_log_context_nests_resets_and_hashes_the_owner() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    with log_context(job_id="job-1", owner="dev-alice"):
        with log_context(position=2, document_id=None):
            CorrelationFilter().filter(record)
        outer = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        CorrelationFilter().filter(outer)
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    CorrelationFilter().filter(after)
    assert (record.job_id, record.position, record.owner_hash) == (  # type: ignore[attr-defined]
        "job-1",
        2,
        owner_hash("dev-alice"),
    )
    assert not hasattr(record, "document_id")  # None is not bound
    assert not hasattr(outer, "position")
    assert not hasattr(after, "job_id")
    with pytest.raises(ValueError, match="not correlation fields"), log_context(blob_path="x"):
        pass


def test_each_thread_sees_only_its_own_context() -> None:
    seen: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def work(job: str) -> None:
        with log_context(job_id=job):
            barrier.wait()
            record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
            CorrelationFilter().filter(record)
            seen[job] = record.job_id  # type: ignore[attr-defined]

    threads = [threading.Thread(target=work, args=(job,)) for job in ("job-a", "job-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"job-a": "job-a", "job-b": "job-b"}


CHILD = """
import logging
from shared.logs import log_context
from shared.observability import setup

setup()
log = logging.getLogger("shared.flow.example")
with log_context(job_id="job-42", instance_id="job-42:3:0", position=3, owner="dev-alice",
                 request_id="req-7", route="get_job"):
    log.info("parsed %s in %d ms", "doc", 12)
    log.debug("a debug line")
    log.warning("calling storage with %s", SECRETS)
    try:
        raise RuntimeError("connection refused: " + SECRETS)
    except RuntimeError:
        log.exception("store failed")
log.info("outside any context")
"""


def run_child(tmp_path: Path, **env: str) -> list[str]:
    secrets = " | ".join(text for text, _ in SECRETS.values())
    script = tmp_path / "child.py"
    script.write_text(f"SECRETS = {secrets!r}\n" + CHILD)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "APPLI"))}
    environment |= {"PYTHONPATH": str(REPO), **env}
    finished = subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True,
        timeout=60, check=True, cwd=REPO,
    )  # fmt: skip
    return finished.stderr.splitlines()


def test_json_lines_carry_the_correlation_fields_and_no_secret(tmp_path: Path) -> None:
    lines = run_child(tmp_path, LOG_FORMAT="json", LOG_LEVEL="INFO")
    records = [json.loads(line) for line in lines if line.startswith("{")]
    # one JSON object per line, tracebacks included in their line
    assert len(records) == len(lines) == 4, lines
    first = records[0]
    assert first["message"] == "parsed doc in 12 ms"
    assert first["level"] == "INFO" and first["logger"] == "shared.flow.example"
    assert first["timestamp"].endswith("Z")
    assert {k: first[k] for k in ("job_id", "instance_id", "position", "request_id", "route")} == {
        "job_id": "job-42",
        "instance_id": "job-42:3:0",
        "position": 3,
        "request_id": "req-7",
        "route": "get_job",
    }
    assert first["owner_hash"] == owner_hash("dev-alice")
    failed = records[2]
    assert failed["level"] == "ERROR" and "RuntimeError" in failed["exception"]
    assert "job_id" not in records[3]
    output = "\n".join(lines)
    assert "dev-alice" not in output
    for text, secret in SECRETS.values():
        assert secret not in output, text
    assert output.count("[REDACTED]") >= 2 * len(SECRETS)  # the warning and the traceback


def test_text_format_and_level(tmp_path: Path) -> None:
    lines = run_child(tmp_path, LOG_FORMAT="text", LOG_LEVEL="WARNING")
    assert not any("parsed doc" in line for line in lines)  # INFO is below WARNING
    warning = next(line for line in lines if "calling storage" in line)
    assert " WARNING shared.flow.example: calling storage with " in warning
    assert "job_id=job-42" in warning and "position=3" in warning
    assert any(line.startswith("Traceback") for line in lines)
    output = "\n".join(lines)
    for _, secret in SECRETS.values():
        assert secret not in output


def test_debug_level_lets_debug_lines_through(tmp_path: Path) -> None:
    lines = run_child(tmp_path, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    assert any(json.loads(line)["message"] == "a debug line" for line in lines)
