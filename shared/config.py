"""Settings, read once from the environment, typed.

Nothing else in `shared/` reads `os.environ`; callers get a `Settings` object
(`get_settings()`), or build one explicitly in tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from shared.errors import ConfigurationError


@dataclass(frozen=True)
class IntakeLimits:
    """Limits that protect the pipeline from hostile or absurd input."""

    max_document_bytes: int = 50 * 1024 * 1024
    max_pages: int = 200
    max_zip_members: int = 500
    max_zip_expanded_bytes: int = 500 * 1024 * 1024
    # MuPDF allocates whatever an image header claims; a 109-byte PNG can ask for 900 MB.
    max_image_pixels: int = 180_000_000


@dataclass(frozen=True)
class OcrSettings:
    # Languages Tesseract loads; more languages cost time on every page.
    languages: str = "eng+deu+fra"
    dpi: int = 300
    # A page with fewer extractable characters than this is treated as a scan.
    min_text_chars: int = 20
    # The OCR raster of one page never exceeds this many pixels (A4 at 300 dpi is 8.7 M);
    # a huge page size in a tiny PDF must not make Tesseract allocate gigabytes.
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class Settings:
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    extractor: str = "rules"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping of environment variables."""
    defaults = IntakeLimits()
    intake = IntakeLimits(
        max_document_bytes=_int(env, "INTAKE_MAX_DOCUMENT_BYTES", defaults.max_document_bytes),
        max_pages=_int(env, "INTAKE_MAX_PAGES", defaults.max_pages),
        max_zip_members=_int(env, "INTAKE_MAX_ZIP_MEMBERS", defaults.max_zip_members),
        max_zip_expanded_bytes=_int(
            env, "INTAKE_MAX_ZIP_EXPANDED_BYTES", defaults.max_zip_expanded_bytes
        ),
        max_image_pixels=_int(env, "INTAKE_MAX_IMAGE_PIXELS", defaults.max_image_pixels),
    )
    ocr_defaults = OcrSettings()
    ocr = OcrSettings(
        languages=env.get("OCR_LANGUAGES") or ocr_defaults.languages,
        dpi=_int(env, "OCR_DPI", ocr_defaults.dpi),
        min_text_chars=_int(env, "OCR_MIN_TEXT_CHARS", ocr_defaults.min_text_chars),
        max_pixels=_int(env, "OCR_MAX_PIXELS", ocr_defaults.max_pixels),
    )
    extractor = (env.get("EXTRACTOR") or "rules").strip().lower()
    if extractor not in {"rules"}:
        raise ConfigurationError(f"EXTRACTOR must be 'rules', got {extractor!r}")
    return Settings(intake=intake, ocr=ocr, extractor=extractor)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings(os.environ)
