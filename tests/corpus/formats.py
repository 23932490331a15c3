"""Locale-dependent printing of numbers, money, percentages and dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tests.corpus.vocab import VOCAB

CENT = Decimal("0.01")


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quantize(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def decimal_text(value: Decimal) -> str:
    """Canonical ground-truth text of a decimal: plain notation, precision kept."""
    return f"{value:f}"


def rate_text(rate: Decimal) -> str:
    """Canonical text of a tax rate in percent: "19", "5.5", "8.875"."""
    return f"{rate.normalize():f}"


@dataclass(frozen=True)
class NumberFormat:
    thousands: str  # "" for no grouping
    decimal: str
    group_min: int = 4  # integer digits needed before the thousands separator is used

    def number(self, value: Decimal, places: int) -> str:
        q = quantize(value, places)
        sign = "-" if q < 0 else ""
        int_part, _, frac = f"{abs(q):f}".partition(".")
        if self.thousands and len(int_part) >= self.group_min:
            groups: list[str] = []
            while len(int_part) > 3:
                groups.insert(0, int_part[-3:])
                int_part = int_part[:-3]
            groups.insert(0, int_part)
            int_part = self.thousands.join(groups)
        return sign + int_part + (self.decimal + frac if places else "")


@dataclass(frozen=True)
class MoneyFormat:
    number: NumberFormat
    pattern: str  # "{s}{n}", "{n} {s}", "{c} {n}", "{n} {c}" ...
    symbol: str
    code: str
    negative: str = "minus"  # "minus" -> -120,00 | "parens" -> (120.00) | "trailing" -> 120,00-

    def format(self, value: Decimal, *, plain: bool = False, places: int = 2) -> str:
        """Money as printed; ``plain`` leaves out the currency."""
        neg = value < 0
        num = self.number.number(abs(value), places)
        pattern = "{n}" if plain else self.pattern
        if neg and self.negative == "trailing":
            num += "-"
        elif neg and self.negative == "minus":
            if pattern.startswith("{s}{n}"):  # attached symbol: "-$120.00"
                return "-" + pattern.format(n=num, s=self.symbol, c=self.code)
            num = "-" + num
        text = pattern.format(n=num, s=self.symbol, c=self.code)
        return f"({text})" if neg and self.negative == "parens" else text


def percent(rate: Decimal, nf: NumberFormat, style: str, min_places: int = 0) -> str:
    """A tax rate as printed: style is "{r} %" or "{r}%" (or "{r}" inside a % column)."""
    exp = rate.normalize().as_tuple().exponent
    places = max(min_places, -exp if isinstance(exp, int) else 0)
    return style.format(r=nf.number(rate, places))


def end_of_month(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def format_date(day: dt.date, style: str, lang: str, locale: str = "") -> str:
    """Print ``day`` in one of the named date styles (see ``Locale.date_styles``)."""
    vocab = VOCAB[lang]
    months = list(vocab.months)
    abbr = list(vocab.months_abbr)
    if locale == "de-AT":
        months[0], abbr[0] = "Jänner", "Jän."
    d, m, y = day.day, day.month, day.year
    month, mon = months[m - 1], abbr[m - 1]
    if style == "dmy_dot":
        return f"{d:02d}.{m:02d}.{y}"
    if style == "dmy_dot2":
        return f"{d:02d}.{m:02d}.{y % 100:02d}"
    if style == "dmy_dot_nopad":
        return f"{d}.{m}.{y}"
    if style == "dmy_slash":
        return f"{d:02d}/{m:02d}/{y}"
    if style == "dmy_dash":
        return f"{d:02d}-{m:02d}-{y}"
    if style == "mdy_slash":
        return f"{m:02d}/{d:02d}/{y}"
    if style == "mdy_slash2":
        return f"{m}/{d}/{y % 100:02d}"
    if style == "iso":
        return day.isoformat()
    if style == "month_d_y":
        return f"{month} {d}, {y}"
    if style == "mon_d_y":
        return f"{mon} {d}, {y}"
    if style == "ordinal_month":
        suffix = "th" if 11 <= d <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
        return f"{d}{suffix} {month} {y}"
    if style == "dash_mon":
        return f"{d:02d}-{mon.rstrip('.')}-{y}"
    day_word = vocab.date_words.get("first", "1") if d == 1 else str(d)
    if style == "d_month_y":
        return {
            "de": f"{d}. {month} {y}",
            "es": f"{d} de {month} de {y}",
            "fr": f"{day_word} {month} {y}",
        }.get(lang, f"{d} {month} {y}")
    if style == "d_mon_y":
        return f"{d}. {mon} {y}" if lang == "de" else f"{day_word} {mon} {y}"
    raise ValueError(f"unknown date style {style!r}")
