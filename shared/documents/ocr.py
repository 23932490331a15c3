"""OCR for pages without a usable text layer, with PyMuPDF's built-in Tesseract.

Why this engine: it installs from PyPI alone (Azure Functions on Linux cannot
apt-get), keeps the spaces between words (rapidocr often drops them), and was the
faster and more accurate of the two candidates on our scans; the numbers are in
the README ("OCR engine"). The language models ship with the app in
`tessdata/` because PyPI only carries English and German ones.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.config import OcrSettings
from shared.errors import ExtractionFailed

TESSDATA_DIR = Path(__file__).resolve().parent / "tessdata"

# Tesseract's OpenMP threads make it about 4x slower on our 2-core machines (see
# ../shared/research/local-services.md); one OCR call per worker is the faster shape.
# OpenMP reads this once, when Tesseract first starts, so it has to be set at import.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@lru_cache(maxsize=1)
def available_languages() -> frozenset[str]:
    return frozenset(path.stem for path in TESSDATA_DIR.glob("*.traineddata"))


def ocr_dpi_for(page: Any, settings: OcrSettings) -> int:
    """The resolution to rasterise an image page at for OCR.

    A converted image page is sized by the image's own dpi metadata (or 96 dpi when
    it has none); OCR at the configured dpi would then upscale small images and
    waste time on large ones, so it is capped by the image's real pixel density.
    """
    images = page.get_images(full=True)
    if not images:
        return settings.dpi
    width_px = max(int(image[2]) for image in images)
    native = round(72 * width_px / max(page.rect.width, 1.0))
    return max(150, min(settings.dpi, native)) if native > 0 else settings.dpi


def ocr_page(page: Any, settings: OcrSettings, *, image_page: bool) -> Any:
    """OCR one page; image pages are rasterised at their native density."""
    missing = set(settings.languages.split("+")) - available_languages()
    if missing:
        raise ExtractionFailed(
            f"OCR language model(s) not shipped: {', '.join(sorted(missing))}",
            code="ocr_unavailable",
        )
    dpi = ocr_dpi_for(page, settings) if image_page else settings.dpi
    return page.get_textpage_ocr(
        language=settings.languages, dpi=dpi, full=True, tessdata=str(TESSDATA_DIR)
    )
