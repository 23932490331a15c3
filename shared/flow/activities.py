"""What each activity of the processing flow does; the blueprint only binds them.

Every activity is idempotent (a retry or a replay after a crash does the same thing again
without duplicating anything): rows are upserts keyed by job and position or by owner and
content hash, blobs are written to fixed paths. Payloads and results are small JSON objects:
blob paths and ids, never document bytes or page text.

Errors: a document that cannot be processed for a reason that will not change on retry
(DocumentRejected, ExtractionFailed) comes back as `{"failed": {"code", "message"}}`; anything
else raises, and the orchestrator's retry policy tries again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any
from uuid import UUID

from azure.core.exceptions import ResourceNotFoundError

from shared.blobs import download, move_to_processed, move_to_quarantine
from shared.documents.intake import RejectedMember, intake
from shared.documents.parse import ParsedDocument
from shared.errors import DocumentRejected, ExtractionFailed, NotFound
from shared.extraction.schema import ExtractedInvoice
from shared.flow import staging
from shared.flow.parsing import Rejected, parse_in_worker, render_in_worker
from shared.llm.extractor import DocumentContext
from shared.metrics import CONFIDENCE, DOCUMENTS, stage
from shared.pipeline import extract_invoice
from shared.services import Services
from shared.storage import documents, invoices, jobs
from shared.storage.scope import Scope

log = logging.getLogger(__name__)
Payload = dict[str, Any]

# MuPDF (PyMuPDF) is not thread-safe, and hosts run activities on a thread pool: the upload's
# intake check (which opens every ZIP member) takes one at a time; parsing runs in worker
# processes (shared.flow.parsing).
_MUPDF = threading.Lock()


def _split(reference: str) -> tuple[str, str]:
    container, _, path = reference.partition("/")
    return container, path


def _upload(services: Services, path: str, data: bytes) -> str:
    container = services.settings.blobs.staging_container
    services.blobs.get_blob_client(container, path).upload_blob(data, overwrite=True)
    return f"{container}/{path}"


def _fetch(services: Services, reference: str) -> bytes:
    container, path = _split(reference)
    settings = services.settings.blobs
    try:
        return download(services.blobs, container, path)
    except NotFound:
        if container != settings.incoming_container:
            raise
        # A plain upload is read where it landed; once its job finished it moved to processed
        # (a retry of its failed document reads it there).
        return download(services.blobs, settings.processed_container, path)


def _failed(code: str, message: str, **extra: Any) -> Payload:
    return {"failed": {"code": code, "message": message}, **extra}


def begin_job(services: Services, payload: Payload) -> Payload:
    """Create the job and its manifest: validate the upload, expand a ZIP, stage members.

    Returns {"total": n, "rejected": null} or, when the upload as a whole is unusable,
    {"total": 1, "rejected": {"code", "message"}} (recorded as one failed document).
    """
    job_id, owner, blob_path = payload["job_id"], payload["owner"], payload["blob_path"]
    incoming = services.settings.blobs.incoming_container
    with services.connection() as conn:
        jobs.start(conn, job_id=job_id, owner=owner, source_blob=blob_path)
        written = jobs.manifest(conn, job_id, limit=100_000)
    if written:  # a retry after the manifest was committed
        first = written[0]
        # Only a whole-upload rejection records a failed entry that has a hash but no bytes.
        whole = len(written) == 1 and first.staged_blob is None and first.sha256 is not None
        rejected = {"code": first.error_code, "message": first.error_message} if whole else None
        return {"total": len(written), "rejected": rejected}
    data = download(services.blobs, incoming, blob_path)
    name = blob_path.rsplit("/", 1)[-1]
    try:
        with _MUPDF:
            entries = intake(name, data, services.settings.intake)
    except DocumentRejected as exc:
        sha = hashlib.sha256(data).hexdigest()
        with services.connection() as conn:
            document = documents.register(conn, owner=owner, sha256=sha, blob_path=blob_path)
            documents.mark_failed(conn, document.id, code=exc.code, reason=exc.message)
            jobs.add_documents(
                conn,
                job_id,
                [jobs.ManifestEntry(0, name, None, sha, "failed", exc.code, exc.message)],
            )
        DOCUMENTS.labels("failed", services.settings.extractor).inc()
        return {"total": 1, "rejected": {"code": exc.code, "message": exc.message}}
    manifest: list[jobs.ManifestEntry] = []
    single = len(entries) == 1 and not isinstance(entries[0], RejectedMember)
    for position, entry in enumerate(entries):
        if isinstance(entry, RejectedMember):
            manifest.append(
                jobs.ManifestEntry(position, entry.name, None, None, "failed", entry.code,
                                   entry.message)
            )  # fmt: skip
            continue
        if single and entry.data is data:
            staged = f"{incoming}/{blob_path}"  # a plain document: read it where it is
        else:
            staged = _upload(services, staging.source_path(job_id, position), entry.data)
        manifest.append(jobs.ManifestEntry(position, entry.name, staged, entry.sha256))
    with services.connection() as conn:
        jobs.add_documents(conn, job_id, manifest)
    rejected_members = sum(1 for entry in manifest if entry.outcome == "failed")
    if rejected_members:
        DOCUMENTS.labels("failed", services.settings.extractor).inc(rejected_members)
    return {"total": len(manifest), "rejected": None}


def next_documents(services: Services, payload: Payload) -> list[Payload]:
    """Up to `limit` pending documents after `after` (positions), for the next window."""
    with services.connection() as conn:
        entries = jobs.manifest(
            conn, payload["job_id"], after=payload["after"], limit=payload["limit"],
            outcome="pending",
        )  # fmt: skip
    return [{"position": e.position, "name": e.name, "staged_blob": e.staged_blob} for e in entries]


def parse(services: Services, payload: Payload) -> Payload:
    """Register the document (same bytes for this owner: a duplicate), then parse or OCR it
    in a worker process (shared.flow.parsing says why)."""
    job_id, owner, position = payload["job_id"], payload["owner"], payload["position"]
    name = payload["name"]
    data = _fetch(services, payload["staged_blob"])
    with services.connection() as conn:
        document = documents.register(
            conn, owner=owner, sha256=hashlib.sha256(data).hexdigest(),
            blob_path=payload["source_blob"],
            member_name=name if payload["source_blob"].rsplit("/", 1)[-1] != name else None,
        )  # fmt: skip
        if not document.created and document.status == "extracted":
            existing = invoices.invoice_for_document(
                conn, owner, document.id
            ) or invoices.restore_for_document(conn, owner, document.id)
            if existing is not None:
                return {"duplicate": str(existing), "document_id": str(document.id)}
    settings = services.settings
    # Records the "parse" and "ocr" stages (the worker measures OCR apart).
    result = parse_in_worker(name, data, settings.intake, settings.ocr, settings.parse_workers)
    if isinstance(result, Rejected):
        return _failed(result.code, result.message, document_id=str(document.id))
    reference = _upload(services, staging.parsed_path(job_id, position), result.staged)
    with services.connection() as conn:
        documents.mark_parsed(
            conn, document.id, pages=result.pages, text=result.text, media_type=result.media_type
        )
    return {"document_id": str(document.id), "parsed_blob": reference, "pages": result.pages}


def extract(services: Services, payload: Payload) -> Payload:
    parsed = staging.decode_parsed(_fetch(services, payload["parsed_blob"]))
    with services.connection() as conn:
        sha256 = documents.sha256_of(conn, UUID(payload["document_id"]))
    context = DocumentContext(
        owner=payload["owner"], sha256=sha256, images=_vision_images(services, payload, parsed)
    )
    try:
        with stage("extract"):
            invoice = extract_invoice(parsed, services.extractor, context)
    except ExtractionFailed as exc:
        return _failed(exc.code, exc.message)
    reference = _upload(
        services,
        staging.invoice_path(payload["job_id"], payload["position"]),
        invoice.model_dump_json().encode(),
    )
    return {"invoice_blob": reference}


# Scanned pages sent to a vision-capable model, at most: each costs about 800 input tokens.
VISION_MAX_PAGES = 4


def _vision_images(services: Services, payload: Payload, parsed: ParsedDocument) -> list[bytes]:
    """Images of the OCR'd pages, when LLM_VISION is on and the extractor calls an LLM: OCR text
    of a poor scan is where a model's own eyes help most."""
    if not services.settings.llm.vision or services.extractor.client is None:
        return []
    scanned = [page.number for page in parsed.pages if page.ocr][:VISION_MAX_PAGES]
    if not scanned or not payload.get("staged_blob"):
        return []
    source = _fetch(services, payload["staged_blob"])
    return render_in_worker(source, scanned, services.settings.parse_workers)


def store(services: Services, payload: Payload) -> Payload:
    invoice = ExtractedInvoice.model_validate_json(_fetch(services, payload["invoice_blob"]))
    document_id = UUID(payload["document_id"])
    with stage("store"), services.connection() as conn:
        invoice_id = invoices.store_extracted(
            conn, owner=payload["owner"], document_id=document_id, invoice=invoice,
            embedder=services.embedder,
            duplicate_max_distance=services.settings.duplicate_max_distance,
        )  # fmt: skip
        documents.mark_extracted(conn, document_id)
        jobs.record_document(
            conn, job_id=payload["job_id"], position=payload["position"], outcome="extracted",
            document_id=document_id, invoice_id=invoice_id,
        )  # fmt: skip
    DOCUMENTS.labels("extracted", invoice.extractor).inc()
    if invoice.confidence:
        CONFIDENCE.observe(sum(invoice.confidence.values()) / len(invoice.confidence))
    return {"invoice_id": str(invoice_id), "status": invoice.status.value}


def record_outcome(services: Services, payload: Payload) -> Payload:
    """A document that failed for good, or turned out a duplicate: record it on the job."""
    document_id = UUID(payload["document_id"]) if payload.get("document_id") else None
    failure = payload.get("failed")
    with services.connection() as conn:
        if failure and document_id is not None:
            documents.mark_failed(
                conn, document_id, code=failure["code"], reason=failure["message"]
            )
        jobs.record_document(
            conn,
            job_id=payload["job_id"],
            position=payload["position"],
            outcome="failed" if failure else "duplicate",
            document_id=document_id,
            invoice_id=UUID(payload["duplicate"]) if payload.get("duplicate") else None,
            error_code=failure["code"] if failure else None,
            error_message=failure["message"] if failure else None,
        )
    DOCUMENTS.labels("failed" if failure else "duplicate", services.settings.extractor).inc()
    return {}


def finish_job(services: Services, payload: Payload) -> Payload:
    """Move the upload to processed (or quarantine), clear staging, then close the job: a
    client that sees the job finished can rely on everything else being done."""
    job_id, blob_path = payload["job_id"], payload["blob_path"]
    rejected = payload.get("rejected")
    settings = services.settings.blobs
    with services.connection() as conn:
        outcomes = {e.position: e.outcome for e in jobs.manifest(conn, job_id, limit=100_000)}
    try:
        if rejected:
            move_to_quarantine(
                services.blobs, settings, blob_path, f"{rejected['code']}: {rejected['message']}"
            )
        else:
            move_to_processed(services.blobs, settings, blob_path)
    except (ResourceNotFoundError, NotFound):
        log.warning("job %s: upload already moved", job_id)
    staging_container = services.blobs.get_container_client(settings.staging_container)
    for blob in staging_container.list_blobs(name_starts_with=f"{job_id}/"):
        outcome = outcomes.get(int(blob.name.split("/")[1]))
        # A failed document keeps its staged bytes: a retry reads them again. A pending one is
        # being retried right now (this is a late re-run of an earlier run's last step, after a
        # host restart): everything of it stays.
        if outcome == "pending" or (outcome == "failed" and blob.name.endswith("/source")):
            continue
        staging_container.delete_blob(blob.name)
    with services.connection() as conn:
        jobs.finish(conn, job_id, error=rejected["message"] if rejected else None)
        record = jobs.get(conn, Scope.everyone("pipeline"), job_id)
    return {
        "status": record.status,
        "total": record.documents_total,
        "succeeded": record.documents_succeeded,
        "failed": record.documents_failed,
    }
