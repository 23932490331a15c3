"""Parsing and OCR in worker processes.

PyMuPDF is not thread-safe and holds the GIL through a page's OCR (seconds), while a
Functions worker runs activities and HTTP requests on threads of one process: parsing in
that process would serialise documents and stall every request behind each page. So each
document is checked and parsed in a separate process from a small pool (spawned, never
forked from a threaded process), one document per process at a time, which also uses
every core. The result comes back as the staged, compressed form, not as Python objects.

`parse_in_worker` records the document's time in the "parse" and "ocr" stages of
invoices_stage_duration_seconds: OCR as the worker measured it (documents that needed none
record no OCR), parse as the rest of the wall time (opening, text layer, the round trip to the
worker), so the two add up to the whole.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from shared.config import IntakeLimits, OcrSettings
from shared.documents.intake import check_document
from shared.documents.parse import page_images, parse_document
from shared.errors import DocumentRejected
from shared.flow.staging import encode_parsed
from shared.metrics import STAGE_DURATION


@dataclass(frozen=True)
class Parsed:
    media_type: str
    pages: int
    text: str
    staged: bytes  # staging.encode_parsed of the parsed document
    ocr_seconds: float = 0.0  # of the time in the worker, how much OCR took


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str


def parse_bytes(
    name: str, data: bytes, limits: IntakeLimits, ocr: OcrSettings
) -> Parsed | Rejected:
    """Check and parse one document (runs in a worker process)."""
    try:
        checked = check_document(name, data, limits)
    except DocumentRejected as exc:
        return Rejected(exc.code, exc.message)
    parsed = parse_document(checked.data, checked.media_type, ocr)
    return Parsed(
        checked.media_type.value,
        len(parsed.pages),
        parsed.text,
        encode_parsed(parsed),
        parsed.ocr_seconds,
    )


def _die_with_parent() -> None:
    """Worker initializer: on Linux, ask the kernel to end this worker when the host process
    dies, however it dies (a killed host must not leave parsers behind)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def parser_pool(workers: int) -> ProcessPoolExecutor:
    """The process's parser pool; `workers` 0 means one per CPU."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=workers or os.cpu_count() or 1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_die_with_parent,
            )
        return _pool


def parse_in_worker(
    name: str, data: bytes, limits: IntakeLimits, ocr: OcrSettings, workers: int
) -> Parsed | Rejected:
    started, ocr_seconds = time.perf_counter(), 0.0
    try:
        result = parser_pool(workers).submit(parse_bytes, name, data, limits, ocr).result()
        ocr_seconds = result.ocr_seconds if isinstance(result, Parsed) else 0.0
        return result
    finally:
        elapsed = time.perf_counter() - started
        STAGE_DURATION.labels("parse").observe(max(elapsed - ocr_seconds, 0.0))
        if ocr_seconds:
            STAGE_DURATION.labels("ocr").observe(ocr_seconds)


def render_in_worker(data: bytes, page_numbers: list[int], workers: int) -> list[bytes]:
    """PNG images of some pages, rendered in a parser process (MuPDF is not thread-safe)."""
    return parser_pool(workers).submit(page_images, data, page_numbers).result()
