"""Dates in invoice text (shared/extraction/dates.py)."""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.extraction.dates import FoundDate, find_dates, infer_day_first, parse_date

DEC31 = datetime.date(2024, 12, 31)
MAR1 = datetime.date(2024, 3, 1)


# --------------------------------------------------------------------------- parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-31", DEC31),
        ("2024/12/31", DEC31),
        ("2024.12.31", DEC31),
        ("31.12.2024", DEC31),
        ("31/12/2024", DEC31),
        ("31-12-2024", DEC31),
        ("12/31/2024", DEC31),
        ("31.12.24", DEC31),
        ("31. 12. 2024", DEC31),
        ("1.3.2024", MAR1),
        ("31.12.69", datetime.date(2069, 12, 31)),
        ("31.12.70", datetime.date(1970, 12, 31)),
        ("31 December 2024", DEC31),
        ("31st December 2024", DEC31),
        ("31st of December 2024", DEC31),
        ("December 31, 2024", DEC31),
        ("December 31st, 2024", DEC31),
        ("Dec 31 2024", DEC31),
        ("Dec. 31, 2024", DEC31),
        ("31-Dec-2024", DEC31),
        ("31-Dec-24", DEC31),
        ("31/Dec/2024", DEC31),
        ("Sept. 3, 2024", datetime.date(2024, 9, 3)),
        ("31. Dezember 2024", DEC31),
        ("31.Dez.2024", DEC31),
        ("1. März 2024", MAR1),
        ("1. Marz 2024", MAR1),
        ("1. Maerz 2024", MAR1),
        ("1. Jänner 2024", datetime.date(2024, 1, 1)),
        ("31 décembre 2024", DEC31),
        ("31 decembre 2024", DEC31),
        ("1er mars 2024", MAR1),
        ("3 février 2024", datetime.date(2024, 2, 3)),
        ("3 fevrier 2024", datetime.date(2024, 2, 3)),
        ("15 août 2024", datetime.date(2024, 8, 15)),
        ("15 aout 2024", datetime.date(2024, 8, 15)),
        ("31 december 2024", DEC31),
        ("1 maart 2024", MAR1),
        ("1 mrt 2024", MAR1),
        ("31 de diciembre de 2024", DEC31),
        ("31 de diciembre del 2024", DEC31),
        ("1 de marzo de 2024", MAR1),
        ("31 dicembre 2024", DEC31),
        ("1° marzo 2024", MAR1),
        ("1º marzo 2024", MAR1),
        ("31 DECEMBER 2024", DEC31),
        ("  31.12.2024.  ", DEC31),
    ],
)
def test_parse_date_reads_each_form(text: str, expected: datetime.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tuesday, 31 December 2024", DEC31),
        ("Tue, Dec 31, 2024", DEC31),
        ("Dienstag, den 31.12.2024", DEC31),
        ("le 1er mars 2024", MAR1),
        ("martes, 31 de diciembre de 2024", DEC31),
        ("2024-12-31T10:00:00Z", DEC31),
        ("2024-12-31T10:00:00+01:00", DEC31),
        ("31.12.2024 14:30", DEC31),
    ],
)
def test_parse_date_allows_a_weekday_before_and_a_time_after(
    text: str, expected: datetime.date
) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "31.02.2024",
        "30 February 2024",
        "32.01.2024",
        "31.13.2024",
        "13/13/2024",
        "12.50",
        "1.234,56",
        "2024",
        "31.12.",
        "31 Dec 24",
        "31.12.1850",
        "Invoice 31.12.2024",
        "31.12.2024 and 01.01.2025",
        "31 Foo 2024",
        "2024-12-3100",
    ],
)
def test_parse_date_rejects_invalid_dates_and_other_text(text: str) -> None:
    assert parse_date(text) is None


def test_parse_date_uses_day_first_for_ambiguous_numeric_dates() -> None:
    assert parse_date("05/04/2024") == datetime.date(2024, 4, 5)
    assert parse_date("05/04/2024", day_first=True) == datetime.date(2024, 4, 5)
    assert parse_date("05/04/2024", day_first=False) == datetime.date(2024, 5, 4)


def test_parse_date_falls_back_to_month_first_only_for_en_us() -> None:
    assert parse_date("05/04/2024", language="en") == datetime.date(2024, 4, 5)
    assert parse_date("05/04/2024", language="de") == datetime.date(2024, 4, 5)
    assert parse_date("05/04/2024", language="en-US") == datetime.date(2024, 5, 4)
    assert parse_date("05/04/2024", language="en_us") == datetime.date(2024, 5, 4)
    assert parse_date("05/04/2024", day_first=True, language="en-US") == datetime.date(2024, 4, 5)


def test_parse_date_lets_an_impossible_reading_override_the_preference() -> None:
    assert parse_date("12/31/2024", day_first=True) == DEC31
    assert parse_date("31/12/2024", day_first=False) == DEC31


# --------------------------------------------------------------------------- find_dates


def test_find_dates_reports_dates_with_spans_and_ambiguity() -> None:
    text = "Rechnungsdatum: 05.04.2024, fällig am 31.12.2024 (Lieferung 2024-12-31)"
    found = find_dates(text)
    assert found == [
        FoundDate(datetime.date(2024, 4, 5), "05.04.2024", 16, 26, True),
        FoundDate(DEC31, "31.12.2024", 38, 48, False),
        FoundDate(DEC31, "2024-12-31", 60, 70, False),
    ]
    for f in found:
        assert text[f.start : f.end] == f.text


def test_find_dates_does_not_mark_equal_day_and_month_as_ambiguous() -> None:
    assert [f.ambiguous for f in find_dates("05.05.2024")] == [False]


def test_find_dates_finds_both_ends_of_a_range() -> None:
    found = find_dates("Leistungszeitraum 01.12.2024-31.12.2024")
    assert [f.value for f in found] == [datetime.date(2024, 12, 1), DEC31]


def test_find_dates_finds_month_name_dates_in_a_line() -> None:
    text = "Invoice date: December 31, 2024    Due: 30 Jan 2025   Paid 3 mars 2025"
    assert [(f.value, f.text) for f in find_dates(text)] == [
        (DEC31, "December 31, 2024"),
        (datetime.date(2025, 1, 30), "30 Jan 2025"),
        (datetime.date(2025, 3, 3), "3 mars 2025"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Invoice 2024-12-3100",
        "Invoice INV-2024-12-31",
        "Ref x31.12.2024",
        "IBAN DE89 3704 0044 0532 0130 00",
        "Total 12.50 EUR",
        "Total 1.234,56 EUR",
        "Rate 12/50",
        "Qty 3 units 2024",
        "IP 192.168.1.20 and 10.10.10.20",
        "Version 1.2.3.4",
        "31.02.2024",
        "31 Dec 24",
        "Phone 030 12 2024",
    ],
)
def test_find_dates_ignores_digit_runs_ids_amounts_and_invalid_dates(text: str) -> None:
    assert find_dates(text) == []


def test_find_dates_skips_an_invalid_date_but_keeps_the_next_one() -> None:
    found = find_dates("31.02.2024 / 28.02.2024")
    assert [f.value for f in found] == [datetime.date(2024, 2, 28)]


def test_find_dates_finds_a_day_month_year_after_other_numbers() -> None:
    found = find_dates("Qty 3 units 12 March 2024")
    assert [(f.value, f.text) for f in found] == [(datetime.date(2024, 3, 12), "12 March 2024")]


# --------------------------------------------------------------------------- infer_day_first


@pytest.mark.parametrize(
    ("samples", "language", "expected"),
    [
        (["31.12.2024", "01.02.2024"], None, True),
        (["12/31/2024", "01/02/2024"], None, False),
        (["01/02/2024", "2024-12-31", "December 31, 2024"], None, None),
        ([], None, None),
        (["Rechnung vom 13.01.2024, fällig 12.02.2024"], None, True),
        (["13/01/2024", "01/13/2024"], None, None),
        (["13/01/2024", "01/13/2024"], "de", True),
        (["13/01/2024", "01/13/2024"], "en", None),
        (["13/01/2024", "14/01/2024", "01/13/2024"], None, True),
        (["31/02/2024"], None, None),
    ],
)
def test_infer_day_first_decides_from_evidence(
    samples: list[str], language: str | None, expected: bool | None
) -> None:
    assert infer_day_first(samples, language) is expected


# --------------------------------------------------------------------------- properties


def words(text: str) -> list[str]:
    return text.split()


MONTHS = {
    "en": words(
        "January February March April May June July August September October November December"
    ),
    "de": words(
        "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"
    ),
    "fr": words(
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    ),
    "nl": words(
        "januari februari maart april mei juni juli augustus september oktober november december"
    ),
    "es": words(
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    ),
    "it": words(
        "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
        "dicembre"
    ),
}
ABBREVIATIONS = {
    "en": words("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"),
    "de": words("Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez"),
    "fr": words("janv févr mars avr mai juin juil août sept oct nov déc"),
    "nl": words("jan feb mrt apr mei jun jul aug sep okt nov dec"),
    "es": words("ene feb mar abr may jun jul ago sep oct nov dic"),
    "it": words("gen feb mar apr mag giu lug ago set ott nov dic"),
}
NUMERIC_FORMS = [
    ("{d:02d}.{m:02d}.{y}", True),
    ("{d}.{m}.{y}", True),
    ("{d:02d}/{m:02d}/{y}", True),
    ("{d:02d}-{m:02d}-{y}", True),
    ("{d:02d}.{m:02d}.{yy:02d}", True),
    ("{d}. {m}. {y}", True),
    ("{m:02d}/{d:02d}/{y}", False),
    ("{m}/{d}/{yy:02d}", False),
    ("{y}-{m:02d}-{d:02d}", None),
    ("{y}/{m:02d}/{d:02d}", None),
]
NAMED_FORMS = {
    "en": ["{d} {M} {y}", "{d}{o} {M} {y}", "{M} {d}, {y}", "{A} {d} {y}", "{d}-{A}-{y}"],
    "de": ["{d}. {M} {y}", "{d}. {A}. {y}", "{d}.{A}.{y}"],
    "fr": ["{d} {M} {y}", "{d} {A}. {y}"],
    "nl": ["{d} {M} {y}", "{d} {A} {y}"],
    "es": ["{d} de {M} de {y}", "{d} {M} {y}", "{d}-{A}-{y}"],
    "it": ["{d} {M} {y}", "{d} {A} {y}"],
}
dates_1990_2060 = st.dates(datetime.date(1990, 1, 1), datetime.date(2060, 12, 31))


def english_ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@settings(max_examples=150, deadline=None)
@given(dates_1990_2060, st.sampled_from(NUMERIC_FORMS))
def test_parse_date_round_trips_numeric_forms(
    date: datetime.date, form: tuple[str, bool | None]
) -> None:
    pattern, day_first = form
    text = pattern.format(d=date.day, m=date.month, y=date.year, yy=date.year % 100)
    assert parse_date(text, day_first=day_first) == date, text
    found = find_dates(f"Rechnung vom {text}, Betrag 12,50 EUR", day_first=day_first)
    assert [(f.value, f.text) for f in found] == [(date, text)]


RESTYLES: list[Callable[[str], str]] = [
    str.strip,
    str.lower,
    str.upper,
    str.title,
    strip_accents,
]


@st.composite
def named_dates(draw: st.DrawFn) -> tuple[str, datetime.date]:
    date = draw(dates_1990_2060)
    language = draw(st.sampled_from(sorted(MONTHS)))
    pattern = draw(st.sampled_from(NAMED_FORMS[language]))
    month = MONTHS[language][date.month - 1]
    abbreviation = ABBREVIATIONS[language][date.month - 1]
    restyle = draw(st.sampled_from(RESTYLES))
    day = str(date.day)
    if date.day == 1 and language == "fr" and draw(st.booleans()):
        day = "1er"
    if date.day == 1 and language == "it" and draw(st.booleans()):
        day = "1°"
    text = pattern.format(
        d=day,
        o=english_ordinal(date.day),
        M=restyle(month),
        A=restyle(abbreviation),
        y=date.year,
    )
    return text, date


@settings(max_examples=200, deadline=None)
@given(named_dates())
def test_parse_date_round_trips_month_names_in_every_language(
    case: tuple[str, datetime.date],
) -> None:
    text, date = case
    assert parse_date(text) == date, text
    found = find_dates(f"Invoice 2024-00123 dated {text} total 1.234,56 EUR")
    assert [(f.value, f.text, f.ambiguous) for f in found] == [(date, text, False)]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_date_functions_never_raise_on_arbitrary_text(text: str) -> None:
    find_dates(text)
    find_dates(text, day_first=False, language="en-US")
    parse_date(text)
    infer_day_first([text], "fr")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789./- ,'°ºstndrhDecMärzaoûJnuy", max_size=60))
def test_date_functions_never_raise_on_date_like_text(text: str) -> None:
    previous_end = 0
    for found in find_dates(text):
        assert text[found.start : found.end] == found.text
        assert found.start >= previous_end
        previous_end = found.end
    parse_date(text)
    infer_day_first([text])
