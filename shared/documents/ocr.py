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


def ocr_page(page: Any, settings: OcrSettings, *, image_page: bool) -> Any:
    """OCR one page; image pages are rasterised at their native density."""
    missing = set(settings.languages.split("+")) - available_languages()
    if missing:
        raise ExtractionFailed(
            f"OCR language model(s) not shipped: {', '.join(sorted(missing))}",
            code="ocr_unavailable",
        )
    dpi = ocr_dpi_for(page, settings, image_page=image_page)
    return page.get_textpage_ocr(
        language=settings.languages, dpi=dpi, full=True, tessdata=str(TESSDATA_DIR)
    )
