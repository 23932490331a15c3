"""What the flow's activities leave in the logs and metrics, through the functions the
blueprint registers (the wrappers that bind the log context), with real PostgreSQL and Azurite
and the app's JSON log format.

- Every line an activity logs names its job, the orchestration instance, the document's position
  and its ids; never file names, blob paths, owner ids or document text.
- OCR is its own stage of invoices_stage_duration_seconds, apart from parsing.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from blueprints import flow
from shared.config import DatabaseSettings, Settings
from shared.documents.parse import parse_document
from shared.documents.sniff import MediaType
from shared.flow import activities, staging
from shared.flow.ids import job_id_for
from shared.flow.parsing import Parsed, parse_bytes
from shared.logs import install, quiet_libraries
from shared.metrics import REGISTRY
from shared.services import Services, use_services
from tests.support.azurite import Azurite

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def services(database_url: str, azurite: Azurite, pool: ConnectionPool) -> Iterator[Services]:
    settings = Settings(database=DatabaseSettings(url=database_url), blobs=azurite.settings)
    services = Services(settings, pool=pool)
    use_services(services)  # what the blueprint's get_services() returns
    yield services
    use_services(None)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The root logger's JSON output while the test runs, set up as configure_logging does it
    for LOG_FORMAT=json and LOG_LEVEL=INFO (on a handler of the test's own)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install(handler, "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    previous = quiet_libraries("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)
    for name, old in previous.items():
        logging.getLogger(name).setLevel(old)


def activity(name: str) -> Callable[..., Any]:
    function = getattr(flow, name)
    return getattr(function, "_function", function).get_user_function()  # type: ignore[no-any-return]


def _upload(services: Services, path: str, data: bytes) -> None:
    container = services.settings.blobs.incoming_container
    services.blobs.get_blob_client(container, path).upload_blob(data, overwrite=True)


def test_a_processed_documents_log_lines_carry_its_job_and_ids_and_nothing_private(
    services: Services, owner: str, pool: ConnectionPool, log_lines: Callable[[], list[Any]]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/invoice-en.pdf", (SAMPLES / "invoice-en.pdf").read_bytes())
        archive.writestr("b/rechnung-de.pdf", (SAMPLES / "rechnung-de.pdf").read_bytes())
        archive.writestr("secret-notes.txt", b"private meeting notes")
    data = buffer.getvalue()
    blob_path = f"{owner}/upload-logs/batch.zip"
    job_id = job_id_for(blob_path, str(len(data)))
    job = {"job_id": job_id, "owner": owner, "blob_path": blob_path, "instance_id": job_id}
    _upload(services, blob_path, data)

    # What the orchestrations do, through the registered activity functions.
    activity("begin_job")(payload=job)
    pending = activity("next_documents")(payload={**job, "after": -1, "limit": 10})
    stored = {}
    for entry in pending:
        document = {**entry, "job_id": job_id, "owner": owner, "source_blob": blob_path,
                    "instance_id": f"{job_id}:{entry['position']}:0"}  # fmt: skip
        parsed = activity("parse_document")(payload=document)
        document["document_id"] = parsed["document_id"]
        extracted = activity("extract_document")(
            payload=document | {"parsed_blob": parsed["parsed_blob"]}
        )
        result = activity("store_document")(
            payload=document | {"invoice_blob": extracted["invoice_blob"]}
        )
        stored[entry["position"]] = (parsed["document_id"], result["invoice_id"])
    with pytest.raises(Exception):  # noqa: B017 - whatever storage raises for a missing blob
        activity("parse_document")(
            payload={"job_id": job_id, "owner": owner, "position": 9, "name": "gone.pdf",
                     "source_blob": blob_path, "instance_id": f"{job_id}:9:0",
                     "staged_blob": f"invoices-staging/{job_id}/00009/source"}
        )  # fmt: skip
    activity("finish_job")(payload={**job, "rejected": None})

    lines = log_lines()
    traced = [line for line in lines if line["logger"] == "shared.flow.traced"]
    assert traced and all(line["job_id"] == job_id for line in traced)
    by_activity: dict[str, list[dict[str, Any]]] = {}
    for line in traced:
        by_activity.setdefault(line["activity"], []).append(line)
    assert by_activity["begin_job"][0]["instance_id"] == job_id
    for position, (document_id, invoice_id) in stored.items():
        for name in ("parse_document", "extract_document", "store_document"):
            (line,) = [x for x in by_activity[name] if x.get("position") == position]
            assert line["instance_id"] == f"{job_id}:{position}:0"
            assert line["document_id"] == document_id
            assert line["level"] == "INFO" and line["message"].startswith(f"{name} done in ")
        (store_line,) = [x for x in by_activity["store_document"] if x["position"] == position]
        assert store_line["invoice_id"] == invoice_id
    failure = next(x for x in by_activity["parse_document"] if x.get("position") == 9)
    assert failure["level"] == "WARNING" and "exception" in failure
    assert failure["instance_id"] == f"{job_id}:9:0"

    with pool.connection() as conn:
        texts = [row[0] for row in conn.execute(
            "SELECT text FROM documents WHERE owner = %s AND text IS NOT NULL", (owner,)
        ).fetchall()]  # fmt: skip
    output = json.dumps(lines)
    assert len(texts) == 2
    for text in texts:
        for text_line in (t.strip() for t in text.splitlines()):
            if len(text_line) >= 12:  # a line of the document, not a number or a word
                assert text_line not in output
    for private in (owner, "invoice-en.pdf", "secret-notes.txt", "private meeting notes",
                    blob_path):  # fmt: skip
        assert private not in output


def _stage(stage: str, kind: str = "count") -> float:
    value = REGISTRY.get_sample_value(f"invoices_stage_duration_seconds_{kind}", {"stage": stage})
    return value or 0.0


def _parse_one(services: Services, owner: str, name: str, data: bytes) -> dict[str, Any]:
    blob_path = f"{owner}/single/{name}"
    _upload(services, blob_path, data)
    job_id = job_id_for(blob_path, str(len(data)))
    activities.begin_job(services, {"job_id": job_id, "owner": owner, "blob_path": blob_path})
    (entry,) = activities.next_documents(services, {"job_id": job_id, "after": -1, "limit": 5})
    return activities.parse(services, {**entry, "job_id": job_id, "owner": owner,
                                       "source_blob": blob_path})  # fmt: skip


@pytest.mark.slow
def test_ocr_is_its_own_stage_apart_from_parsing(services: Services, owner: str) -> None:
    parses, ocrs, ocr_seconds = _stage("parse"), _stage("ocr"), _stage("ocr", "sum")
    text = _parse_one(services, owner, "invoice.pdf", (SAMPLES / "invoice-en.pdf").read_bytes())
    assert "parsed_blob" in text
    assert (_stage("parse") - parses, _stage("ocr") - ocrs) == (1, 0)  # a text layer: no OCR
    scan = _parse_one(services, owner, "scan.jpg", (SAMPLES / "factura-es-scan.jpg").read_bytes())
    assert "parsed_blob" in scan
    assert (_stage("parse") - parses, _stage("ocr") - ocrs) == (2, 1)
    # OCR takes seconds a page; parsing the text PDF and handing over take far less
    assert _stage("ocr", "sum") - ocr_seconds > 0.5


@pytest.mark.slow
def test_the_worker_reports_ocr_time_and_it_is_not_part_of_the_document() -> None:
    settings = Settings()
    scan = parse_bytes(
        "scan.jpg", (SAMPLES / "factura-es-scan.jpg").read_bytes(), settings.intake, settings.ocr
    )
    text = parse_bytes(
        "invoice.pdf", (SAMPLES / "invoice-en.pdf").read_bytes(), settings.intake, settings.ocr
    )
    assert isinstance(scan, Parsed) and isinstance(text, Parsed)
    assert scan.ocr_seconds > 0.5 and text.ocr_seconds == 0.0
    document = parse_document(
        (SAMPLES / "factura-es-scan.jpg").read_bytes(), MediaType.JPEG, settings.ocr
    )
    assert document.ocr_seconds > 0
    # staging keeps what the document says; how long reading it took is not part of that
    assert staging.decode_parsed(staging.encode_parsed(document)) == document
