"""Fast tests of the invoice corpus generator (tests/corpus)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.extraction.schema import MONEY_FIELDS, InvoiceFields
from tests.corpus import render
from tests.corpus.formats import MoneyFormat, NumberFormat, format_date
from tests.corpus.generator import CorpusItem, generate_corpus, plan
from tests.corpus.places import iban_is_valid
from tests.corpus.scan import open_document
from tests.corpus.vocab import LANGUAGES

COUNT = 12
SEED = 11

TESSDATA = Path(__file__).resolve().parents[2] / "shared" / "documents" / "tessdata"
TESS_LANG = {"en": "eng", "de": "deu", "fr": "fra", "nl": "nld", "es": "spa", "it": "ita"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[CorpusItem]:
    return generate_corpus(tmp_path_factory.mktemp("corpus"), count=COUNT, seed=SEED, scans=False)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[CorpusItem]:
    # item 0 is a multi-page invoice, item 1 a single-page credit note
    return generate_corpus(tmp_path_factory.mktemp("scans"), count=2, seed=SEED, scans=True)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def pdf_pages(item: CorpusItem) -> list[str]:
    with open_document(item.pdf_path) as doc:
        return [norm(page.get_text()) for page in doc]


def printed(item: CorpusItem) -> dict[str, Any]:
    meta = json.loads(item.pdf_path.with_suffix(".meta.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = meta["printed"]
    return result


def in_order(words: list[str], tokens: list[str]) -> bool:
    """The words occur in this order (wrapped cells may interleave with other cells)."""
    rest = iter(tokens)
    return all(any(word == tok for tok in rest) for word in words)


# --------------------------------------------------------------------------- corpus shape


def test_languages_spread_evenly_and_layouts_vary(corpus: list[CorpusItem]) -> None:
    assert len(corpus) == COUNT
    assert Counter(item.language for item in corpus) == {lang: 2 for lang in LANGUAGES}
    assert len({item.layout for item in corpus}) >= 7
    assert [item.id for item in corpus][:3] == ["inv-000-en", "inv-001-de", "inv-002-fr"]


def test_default_corpus_schedule_covers_variants() -> None:
    plans = [plan(i) for i in range(72)]
    assert Counter(p.language for p in plans) == {lang: 12 for lang in LANGUAGES}
    for lang in LANGUAGES:
        mine = [p for p in plans if p.language == lang]
        assert sum(p.multipage for p in mine) == 2
        assert sum(p.credit for p in mine) == 1
        assert len({p.layout for p in mine}) == 7
    assert not any(p.multipage and p.credit for p in plans)


def test_files_written_and_truth_matches(corpus: list[CorpusItem]) -> None:
    for item in corpus:
        assert item.pdf_path.is_file() and item.scan_path is None
        truth_file = item.pdf_path.with_name(f"{item.id}.truth.json")
        assert json.loads(truth_file.read_text(encoding="utf-8")) == item.truth
    manifest = json.loads((corpus[0].pdf_path.parent / "manifest.json").read_text())
    assert [entry["id"] for entry in manifest["items"]] == [item.id for item in corpus]


def test_deterministic_for_a_seed(corpus: list[CorpusItem], tmp_path: Path) -> None:
    again = generate_corpus(tmp_path / "a", count=4, seed=SEED, scans=False)
    assert [item.truth for item in again] == [item.truth for item in corpus[:4]]
    assert [item.pdf_path.read_bytes() for item in again] == [
        item.pdf_path.read_bytes() for item in corpus[:4]
    ]
    other = generate_corpus(tmp_path / "b", count=4, seed=SEED + 1, scans=False)
    assert [item.truth for item in other] != [item.truth for item in again]


def test_without_dejavu_only_fonts_differ(
    corpus: list[CorpusItem], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "FONT_DIR", tmp_path / "no-fonts")
    fallback = generate_corpus(tmp_path / "core", count=COUNT, seed=SEED, scans=False)
    assert [item.truth for item in fallback] == [item.truth for item in corpus]
    fonts = {
        json.loads(it.pdf_path.with_suffix(".meta.json").read_text())["font"] for it in fallback
    }
    assert fonts <= {"helvetica", "times", "courier"}


# --------------------------------------------------------------------------- ground truth


def test_truth_validates_against_schema(corpus: list[CorpusItem]) -> None:
    for item in corpus:
        InvoiceFields.model_validate(item.truth)  # canonical names only, valid types
        for name in MONEY_FIELDS:
            if name in item.truth:
                assert re.fullmatch(r"-?\d+\.\d\d", item.truth[name]), (item.id, name)
        for name in ("invoice_date", "due_date"):
            if name in item.truth:
                dt.date.fromisoformat(item.truth[name])
        assert re.fullmatch(r"[A-Z]{3}", item.truth["currency"])
        if "iban" in item.truth:
            assert iban_is_valid(item.truth["iban"]) and " " not in item.truth["iban"]
        if "vendor_tax_id" in item.truth:
            assert " " not in item.truth["vendor_tax_id"]


def test_truth_is_arithmetically_consistent(corpus: list[CorpusItem]) -> None:
    cent = Decimal("0.01")
    for item in corpus:
        t = item.truth
        items = t["line_items"]
        assert items
        for line in items:
            product = Decimal(line["quantity"]) * Decimal(line["unit_price"])
            assert Decimal(line["amount"]) == product.quantize(cent, ROUND_HALF_UP), item.id
        subtotal = sum((Decimal(line["amount"]) for line in items), Decimal(0))
        assert Decimal(t["subtotal"]) == subtotal
        discount = Decimal(t.get("total_discount", "0"))
        total = subtotal - discount + Decimal(t["total_tax"])
        assert Decimal(t["invoice_total"]) == total
        if not discount and all("tax_rate" in line for line in items):
            by_rate: dict[str, Decimal] = {}
            for line in items:
                by_rate[line["tax_rate"]] = by_rate.get(line["tax_rate"], Decimal(0)) + Decimal(
                    line["amount"]
                )
            tax = sum(
                ((base * Decimal(rate) / 100).quantize(cent, ROUND_HALF_UP))
                for rate, base in by_rate.items()
            )
            assert Decimal(t["total_tax"]) == tax, item.id
        if "previous_unpaid_balance" in t:
            expected = total + Decimal(t["previous_unpaid_balance"])
            assert Decimal(t["amount_due"]) == expected
        elif "amount_due" in t:
            assert Decimal(t["amount_due"]) <= total  # equal, or less after a prepayment


def test_credit_notes_are_negative(corpus: list[CorpusItem]) -> None:
    credits = [item for item in corpus if plan(int(item.id[4:7])).credit]
    assert credits
    for item in credits:
        assert Decimal(item.truth["invoice_total"]) < 0
        assert all(Decimal(line["amount"]) < 0 for line in item.truth["line_items"])
        assert all(Decimal(line["quantity"]) > 0 for line in item.truth["line_items"])


# --------------------------------------------------------------------------- the PDFs


def test_every_truth_value_is_printed_in_the_pdf(corpus: list[CorpusItem]) -> None:
    for item in corpus:
        text = " ".join(pdf_pages(item))
        tokens = text.split(" ")
        assert item.truth["invoice_id"] in text
        assert item.truth["vendor_name"] in text
        assert item.truth["customer_name"] in text
        shown = printed(item)
        assert set(shown) <= set(item.truth) | {"line_items"}
        for name, value in shown.items():
            if name == "line_items":
                assert len(value) == len(item.truth["line_items"])
                for row in value:
                    for key, cell in row.items():
                        if key == "description":  # may wrap onto a second line
                            assert in_order(norm(cell).split(" "), tokens), (item.id, cell)
                        else:
                            assert norm(cell) in text, (item.id, key, cell)
                continue
            for part in value if isinstance(value, list) else [value]:
                assert norm(part) in text, (item.id, name, part)


def test_multipage_invoices_span_pages(corpus: list[CorpusItem]) -> None:
    multi = [item for item in corpus if plan(int(item.id[4:7])).multipage]
    assert len(multi) == 2
    for item in multi:
        pages = pdf_pages(item)
        assert item.pages == len(pages) >= 2
        lines = item.truth["line_items"]
        assert len(lines) >= 25
        first_words = norm(lines[0]["description"]).split(" ")
        last_words = norm(lines[-1]["description"]).split(" ")
        assert in_order(first_words, pages[0].split(" "))
        assert not in_order(last_words, pages[0].split(" "))  # the table continues ...
        assert in_order(last_words, " ".join(pages[1:]).split(" "))  # ... on later pages
        total = printed(item)["invoice_total"]
        assert norm(total) in pages[-1]  # totals on the last page


# --------------------------------------------------------------------------- scans


def test_scans_open_with_the_right_page_count(scanned: list[CorpusItem]) -> None:
    assert [item.pages > 1 for item in scanned] == [True, False]
    for item in scanned:
        assert item.scan_path is not None and item.scan_path.is_file()
        suffix = item.scan_path.suffix
        assert suffix == ".tiff" if item.pages > 1 else suffix in (".png", ".jpg")
        with open_document(item.scan_path) as doc:
            assert doc.page_count == item.pages
            assert doc[0].rect.width > 0


@pytest.mark.slow
def test_scan_is_readable_by_tesseract(scanned: list[CorpusItem]) -> None:
    item = scanned[1]
    assert item.scan_path is not None
    if not (TESSDATA / f"{TESS_LANG[item.language]}.traineddata").is_file():
        pytest.skip("tessdata not available")
    with open_document(item.scan_path) as image:
        pdf = open_document("pdf", image.convert_to_pdf())
    page = pdf[0]
    textpage = page.get_textpage_ocr(
        tessdata=str(TESSDATA), language=TESS_LANG[item.language], dpi=300, full=True
    )
    text = norm(textpage.extractText())
    values = [v for k, v in printed(item).items() if k != "line_items" and isinstance(v, str)]
    found = sum(norm(v) in text for v in values)
    assert item.truth["invoice_id"] in text
    assert found >= 0.6 * len(values)


# --------------------------------------------------------------------------- formatting


def test_number_and_money_formats() -> None:
    value = Decimal("1234.56")
    assert NumberFormat(",", ".").number(value, 2) == "1,234.56"
    assert NumberFormat(".", ",").number(value, 2) == "1.234,56"
    assert NumberFormat("\u202f", ",").number(value, 2) == "1\u202f234,56"
    assert NumberFormat("'", ".").number(Decimal("1234567.5"), 2) == "1'234'567.50"
    assert NumberFormat(".", ",", group_min=5).number(value, 2) == "1234,56"
    eur = NumberFormat(".", ",")
    assert MoneyFormat(eur, "{n} {s}", "€", "EUR").format(Decimal("-120")) == "-120,00 €"
    assert MoneyFormat(eur, "{n} {c}", "€", "EUR", "trailing").format(Decimal(-120)) == (
        "120,00- EUR"
    )
    usd = NumberFormat(",", ".")
    assert MoneyFormat(usd, "{s}{n}", "$", "USD", "parens").format(Decimal(-120)) == "($120.00)"
    assert MoneyFormat(usd, "{s}{n}", "$", "USD").format(Decimal(-120)) == "-$120.00"


def test_dates_in_all_languages() -> None:
    day = dt.date(2024, 12, 31)
    expected = {
        ("en", "d_month_y"): "31 December 2024",
        ("en", "month_d_y"): "December 31, 2024",
        ("en", "dash_mon"): "31-Dec-2024",
        ("en", "mdy_slash"): "12/31/2024",
        ("de", "d_month_y"): "31. Dezember 2024",
        ("de", "dmy_dot"): "31.12.2024",
        ("fr", "d_month_y"): "31 décembre 2024",
        ("fr", "d_mon_y"): "31 déc. 2024",
        ("nl", "d_month_y"): "31 december 2024",
        ("nl", "dmy_dash"): "31-12-2024",
        ("es", "d_month_y"): "31 de diciembre de 2024",
        ("it", "d_month_y"): "31 dicembre 2024",
        ("it", "iso"): "2024-12-31",
    }
    for (lang, style), text in expected.items():
        assert format_date(day, style, lang) == text
    assert format_date(dt.date(2024, 3, 1), "d_month_y", "fr") == "1er mars 2024"
    assert format_date(dt.date(2024, 1, 5), "d_month_y", "de", "de-AT") == "5. Jänner 2024"
