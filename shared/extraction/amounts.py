"""Locale-aware money amounts, currencies and percentages in invoice text.

Pure functions on one line (or one field) of text, standard library only, money as
`Decimal` (never float). The invoice languages are en/de/fr/nl/es/it, from PDF text
layers and OCR output.

Number notations (``g`` = group separator, ``d`` = decimal mark):

* ``1.234,56`` (de/nl/es/it), ``1,234.56`` (en), ``1 234,56`` with a space, U+00A0
  or U+202F (fr), ``1'234.56`` / ``1’234.56`` (ch), ungrouped ``1234.56`` / ``1234,56``,
  ``12,-`` / ``12.–`` (whole amount, read as ``12.00``), ``.50`` (`parse_amount` only).
* Groups after the first must have exactly 3 digits, all with the same separator, and
  the decimal mark must differ from the group separator.
* A single ``.``/``,`` followed by exactly 3 digits (``1.234``, ``1,234``) is a thousands
  group unless ``decimal_separator`` names that very character (then it is 3 decimals)
  or the integer part is ``0`` (``0,125``). Several groups (``1.234.567``) are always
  thousands. Every other shape is unambiguous, and ``decimal_separator`` does *not*
  override it: ``12,50`` is 12.50 even with ``decimal_separator="."`` (OCR and mixed
  documents are more common than a reading that the shape contradicts).
* OCR may read ``0`` as ``O``/``o``; both are accepted as digits after the first digit
  (``1O0,O0`` is 100.00). The first character of a number must be a real digit.
* At most 6 decimals.

Signs: leading ``-``, ``+``, U+2212 ``−`` or U+2013 ``–`` (before or after the
currency, optionally followed by one space), trailing ``-`` (``120,00-``, German
credit notes; also ``120,00- EUR`` and ``120,00 EUR-``, but not ``120,00-EUR``), and
accounting parentheses ``(120.00)`` / ``(EUR 120,00)``. A spaced leading sign that
directly follows another number or a currency symbol (``10,00 - 20,00``) is read as a
range dash, not a sign. A sign glued to a preceding word or number (``INV-1001``,
``x-12,50``, ``2024-12``) makes the whole thing an id, not an amount.

Currencies: a symbol, ISO code or name attached to the number before or after it, with
up to two spaces between (``€1.234,56``, ``1.234,56 €``, ``EUR 1,234.56``,
``1 234,56 EUR``, ``CHF 1'234.50``, ``US$12``, ``Fr. 12.50``, ``12,50 Euro``). ISO codes
must be upper case (``eur``/``Eur`` are accepted too); ``kr``/``kr.`` is attached but
ambiguous (SEK/NOK/DKK/ISK), so `Money.currency` is ``None`` for it; ``Fr.`` is read
as CHF when attached to a number (so "Fr. 12. Mai", Friday 12 May, is CHF 12). When a currency
sits between two numbers (``1 €50,00``), it goes to the number it touches without a
space; with spaces on both sides it goes to the left number, unless that number is a
bare integer and the right one is not.

`find_amounts` is conservative; it reports:

* every number with decimals (``12,50``, ``1.234,56``, ``12,-``);
* integers with thousands groups in ``.``/``,``/apostrophe (``1,234``, ``1.234.567``);
* any integer (also space-grouped) with a currency attached (``€ 50``, ``1 234 EUR``).

It never reports: bare integers (``1234``, ``2024``, postcodes, quantities,
``INV-1001``); numbers glued to letters or ``#`` (``INV1001``, ``12kg``); parts of
dates and digit runs (``31.12.2024``, ``2024-12-31``, ``12/31``, ``10:30``,
``2024-00123``, a day-month ``12.10.``); percentages (use `find_percentages`);
integers with a leading zero (``0123,45``); ungrouped integer parts of more than 12
digits; integers inside an IBAN (``... 0130 00 EUR``) or a phone number (``+49 30 ...``,
``Tel. ...``); ranges glued by a hyphen (``10,00-20,00``). Known limit: a space-grouped
reading is greedy, so a quantity followed by a price in a table (``1 100,00``) reads
as 1100.00, exactly as a French ``1 100,00`` must; pass only the cell text when the
table layout is known.

Speed: the search regex starts with a bare digit class (the engine skips to digits in
C) and rejects dates, digit runs and leading zeros itself; what precedes a number is
matched once, anchored, on the reversed line. No per-call tables are built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "Money",
    "currency_from_text",
    "detect_decimal_separator",
    "find_amounts",
    "find_percentages",
    "parse_amount",
]


@dataclass(frozen=True, slots=True)
class Money:
    """One amount found in text."""

    value: Decimal  # quantized as printed (keeps the printed number of decimals)
    currency: str | None  # ISO 4217 when a symbol/code is attached to the number
    text: str  # the exact substring matched
    start: int
    end: int


# --------------------------------------------------------------------------- currency tables

_SYMBOL_CURRENCIES: dict[str, str] = {
    "€": "EUR",
    "$": "USD",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₽": "RUB",
    "₺": "TRY",
    "₩": "KRW",
    "₪": "ILS",
    "₴": "UAH",
    "₱": "PHP",
    "฿": "THB",
}
_SYMBOL_CHARS = "".join(_SYMBOL_CURRENCIES)
# Characters that may stand right before a number when a prefix is attached (besides
# letters): spaces, signs, symbols, "$" of "US$", "." of "Fr.", "(".
_PREFIX_LAST = frozenset(" \t\u00a0\u202f\u2009-+\u2212\u2013$.(" + _SYMBOL_CHARS)

# ISO codes accepted (upper case only). ALL, TOP, CUP, MOP are left out on purpose:
# they are ordinary words in upper-case text.
# fmt: off
_ISO_CODES = frozenset((
    "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK",
    "EGP", "EUR", "GBP", "HKD", "HRK", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KRW",
    "KWD", "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "PEN", "PHP", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "VND", "ZAR",
))
# fmt: on

# Every token that may be attached to a number -> ISO code (None: attached, ambiguous).
_ATTACHED: dict[str, str | None] = {
    **_SYMBOL_CURRENCIES,
    **{code: code for code in _ISO_CODES},
    "US$": "USD",
    "USD$": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "CAN$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "SG$": "SGD",
    "R$": "BRL",
    "MX$": "MXN",
    "Mex$": "MXN",
    "NT$": "TWD",
    "Fr.": "CHF",
    "Fr": "CHF",
    "SFr.": "CHF",
    "SFr": "CHF",
    "sFr.": "CHF",
    "sFr": "CHF",
    "Ft": "HUF",
    "zł": "PLN",
    "Kč": "CZK",
    "lei": "RON",
    "RMB": "CNY",
    "kr": None,
    "kr.": None,
    "Kr": None,
    "Kr.": None,
    "eur": "EUR",
    "Eur": "EUR",
    "Euro": "EUR",
    "EURO": "EUR",
    "euro": "EUR",
    "Euros": "EUR",
    "EUROS": "EUR",
    "euros": "EUR",
}

# Names (and unambiguous tokens) for `currency_from_text`, as regex fragments.
_CURRENCY_NAMES: tuple[tuple[str, str], ...] = (
    (
        r"canadian\s+dollars?|dollars?\s+canadiens?|kanadischer?n?\s+dollar|"
        r"d[óo]lar(?:es)?\s+canadienses?|dollari?o?\s+canadesi?|canadese\s+dollars?",
        "CAD",
    ),
    (
        r"australian\s+dollars?|dollars?\s+australiens?|australischer?n?\s+dollar|"
        r"d[óo]lar(?:es)?\s+australianos?|dollari?o?\s+australian[io]|australische\s+dollars?",
        "AUD",
    ),
    (
        r"u\.?s\.?[-\s]?dollars?|dollars?\s+am[ée]ricains?|d[óo]lar(?:es)?\s+estadounidenses?|"
        r"dollars?|d[óo]lar(?:es)?|dollar[io]",
        "USD",
    ),
    (
        r"pounds?\s+sterling|british\s+pounds?|livres?\s+sterling|pfund\s+sterling|"
        r"britischer?s?n?\s+pfund|libras?\s+esterlinas?|sterlin[ae]|sterling|britse\s+ponden?",
        "GBP",
    ),
    (
        r"swiss\s+francs?|francs?\s+suisses?|schweizer\s+franken|franchi\s+svizzeri|"
        r"franco\s+svizzero|francos?\s+suizos?|zwitserse\s+franken?",
        "CHF",
    ),
    (r"(?:japanese\s+)?yen", "JPY"),
    (
        r"swedish\s+kron(?:a|or)|schwedische\s+kronen?|couronnes?\s+su[ée]doises?|"
        r"svenska\s+kronor|kronor",
        "SEK",
    ),
    (
        r"norwegian\s+kron(?:e|er)|norwegische\s+kronen?|couronnes?\s+norv[ée]giennes?|"
        r"norske\s+kroner",
        "NOK",
    ),
    (
        r"danish\s+kron(?:e|er)|d(?:ä|ae|a)nische\s+kronen?|couronnes?\s+danoises?|"
        r"danske\s+kroner",
        "DKK",
    ),
    (r"z[łl]ot(?:y|ys|ych|e)", "PLN"),
    (r"czech\s+korun(?:a|y)?|tschechische\s+kronen?|korun(?:a|y)?", "CZK"),
    (r"forints?", "HUF"),
    (r"euros?", "EUR"),
    (r"sfr\.?|chf", "CHF"),
)

# --------------------------------------------------------------------------- regexes

_WS = "[ \\t\\u00a0\\u202f\\u2009]"  # horizontal spaces seen in PDFs
_WS_SET = frozenset(" \t\u00a0\u202f\u2009")
_SIGN_CHARS = "\\-+\\u2212\\u2013"  # hyphen-minus, plus, minus sign, en dash
_MINUS = frozenset("-\u2212\u2013")
_DIGIT = "[0-9Oo]"  # OCR reads 0 as O now and then

# A number. Group separators: . , ' ’ space NBSP NNBSP thin-space; every group after the
# first has exactly 3 digits and the same separator. Decimal mark . or , (not the group
# separator), 1-6 digits; or ",-" / ".–" for whole amounts.
_NUM_BODY = (
    rf"(?P<int>{_DIGIT}{{0,2}}(?P<g>[.,'’ \u00a0\u202f\u2009]){_DIGIT}{{3}}(?!{_DIGIT})"
    rf"(?:(?P=g){_DIGIT}{{3}}(?!{_DIGIT}))*"
    rf"|{_DIGIT}*)"
    rf"(?:(?!(?P=g))[.,](?P<dec>{_DIGIT}{{1,6}})(?!{_DIGIT})"
    r"|(?P<dsep2>[.,])(?P<dash>[-\u2013\u2014]{1,2})(?![\w-]))?"
)
# For searching, the regex itself skips what can never start an amount, so that Python
# sees few candidates: a digit inside a digit run or after "#"/"_"; a digit after a
# joiner that follows a digit ("31.12.2024" -> "12", "2024-12"); an integer part with a
# leading zero ("0044"). The number is atomic, and must not be followed by a joiner and a
# digit, so "31.12.2024" fails as a whole instead of yielding "31.1".
_JOINER_CHARS = ".,'’:/\\-\u2013\u2212+"
_FIND_NUM = (
    r"(?P<first>[0-9])"
    r"(?<![0-9_#№][0-9])"
    rf"(?<![0-9][{_JOINER_CHARS}][0-9])"
    r"(?:(?<=0)(?![0-9Oo])|(?<!0))"
    rf"(?>{_NUM_BODY})"
    r"(?![.,'’:/\-\u2013][0-9])"
)
_PCT_WORDS = (
    rf"%|(?i:prozent|procent|percent|per{_WS}?cent[o]?|pour{_WS}?cent|por{_WS}?ciento)"
    r"(?![^\W\d_])"
)
# A number and what may follow it: a percent sign (then it is no amount), or a trailing
# minus, a currency token (any short word; checked against _ATTACHED afterwards), a
# trailing minus after the currency. Searching for it scans for digits only.
_AMOUNT_RX = re.compile(
    _FIND_NUM + rf"(?:(?P<pct>{_WS}?(?:{_PCT_WORDS}))"
    rf"|(?P<tm>[-\u2212](?!\w))?"
    rf"(?:(?P<sws>{_WS}{{0,2}})(?P<scur>[{_SYMBOL_CHARS}]|[^\W\d_]{{1,5}}[$.]?(?![^\W\d_])))?"
    rf"(?P<tm2>[-\u2212](?!\w))?)"
)
# What may stand before a number: "(", sign, currency, sign. Matched on the reversed
# text, anchored at the number, so one attempt suffices (it reads right to left).
_REV_PREFIX_RX = re.compile(
    rf"(?:(?P<s2ws>{_WS})?(?P<s2>[{_SIGN_CHARS}]))?"
    rf"(?:{_WS}{{0,2}}(?P<pcur>[$.]?[^\W\d_]{{1,5}}(?![^\W\d_])|[{_SYMBOL_CHARS}]))?"
    rf"(?:(?P<s1ws>{_WS})?(?P<s1>[{_SIGN_CHARS}]))?"
    rf"(?:{_WS}?(?P<open>\())?"
)
_CLOSE_RX = re.compile(rf"{_WS}?\)")
_NEXT_NUM_RX = re.compile(rf"({_WS}{{0,2}})[{_SIGN_CHARS}]?[0-9]")

_IBAN_RX = re.compile(
    r"[A-Z]{2}[0-9]{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,8}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_PHONE_LABEL_RX = re.compile(
    r"(?<![^\W\d_])(?i:tel(?:efon|ephone|éfono|efono)?|phone|fax|mobile?|handy|cell|gsm)"
    rf"(?![^\W\d_])\.?(?:{_WS}*(?i:no|nr)\.?)?{_WS}*:?{_WS}*"
    r"[+(]?[0-9][0-9 \u00a0()./-]{4,}[0-9]"
)
_PHONE_WORDS = ("tel", "phone", "fax", "mobil", "handy", "cell", "gsm")
_PHONE_INTL_RX = re.compile(
    r"(?:\+|00)[1-9][0-9]{0,2}(?:[ \u00a0]?\(0\))?(?:[ \u00a0/-]{1,3}[0-9]{1,6}){2,6}"
    r"(?![ \u00a0/.,-]*[0-9])"
)

_PCT_RX = re.compile(
    rf"(?<![\w.,])(?P<n>[0-9]{{1,3}}(?:[.,][0-9]{{1,4}})?)(?![0-9]){_WS}?(?:{_PCT_WORDS})"
)

_PARSE_S = "\\s*"
_PARSE_RX = re.compile(
    rf"(?:(?P<open>\(){_PARSE_S})?"
    rf"(?:(?P<s1>[{_SIGN_CHARS}]){_PARSE_S})?"
    rf"(?:(?P<pcur>[{_SYMBOL_CHARS}]|[^\W\d_]{{1,5}}[$.]?){_PARSE_S})?"
    rf"(?:(?P<s2>[{_SIGN_CHARS}]){_PARSE_S})?"
    rf"(?:(?P<first>[0-9]){_NUM_BODY}|[.,](?P<ldec>{_DIGIT}{{1,6}}))"
    r"(?P<tm>[-\u2212])?"
    rf"(?:{_PARSE_S}(?P<scur>[{_SYMBOL_CHARS}]|[^\W\d_]{{1,5}}[$.]?))?"
    rf"(?:{_PARSE_S}(?P<tm2>[-\u2212]))?"
    rf"(?:{_PARSE_S}(?P<close>\)))?"
)

_CURRENCY_TEXT_RX = re.compile(
    rf"(?P<sym>[{_SYMBOL_CHARS}])"
    r"|(?<![^\W\d_])(?P<dollar>US|USD|CA|CAN|C|A|AU|NZ|HK|S|SG|R|MX|Mex|NT)\$"
    r"|(?<![^\W\d_])(?P<code>[A-Z]{3})(?![^\W\d_])"
    r"|(?<![^\W\d_])(?P<name>(?i:"
    + "|".join(f"(?P<n{i}>{frag})" for i, (frag, _) in enumerate(_CURRENCY_NAMES))
    + r"))(?![^\W\d_])"
)

_O_TO_ZERO = str.maketrans("Oo", "00")
_NOT_CURRENCY: tuple[bool, str | None, int] = (False, None, 0)
_MAX_INT_DIGITS = 12


# --------------------------------------------------------------------------- helpers


def _check_hint(decimal_separator: str | None) -> None:
    if decimal_separator not in (None, ",", "."):
        raise ValueError(f"decimal_separator must be ',', '.' or None, not {decimal_separator!r}")


def _lookup(token: str) -> tuple[bool, str | None, int]:
    """(is a currency, ISO code, length of the token to keep: a trailing '.' may be dropped)."""
    if token in _ATTACHED:
        return True, _ATTACHED[token], len(token)
    if token[-1] == "." and token[:-1] in _ATTACHED:
        return True, _ATTACHED[token[:-1]], len(token) - 1
    return _NOT_CURRENCY


def _interpret(
    int_raw: str, g: str | None, dec: str | None, dsep2: str | None, hint: str | None
) -> tuple[str, str, int] | None:
    """Digits of the integer part, digits of the decimals, and a kind.

    kind: 0 bare integer, 1 integer with thousands groups, 2 has decimals.
    """
    if "O" in int_raw or "o" in int_raw:
        int_raw = int_raw.translate(_O_TO_ZERO)
    if dec is not None and ("O" in dec or "o" in dec):
        dec = dec.translate(_O_TO_ZERO)
    if g is None:
        if dec is not None:
            return int_raw, dec, 2
        if dsep2 is not None:
            return int_raw, "00", 2
        return int_raw, "", 0
    digits = int_raw.replace(g, "")
    if dec is not None:
        return digits, dec, 2
    if dsep2 is not None:
        if dsep2 == g:
            return None
        return digits, "00", 2
    head, _, tail = int_raw.partition(g)
    if g in ".,":
        if len(tail) == 3 and (hint == g or head == "0"):
            return head, tail, 2  # "1,234" in a decimal-comma document, "0,125"
        if head[0] == "0":
            return None
    elif head[0] == "0":
        return None
    return digits, "", 1


def _make_value(int_digits: str, dec_digits: str, negative: bool) -> Decimal:
    value = Decimal(f"{int_digits}.{dec_digits}" if dec_digits else int_digits)
    return -value if negative and value else value


def _looks_like_day_month(int_raw: str, dec: str) -> bool:
    """``12.10`` followed by a dot: day 1-31 and month 1-12, a date without its year."""
    return (
        len(int_raw) <= 2
        and len(dec) <= 2
        and int_raw.isdigit()
        and dec.isdigit()
        and 1 <= int(int_raw) <= 31
        and 1 <= int(dec) <= 12
    )


def _follows_number(text: str, i: int) -> bool:
    """True when the text before index i (spaces skipped) ends with a digit or a symbol."""
    j = i
    while j > 0 and text[j - 1] in _WS_SET:
        j -= 1
    if j == 0:
        return False
    p = text[j - 1]
    return p.isdigit() or p in _SYMBOL_CURRENCIES


def _drop_excluded(text: str, found: list[Money]) -> list[Money]:
    """Drop amounts that overlap an IBAN or a phone number."""
    spans: list[tuple[int, int]] = []
    for m in _IBAN_RX.finditer(text):
        if m.start() == 0 or not text[m.start() - 1].isalnum():
            spans.append(m.span())
    if "+" in text or "00" in text:
        for m in _PHONE_INTL_RX.finditer(text):
            i = m.start()
            if i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_+"):
                spans.append(m.span())
    lower = text.lower()
    if any(w in lower for w in _PHONE_WORDS):
        spans += [m.span() for m in _PHONE_LABEL_RX.finditer(text)]
    if not spans:
        return found
    return [a for a in found if not any(s < a.end and a.start < e for s, e in spans)]


# --------------------------------------------------------------------------- public API


def parse_amount(text: str, decimal_separator: str | None = None) -> Money | None:
    """Parse a string that is exactly one amount (after strip), or return None.

    Bare integers (``1234``, ``1 234``) and ``.50`` are accepted here. At most one sign
    marker (leading sign, trailing minus or parentheses) is allowed; a prefix and a
    suffix currency are allowed only when they agree.
    """
    _check_hint(decimal_separator)
    stripped = text.strip()
    if not stripped:
        return None
    m = _PARSE_RX.fullmatch(stripped)
    if m is None:
        return None
    currency: str | None = None
    pcur, scur = m.group("pcur"), m.group("scur")
    if pcur is not None:
        if pcur not in _ATTACHED:
            return None
        currency = _ATTACHED[pcur]
    if scur is not None:
        ok, iso, _ = _lookup(scur)
        if not ok or (pcur is not None and iso != currency):
            return None
        currency = iso
    markers = [x for x in m.group("s1", "s2", "tm", "tm2") if x is not None]
    has_open, has_close = m.group("open") is not None, m.group("close") is not None
    if has_open != has_close or len(markers) + has_open > 1:
        return None
    negative = has_open or (bool(markers) and markers[0] in _MINUS)
    ldec = m.group("ldec")
    if ldec is not None:  # ".50"
        parsed: tuple[str, str, int] | None = ("0", ldec.translate(_O_TO_ZERO), 2)
    else:
        first, int_raw, g, dec, dsep2 = m.group("first", "int", "g", "dec", "dsep2")
        int_raw = first + int_raw
        parsed = _interpret(int_raw, g, dec, dsep2, decimal_separator)
    if parsed is None:
        return None
    offset = len(text) - len(text.lstrip())
    return Money(
        _make_value(parsed[0], parsed[1], negative),
        currency,
        stripped,
        offset,
        offset + len(stripped),
    )


def _number_span(m: re.Match[str]) -> tuple[str, int]:
    """The integer digits of an `_AMOUNT_RX` match and where its number ends."""
    int_raw = m.group("first") + m.group("int")
    end = m.start() + len(int_raw)
    if m.group("dec") is not None:
        end += len(m.group("dec")) + 1
    elif m.group("dash") is not None:
        end += len(m.group("dash")) + 1
    return int_raw, end


def find_amounts(text: str, decimal_separator: str | None = None) -> list[Money]:
    """Every amount in a line of text, left to right, not overlapping.

    See the module docstring for what is (and is deliberately not) reported.
    """
    _check_hint(decimal_separator)
    out: list[Money] = []
    search = _AMOUNT_RX.search
    n = len(text)
    rev = ""
    pos = 0
    floor = 0  # end of the last amount: a prefix must not reach back past it
    integers = False  # an integer amount was reported (then check IBANs and phones)
    while True:
        m = search(text, pos)
        if m is None:
            break
        ns = m.start()
        _, _, g, dec, dsep2, dash, pct, tm, sws, scur, tm2 = m.groups()
        int_raw, ne = _number_span(m)
        pos = ne
        # (digit runs, dates, ids and leading zeros were already skipped by the regex)
        c = text[ne] if ne < n else " "
        if pct is not None:
            pos = m.end()
            continue
        scur_ok, scur_iso, scur_keep = _NOT_CURRENCY if scur is None else _lookup(scur)
        if (c.isalnum() or c == "_") and (not scur_ok or tm is not None or sws):
            continue  # letters glued to the number: only a currency may be
        if g is None and dash is None:
            if dec is None:  # a bare integer: reported only with a currency (checked below)
                if len(int_raw) > _MAX_INT_DIGITS:
                    continue
                if "O" in int_raw or "o" in int_raw:
                    int_raw = int_raw.translate(_O_TO_ZERO)
                int_digits, dec_digits, kind = int_raw, "", 0
            else:  # the common "1234,56"
                if c == "." and _looks_like_day_month(int_raw, dec):
                    continue  # "vom 12.10. bis"
                if "O" in int_raw or "o" in int_raw:
                    int_raw = int_raw.translate(_O_TO_ZERO)
                if "O" in dec or "o" in dec:
                    dec = dec.translate(_O_TO_ZERO)
                int_digits, dec_digits, kind = int_raw, dec, 2
        else:
            parsed = _interpret(int_raw, g, dec, dsep2, decimal_separator)
            if parsed is None:
                continue
            int_digits, dec_digits, kind = parsed

        # ---- what stands before the number (matched right to left on the reversed text)
        start = ns
        first = 0  # the first token kept: 0 number, 1 sign, 2 currency
        negative = False
        has_currency = False
        currency: str | None = None
        open_at = -1
        if ns > floor:
            # a sign sits at most 1 space, a currency at most 2 spaces before the number
            p = text[ns - 1]
            if p in _WS_SET:
                look = ns >= 2 and (
                    text[ns - 2] not in _WS_SET or (ns >= 3 and text[ns - 3] not in _WS_SET)
                )
            else:
                look = p.isalpha() or p in _PREFIX_LAST
        else:
            look = False
        if look:
            if not rev:
                rev = text[::-1]
            rm = _REV_PREFIX_RX.match(rev, n - ns, n - floor)
            if rm is not None and rm.end() > rm.start():
                s2ws, s2, pcur, s1ws, s1, opened = rm.groups()
                detached = False
                if s2 is not None:
                    start, first, negative = n - rm.end(2), 1, s2 in _MINUS
                    detached = s2ws is not None
                if pcur is not None:
                    token = pcur[::-1]
                    if token not in _ATTACHED and token[-1] == "$":  # "Total$12": "$" alone
                        has_currency, currency = True, "USD"
                        start, first, detached = n - rm.start(3) - 1, 2, False
                    elif token in _ATTACHED:
                        has_currency, currency = True, _ATTACHED[token]
                        start, first, detached = n - rm.end(3), 2, False
                        if s1 is not None:
                            start, first = n - rm.end(5), 1
                            negative = negative or s1 in _MINUS
                            detached = s1ws is not None
                        if opened is not None:
                            open_at = n - rm.end(6)
                elif opened is not None:
                    open_at = n - rm.end(6)
                if first == 1 and detached and _follows_number(text, start):
                    # "10,00 - 20,00": a spaced sign right after a number is a range dash
                    open_at = -1
                    if has_currency:
                        start, first = n - rm.end(3), 2
                        negative = s2 is not None and s2 in _MINUS
                    else:
                        start, first, negative = ns, 0, False
        if kind == 0 and not has_currency and not scur_ok:
            continue
        if start:
            p = text[start - 1]
            if first == 0:
                if p.isalnum():
                    continue
            elif first == 1 and (p.isalnum() or p in "_.,/"):
                continue

        # ---- what follows the number
        end = ne
        if tm is not None:
            end += 1
            negative = True
        if scur_ok and not has_currency:
            scur_start = end + len(sws)
            scur_end = scur_start + scur_keep
            give_away = False
            nxt = _NEXT_NUM_RX.match(text, scur_end)
            if nxt is not None:
                gap_before = scur_start > end
                gap_after = nxt.end(1) > scur_end
                give_away = (gap_before and not gap_after) or (
                    gap_before == gap_after and kind == 0
                )
            if not give_away:
                has_currency, currency, end = True, scur_iso, scur_end
                if tm2 is not None and scur is not None and scur_keep == len(scur):
                    end += 1
                    negative = True
        if kind == 0:
            if not has_currency:
                continue
            integers = True
        elif kind == 1:
            integers = True
        if open_at >= 0:
            cm = _CLOSE_RX.match(text, end)
            if cm is not None:
                start, end, negative = open_at, cm.end(), True
        value = Decimal(f"{int_digits}.{dec_digits}" if dec_digits else int_digits)
        if negative and value:
            value = -value
        out.append(Money(value, currency, text[start:end], start, end))
        pos = floor = end
    if integers:
        # only integers can hide in an IBAN or a phone number ("... 0130 00 EUR")
        out = _drop_excluded(text, out)
    return out


def find_percentages(text: str) -> list[tuple[Decimal, int, int]]:
    """Percentages: ``19 %``, ``19%``, ``5,5 %``, ``7.7%``, ``-5 %``, ``19 Prozent``.

    ``,`` and ``.`` are always the decimal mark here. Returns (value, start, end) with the
    span covering the sign, the number and the percent sign/word.
    """
    out: list[tuple[Decimal, int, int]] = []
    for m in _PCT_RX.finditer(text):
        start = m.start()
        value = Decimal(m.group("n").replace(",", "."))
        if (
            start > 0
            and text[start - 1] in _MINUS
            and (start == 1 or not (text[start - 2].isalnum() or text[start - 2] in ".,"))
        ):
            start -= 1
            value = -value if value else value
        out.append((value, start, m.end()))
    return out


def currency_from_text(text: str) -> str | None:
    """ISO code of the currency named in the text, or None.

    A currency attached to an amount wins (the first such amount); otherwise the first
    symbol, ``US$``-style token, upper-case ISO code or currency name (en/de/fr/nl/es/it)
    in the text. ``Fr.``, ``kr``, ``Ft`` and ``lei`` count only when attached to an amount.
    """
    for money in find_amounts(text):
        if money.currency is not None:
            return money.currency
    for m in _CURRENCY_TEXT_RX.finditer(text):
        sym = m.group("sym")
        if sym is not None:
            return _SYMBOL_CURRENCIES[sym]
        dollar = m.group("dollar")
        if dollar is not None:
            return _ATTACHED[dollar + "$"]
        code = m.group("code")
        if code is not None:
            if code in _ISO_CODES:
                return code
            continue
        for i, (_, iso) in enumerate(_CURRENCY_NAMES):
            if m.group(f"n{i}") is not None:
                return iso
    return None


def detect_decimal_separator(samples: Iterable[str]) -> str | None:
    """Decide the document's decimal mark, "," or ".", from amount-looking strings.

    Evidence per number: a decimal part (``12,50``, ``1.234,56``, ``0,125``, ``12,-``)
    votes for its mark, twice when groups with the other character confirm it;
    several thousands groups (``1.234.567``) vote for the other character. A lone
    ``1.234`` gives no evidence, nor do dates, ids or times. Percentages count
    (``5,5 %``). Returns None on no evidence or a tie.
    """
    votes = {",": 0, ".": 0}
    for sample in samples:
        pos = 0
        while True:
            m = _AMOUNT_RX.search(sample, pos)
            if m is None:
                break
            ns = m.start()
            g, dec, dsep2 = m.group("g", "dec", "dsep2")
            int_raw, pos = _number_span(m)
            if ns and sample[ns - 1].isalpha():
                continue  # "INV1001", "DE89"
            mark = sample[ns + len(int_raw)] if dec is not None else dsep2
            if mark is not None:
                if g is not None and g == mark:
                    continue
                votes[mark] += 2 if g in (".", ",") else 1
            elif g in (".", ","):
                if int_raw.count(g) > 1:
                    votes["," if g == "." else "."] += 1
                elif int_raw[0] == "0":
                    votes[g] += 1
    if votes[","] == votes["."]:
        return None
    return "," if votes[","] > votes["."] else "."
