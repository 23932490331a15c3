"""What a job keeps between activities, in the staging container, so that orchestration history
carries references (blob paths, database ids) and never page text or file bytes.

`{job_id}/{position:05d}/source` the document's bytes (a ZIP member)
`{job_id}/{position:05d}/parsed.json.gz` words and positions from parsing/OCR
`{job_id}/{position:05d}/invoice.json` the extraction, validated
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from shared.documents.parse import Page, ParsedDocument, Word


def document_prefix(job_id: str, position: int) -> str:
    return f"{job_id}/{position:05d}/"


def source_path(job_id: str, position: int) -> str:
    return document_prefix(job_id, position) + "source"


def parsed_path(job_id: str, position: int) -> str:
    return document_prefix(job_id, position) + "parsed.json.gz"


def invoice_path(job_id: str, position: int) -> str:
    return document_prefix(job_id, position) + "invoice.json"


def encode_parsed(document: ParsedDocument) -> bytes:
    pages: list[dict[str, Any]] = [
        {
            "number": page.number,
            "width": page.width,
            "height": page.height,
            "text": page.text,
            "ocr": page.ocr,
            "words": [[w.x0, w.y0, w.x1, w.y1, w.text] for w in page.words],
        }
        for page in document.pages
    ]
    return gzip.compress(json.dumps({"pages": pages}, separators=(",", ":")).encode(), 5)


def decode_parsed(data: bytes) -> ParsedDocument:
    raw = json.loads(gzip.decompress(data))
    return ParsedDocument(
        pages=tuple(
            Page(
                number=page["number"],
                width=page["width"],
                height=page["height"],
                words=tuple(Word(x0, y0, x1, y1, text) for x0, y0, x1, y1, text in page["words"]),
                text=page["text"],
                ocr=page["ocr"],
            )
            for page in raw["pages"]
        )
    )
