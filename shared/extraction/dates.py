"""Dates in invoice text: numeric, ISO and month-name forms in en/de/fr/nl/es/it.

Pure functions, standard library only.

Forms:

* ISO ``2024-12-31``, ``2024/12/31``, ``2024.12.31`` (year first is always Y-M-D).
* Numeric ``31.12.2024``, ``31/12/2024``, ``31-12-2024``, ``12/31/2024``, ``31. 12. 2024``
  and two-digit years ``31.12.24`` (2000+yy for yy < 70, else 1900+yy).
* Month names, full or abbreviated, with or without a trailing dot, any case, accents
  optional (``fevrier``, ``Marz``/``Maerz``), from all six languages at once:
  ``31 December 2024``, ``31st December 2024``, ``31st of December 2024``,
  ``31. Dezember 2024``, ``1er mars 2024``, ``31 de diciembre de 2024``, ``1° marzo 2024``,
  ``31-Dec-2024``, ``31.Dez.2024``, ``December 31, 2024``, ``Dec 31 2024``,
  ``Sept. 3, 2024``. A two-digit year after a month name needs a ``-``, ``/``, ``.`` or
  ``'`` before it (``31-Dec-24``); ``31 Dec 24`` is not read as a date.

Years must lie in 1900-2100. Invalid dates (``31.02.2024``) are skipped. A date is not
read inside a longer digit run or glued to letters (``2024-12-3100``, ``INV-2024-12-31``,
``x31.12.2024``, IBANs), and amounts like ``12.50`` never are dates (numeric dates need
three parts). Two dates joined by a dash are both found (``01.12.2024-31.12.2024``).

Numeric day/month order: a first number > 12 means day-first, a second number > 12
means month-first, whatever the caller says. Otherwise the ``day_first`` argument
decides; when it is None the fallback is day-first for every language, and month-first
only for ``language="en-US"`` (or ``"en_US"``/``"us"``); plain ``"en"`` stays day-first.
Use `infer_day_first` on the document's dates to get evidence first.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FoundDate", "find_dates", "infer_day_first", "parse_date"]


@dataclass(frozen=True, slots=True)
class FoundDate:
    """One date found in text."""

    value: datetime.date
    text: str
    start: int
    end: int
    ambiguous: bool  # numeric form whose day and month (both <= 12, and different) could swap


# --------------------------------------------------------------------------- month names

# Per language, per month: full names and abbreviations (lower case, as written).
_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "january jan",
        "february feb",
        "march mar",
        "april apr",
        "may",
        "june jun",
        "july jul",
        "august aug",
        "september sep sept",
        "october oct",
        "november nov",
        "december dec",
    ),
    "de": (
        "januar jänner jan jän",
        "februar feber feb",
        "märz mär mrz",
        "april apr",
        "mai",
        "juni jun",
        "juli jul",
        "august aug",
        "september sep sept",
        "oktober okt",
        "november nov",
        "dezember dez",
    ),
    "fr": (
        "janvier janv jan",
        "février févr fév",
        "mars",
        "avril avr",
        "mai",
        "juin",
        "juillet juil",
        "août",
        "septembre sept sep",
        "octobre oct",
        "novembre nov",
        "décembre déc",
    ),
    "nl": (
        "januari jan",
        "februari feb",
        "maart mrt mar",
        "april apr",
        "mei",
        "juni jun",
        "juli jul",
        "augustus aug",
        "september sep sept",
        "oktober okt",
        "november nov",
        "december dec",
    ),
    "es": (
        "enero ene",
        "febrero feb",
        "marzo mar",
        "abril abr",
        "mayo may",
        "junio jun",
        "julio jul",
        "agosto ago",
        "septiembre setiembre sep sept set",
        "octubre oct",
        "noviembre nov",
        "diciembre dic",
    ),
    "it": (
        "gennaio gen",
        "febbraio feb",
        "marzo mar",
        "aprile apr",
        "maggio mag",
        "giugno giu",
        "luglio lug",
        "agosto ago",
        "settembre set",
        "ottobre ott",
        "novembre nov",
        "dicembre dic",
    ),
}

_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag mo di "
    "mi do fr sa so lundi mardi mercredi jeudi vendredi samedi dimanche lun mar mer jeu ven "
    "sam dim maandag dinsdag woensdag donderdag vrijdag zaterdag zondag ma wo vr za zo lunes "
    "martes miércoles jueves viernes sábado domingo mié jue vie sáb dom lunedì martedì "
    "mercoledì giovedì venerdì sabato domenica gio sab"
)
# Words allowed before a date in `parse_date` ("Dienstag, den 31. Dezember 2024").
_LEAD_WORDS = frozenset(
    {"le", "den", "am", "the", "on", "el", "il", "op", "du", "vom", "of", "de", "dated", "date"}
)


def _variants(word: str) -> set[str]:
    """The word, without accents, and with German umlauts as ae/oe/ue."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    umlaut = word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return {word, plain, umlaut}


def _build_months() -> dict[str, int]:
    table: dict[str, int] = {}
    for months in _MONTH_NAMES.values():
        for number, names in enumerate(months, start=1):
            for name in names.split():
                for variant in _variants(name):
                    if table.setdefault(variant, number) != number:
                        raise AssertionError(f"month name {variant!r} is ambiguous")
    return table


_MONTHS = _build_months()
_LEAD = _LEAD_WORDS | {v for w in _WEEKDAYS.split() for v in _variants(w)}

# --------------------------------------------------------------------------- regexes

_S = "[ \\t\\u00a0\\u202f]"
_WORD = r"[^\W\d_]{3,12}"  # a month-name slot; checked against _MONTHS afterwards

# Dates that start with a digit: ISO, numeric, day-month-year with a month name. The
# pattern starts with a bare digit class (not inside a group) so that the regex engine
# skips to digits fast; that first digit is therefore outside the groups (see
# `_from_match`). A digit right before it means we are inside a digit run; what else may
# stand before a date is checked in Python (`_bad_start`).
_DATE_RX = re.compile(
    r"[0-9](?<![0-9]{2})(?:"
    # ISO: year first
    r"(?P<iy>[0-9]{3})(?P<isep>[-/.])(?P<im>[0-9]{1,2})(?P=isep)(?P<id>[0-9]{1,2})"
    r"(?![.,/-]?[0-9])"
    # numeric: d.m.y or m/d/y
    rf"|(?P<na>[0-9]?+)(?P<nsep>[./-]){_S}?(?P<nb>[0-9]{{1,2}})(?P=nsep){_S}?"
    r"(?P<ny>[0-9]{4}|[0-9]{2})(?![.,/]?[0-9])"
    # day, month name, year
    rf"|(?P<dd>[0-9]?+)(?:(?i:st|nd|rd|th|er)|[.°º])?{_S}*"
    rf"(?:(?:[-/.]|(?i:de|of|di)(?={_S})){_S}*)?"
    rf"(?P<dm>{_WORD})(?P<dysep>\.?{_S}*(?:[-/.,']|(?i:del|de)(?={_S}))?{_S}*)"
    r"(?P<dy>[0-9]{4}|[0-9]{2})(?![0-9])"
    r")"
)
# Month-name-first dates are found from their "31, 2024" part; the month name before it
# is then matched on the reversed text (`_REV_MONTH_RX`), anchored at the day.
_DAY_YEAR_RX = re.compile(
    rf"[0-9](?<![0-9]{{2}})[0-9]?+(?i:st|nd|rd|th)?(?:{_S}*,{_S}*|{_S}+|-)"
    r"(?P<my>[0-9]{4})(?![0-9])"
)
_REV_MONTH_RX = re.compile(rf"{_S}*-?{_S}*\.?(?P<mm>[^\W\d_]{{3,12}})(?![^\W\d_])")

_NUMERIC_RX = re.compile(
    r"(?<![\w.,/])(?<![^\W\d_]-)"
    rf"(?P<na>[0-9]{{1,2}})(?P<nsep>[./-]){_S}?(?P<nb>[0-9]{{1,2}})(?P=nsep){_S}?"
    r"(?P<ny>[0-9]{4}|[0-9]{2})(?![.,/]?[0-9])"
)

_TIME_RX = re.compile(
    r"(?:[T ]|,? )[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?: ?(?:Z|[+-][0-9]{2}:?[0-9]{2}|UTC|(?i:[ap]\.?m\.?|uhr|h)))?"
)
_LEAD_SPLIT_RX = re.compile(r"[\s.,]+")

_MIN_YEAR, _MAX_YEAR = 1900, 2100
_DAY_TAIL = " \t\u00a0\u202f,-stndrhSTNDRH"  # what follows the day in "31st, 2024"


# --------------------------------------------------------------------------- helpers


def _default_day_first(day_first: bool | None, language: str | None) -> bool:
    if day_first is not None:
        return day_first
    # month-first only when the caller says so: day_first=False or an en-US language tag
    return language is None or language.lower().replace("_", "-") not in ("en-us", "us")


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        return 2000 + y if y < 70 else 1900 + y
    return y


def _make(y: int, mo: int, d: int) -> datetime.date | None:
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return None
    try:
        return datetime.date(y, mo, d)
    except ValueError:
        return None


def _order(a: int, b: int, day_first: bool) -> tuple[int, int, bool] | None:
    """(day, month, ambiguous) from the two leading numbers of a numeric date."""
    if a > 12 and b > 12:
        return None
    if a > 12:
        return a, b, False
    if b > 12:
        return b, a, False
    ambiguous = a != b
    return (a, b, ambiguous) if day_first else (b, a, ambiguous)


def _from_match(m: re.Match[str], first: str, day_first: bool) -> tuple[datetime.date, bool] | None:
    """The date of a `_DATE_RX` match and its ambiguity; ``first`` is its first digit."""
    iy, _, im, id_, na, nsep, nb, ny, dd, dm, dysep, dy = m.groups()
    if iy is not None:
        d = _make(int(first + iy), int(im), int(id_))
        return None if d is None else (d, False)
    if nsep is not None:
        order = _order(int(first + na), int(nb), day_first)
        if order is None:
            return None
        d = _make(_year(ny), order[1], order[0])
        return None if d is None else (d, order[2])
    month = _MONTHS.get(dm.lower())
    if month is None or (len(dy) == 2 and not dysep.strip(" \t\u00a0\u202f")):
        return None
    d = _make(_year(dy), month, int(first + dd))
    return None if d is None else (d, False)


def _bad_start(text: str, i: int) -> bool:
    """A date must not continue a word, a number or an id ("x31.12.2024", "INV-2024-...")."""
    if i == 0:
        return False
    p = text[i - 1]
    if p.isalnum() or p in "_.,/":
        return True
    return p == "-" and i >= 2 and text[i - 2].isalpha()


def _iter_dates(text: str, day_first: bool) -> list[FoundDate]:
    found: list[FoundDate] = []
    search = _DATE_RX.search
    pos = 0
    while True:
        m = search(text, pos)
        if m is None:
            break
        start = m.start()
        value = None if _bad_start(text, start) else _from_match(m, text[start], day_first)
        if value is None:
            pos = start + 1  # a later, overlapping reading may still be a date
            continue
        end = m.end()
        found.append(FoundDate(value[0], m.group(), start, end, value[1]))
        pos = end
    # month name first: "December 31, 2024", "Sept. 3, 2024"
    pos = 0
    rev = ""
    n = len(text)
    mdy: list[FoundDate] = []
    while True:
        m = _DAY_YEAR_RX.search(text, pos)
        if m is None:
            break
        pos = m.start() + 1
        if not rev:
            rev = text[::-1]
        r = _REV_MONTH_RX.match(rev, n - m.start())
        if r is None:
            continue
        month = _MONTHS.get(r.group("mm")[::-1].lower())
        if month is None:
            continue
        d = _make(int(m.group("my")), month, int(text[m.start() : m.start("my")].rstrip(_DAY_TAIL)))
        if d is None:
            continue
        start = n - r.end()
        mdy.append(FoundDate(d, text[start : m.end()], start, m.end(), False))
        pos = m.end()
    if mdy:
        found = _merge(found, mdy)
    return found


def _merge(a: list[FoundDate], b: list[FoundDate]) -> list[FoundDate]:
    """Both lists sorted and overlap-free in themselves; keep the earlier one on overlap."""
    out: list[FoundDate] = []
    for f in sorted(a + b, key=lambda x: (x.start, -x.end)):
        if not out or f.start >= out[-1].end:
            out.append(f)
    return out


# --------------------------------------------------------------------------- public API


def find_dates(
    text: str, *, day_first: bool | None = None, language: str | None = None
) -> list[FoundDate]:
    """Every date in the text, left to right, not overlapping."""
    return _iter_dates(text, _default_day_first(day_first, language))


def parse_date(
    text: str, *, day_first: bool | None = None, language: str | None = None
) -> datetime.date | None:
    """Parse a string that is one date, or return None.

    Around the date only these are allowed: surrounding spaces and a trailing ``.,;:``;
    weekday names and a few articles before it (``Tuesday, 31 December 2024``,
    ``Dienstag, den 31.12.2024``, ``le 1er mars 2024``); a time after it
    (``2024-12-31T10:00:00Z``, ``31.12.2024 14:30``).
    """
    s = text.strip().rstrip(".,;:").rstrip()
    for found in _iter_dates(s, _default_day_first(day_first, language)):
        lead = s[: found.start]
        if lead and not all(w.lower() in _LEAD for w in _LEAD_SPLIT_RX.split(lead) if w):
            return None
        rest = s[found.end :]
        if rest and _TIME_RX.fullmatch(rest) is None:
            return None
        return found.value
    return None


def infer_day_first(samples: Iterable[str], language: str | None = None) -> bool | None:
    """Numeric date order of a document from its date strings (or whole lines).

    A numeric date whose first number is > 12 (and second <= 12) is evidence for
    day-first, one whose second number is > 12 for month-first; ISO and month-name dates
    are no evidence. The majority wins. On a tie (or no evidence) the answer is None,
    except that with conflicting evidence in a tie a non-English ``language`` breaks it
    towards day-first. With None the caller falls back as `find_dates` does: day-first,
    unless it knows the document is en-US.
    """
    day, month = 0, 0
    for sample in samples:
        for m in _NUMERIC_RX.finditer(sample):
            a, b = int(m.group("na")), int(m.group("nb"))
            year = _year(m.group("ny"))
            if a > 12 >= b and _make(year, b, a) is not None:
                day += 1
            elif b > 12 >= a and _make(year, a, b) is not None:
                month += 1
    if day != month:
        return day > month
    if day and language is not None and not language.lower().startswith("en"):
        return True
    return None
