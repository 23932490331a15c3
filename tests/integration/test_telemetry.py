"""Export to Application Insights: a fresh process configured by shared.observability.setup
with APPLICATIONINSIGHTS_CONNECTION_STRING pointing at a local ingestion endpoint; the Azure
Monitor exporters send it their real HTTP requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.appinsights import FakeIngestion

REPO = Path(__file__).resolve().parents[2]
SECRET = "Sup3rSecretAccountKey0123456789=="
PASSWORD = "db-Pa55word-xyz"

CHILD = f"""
import logging
from shared import telemetry
from shared.api.http import ApiRequest
from shared.api.routes import BY_NAME, dispatch
from shared.logs import log_context
from shared.observability import setup

setup()
with log_context(job_id="job-telemetry-1", position=4, owner="dev-someone"):
    logging.getLogger("shared.flow.example").warning(
        "staging failed with DefaultEndpointsProtocol=https;AccountKey={SECRET};")

def broken_services():
    raise RuntimeError("cannot connect: postgresql://app:{PASSWORD}@db:5432/x")

request = ApiRequest("GET", "/api/invoices", headers={{"x-request-id": "req-telemetry-1"}})
response = dispatch(BY_NAME["list_invoices"], request, broken_services)
telemetry.flush()
print(response.status, response.headers["x-request-id"])
"""


@pytest.fixture
def ingestion() -> Iterator[FakeIngestion]:
    server = FakeIngestion().start()
    yield server
    server.stop()


def _kind(envelope: dict[str, Any]) -> str:
    return str(envelope["data"]["baseType"])


def test_logs_and_spans_reach_application_insights_with_correlation_and_without_secrets(
    ingestion: FakeIngestion, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "APPLI"))}
    env |= {
        "PYTHONPATH": str(REPO),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
        # Nothing but the local endpoint: no statsbeat to Microsoft, no remote configuration,
        # no SDK usage metrics.
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
        "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
        "TMPDIR": str(tmp_path),  # the exporter's retry storage
    }
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    finished = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120,
        cwd=REPO,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["500", "req-telemetry-1"]

    envelopes = ingestion.envelopes
    assert envelopes and set(ingestion.paths) == {"/v2.1/track"}
    everything = json.dumps(envelopes)
    for secret in (SECRET, PASSWORD, "dev-someone"):
        assert secret not in everything
    assert SECRET not in finished.stderr and PASSWORD not in finished.stderr
    # the exporter's own logs stay out of the logs (and out of the export, which they would feed)
    assert "Transmission succeeded" not in finished.stderr
    assert "azure.monitor" not in everything

    message = next(e for e in envelopes if _kind(e) == "MessageData")
    data = message["data"]["baseData"]
    assert data["message"].startswith("staging failed with DefaultEndpointsProtocol=https;")
    assert "AccountKey=[REDACTED]" in data["message"]
    assert data["properties"]["job_id"] == "job-telemetry-1"
    assert data["properties"]["position"] == "4"
    assert data["properties"]["owner_hash"]

    request = next(e for e in envelopes if _kind(e) == "RequestData")
    assert request["data"]["baseData"]["responseCode"] == "500"
    assert request["data"]["baseData"]["success"] is False
    assert request["data"]["baseData"]["properties"]["request_id"] == "req-telemetry-1"
    assert request["data"]["baseData"]["name"] == "GET /api/invoices"
    failure = next(e for e in envelopes if _kind(e) == "ExceptionData")
    properties = failure["data"]["baseData"]["properties"]
    assert properties["request_id"] == "req-telemetry-1"
    assert properties["route"] == "list_invoices"
    # the log line belongs to the request's operation (one trace)
    assert failure["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    assert request["tags"]["ai.cloud.role"] == "invoice-functions"
