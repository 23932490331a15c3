"""Image preparation before OCR: how far a scanned page is tilted, and its rules.

Tesseract finds text lines well on a level page, but a page scanned a degree or
two askew makes it cut table rows in pieces: a thin row rule crosses the tilted
text, a quantity lands on the line above, and characters next to the rule are
misread ("8,5" as "S9"). Measuring the tilt on a small raster and rendering the
page level for OCR costs a few tens of milliseconds against seconds of OCR.

The tilt is found by the projection profile: for each candidate slope the dark
pixels are summed along lines of that slope; at the page's true slope the text
lines fall into few, full bins and the sum of squared bin counts peaks.

On a level page the lines of a ruled or boxed table run along the text lines,
and Tesseract merges cells or reads the lines as letters; `remove_rules` paints
long thin lines over in the paper's tone first.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# Scans are rarely tilted by more than a few degrees; a larger angle is more often
# a layout of slanted elements than a tilted page.
MAX_SKEW_DEGREES = 4.0
# Below this the page is read as it is: Tesseract copes, and resampling costs clarity.
MIN_SKEW_DEGREES = 0.15


def dark_mask(gray: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Ink pixels: darker than halfway between the paper and the darkest ink."""
    tones = _tones(gray)
    if tones is None:  # a blank or uniformly grey page: nothing to measure
        return np.zeros(gray.shape, dtype=bool)
    paper, ink = tones
    return gray < (paper + ink) / 2


def _profile_score(ys: NDArray[np.float64], xs: NDArray[np.float64], slope: float) -> float:
    bins = np.rint(ys - slope * xs).astype(np.int64)
    bins -= bins.min()
    counts = np.bincount(bins).astype(np.float64)
    return float(np.dot(counts, counts))


def skew_degrees(gray: NDArray[np.uint8]) -> float:
    """The tilt of the text lines of a page image, in degrees; 0.0 without evidence.

    Positive when the lines fall to the right (y grows with x in image rows).
    """
    ys_i, xs_i = np.nonzero(dark_mask(gray))
    if len(ys_i) < 500:
        return 0.0
    if len(ys_i) > 300_000:  # a dense page: a regular sample measures the same
        step = len(ys_i) // 300_000 + 1
        ys_i, xs_i = ys_i[::step], xs_i[::step]
    ys = ys_i.astype(np.float64)
    xs = xs_i.astype(np.float64) - float(xs_i.mean())
    best = 0.0
    best_score = _profile_score(ys, xs, 0.0)
    for degrees in np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 1e-9, 0.25):
        score = _profile_score(ys, xs, math.tan(math.radians(float(degrees))))
        if score > best_score:
            best, best_score = float(degrees), score
    coarse = best
    for degrees in np.arange(coarse - 0.25, coarse + 0.25 + 1e-9, 0.05):
        score = _profile_score(ys, xs, math.tan(math.radians(float(degrees))))
        if score > best_score:
            best, best_score = float(degrees), score
    return round(best, 2)


def _window_counts(mask: NDArray[np.bool_], length: int) -> NDArray[np.int32]:
    """counts[y, i]: how many of mask[y, i : i + length] are set."""
    height, width = mask.shape
    cumulative = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, dtype=np.int32, out=cumulative[:, 1:])
    return cumulative[:, length:] - cumulative[:, :-length]


def _rule_pixels(
    mask: NDArray[np.bool_], length: int, clearance: int, axis: int
) -> NDArray[np.bool_]:
    """Pixels of thin lines at least `length` long along `axis` (1: horizontal).

    A window of `length` pixels is part of a line when it is nearly all dark (a
    rule blurred by the scanner and broken by JPEG blocks has gaps, one a pixel
    off level still counts) and,
    `clearance` pixels to one side, nearly all light: a rule stands free of the
    text it separates, while the middle of a bold word, which can fill a window
    too, has the rest of its letters above and below it.
    """
    m = mask if axis == 1 else mask.T
    height, width = m.shape
    if width < length or height <= 2 * clearance:
        return np.zeros_like(mask)
    # A rule a pixel off level (residual tilt, a wavy scan) is still one line.
    level = m.copy()
    level[1:] |= m[:-1]
    level[:-1] |= m[1:]
    dark = _window_counts(level, length) >= int(0.9 * length)
    if not dark.any():
        return np.zeros_like(mask)
    light = _window_counts(m, length) <= int(0.2 * length)
    above_light = np.ones_like(dark)  # beyond the page edge counts as light
    above_light[clearance:] = light[:-clearance]
    below_light = np.ones_like(dark)
    below_light[:-clearance] = light[clearance:]
    # Light on one side: a rule stands apart from the text it separates.
    full = dark & (above_light | below_light)
    starts = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(full, axis=1, dtype=np.int32, out=starts[:, 1 : full.shape[1] + 1])
    starts[:, full.shape[1] + 1 :] = starts[:, full.shape[1] : full.shape[1] + 1]
    # pixel x is covered when a full window starts in [x - length + 1, x]
    covered = np.empty((height, width), dtype=bool)
    covered[:, :length] = starts[:, 1 : length + 1] > 0
    covered[:, length:] = (starts[:, length + 1 :] - starts[:, 1 : width - length + 1]) > 0
    covered &= m
    return covered if axis == 1 else covered.T


def _tones(gray: NDArray[np.uint8]) -> tuple[float, float] | None:
    """(paper, ink) grey levels of a page; None for a blank or uniformly grey page."""
    sample = gray[::4, ::4]
    paper = float(np.percentile(sample, 75))
    ink = float(np.percentile(sample, 0.5))
    return (paper, ink) if paper - ink >= 40 else None


def remove_rules(gray: NDArray[np.uint8], dpi: float) -> NDArray[np.uint8]:
    """The page with its table rules and box lines painted over in the paper's tone.

    Rules run far longer than any stroke of a letter (half an inch); Tesseract
    reads rules crossing or boxing text as letters ("|", "[", "E") or gives up on
    a boxed cell. Letters touching a rule lose only the pixels on the rule itself.
    """
    tones = _tones(gray)
    if tones is None:
        return gray
    paper, ink = tones
    # A thin rule blurred by the scan is lighter than text strokes: count mid-greys.
    mask = gray < ink + 0.65 * (paper - ink)
    clearance = max(int(dpi / 50), 2)  # half a millimetre
    rules = _rule_pixels(mask, max(int(dpi / 2), 8), clearance, axis=1)
    rules |= _rule_pixels(mask, max(int(dpi / 2), 8), clearance, axis=0)
    if not rules.any():
        return gray
    # The blurred edge of a rule is part of it.
    halo = rules.copy()
    halo[1:] |= rules[:-1]
    halo[:-1] |= rules[1:]
    halo[:, 1:] |= rules[:, :-1]
    halo[:, :-1] |= rules[:, 1:]
    out = gray.copy()
    out[halo] = np.uint8(paper)
    return out
