"""Amounts, currencies and percentages in invoice text (shared/extraction/amounts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.extraction.amounts import (
    Money,
    currency_from_text,
    detect_decimal_separator,
    find_amounts,
    find_percentages,
    parse_amount,
)

D = Decimal


def values(text: str, decimal_separator: str | None = None) -> list[tuple[Decimal, str | None]]:
    return [(m.value, m.currency) for m in find_amounts(text, decimal_separator)]


# --------------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("1.234,56", "1234.56", None),
        ("1,234.56", "1234.56", None),
        ("1 234,56", "1234.56", None),
        ("1\u00a0234,56", "1234.56", None),
        ("1\u202f234,56", "1234.56", None),
        ("1'234.56", "1234.56", None),
        ("1’234.56", "1234.56", None),
        ("1234.56", "1234.56", None),
        ("1234,56", "1234.56", None),
        ("12,50", "12.50", None),
        ("12.5", "12.5", None),
        ("0,125", "0.125", None),
        (".50", "0.50", None),
        (",5", "0.5", None),
        ("1234", "1234", None),
        ("1 234", "1234", None),
        ("1.234.567", "1234567", None),
        ("1,234,567.891", "1234567.891", None),
        ("€ 1.234,56", "1234.56", "EUR"),
        ("1.234,56 €", "1234.56", "EUR"),
        ("€1.234,56", "1234.56", "EUR"),
        ("EUR 1,234.56", "1234.56", "EUR"),
        ("1 234,56 EUR", "1234.56", "EUR"),
        ("$1,234.56", "1234.56", "USD"),
        ("US$ 1,234.56", "1234.56", "USD"),
        ("CHF 1'234.50", "1234.50", "CHF"),
        ("Fr. 12.50", "12.50", "CHF"),
        ("SFr. 12.50", "12.50", "CHF"),
        ("£12.00", "12.00", "GBP"),
        ("12,50 Euro", "12.50", "EUR"),
        ("C$ 10.00", "10.00", "CAD"),
        ("A$10.00", "10.00", "AUD"),
        ("1 234,56 zł", "1234.56", "PLN"),
        ("1 234,56 Kč", "1234.56", "CZK"),
        ("1 234,56 SEK", "1234.56", "SEK"),
        ("1 234,56 kr", "1234.56", None),
        ("¥1,200", "1200", "JPY"),
        ("  12,50 €  ", "12.50", "EUR"),
    ],
)
def test_parse_amount_reads_each_notation_and_currency(
    text: str, value: str, currency: str | None
) -> None:
    money = parse_amount(text)
    assert money is not None
    assert money.value == D(value)
    assert money.value.as_tuple().exponent == D(value).as_tuple().exponent
    assert money.currency == currency


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("-120,00", "-120.00", None),
        ("- 120.00", "-120.00", None),
        ("−120.00", "-120.00", None),
        ("–120.00", "-120.00", None),
        ("(120.00)", "-120.00", None),
        ("120,00-", "-120.00", None),
        ("-€120.00", "-120.00", "EUR"),
        ("€-120.00", "-120.00", "EUR"),
        ("€ -120.00", "-120.00", "EUR"),
        ("(EUR 1.234,56)", "-1234.56", "EUR"),
        ("(1.234,56 €)", "-1234.56", "EUR"),
        ("120,00- EUR", "-120.00", "EUR"),
        ("120,00 EUR-", "-120.00", "EUR"),
        ("+12,00", "12.00", None),
        ("-0,00", "0.00", None),
    ],
)
def test_parse_amount_reads_negative_and_positive_signs(
    text: str, value: str, currency: str | None
) -> None:
    money = parse_amount(text)
    assert money is not None
    assert (money.value, money.currency) == (D(value), currency)


def test_parse_amount_reads_negative_zero_as_plain_zero() -> None:
    money = parse_amount("-0,00")
    assert money is not None and not money.value.is_signed()


@pytest.mark.parametrize(("text", "value"), [("12,-", "12.00"), ("1.234,–", "1234.00")])
def test_parse_amount_reads_dash_decimals_as_whole_amount(text: str, value: str) -> None:
    money = parse_amount(text)
    assert money is not None and money.value == D(value)


def test_parse_amount_reads_letter_o_as_zero_from_ocr() -> None:
    money = parse_amount("1O0,O0 €")
    assert money is not None and money.value == D("100.00")


@pytest.mark.parametrize(
    ("text", "hint", "value"),
    [
        ("1.234", None, "1234"),
        ("1,234", None, "1234"),
        ("1.234", ",", "1234"),
        ("1,234", ".", "1234"),
        ("1.234", ".", "1.234"),
        ("1,234", ",", "1.234"),
        ("1.234.567", None, "1234567"),
        ("12,50", ".", "12.50"),
        ("12.50", ",", "12.50"),
        ("1234,567", None, "1234.567"),
    ],
)
def test_parse_amount_resolves_single_three_digit_group_with_the_hint(
    text: str, hint: str | None, value: str
) -> None:
    money = parse_amount(text, hint)
    assert money is not None and money.value == D(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "€",
        "12%",
        "1.234.56",
        "1,234,56",
        "1.234,567,89",
        "12,50 €  extra",
        "ABC 12,50",
        "--12",
        "(12,50",
        "-(12,50)",
        "€ 12 $",
        "31.12.2024",
        "2024-12-31",
        "1,2,3",
    ],
)
def test_parse_amount_rejects_anything_but_exactly_one_amount(text: str) -> None:
    assert parse_amount(text) is None


def test_parse_amount_reports_the_span_in_the_original_string() -> None:
    money = parse_amount("  € 12,50 ")
    assert money == Money(D("12.50"), "EUR", "€ 12,50", 2, 9)


def test_parse_amount_rejects_an_unknown_decimal_separator_hint() -> None:
    with pytest.raises(ValueError):
        parse_amount("12,50", ";")


# --------------------------------------------------------------------------- find_amounts


def test_find_amounts_reports_amounts_left_to_right_with_spans() -> None:
    text = "Netto 1.000,00 € MwSt 190,00 € Brutto 1.190,00 €"
    found = find_amounts(text)
    assert [(m.value, m.currency) for m in found] == [
        (D("1000.00"), "EUR"),
        (D("190.00"), "EUR"),
        (D("1190.00"), "EUR"),
    ]
    for m in found:
        assert text[m.start : m.end] == m.text
    assert [m.text for m in found] == ["1.000,00 €", "190,00 €", "1.190,00 €"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Total €1.234,56 due", [("1234.56", "EUR")]),
        ("Total: EUR 1,234.56", [("1234.56", "EUR")]),
        ("Montant 1 234,56 EUR", [("1234.56", "EUR")]),
        ("Montant 1\u202f234,56\u00a0€", [("1234.56", "EUR")]),
        ("Betrag CHF 1'234.50 inkl.", [("1234.50", "CHF")]),
        ("Amount £12.00 paid", [("12.00", "GBP")]),
        ("EUR1.234,56 and 1.234,56EUR", [("1234.56", "EUR"), ("1234.56", "EUR")]),
        ("Preis 12,- EUR", [("12.00", "EUR")]),
        ("Summe: 1 000 € netto", [("1000", "EUR")]),
        ("Qty 1 €50.00 €50.00", [("50.00", "EUR"), ("50.00", "EUR")]),
        ("10,00 € 20,00 €", [("10.00", "EUR"), ("20.00", "EUR")]),
        ("Gutschrift 120,00- EUR", [("-120.00", "EUR")]),
        ("Rabatt - 12,50 €", [("-12.50", "EUR")]),
        ("Credit (120.00) applied", [("-120.00", None)]),
        ("Betrag:-12,50", [("-12.50", None)]),
        ("-€120.00 and €-120.00", [("-120.00", "EUR"), ("-120.00", "EUR")]),
        ("Price 12.5 each", [("12.5", None)]),
        ("1,234 units", [("1234", None)]),
        ("1.234.567 units", [("1234567", None)]),
        ("Total 12.50.", [("12.50", None)]),
        ("Total 1O0,O0 €", [("100.00", "EUR")]),
    ],
)
def test_find_amounts_finds_amounts_in_a_line(
    text: str, expected: list[tuple[str, str | None]]
) -> None:
    assert values(text) == [(D(v), c) for v, c in expected]


def test_find_amounts_reads_a_spaced_dash_between_numbers_as_a_range() -> None:
    assert values("10,00 - 20,00") == [(D("10.00"), None), (D("20.00"), None)]


def test_find_amounts_uses_the_hint_for_single_three_digit_groups() -> None:
    assert values("Preis 1,234 EUR", ",") == [(D("1.234"), "EUR")]
    assert values("Preis 1,234 EUR") == [(D("1234"), "EUR")]


@pytest.mark.parametrize(
    "text",
    [
        "Rechnungsdatum 31.12.2024",
        "Datum 31.12.24",
        "Date 2024-12-31",
        "Date 12/31/2024",
        "Zeitraum 01.12. - 31.12.",
        "Time 10:30",
        "Invoice 2024-00123",
        "Invoice INV-1001",
        "Invoice INV1001",
        "Rechnung Nr. 12345",
        "PLZ 75001 Paris",
        "10115 Berlin",
        "Qty 3",
        "Year 2024",
        "MwSt 19 %",
        "MwSt 19%",
        "TVA 5,5 %",
        "IVA 21,00%",
        "19 Prozent",
        "IBAN DE89 3704 0044 0532 0130 00",
        "IBAN DE89370400440532013000 EUR",
        "IBAN DE89 3704 0044 0532 0130 00 EUR",
        "Tel. +49 30 1234567",
        "Tel +33 1 23 45 67 89 EUR",
        "Fax 030/123456-78",
        "IP 192.168.1.20",
        "Version v1.2.3",
        "12.50kg",
        "Art. #12.50",
        "Kundennummer 0123,45",
        "Total: 1.234,56.78",
        "EAN 4006381333931",
        "x-12,50",
    ],
)
def test_find_amounts_ignores_dates_ids_percentages_ibans_phones_and_bare_integers(
    text: str,
) -> None:
    assert find_amounts(text) == []


def test_find_amounts_keeps_the_amount_next_to_excluded_things() -> None:
    text = "Rechnung Nr. 2024-00123 vom 31.12.2024, MwSt 19 %: Summe 1.234,56 EUR"
    assert values(text) == [(D("1234.56"), "EUR")]
    text = "Tel. +49 30 1234567  Betrag 12,50"
    assert values(text) == [(D("12.50"), None)]


def test_find_amounts_of_text_without_numbers_is_empty() -> None:
    assert find_amounts("") == []
    assert find_amounts("Vielen Dank für Ihren Auftrag") == []


# --------------------------------------------------------------------------- percentages


def test_find_percentages_reads_percent_signs_and_words() -> None:
    text = "MwSt 19 % und 5,5% sowie -5 % und 7.7 Prozent"
    assert find_percentages(text) == [
        (D("19"), 5, 9),
        (D("5.5"), 14, 18),
        (D("-5"), 25, 29),
        (D("7.7"), 34, 45),
    ]


def test_find_percentages_ignores_plain_numbers_and_amounts() -> None:
    assert find_percentages("Total 12,50 € am 31.12.2024") == []


# --------------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Betrag in Euro", "EUR"),
        ("Alle Preise in EUR", "EUR"),
        ("Total $12", "USD"),
        ("Total US$ 12", "USD"),
        ("Currency: USD", "USD"),
        ("Amount in pounds sterling", "GBP"),
        ("£", "GBP"),
        ("Preise in Schweizer Franken", "CHF"),
        ("Total SFr. 20", "CHF"),
        ("Total 12 Fr.", "CHF"),
        ("francs suisses", "CHF"),
        ("Total C$ 12", "CAD"),
        ("dollars canadiens", "CAD"),
        ("A$ 12", "AUD"),
        ("SEK", "SEK"),
        ("NOK", "NOK"),
        ("DKK", "DKK"),
        ("PLN", "PLN"),
        ("złoty", "PLN"),
        ("CZK", "CZK"),
        ("JPY", "JPY"),
        ("yen", "JPY"),
        ("CAD drawings, total 12,50 €", "EUR"),
    ],
)
def test_currency_from_text_finds_symbols_codes_and_names(text: str, iso: str) -> None:
    assert currency_from_text(text) == iso


@pytest.mark.parametrize("text", ["", "nothing here", "ALL ITEMS", "KG", "Frau Meier"])
def test_currency_from_text_returns_none_without_a_currency(text: str) -> None:
    assert currency_from_text(text) is None


# --------------------------------------------------------------------------- decimal separator


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (["1.234,56", "12,50", "31.12.2024"], ","),
        (["1,234.56", "12.50"], "."),
        (["1 234,56 €"], ","),
        (["1'234.50"], "."),
        (["1.234.567"], ","),
        (["1,234,567"], "."),
        (["TVA 5,5 %"], ","),
        (["12,-"], ","),
        (["1.234"], None),
        (["1,234"], None),
        (["31.12.2024", "2024-12-31", "INV-1001"], None),
        ([], None),
        (["12,50", "12.50"], None),
    ],
)
def test_detect_decimal_separator_weighs_the_evidence(
    samples: list[str], expected: str | None
) -> None:
    assert detect_decimal_separator(samples) == expected


# --------------------------------------------------------------------------- properties

NOTATIONS = [
    ("en", ",", "."),
    ("de", ".", ","),
    ("fr-space", " ", ","),
    ("fr-nbsp", "\u00a0", ","),
    ("fr-nnbsp", "\u202f", ","),
    ("ch", "'", "."),
    ("ch-typographic", "’", "."),
    ("plain-dot", "", "."),
    ("plain-comma", "", ","),
]
CURRENCIES = [
    (None, None),
    ("€", "EUR"),
    ("EUR", "EUR"),
    ("$", "USD"),
    ("US$", "USD"),
    ("USD", "USD"),
    ("£", "GBP"),
    ("CHF", "CHF"),
    ("Fr.", "CHF"),
    ("SEK", "SEK"),
]
NEGATIVE_STYLES = ["lead", "lead-spaced", "minus-sign", "parens", "trailing", "sign-after-currency"]


def format_number(value: Decimal, group: str, decimal: str) -> str:
    int_part, dec_part = f"{abs(value):.2f}".split(".")
    if group:
        chunks: list[str] = []
        while len(int_part) > 3:
            chunks.insert(0, int_part[-3:])
            int_part = int_part[:-3]
        int_part = group.join([int_part, *chunks])
    return f"{int_part}{decimal}{dec_part}"


@st.composite
def formatted_amounts(draw: st.DrawFn) -> tuple[str, Decimal, str | None]:
    value = draw(
        st.decimals(
            min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False
        )
    )
    _, group, decimal = draw(st.sampled_from(NOTATIONS))
    symbol, iso = draw(st.sampled_from(CURRENCIES))
    before = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\u00a0"]))
    number = format_number(value, group, decimal)
    negative = value < 0
    style = draw(st.sampled_from(NEGATIVE_STYLES)) if negative else "none"
    if style == "sign-after-currency" and (symbol is None or not before):
        style = "lead"
    if style == "trailing" and symbol is not None and symbol[0].isalpha() and not space:
        space = " "  # "12,50- EUR" and "12,50EUR" are read, "12,50-EUR" is not
    sign = {"lead": "-", "lead-spaced": "- ", "minus-sign": "−"}.get(style, "")
    if symbol is None:
        core = f"{sign}{number}"
        if style == "trailing":
            core = f"{number}-"
    elif before:
        if style == "sign-after-currency":
            core = f"{symbol}{space}-{number}"
        elif style == "trailing":
            core = f"{symbol}{space}{number}-"
        else:
            core = f"{sign}{symbol}{space}{number}"
    else:
        if style == "trailing":
            core = f"{number}-{space}{symbol}"
        else:
            core = f"{sign}{number}{space}{symbol}"
    if style == "parens":
        core = f"({core})"
    return core, value, iso


@settings(max_examples=200, deadline=None)
@given(formatted_amounts())
def test_parse_amount_round_trips_every_notation(case: tuple[str, Decimal, str | None]) -> None:
    text, value, iso = case
    money = parse_amount(text)
    assert money is not None, text
    assert money.value == value, text
    assert money.value.as_tuple().exponent == -2, text
    assert money.currency == iso, text
    assert money.text == text


@settings(max_examples=200, deadline=None)
@given(
    formatted_amounts(),
    st.sampled_from(["Total due", "Summe:", "Montant TTC", "Importe", "Totale", "Bedrag"]),
    st.sampled_from(["thanks", "inkl. MwSt.", "", "(net)", "à payer"]),
)
def test_find_amounts_finds_the_amount_inside_a_sentence(
    case: tuple[str, Decimal, str | None], before: str, after: str
) -> None:
    text, value, iso = case
    line = f"Invoice INV-2024-0042 of 31.12.2024: {before} {text} {after}"
    found = find_amounts(line)
    assert [(m.value, m.currency, m.text) for m in found] == [(value, iso, text)], line


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_amount_functions_never_raise_on_arbitrary_text(text: str) -> None:
    find_amounts(text)
    find_amounts(text, ",")
    find_amounts(text, ".")
    parse_amount(text)
    find_percentages(text)
    currency_from_text(text)
    detect_decimal_separator([text])


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789Oo.,'’ \u00a0\u202f-−–+()%€$£EURCHFkr/:#x", max_size=60))
def test_amount_functions_never_raise_on_number_like_text(text: str) -> None:
    for money in find_amounts(text):
        assert text[money.start : money.end] == money.text
    parse_amount(text)
    parse_amount(text, ",")
    find_percentages(text)
    detect_decimal_separator([text])
