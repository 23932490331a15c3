"""Duplicates through the HTTP API: the same file again is a job document reported as a duplicate
of the existing invoice; a near duplicate shows the invoice it probably duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from shared.flow import activities
from shared.flow.ids import job_id_for
from shared.services import Services
from tests.api.conftest import User
from tests.support.api import Client
from tests.support.invoices import make_invoice, store

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _process(services: Services, owner: str, upload: str, data: bytes) -> tuple[str, Any]:
    """One upload through the flow's activities, as the orchestration runs them."""
    blob_path = f"{owner}/{upload}/invoice.pdf"
    job = {"job_id": job_id_for(blob_path, upload), "owner": owner, "blob_path": blob_path}
    container = services.settings.blobs.incoming_container
    services.blobs.get_blob_client(container, blob_path).upload_blob(data, overwrite=True)
    activities.begin_job(services, job)
    [entry] = activities.next_documents(services, {**job, "after": -1, "limit": 10})
    document = {**entry, "job_id": job["job_id"], "owner": owner, "source_blob": blob_path}
    parsed = activities.parse(services, document)
    if "duplicate" in parsed:
        activities.record_outcome(services, {**parsed, "job_id": job["job_id"], "position": 0})
        result: Any = parsed
    else:
        document["document_id"] = parsed["document_id"]
        extracted = activities.extract(services, document | {"parsed_blob": parsed["parsed_blob"]})
        result = activities.store(services, document | {"invoice_blob": extracted["invoice_blob"]})
    activities.finish_job(services, {**job, "rejected": None})
    return job["job_id"], result


def test_the_same_file_uploaded_again_is_a_duplicate_of_the_existing_invoice(
    api: Client, api_services: Services, alice: User
) -> None:
    data = (SAMPLES / "invoice-en.pdf").read_bytes()
    _, first = _process(api_services, alice.owner, "upload-1", data)
    second_job, second = _process(api_services, alice.owner, "upload-2", data)
    assert second["duplicate"] == first["invoice_id"]

    token = alice.token("viewer")
    job = api.get(f"/api/jobs/{second_job}", token=token).json()
    assert job["status"] == "completed"
    assert (job["documents_total"], job["documents_succeeded"], job["documents_failed"]) == (
        1,
        1,
        0,
    )
    [document] = job["documents"]
    assert document["outcome"] == "duplicate"
    assert document["invoice_id"] == first["invoice_id"]
    listed = api.get("/api/invoices", token=token).json()["items"]
    assert [item["id"] for item in listed] == [first["invoice_id"]]


def test_a_near_duplicate_shows_its_original_in_the_record_and_the_list(
    api: Client, pool: ConnectionPool, alice: User, bob: User
) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-2024/001")
    with pool.connection() as conn:
        original = store(conn, alice.owner, invoice)
        copy = store(conn, alice.owner, invoice.model_copy(update={"invoice_id": "INV 2024 001"}))
        store(conn, bob.owner, invoice)

    token = alice.token("viewer")
    record = api.get(f"/api/invoices/{copy}", token=token).json()
    assert record["duplicate_of"] == str(original)
    assert record["status"] == "needs_review"
    assert "possible_duplicate" in record["warnings"]
    assert api.get(f"/api/invoices/{original}", token=token).json()["duplicate_of"] is None
    listed = {item["id"]: item["duplicate_of"] for item in
              api.get("/api/invoices", token=token).json()["items"]}  # fmt: skip
    assert listed == {str(original): None, str(copy): str(original)}
    bobs = api.get("/api/invoices", token=bob.token("viewer")).json()["items"]
    assert [item["duplicate_of"] for item in bobs] == [None]  # not linked across owners


def test_a_correction_leaves_the_duplicate_question_to_the_reviewer(
    api: Client, pool: ConnectionPool, alice: User
) -> None:
    invoice = make_invoice(vendor_name="Acme Supplies GmbH", invoice_id="INV-5")
    with pool.connection() as conn:
        original = store(conn, alice.owner, invoice)
        copy = store(conn, alice.owner, invoice)
    token = alice.token("processor")
    corrected = api.patch(f"/api/invoices/{copy}", token=token,
                          json_body={"purchase_order": "PO-77"}).json()  # fmt: skip
    assert corrected["purchase_order"] == "PO-77"
    assert corrected["duplicate_of"] == str(original)
    assert (corrected["status"], corrected["warnings"]) == ("needs_review", ["possible_duplicate"])
    approved = api.post(f"/api/invoices/{copy}/approve", token=token).json()
    assert (approved["status"], approved["duplicate_of"]) == ("approved", str(original))
