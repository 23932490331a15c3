"""The document pipeline: bytes in, one result per document out.

Steps, each a plain function that can be tested alone:
intake (sniff, limits, ZIP expansion) -> parse (text layer or OCR) -> extract
(rules) -> validate. A rejected or failing document becomes a `DocumentResult`
with a reason code; it never stops the other documents of a batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from shared.config import LLM_ENDPOINT_SETTINGS, Settings
from shared.documents.intake import IncomingDocument, RejectedMember, intake
from shared.documents.parse import ParsedDocument, parse_document
from shared.errors import ConfigurationError, DocumentRejected, ExtractionFailed
from shared.extraction.schema import MONEY_FIELDS, ExtractedInvoice
from shared.extraction.validation import validate
from shared.llm.client import LlmClient
from shared.llm.connection import openai_client
from shared.llm.extractor import DocumentContext, Extraction, LlmStore
from shared.progress import NullReporter, ProgressEvent, ProgressReporter

log = logging.getLogger(__name__)


class Extractor(Protocol):
    name: str

    def extract(self, document: ParsedDocument) -> ExtractedInvoice: ...


@dataclass(frozen=True, slots=True)
class DocumentResult:
    name: str
    sha256: str | None = None
    media_type: str | None = None
    invoice: ExtractedInvoice | None = None
    error_code: str | None = None
    error_message: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.invoice is not None


def make_extractor(
    settings: Settings, mode: str | None = None, store: LlmStore | None = None
) -> Extraction:
    """The extractor `mode` names (default: EXTRACTOR): `rules`, `llm`, or `auto` (the LLM
    when one is configured). Without a store there is no cache, budget or vendor memory."""
    mode = mode or settings.extractor
    client = None
    if mode != "rules" and settings.llm.configured:
        client = LlmClient(settings.llm, openai_client(settings.llm))
    elif mode == "llm":
        raise ConfigurationError(f"the llm extractor needs {LLM_ENDPOINT_SETTINGS}")
    return Extraction(mode, settings.llm, client, store)


_INVOICE_EVIDENCE = (
    "invoice_id",
    "invoice_date",
    "due_date",
    "purchase_order",
    "iban",
    *MONEY_FIELDS,
)


def extract_invoice(
    parsed: ParsedDocument,
    extractor: Extractor,
    context: DocumentContext | None = None,
) -> ExtractedInvoice:
    """Extract and validate; a document in which nothing of an invoice was found fails.

    An empty page, a photo of a cat, a truncated PDF that MuPDF repaired into a blank page:
    storing an all-empty invoice for review helps no one, the reason does.
    """
    if context is not None and isinstance(extractor, Extraction):
        invoice = extractor.extract(parsed, context)
    else:
        invoice = extractor.extract(parsed)
    # A party name alone is no evidence: any letter's first line looks like a letterhead.
    found = [name for name in _INVOICE_EVIDENCE if getattr(invoice, name) is not None]
    if not found and not invoice.line_items:
        raise ExtractionFailed(
            "no invoice fields were found in this document"
            + (" (it has no readable text)" if not parsed.text.strip() else ""),
            code="no_invoice_found",
        )
    return validate(invoice, parsed.text)


def extract_document(
    document: IncomingDocument, settings: Settings, extractor: Extractor
) -> DocumentResult:
    """Parse, extract and validate one document that passed intake."""
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        parsed = parse_document(document.data, document.media_type, settings.ocr)
        timings["parse"] = time.perf_counter() - started
        started = time.perf_counter()
        invoice = extract_invoice(parsed, extractor)
        timings["extract"] = time.perf_counter() - started
    except ExtractionFailed as exc:
        return DocumentResult(
            document.name,
            document.sha256,
            document.media_type.value,
            error_code=exc.code,
            error_message=exc.message,
            timings=timings,
        )
    except Exception:
        # A bug must cost one document, never the batch; the traceback goes to the log
        # (it names code, not document contents), the caller gets a stable code.
        log.exception(
            "extraction crashed on document %s (sha256 %s)", document.name, document.sha256
        )
        return DocumentResult(
            document.name,
            document.sha256,
            document.media_type.value,
            error_code="internal_error",
            error_message="An unexpected error stopped the extraction of this document.",
            timings=timings,
        )
    return DocumentResult(
        document.name, document.sha256, document.media_type.value, invoice, timings=timings
    )


def process_bytes(
    name: str,
    data: bytes,
    settings: Settings,
    *,
    extractor: Extractor | None = None,
    reporter: ProgressReporter | None = None,
) -> list[DocumentResult]:
    """Run the whole pipeline over one upload (a document or a ZIP batch).

    Raises DocumentRejected when the upload as a whole is unusable; a bad member
    of a ZIP comes back as a failed `DocumentResult` instead.
    """
    reporter = reporter or NullReporter()
    extractor = extractor or make_extractor(settings)
    entries = intake(name, data, settings.intake)
    total = len(entries)
    results: list[DocumentResult] = []
    for processed, entry in enumerate(entries, start=1):
        if isinstance(entry, RejectedMember):
            result = DocumentResult(entry.name, error_code=entry.code, error_message=entry.message)
        else:
            reporter.report(ProgressEvent("parse", entry.name, processed - 1, total))
            result = extract_document(entry, settings, extractor)
        stage = "completed" if result.ok else "failed"
        reporter.report(ProgressEvent(stage, result.name, processed, total, result.error_code))
        results.append(result)
    return results


__all__ = ["DocumentRejected", "DocumentResult", "extract_document", "process_bytes"]
