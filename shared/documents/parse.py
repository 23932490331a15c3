"""Parsing: per page text and words with positions, OCR where there is no text layer.

Contract: `parse_document` SHALL return one `Page` per page of the input in order,
each with its words in PDF points (origin top-left) and a flag saying whether
OCR produced them. It SHALL NOT raise for a document that passed intake except
with `ExtractionFailed`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pymupdf as _pymupdf

from shared.config import OcrSettings
from shared.documents.ocr import ocr_page
from shared.documents.sniff import MediaType, sniff
from shared.errors import ExtractionFailed

pymupdf: Any = _pymupdf  # PyMuPDF's own annotations are partial; keep strict mypy useful

_IMAGE_FILETYPES = {MediaType.PNG: "png", MediaType.JPEG: "jpeg", MediaType.TIFF: "tiff"}


@dataclass(frozen=True, slots=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 1-based
    width: float
    height: float
    words: tuple[Word, ...]
    text: str
    ocr: bool


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    pages: tuple[Page, ...]
    # Seconds spent in OCR (rasterising and recognising); how the document was read, not what
    # it says, so it takes no part in equality and is not staged.
    ocr_seconds: float = field(default=0.0, compare=False)

    @property
    def text(self) -> str:
        return "\n".join(page.text for page in self.pages)

    @property
    def ocr_pages(self) -> int:
        """How many pages needed OCR (the expensive part; metrics will count it)."""
        return sum(1 for page in self.pages if page.ocr)


def has_usable_text(text: str, min_chars: int) -> bool:
    """A text layer is usable when it has enough real characters.

    Scanned PDFs often carry no text, a few stray characters, or glyphs without a
    Unicode mapping (U+FFFD); any of those means the page must be OCR'd.
    """
    visible = [ch for ch in text if not ch.isspace()]
    if len(visible) < min_chars:
        return False
    unmapped = sum(1 for ch in visible if ch == "\ufffd" or (ord(ch) < 32))
    return unmapped / len(visible) < 0.1


def skew_slope(raw_words: list[tuple[Any, ...]]) -> float:
    """The median slope (dy/dx) of OCR text lines; 0.0 when there is no evidence.

    Scans are often rotated by a degree or two. Tesseract reads them fine but
    reports word boxes in the rotated frame, where a row of a table drifts by
    several points across the page; straightening the coordinates keeps rows whole.
    """
    lines: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for w in raw_words:
        centre = ((w[0] + w[2]) / 2, (w[1] + w[3]) / 2)
        lines.setdefault((int(w[5]), int(w[6])), []).append(centre)
    slopes: list[float] = []
    for points in lines.values():
        if len(points) < 3:
            continue
        mean_x = sum(p[0] for p in points) / len(points)
        mean_y = sum(p[1] for p in points) / len(points)
        var_x = sum((p[0] - mean_x) ** 2 for p in points)
        if var_x < 1e-6:
            continue
        cov = sum((p[0] - mean_x) * (p[1] - mean_y) for p in points)
        slopes.append(cov / var_x)
    if len(slopes) < 3:
        return 0.0
    slopes.sort()
    return slopes[len(slopes) // 2]


def _raw_words(page: Any, textpage: Any) -> list[tuple[Any, ...]]:
    return [w for w in page.get_text("words", textpage=textpage) if str(w[4]).strip()]


_RULE_CHARS = re.compile(r"[|\[\]{}¦]+")


def _without_rules(raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Drop the table rules Tesseract reads as characters ("|2.00|ea|", "[Unit").

    A word is split where a rule character stands in it, each piece keeping its
    share of the word's box (characters of one word are about equally wide).
    """
    out: list[tuple[Any, ...]] = []
    for w in raw:
        text = str(w[4])
        if not _RULE_CHARS.search(text):
            out.append(w)
            continue
        width = (w[2] - w[0]) / max(len(text), 1)
        position = 0
        for piece in _RULE_CHARS.split(text):
            start = text.index(piece, position) if piece else position
            position = start + len(piece)
            if piece.strip():
                x0 = w[0] + start * width
                out.append((x0, w[1], x0 + len(piece) * width, w[3], piece, *w[5:]))
    return out


# tessdata_fast reads the superscript two of "mm²" and "g/m²" as a question mark.
_SQUARE_UNIT = re.compile(r"^((?:[\d.,x]*|.*/)(?:mm|cm|dm|km|m))\?(,?)$")


def _fix_units(w: tuple[Any, ...]) -> tuple[Any, ...]:
    match = _SQUARE_UNIT.match(str(w[4]))
    if match is None:
        return w
    return (*w[:4], f"{match.group(1)}²{match.group(2)}", *w[5:])


def _unrotate(raw: list[tuple[Any, ...]], matrix: Any) -> list[tuple[Any, ...]]:
    """Word boxes of a page with /Rotate, in the coordinates of the page as displayed."""
    out = []
    for w in raw:
        rect = pymupdf.Rect(w[0], w[1], w[2], w[3]) * matrix
        out.append((rect.x0, rect.y0, rect.x1, rect.y1, *w[4:]))
    return out


def _text(raw: list[tuple[Any, ...]]) -> str:
    """The page text in MuPDF's reading order: one line per (block, line) of words.

    Built from the words already extracted; asking MuPDF for sorted text again
    costs more than the whole rules extraction.
    """
    lines: list[str] = []
    current: tuple[int, int] | None = None
    for w in raw:
        key = (int(w[5]), int(w[6]))
        if key != current:
            lines.append(str(w[4]))
            current = key
        else:
            lines[-1] += " " + str(w[4])
    return "\n".join(lines)


def _words(raw: list[tuple[Any, ...]], *, deskew: bool) -> tuple[Word, ...]:
    slope = skew_slope(raw) if deskew else 0.0
    if abs(slope) < 0.002:  # about 0.1 degree: not worth moving anything
        words = [Word(float(w[0]), float(w[1]), float(w[2]), float(w[3]), str(w[4])) for w in raw]
    else:
        words = []
        for w in raw:
            # Shear back by the slope: at a degree or two this is a rotation in all but name.
            shift = -slope * (w[0] + w[2]) / 2
            words.append(Word(float(w[0]), w[1] + shift, float(w[2]), w[3] + shift, str(w[4])))
    words.sort(key=lambda w: (round(w.y0, 1), w.x0))
    return tuple(words)


def _open(data: bytes, media_type: MediaType) -> tuple[Any, bool]:
    if media_type == MediaType.PDF:
        return pymupdf.open(stream=data, filetype="pdf"), False
    filetype = _IMAGE_FILETYPES.get(media_type)
    if filetype is None:
        raise ExtractionFailed(f"cannot parse media type {media_type}", code="unparseable")
    images = pymupdf.open(stream=data, filetype=filetype)
    # Tesseract in MuPDF works on PDF pages; an image document converts to a PDF
    # whose pages each hold one image (one per TIFF frame).
    return pymupdf.open(stream=images.convert_to_pdf(), filetype="pdf"), True


def parse_document(data: bytes, media_type: MediaType, settings: OcrSettings) -> ParsedDocument:
    try:
        doc, from_image = _open(data, media_type)
    except ExtractionFailed:
        raise
    except Exception as exc:  # MuPDF raises plain RuntimeError/ValueError subclasses
        raise ExtractionFailed(f"document could not be opened: {exc}", code="unparseable") from exc
    pages: list[Page] = []
    ocr_seconds = 0.0
    with doc:
        for index, page in enumerate(doc):
            raw = [] if from_image else _raw_words(page, page.get_textpage())
            text = _text(raw)
            # A page without text and without images is blank: OCR would find nothing.
            ocr = from_image or (
                not has_usable_text(text, settings.min_text_chars) and bool(page.get_images())
            )
            if ocr:
                started = time.perf_counter()
                try:
                    raw = _raw_words(page, ocr_page(page, settings, image_page=from_image))
                except ExtractionFailed:
                    raise
                except Exception as exc:
                    raise ExtractionFailed(
                        f"OCR failed on page {index + 1}: {exc}", code="ocr_failed"
                    ) from exc
                finally:
                    ocr_seconds += time.perf_counter() - started
                raw = [_fix_units(w) for w in _without_rules(raw)]
                text = _text(raw)
            if page.rotation:
                raw = _unrotate(raw, page.rotation_matrix)
            words = _words(raw, deskew=ocr)
            pages.append(
                Page(
                    number=index + 1,
                    width=float(page.rect.width),
                    height=float(page.rect.height),
                    words=words,
                    text=text,
                    ocr=ocr,
                )
            )
    return ParsedDocument(pages=tuple(pages), ocr_seconds=ocr_seconds)


def page_images(data: bytes, page_numbers: Sequence[int], dpi: int = 110) -> list[bytes]:
    """PNG renderings of some pages (1-based), for a vision-capable LLM. 110 dpi keeps an A4
    page near 900 x 1300 pixels: legible to a model, about 800 input tokens."""
    media_type = sniff(data)
    if media_type is None:
        return []
    doc, _ = _open(data, media_type)
    with doc:
        return [
            doc[number - 1].get_pixmap(dpi=dpi).tobytes("png")
            for number in page_numbers
            if 1 <= number <= doc.page_count
        ]
