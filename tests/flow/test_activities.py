"""The flow's activities against real PostgreSQL and Azurite: each step, idempotency, outcomes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from shared.config import DatabaseSettings, Settings
from shared.flow import activities
from shared.flow.ids import job_id_for, owner_of
from shared.services import Services
from shared.storage import invoices, jobs
from shared.storage.scope import Scope
from tests.support.azurite import Azurite

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def services(database_url: str, azurite: Azurite, pool: ConnectionPool) -> Services:
    settings = Settings(database=DatabaseSettings(url=database_url), blobs=azurite.settings)
    return Services(settings, pool=pool)


def _upload(services: Services, path: str, data: bytes) -> None:
    container = services.settings.blobs.incoming_container
    services.blobs.get_blob_client(container, path).upload_blob(data, overwrite=True)


def _exists(services: Services, container: str, path: str) -> bool:
    return bool(services.blobs.get_blob_client(container, path).exists())


def _run_document(services: Services, job: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """What process_document does, step by step, without the orchestration."""
    document = {**entry, "job_id": job["job_id"], "owner": job["owner"],
                "source_blob": job["blob_path"]}  # fmt: skip
    parsed = activities.parse(services, document)
    if "failed" in parsed or "duplicate" in parsed:
        activities.record_outcome(services, {**parsed, "job_id": job["job_id"],
                                             "position": entry["position"]})  # fmt: skip
        return parsed
    document["document_id"] = parsed["document_id"]
    extracted = activities.extract(services, document | {"parsed_blob": parsed["parsed_blob"]})
    assert "failed" not in extracted
    return activities.store(services, document | {"invoice_blob": extracted["invoice_blob"]})


def _single(services: Services, job: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Upload one document as `job` and run it through the activities."""
    _upload(services, job["blob_path"], data)
    activities.begin_job(services, job)
    entry = activities.next_documents(services, {**job, "after": -1, "limit": 10})[0]
    return _run_document(services, job, entry)


def _again(owner: str, first: dict[str, Any], name: str) -> dict[str, Any]:
    """A second upload of the same bytes under another path (its own job)."""
    return {**first, "job_id": first["job_id"] + "-2", "blob_path": f"{owner}/upload-2/{name}"}


def _job(owner: str, name: str, data: bytes) -> dict[str, Any]:
    blob_path = f"{owner}/upload-1/{name}"
    return {"job_id": job_id_for(blob_path, str(len(data))), "owner": owner, "blob_path": blob_path}


@pytest.fixture
def zip_batch() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/invoice-en.pdf", (SAMPLES / "invoice-en.pdf").read_bytes())
        archive.writestr("b/rechnung-de.pdf", (SAMPLES / "rechnung-de.pdf").read_bytes())
        archive.writestr("notes.txt", b"not an invoice")
        archive.writestr("broken.pdf", b"%PDF-1.7 truncated")
    return buffer.getvalue()


def zip_of_two() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pdf", (SAMPLES / "invoice-en.pdf").read_bytes())
        archive.writestr("b.pdf", (SAMPLES / "rechnung-de.pdf").read_bytes())
    return buffer.getvalue()


def test_owner_comes_from_the_path_prefix() -> None:
    assert owner_of("dev-alice/u1/a.pdf") == "dev-alice"
    for outside in ("a.pdf", "dev-alice/a.pdf", "../x/a.pdf", "/x/a.pdf", "a b/u/x.pdf"):
        assert owner_of(outside) is None


def test_same_path_and_content_give_the_same_job_id() -> None:
    assert job_id_for("o/u/a.pdf", "ab") == job_id_for("o/u/a.pdf", "ab")
    assert job_id_for("o/u/a.pdf", "ab") != job_id_for("o/u/a.pdf", "cd")
    assert job_id_for("o/u/a.pdf", "ab") != job_id_for("o/u/b.pdf", "ab")


def test_a_zip_batch_end_to_end_through_the_activities(
    services: Services, owner: str, zip_batch: bytes, pool: ConnectionPool
) -> None:
    job = _job(owner, "batch.zip", zip_batch)
    _upload(services, job["blob_path"], zip_batch)
    begun = activities.begin_job(services, job)
    assert begun == {"total": 4, "rejected": None}
    assert activities.begin_job(services, job) == begun  # idempotent: the manifest stays
    pending = activities.next_documents(services, {**job, "after": -1, "limit": 10})
    assert [d["name"] for d in pending] == ["a/invoice-en.pdf", "b/rechnung-de.pdf"]
    results = [_run_document(services, job, entry) for entry in pending]
    assert all("invoice_id" in result for result in results)
    summary = activities.finish_job(services, {**job, "rejected": None})
    assert summary == {"status": "completed_with_errors", "total": 4, "succeeded": 2, "failed": 2}

    with pool.connection() as conn:
        record = jobs.get(conn, Scope.user(owner), job["job_id"])
    outcomes = {d.name: (d.outcome, d.error_code) for d in record.documents or []}
    assert outcomes["a/invoice-en.pdf"] == ("extracted", None)
    assert outcomes["notes.txt"][0] == "failed" and outcomes["notes.txt"][1]
    assert outcomes["broken.pdf"][0] == "failed"
    blobs = services.settings.blobs
    assert not _exists(services, blobs.incoming_container, job["blob_path"])
    assert _exists(services, blobs.processed_container, job["blob_path"])
    staged = list(services.blobs.get_container_client(blobs.staging_container).list_blobs(
        name_starts_with=job["job_id"] + "/"))  # fmt: skip
    assert staged == []  # the failed members were never staged; the rest is cleared


def test_the_same_document_again_is_a_duplicate_not_a_second_invoice(
    services: Services, owner: str, pool: ConnectionPool
) -> None:
    data = (SAMPLES / "facture-fr.pdf").read_bytes()
    first = _job(owner, "facture.pdf", data)
    second = _again(owner, first, "facture-again.pdf")
    results = [_single(services, job, data) for job in (first, second)]
    assert "invoice_id" in results[0]
    assert results[1]["duplicate"] == results[0]["invoice_id"]
    with pool.connection() as conn:
        count = conn.execute("SELECT count(*) FROM invoices WHERE owner = %s", (owner,)).fetchone()
        outcome = jobs.get(conn, Scope.user(owner), second["job_id"]).documents
    assert count == (1,)
    assert outcome is not None and outcome[0].outcome == "duplicate"
    assert str(outcome[0].invoice_id) == results[0]["invoice_id"]
    assert str(outcome[0].document_id) == results[1]["document_id"]


def test_the_same_document_after_its_invoice_was_deleted_brings_the_invoice_back(
    services: Services, owner: str, pool: ConnectionPool
) -> None:
    data = (SAMPLES / "invoice-en.pdf").read_bytes()
    first = _job(owner, "invoice.pdf", data)
    invoice_id = UUID(_single(services, first, data)["invoice_id"])
    with pool.connection() as conn:
        invoices.soft_delete(conn, Scope.user(owner), invoice_id)
    result = _single(services, _again(owner, first, "invoice-again.pdf"), data)
    assert result["duplicate"] == str(invoice_id)
    with pool.connection() as conn:
        record = invoices.get(conn, Scope.user(owner), invoice_id)  # live again, not a 404
        actions = [e.action for e in invoices.events(conn, Scope.user(owner), invoice_id)]
    assert record.version == 3  # created, deleted, restored
    assert actions == ["created", "deleted", "restored"]


def test_a_late_rerun_of_finish_job_leaves_a_job_under_retry_open_and_its_bytes_staged(
    services: Services, owner: str, pool: ConnectionPool
) -> None:
    """After a host restart the durable engine may run an earlier run's finish_job again
    while a retry of the job is already processing its failed document."""
    data = zip_of_two()
    job = _job(owner, "two.zip", data)
    _upload(services, job["blob_path"], data)
    activities.begin_job(services, job)
    first, second = activities.next_documents(services, {**job, "after": -1, "limit": 10})
    _run_document(services, job, first)
    activities.record_outcome(services, {  # the second failed for good, say after retries
        "job_id": job["job_id"], "position": second["position"],
        "failed": {"code": "processing_failed", "message": "simulated"},
    })  # fmt: skip
    assert activities.finish_job(services, {**job, "rejected": None})["failed"] == 1
    with pool.connection() as conn:
        assert jobs.reset_failed(conn, Scope.user(owner), job["job_id"]) == 1  # the retry
    stale = activities.finish_job(services, {**job, "rejected": None})
    assert stale["status"] == "running"
    assert _exists(services, services.settings.blobs.staging_container,
                   second["staged_blob"].split("/", 1)[1])  # fmt: skip
    retried = activities.next_documents(services, {**job, "after": -1, "limit": 10})
    assert [entry["position"] for entry in retried] == [second["position"]]
    assert "invoice_id" in _run_document(services, job, retried[0])
    summary = activities.finish_job(services, {**job, "rejected": None})
    assert (summary["status"], summary["succeeded"], summary["failed"]) == ("completed", 2, 0)


def test_an_unusable_upload_is_one_failed_document_and_goes_to_quarantine(
    services: Services, owner: str, pool: ConnectionPool
) -> None:
    job = _job(owner, "photo.gif", b"GIF89a....")
    _upload(services, job["blob_path"], b"GIF89a....")
    begun = activities.begin_job(services, job)
    assert begun["total"] == 1 and begun["rejected"]["code"] == "unsupported_type"
    assert activities.begin_job(services, job) == begun
    summary = activities.finish_job(services, {**job, "rejected": begun["rejected"]})
    assert summary["status"] == "failed"
    blobs = services.settings.blobs
    assert _exists(services, blobs.quarantine_container, job["blob_path"])
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, rejection_code FROM documents WHERE owner = %s", (owner,)
        ).fetchone()
    assert row == ("failed", "unsupported_type")


def test_retry_finds_the_failed_documents_bytes_again(
    services: Services, owner: str, pool: ConnectionPool
) -> None:
    data = (SAMPLES / "invoice-en.pdf").read_bytes()
    job = _job(owner, "invoice.pdf", data)
    _upload(services, job["blob_path"], data)
    activities.begin_job(services, job)
    entry = activities.next_documents(services, {**job, "after": -1, "limit": 10})[0]
    # the document failed (say, after its retries); the job finishes and the upload moves
    activities.record_outcome(services, {"job_id": job["job_id"], "position": 0,
                                         "failed": {"code": "processing_failed",
                                                    "message": "gave up"}})  # fmt: skip
    assert activities.finish_job(services, {**job, "rejected": None})["failed"] == 1
    with pool.connection() as conn:
        assert jobs.reset_failed(conn, Scope.user(owner), job["job_id"]) == 1
    retried = activities.next_documents(services, {**job, "after": -1, "limit": 10})
    assert retried == [entry]
    assert "invoice_id" in _run_document(services, job, entry)
    assert activities.finish_job(services, {**job, "rejected": None})["status"] == "completed"


def _sample(name: str, **labels: str) -> float:
    from shared.metrics import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_processed_batch_moves_the_counters_by_exactly_its_documents(
    services: Services, owner: str, zip_batch: bytes
) -> None:
    before = {
        outcome: _sample("invoices_documents_processed_total", outcome=outcome, extractor="rules")
        for outcome in ("extracted", "failed")
    }
    parses = _sample("invoices_stage_duration_seconds_count", stage="parse")
    stores = _sample("invoices_stage_duration_seconds_count", stage="store")
    confidences = _sample("invoices_extraction_confidence_count")
    job = _job(owner, "metrics.zip", zip_batch)
    _upload(services, job["blob_path"], zip_batch)
    activities.begin_job(services, job)
    activities.begin_job(services, job)  # a retried activity counts nothing twice
    for entry in activities.next_documents(services, {**job, "after": -1, "limit": 10}):
        _run_document(services, job, entry)
    extracted = _sample(
        "invoices_documents_processed_total", outcome="extracted", extractor="rules"
    )
    failed = _sample("invoices_documents_processed_total", outcome="failed", extractor="rules")
    assert extracted - before["extracted"] == 2
    assert failed - before["failed"] == 2  # the text file and the truncated PDF
    assert _sample("invoices_stage_duration_seconds_count", stage="parse") - parses == 2
    assert _sample("invoices_stage_duration_seconds_count", stage="store") - stores == 2
    assert _sample("invoices_extraction_confidence_count") - confidences == 2
