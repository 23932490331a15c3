"""Image preparation before OCR (shared/documents/preprocess.py).

Pages are drawn in numpy: dark bars stand for text lines, thin long lines for
table rules. No Tesseract here; the OCR path itself is covered in test_parse.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from shared.documents.preprocess import remove_rules, skew_degrees

PAPER, INK = 235, 30


def text_page(degrees: float = 0.0, width: int = 800, height: int = 1000) -> NDArray[np.uint8]:
    """Lines of "words" (short dark bars with gaps) falling by `degrees` to the right."""
    page = np.full((height, width), PAPER, dtype=np.uint8)
    slope = math.tan(math.radians(degrees))
    for top in range(100, height - 100, 30):
        for left in range(60, width - 100, 50):
            for x in range(left, left + 38):
                y = round(top + slope * x)
                page[y : y + 8, x] = INK
    return page


@pytest.mark.parametrize("degrees", [-2.5, -1.2, -0.5, 0.7, 1.4, 3.0])
def test_skew_of_tilted_text_lines_is_measured_with_its_sign(degrees: float) -> None:
    assert skew_degrees(text_page(degrees)) == pytest.approx(degrees, abs=0.1)


def test_level_page_has_no_skew() -> None:
    assert skew_degrees(text_page(0.0)) == 0.0


def test_blank_page_has_no_skew() -> None:
    assert skew_degrees(np.full((500, 400), PAPER, dtype=np.uint8)) == 0.0


def ruled_page() -> NDArray[np.uint8]:
    page = text_page(0.0)
    page[95:98, 40:760] = INK  # a horizontal rule above the first line of text
    page[388:390, 40:760] = INK  # one between two lines
    page[90:700, 50:53] = INK  # a vertical rule left of the text
    return page


def test_table_rules_are_painted_over_in_the_paper_tone() -> None:
    cleaned = remove_rules(ruled_page(), dpi=300)
    assert (cleaned[95:98, 40:760] > 200).all()
    assert (cleaned[388:390, 40:760] > 200).all()
    assert (cleaned[90:700, 50:53] > 200).all()


def test_text_survives_rule_removal() -> None:
    page = ruled_page()
    cleaned = remove_rules(page, dpi=300)
    text = text_page(0.0) < 128
    untouched = ~np.zeros_like(text)
    untouched[93:100, :] = untouched[386:392, :] = False
    untouched[:, 48:55] = False
    assert (cleaned[text & untouched] == INK).all()


def test_bold_word_filling_its_middle_is_not_a_rule() -> None:
    """The cross-bars of a run of heavy letters ("eee") can be almost all ink, but
    the letters stand above and below them; a rule has paper on one side."""
    page = text_page(0.0)
    page[300:330, 100:400] = PAPER
    for left in range(100, 400, 22):  # heavy letters, 2 px apart, 24 px tall
        page[303:327, left : left + 5] = INK  # stems
        page[303:327, left + 15 : left + 20] = INK
        page[303:307, left : left + 20] = INK  # top, middle and bottom bars
        page[313:317, left : left + 20] = INK
        page[323:327, left : left + 20] = INK
    cleaned = remove_rules(page, dpi=300)
    assert (cleaned[309:321, 100:400] == page[309:321, 100:400]).all()


def test_page_without_rules_comes_back_unchanged() -> None:
    page = text_page(0.0)
    assert remove_rules(page, dpi=300) is page
