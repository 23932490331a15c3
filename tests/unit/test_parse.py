"""Parsing: text layers, OCR decisions, page geometry (shared/documents/parse.py).

Every fixture is built in code with PyMuPDF or Pillow. Real OCR is expensive, so
only two pages in this file go through Tesseract (both marked slow); the other
tests replace `ocr_page` with a recorder to check *whether* a page is OCR'd.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import pymupdf as _pymupdf
import pytest
from PIL import Image

from shared.config import OcrSettings
from shared.documents import parse as parse_module
from shared.documents.parse import Page, has_usable_text, parse_document, skew_slope
from shared.documents.sniff import MediaType, sniff
from shared.errors import ExtractionFailed

# PyMuPDF's partial annotations trip strict mypy; use it dynamically.
pymupdf: Any = _pymupdf

SETTINGS = OcrSettings()
A4 = (595.0, 842.0)
INVOICE_NUMBER = "INV-2024-0417"


def text_page(
    doc: Any, lines: list[tuple[float, float, str]], size: tuple[float, float] = A4
) -> Any:
    page = doc.new_page(width=size[0], height=size[1])
    for x, y, text in lines:
        page.insert_text((x, y), text, fontsize=14)
    return page


INVOICE_LINES = [
    (72.0, 100.0, "INVOICE"),
    (72.0, 140.0, f"Invoice number: {INVOICE_NUMBER}"),
    (72.0, 170.0, "Total due: 1,234.56 EUR"),
]


def invoice_pdf() -> bytes:
    with pymupdf.open() as doc:
        text_page(doc, INVOICE_LINES)
        data: bytes = doc.tobytes()
    return data


def rendered_png(dpi: int = 200) -> bytes:
    with pymupdf.open() as doc:
        page = text_page(doc, INVOICE_LINES)
        data: bytes = page.get_pixmap(dpi=dpi).tobytes("png")
    return data


def png_of(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 200).save(buffer, "PNG")
    return buffer.getvalue()


def assert_inside(page: Page) -> None:
    assert page.words
    for word in page.words:
        assert 0 <= word.x0 < word.x1 <= page.width, word
        assert 0 <= word.y0 < word.y1 <= page.height, word


def word_texts(page: Page) -> list[str]:
    return [word.text for word in page.words]


@dataclass
class OcrRecorder:
    """Stands in for `ocr_page`: records each call and lets MuPDF read no OCR text."""

    calls: list[tuple[int, bool]]

    def __call__(self, page: Any, settings: OcrSettings, *, image_page: bool) -> None:
        self.calls.append((int(page.number) + 1, image_page))


@pytest.fixture
def ocr_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    recorder = OcrRecorder([])
    monkeypatch.setattr(parse_module, "ocr_page", recorder)
    return recorder.calls


# --------------------------------------------------------------------------- PDF text layer


def test_born_digital_page_gives_positioned_words_without_ocr(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    parsed = parse_document(invoice_pdf(), MediaType.PDF, SETTINGS)
    assert len(parsed.pages) == 1
    page = parsed.pages[0]
    assert (page.number, page.width, page.height, page.ocr) == (1, *A4, False)
    assert ocr_calls == []
    assert parsed.ocr_pages == 0
    assert word_texts(page) == [
        "INVOICE",
        "Invoice",
        "number:",
        INVOICE_NUMBER,
        "Total",
        "due:",
        "1,234.56",
        "EUR",
    ]
    assert_inside(page)
    # in points, origin top-left: the word sits on the baseline it was written at
    first = page.words[0]
    assert first.x0 == pytest.approx(72.0, abs=1.0)
    assert first.y0 < 100.0 < first.y1 + 1.0
    assert INVOICE_NUMBER in page.text
    assert INVOICE_NUMBER in parsed.text


def test_words_come_in_reading_order_top_to_bottom_then_left_to_right() -> None:
    with pymupdf.open() as doc:
        # written bottom line first, right word first
        text_page(doc, [(300.0, 300.0, "right"), (72.0, 300.0, "left"), (72.0, 100.0, "top")])
        data = doc.tobytes()
    page = parse_document(data, MediaType.PDF, SETTINGS).pages[0]
    assert word_texts(page) == ["top", "left", "right"]


def test_pages_come_back_in_order_with_their_own_size() -> None:
    letter = (612.0, 792.0)
    with pymupdf.open() as doc:
        text_page(doc, [(72.0, 100.0, "first page of the invoice, A4 portrait")])
        text_page(doc, [(72.0, 100.0, "second page of the invoice, US Letter")], size=letter)
        data = doc.tobytes()
    parsed = parse_document(data, MediaType.PDF, SETTINGS)
    assert [(p.number, p.width, p.height) for p in parsed.pages] == [(1, *A4), (2, *letter)]
    assert word_texts(parsed.pages[1])[:2] == ["second", "page"]
    assert parsed.text.index("first") < parsed.text.index("second")


def test_blank_page_is_not_ocrd(ocr_calls: list[tuple[int, bool]]) -> None:
    with pymupdf.open() as doc:
        doc.new_page()
        data = doc.tobytes()
    page = parse_document(data, MediaType.PDF, SETTINGS).pages[0]
    assert ocr_calls == []
    assert page.ocr is False
    assert page.words == ()
    assert page.text.strip() == ""


def test_pdf_page_with_only_an_image_is_ocrd(ocr_calls: list[tuple[int, bool]]) -> None:
    with pymupdf.open() as doc:
        page = doc.new_page()
        page.insert_image(pymupdf.Rect(0, 0, 200, 100), stream=png_of(40, 20))
        data = doc.tobytes()
    parsed = parse_document(data, MediaType.PDF, SETTINGS)
    assert ocr_calls == [(1, False)]  # a PDF page is not an image page
    assert parsed.pages[0].ocr is True
    assert parsed.ocr_pages == 1


def test_pdf_page_with_a_logo_and_real_text_is_not_ocrd(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    with pymupdf.open() as doc:
        page = text_page(doc, INVOICE_LINES)
        page.insert_image(pymupdf.Rect(400, 40, 500, 90), stream=png_of(40, 20))
        data = doc.tobytes()
    assert parse_document(data, MediaType.PDF, SETTINGS).pages[0].ocr is False
    assert ocr_calls == []


def test_pdf_page_with_too_little_text_and_an_image_is_ocrd(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    with pymupdf.open() as doc:
        page = text_page(doc, [(72.0, 800.0, "p. 1")])  # a stamp on a scan
        page.insert_image(page.rect, stream=png_of(40, 60))
        data = doc.tobytes()
    assert parse_document(data, MediaType.PDF, SETTINGS).pages[0].ocr is True
    assert ocr_calls == [(1, False)]


def test_only_the_scanned_pages_of_a_mixed_pdf_are_ocrd(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    with pymupdf.open() as doc:
        text_page(doc, INVOICE_LINES)
        scan = doc.new_page()
        scan.insert_image(scan.rect, stream=png_of(40, 60))
        doc.new_page()  # blank
        data = doc.tobytes()
    parsed = parse_document(data, MediaType.PDF, SETTINGS)
    assert [p.ocr for p in parsed.pages] == [False, True, False]
    assert ocr_calls == [(2, False)]


def test_min_text_chars_setting_decides_what_counts_as_a_text_layer(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    with pymupdf.open() as doc:
        page = text_page(doc, [(72.0, 100.0, "Invoice 42")])  # 9 visible characters
        page.insert_image(pymupdf.Rect(0, 400, 200, 500), stream=png_of(40, 20))
        data = doc.tobytes()
    assert parse_document(data, MediaType.PDF, OcrSettings(min_text_chars=9)).pages[0].ocr is False
    assert parse_document(data, MediaType.PDF, OcrSettings(min_text_chars=10)).pages[0].ocr is True


# --------------------------------------------------------------------------- images


def test_every_tiff_frame_becomes_one_ocrd_page_in_order(
    ocr_calls: list[tuple[int, bool]],
) -> None:
    sizes = [(200, 100), (100, 200), (150, 150)]  # pixels, at 100 dpi
    frames = [Image.new("L", size, 255) for size in sizes]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], dpi=(100, 100))
    parsed = parse_document(buffer.getvalue(), MediaType.TIFF, SETTINGS)
    assert [p.number for p in parsed.pages] == [1, 2, 3]
    assert [(p.width, p.height) for p in parsed.pages] == [
        (w * 72 / 100, h * 72 / 100) for w, h in sizes
    ]
    assert all(p.ocr for p in parsed.pages)
    assert ocr_calls == [(1, True), (2, True), (3, True)]


@pytest.mark.slow
def test_png_of_rendered_text_is_ocrd_into_positioned_words() -> None:
    parsed = parse_document(rendered_png(dpi=200), MediaType.PNG, SETTINGS)
    assert len(parsed.pages) == 1
    page = parsed.pages[0]
    assert page.ocr is True
    assert parsed.ocr_pages == 1
    # the PNG carries its 200 dpi, so the page has the size of the page it was rendered from
    assert page.width == pytest.approx(A4[0], abs=1.0)
    assert page.height == pytest.approx(A4[1], abs=1.0)
    assert INVOICE_NUMBER in word_texts(page)
    assert "1,234.56" in word_texts(page)
    assert_inside(page)
    # OCR'd word boxes are in points too: the number sits where it was written
    number = next(w for w in page.words if w.text == INVOICE_NUMBER)
    assert number.y0 < 140.0 < number.y1 + 2.0
    assert 150.0 < number.x0 < 250.0


@pytest.mark.slow
def test_scanned_pdf_page_is_ocrd_into_positioned_words() -> None:
    with pymupdf.open() as doc:
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_image(page.rect, stream=rendered_png(dpi=150))
        data = doc.tobytes()
    page_result = parse_document(data, MediaType.PDF, SETTINGS).pages[0]
    assert page_result.ocr is True
    assert INVOICE_NUMBER in word_texts(page_result)
    assert INVOICE_NUMBER in page_result.text
    assert_inside(page_result)


# --------------------------------------------------------------------------- damaged input


def _truncated_png() -> bytes:
    return png_of(20, 20)[:-20]


def _truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, "JPEG")
    return buffer.getvalue()[:30]


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        pytest.param(b"%PDF-1.7\nthis is not a PDF body\n", MediaType.PDF, id="pdf-garbage"),
        pytest.param(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", MediaType.PDF, id="pdf-cut"),
        pytest.param(_truncated_png(), MediaType.PNG, id="png-cut"),
        pytest.param(_truncated_jpeg(), MediaType.JPEG, id="jpeg-cut"),
        pytest.param(b"II*\x00\x08\x00\x00\x00", MediaType.TIFF, id="tiff-header-only"),
    ],
)
def test_damaged_but_sniffed_input_raises_extraction_failed(
    data: bytes, media_type: MediaType
) -> None:
    assert sniff(data) is media_type
    with pytest.raises(ExtractionFailed) as excinfo:
        parse_document(data, media_type, SETTINGS)
    assert excinfo.value.code == "unparseable"
    assert excinfo.value.__cause__ is not None  # the MuPDF error is kept for the logs


def test_media_type_without_a_parser_raises_extraction_failed() -> None:
    with pytest.raises(ExtractionFailed) as excinfo:
        parse_document(b"PK\x03\x04", MediaType.ZIP, SETTINGS)
    assert excinfo.value.code == "unparseable"


def test_ocr_engine_error_becomes_extraction_failed_naming_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_ocr(page: Any, settings: OcrSettings, *, image_page: bool) -> None:
        raise RuntimeError("tesseract exploded")

    monkeypatch.setattr(parse_module, "ocr_page", broken_ocr)
    with pytest.raises(ExtractionFailed, match="page 1: tesseract exploded") as excinfo:
        parse_document(png_of(30, 30), MediaType.PNG, SETTINGS)
    assert excinfo.value.code == "ocr_failed"


def test_ocr_language_without_a_shipped_model_fails_with_ocr_unavailable() -> None:
    settings = OcrSettings(languages="eng+xyz")
    with pytest.raises(ExtractionFailed, match="xyz") as excinfo:
        parse_document(png_of(30, 30), MediaType.PNG, settings)
    assert excinfo.value.code == "ocr_unavailable"


# --------------------------------------------------------------------------- has_usable_text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(" \n\t \u00a0\n" * 10, id="whitespace-only"),
        pytest.param("\ufffd" * 40, id="all-unmapped"),
        pytest.param("Invoice " + "\ufffd" * 40, id="mostly-unmapped"),
        pytest.param("\x01\x02\x03" * 10, id="control-characters"),
        pytest.param("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9", id="19-visible-chars"),
    ],
)
def test_text_layer_without_enough_real_characters_is_not_usable(text: str) -> None:
    assert has_usable_text(text, 20) is False


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Invoice INV-1001\nTotal 1,234.56 EUR\n", id="normal"),
        pytest.param("Rechnung Nr. 2024-117 über 1.234,56 €", id="accented"),
        pytest.param("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0", id="20-visible-chars"),
        pytest.param("Invoice INV-1001 Total 1,234.56 EUR\ufffd", id="one-stray-unmapped"),
    ],
)
def test_text_layer_with_enough_real_characters_is_usable(text: str) -> None:
    assert has_usable_text(text, 20) is True


# --------------------------------------------------------------------------- skew_slope

RawWord = tuple[float, float, float, float, str, int, int, int]


def tilted_lines(degrees: float, lines: int = 4, words: int = 5) -> list[RawWord]:
    """Raw MuPDF word tuples of `lines` text lines drifting by `degrees` (y grows down)."""
    slope = math.tan(math.radians(degrees))
    raw: list[RawWord] = []
    for line in range(lines):
        for index in range(words):
            x0 = 60.0 + 90.0 * index
            centre_y = 100.0 + 40.0 * line + slope * (x0 + 30.0)
            raw.append((x0, centre_y - 6.0, x0 + 60.0, centre_y + 6.0, "word", 0, line, index))
    return raw


def as_any(raw: list[RawWord]) -> list[tuple[Any, ...]]:
    return list(raw)


def test_skew_slope_of_level_lines_is_zero() -> None:
    assert skew_slope(as_any(tilted_lines(0.0))) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("degrees", [1.0, -1.0, 2.0])
def test_skew_slope_measures_the_tilt_with_its_sign(degrees: float) -> None:
    slope = skew_slope(as_any(tilted_lines(degrees)))
    assert slope == pytest.approx(math.tan(math.radians(degrees)), rel=1e-6)
    assert math.copysign(1.0, slope) == math.copysign(1.0, degrees)


def test_skew_slope_takes_the_median_line_so_one_odd_line_does_not_count() -> None:
    raw = tilted_lines(1.0, lines=4)
    odd = [(w[0], w[1] + 0.3 * w[0], w[2], w[3] + 0.3 * w[0], *w[4:7], w[7]) for w in raw[:5]]
    slope = skew_slope(as_any(odd + raw[5:]))
    assert slope == pytest.approx(math.tan(math.radians(1.0)), rel=1e-6)


def test_skew_slope_needs_three_lines_of_three_words() -> None:
    assert skew_slope(as_any(tilted_lines(1.0, lines=2))) == 0.0
    assert skew_slope(as_any(tilted_lines(1.0, lines=5, words=2))) == 0.0
    assert skew_slope([]) == 0.0


def test_skew_slope_ignores_lines_whose_words_are_stacked_vertically() -> None:
    raw = tilted_lines(1.0, lines=3)
    stacked: list[RawWord] = [
        (500.0, 300.0 + 20 * i, 540.0, 310.0 + 20 * i, "w", 9, 0, i) for i in range(3)
    ]
    slope = skew_slope(as_any(raw + stacked))
    assert slope == pytest.approx(math.tan(math.radians(1.0)), rel=1e-6)


def test_rotated_page_words_are_in_the_coordinates_of_the_page_as_shown() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((400, 800), "footer", fontsize=10)
    page.set_rotation(90)
    parsed = parse_document(doc.tobytes(), MediaType.PDF, OcrSettings())
    shown = parsed.pages[0]
    assert (shown.width, shown.height) == (842, 595)
    word = next(w for w in shown.words if w.text == "footer")
    assert 0 <= word.x0 < word.x1 <= shown.width
    assert 0 <= word.y0 < word.y1 <= shown.height


def test_ocr_raster_of_a_huge_page_stays_under_the_pixel_cap() -> None:
    from shared.documents.ocr import ocr_dpi_for

    doc = pymupdf.open()
    page = doc.new_page(width=2000, height=2000)
    settings = OcrSettings(max_pixels=10_000_000)
    dpi = ocr_dpi_for(page, settings, image_page=False)
    side = 2000 / 72 * dpi
    assert side * side <= settings.max_pixels
    a4 = doc.new_page(width=595, height=842)
    assert ocr_dpi_for(a4, settings, image_page=False) == settings.dpi


@pytest.mark.slow
def test_tilted_scan_is_read_level_with_its_table_rules_removed() -> None:
    with pymupdf.open() as doc:
        page = text_page(doc, INVOICE_LINES)
        page.draw_line((60, 180), (540, 180), width=1.0)  # a table rule under the total
        png = page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY).tobytes("png")
    tilted = Image.open(io.BytesIO(png)).rotate(1.5, fillcolor=255, expand=False)
    buffer = io.BytesIO()
    tilted.save(buffer, "PNG", dpi=(200, 200))
    result = parse_document(buffer.getvalue(), MediaType.PNG, SETTINGS).pages[0]
    assert INVOICE_NUMBER in word_texts(result)
    assert not any("_" in text or "—" in text for text in word_texts(result))
    # read level: the words of one line share their vertical position
    total = [w for w in result.words if w.text in ("Total", "1,234.56", "EUR")]
    assert len(total) == 3
    assert max(w.y0 for w in total) - min(w.y0 for w in total) < 2.0
