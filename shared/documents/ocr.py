"""OCR for pages without a usable text layer, with PyMuPDF's built-in Tesseract.

Why this engine: it installs from PyPI alone (Azure Functions on Linux cannot
apt-get), keeps the spaces between words (rapidocr often drops them), and was the
faster and more accurate of the two candidates on our scans; the numbers are in
the README ("OCR engine"). The language models ship with the app in
`tessdata/` because PyPI only carries English and German ones.
"""

from __future__ import annotations

import os
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf as _pymupdf

from shared.config import OcrSettings
from shared.documents.preprocess import MIN_SKEW_DEGREES, remove_rules, skew_degrees
from shared.errors import ExtractionFailed

pymupdf: Any = _pymupdf  # PyMuPDF's own annotations are partial; keep strict mypy useful

TESSDATA_DIR = Path(__file__).resolve().parent / "tessdata"

# Tesseract's OpenMP threads make it about 4x slower on our 2-core machines (see
# ../shared/research/local-services.md); one OCR call per worker is the faster shape.
# OpenMP reads this once, when Tesseract first starts, so it has to be set at import.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@lru_cache(maxsize=1)
def available_languages() -> frozenset[str]:
    return frozenset(path.stem for path in TESSDATA_DIR.glob("*.traineddata"))


# A4 width at 300 dpi: Tesseract reads body text best at about this density.
_TARGET_WIDTH_PX = 2480


def ocr_dpi_for(page: Any, settings: OcrSettings, *, image_page: bool) -> int:
    """The resolution to rasterise a page at for OCR.

    PDF pages use the configured dpi. An image page is sized by the image's dpi
    metadata, which is often missing or wrong, so its resolution comes from its
    pixels instead: a scan narrower than A4 at 300 dpi is enlarged up to twice
    (150-200 dpi scans read far better upscaled), a larger one is read as it is.
    Every page is capped so its raster stays under `settings.max_pixels`.
    """
    dpi = float(settings.dpi)
    images = page.get_images(full=True) if image_page else []
    if images:
        width_px = max(int(image[2]) for image in images)
        scale = min(max(_TARGET_WIDTH_PX / max(width_px, 1), 1.0), 2.0)
        dpi = 72 * width_px * scale / max(page.rect.width, 1.0)
    area_in2 = max(page.rect.width * page.rect.height, 1.0) / (72 * 72)
    largest = (settings.max_pixels / area_in2) ** 0.5
    return max(36, int(min(dpi, largest)))


# The tilt is measured on a small raster: text lines are still several pixels tall.
_SKEW_DPI = 100


def page_skew(page: Any) -> float:
    """The tilt of a page's text lines in degrees (see preprocess.skew_degrees)."""
    zoom = _SKEW_DPI / 72
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY)
    gray = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
    return skew_degrees(gray)


def ocr_page(page: Any, settings: OcrSettings, *, image_page: bool) -> Any:
    """OCR one page and return its TextPage, words in the page's (unrotated) points.

    Image pages are rasterised at their native density. A tilted scan is rendered
    level first, so Tesseract sees straight text lines; the words then come back
    in the coordinates of the levelled page, where table rows run horizontally.
    Table rules and box lines are painted out before Tesseract reads the raster
    (see preprocess.py): on a level page a grid's lines run along the text lines,
    and Tesseract then merges cells or reads the lines as letters.
    """
    missing = set(settings.languages.split("+")) - available_languages()
    if missing:
        raise ExtractionFailed(
            f"OCR language model(s) not shipped: {', '.join(sorted(missing))}",
            code="ocr_unavailable",
        )
    dpi = ocr_dpi_for(page, settings, image_page=image_page)
    skew = page_skew(page)
    zoom = dpi / 72
    render = pymupdf.Matrix(zoom, zoom)
    if abs(skew) >= MIN_SKEW_DEGREES:
        render = render.prerotate(-skew)
    gray = page.get_pixmap(matrix=render, colorspace=pymupdf.csGRAY, alpha=False)
    pixels = np.frombuffer(gray.samples, dtype=np.uint8).reshape(gray.height, gray.width)
    cleaned = remove_rules(pixels, dpi)
    # MuPDF's Tesseract bridge reads RGB pixmaps only (a grey one comes back empty).
    rgb = np.repeat(cleaned[:, :, None], 3, axis=2)
    pix = pymupdf.Pixmap(pymupdf.csRGB, gray.width, gray.height, rgb.tobytes(), False)
    # The rotated page's bounding box starts left of or above the origin.
    origin = page.rect * render
    ocr_pdf = pymupdf.open(
        stream=pix.pdfocr_tobytes(
            compress=False, language=settings.languages, tessdata=str(TESSDATA_DIR)
        ),
        filetype="pdf",
    )
    ocr_result = ocr_pdf[0]
    # The OCR page measures the raster at the pixmap's resolution; back to page points.
    scale = pix.width / ocr_result.rect.width / zoom
    ctm = (
        pymupdf.Matrix(scale, scale)
        * pymupdf.Matrix(1, 0, 0, 1, origin.x0 / zoom, origin.y0 / zoom)
        * page.derotation_matrix
    )
    textpage = ocr_result.get_textpage(matrix=ctm)
    textpage.parent = weakref.proxy(page)
    return textpage
