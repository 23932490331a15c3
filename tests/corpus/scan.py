"""Simulated scans of the text PDFs: render, convert to grayscale, degrade deterministically.

The degradation is mild on purpose (slight skew, blur, sensor noise, uneven paper tone,
dust, sometimes JPEG artefacts) so that Tesseract still reads the pages.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
from PIL import Image, ImageFilter

open_document: Callable[..., Any] = pymupdf.open  # PyMuPDF is untyped


def render_pages(pdf_path: Path, dpi: int) -> list[Image.Image]:
    images: list[Image.Image] = []
    with open_document(pdf_path) as doc:
        for page in doc:
            pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
            images.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    return images


def degrade(img: Image.Image, rng: random.Random, noise_rng: np.random.Generator) -> Image.Image:
    paper = rng.uniform(228.0, 248.0)
    ink = rng.uniform(12.0, 50.0)
    arr = np.asarray(img, dtype=np.float32)
    arr = ink + (paper - ink) * (arr / 255.0)  # contrast and brightness
    h, w = arr.shape
    across = np.linspace(0.0, rng.uniform(-8.0, 8.0), w, dtype=np.float32)
    down = np.linspace(0.0, rng.uniform(-8.0, 8.0), h, dtype=np.float32)
    arr = arr + across[None, :] + down[:, None]  # uneven illumination
    page = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")

    angle = rng.uniform(0.3, 1.5) * rng.choice((-1.0, 1.0))
    shift = (round(rng.uniform(-w, w) * 0.01), round(rng.uniform(-h, h) * 0.01))
    page = page.rotate(
        angle,
        resample=Image.Resampling.BICUBIC,
        translate=shift,
        fillcolor=int(paper + 4),
    )
    page = page.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.3, 0.8)))

    arr = np.asarray(page, dtype=np.float32)
    sigma = rng.uniform(3.0, 8.0)
    arr = arr + noise_rng.standard_normal(arr.shape, dtype=np.float32) * sigma  # sensor noise
    dust = noise_rng.integers(0, [h - 2, w - 2], size=(int(h * w / 60000), 2))
    for y, x in dust:
        arr[y : y + 2, x : x + 2] = ink + 40
    if rng.random() < 0.4:  # scanner background removal: paper becomes white
        arr[arr > paper - 30] = 255
    page = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")

    if rng.random() < 0.3:  # occasional JPEG artefacts, e.g. from a scan-to-mail device
        buf = io.BytesIO()
        page.save(buf, format="JPEG", quality=rng.randint(55, 80))
        buf.seek(0)
        page = Image.open(buf).convert("L")
    return page


def make_scan(pdf_path: Path, out_stem: Path, pages: int, seed: str) -> Path:
    """Write ``{stem}.scan.png|jpg`` (one page) or ``{stem}.scan.tiff`` (several pages)."""
    rng = random.Random(seed)
    noise_rng = np.random.default_rng(list(seed.encode()))
    dpi = rng.choice((150, 175, 200))
    images = [degrade(img, rng, noise_rng) for img in render_pages(pdf_path, dpi)]
    assert len(images) == pages
    if pages > 1:
        path = out_stem.with_name(out_stem.name + ".scan.tiff")
        compression = rng.choice(("tiff_deflate", "jpeg"))
        images[0].save(
            path,
            save_all=True,
            append_images=images[1:],
            compression=compression,
            dpi=(dpi, dpi),
        )
    elif rng.random() < 0.35:
        path = out_stem.with_name(out_stem.name + ".scan.jpg")
        images[0].save(path, quality=rng.randint(70, 90), dpi=(dpi, dpi))
    else:
        path = out_stem.with_name(out_stem.name + ".scan.png")
        images[0].save(path, dpi=(dpi, dpi), compress_level=3)
    return path
