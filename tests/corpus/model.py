"""What an invoice says (``Invoice``) and how it is worded and formatted (``Document``).

``build_invoice`` draws the content (parties, dates, line items, amounts) for one corpus
item; ``compose`` turns it into the strings a layout places on the page and, at the same
time, into the ground truth: a field is in the truth exactly when a string showing it is
part of the ``Document``. ``printed`` records those strings so tests can find them in the PDF.

Conventions of the ground truth (canonical schema names, see shared/extraction/schema.py):
- addresses are the printed address lines (without the party name) joined with ", ";
- ``total_discount`` is positive (invoice_total = subtotal - total_discount + total_tax);
- credit notes carry negative money values, quantities stay positive;
- ``total_tax`` is the sum of the per-rate tax lines, also when no "total tax" line is shown;
- when the closing line is an "amount due"-type label, both ``invoice_total`` and
  ``amount_due`` are given (same value); "Total"-type labels give only ``invoice_total``;
- ``amount_due`` differs from ``invoice_total`` when a prepayment is deducted or a
  ``previous_unpaid_balance`` is added.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.extraction.schema import INVOICE_FIELDS
from tests.corpus import places
from tests.corpus.catalog import CATALOG, DETAILS, expand
from tests.corpus.formats import (
    MoneyFormat,
    NumberFormat,
    decimal_text,
    end_of_month,
    format_date,
    percent,
    quantize,
    rate_text,
    round_cents,
)
from tests.corpus.places import LOCALES, Bank, Locale
from tests.corpus.vocab import VOCAB, Vocab

# fmt: off
INVOICE_ID_PATTERNS: dict[str, tuple[str, ...]] = {
    "en": ("INV-{y}-{4d}", "{6d}", "INV{5d}", "{y}-{4d}", "SI-{5d}"),
    "de": ("RE-{y}-{4d}", "{y}{5d}", "R{yy}-{4d}", "{y}/{4d}", "RG{6d}"),
    "fr": ("F{y}-{4d}", "FA{yy}{5d}", "{y}-{4d}", "FAC-{y}-{3d}"),
    "nl": ("{y}{4d}", "F{y}-{3d}", "INV{yy}{4d}", "{y}-{4d}"),
    "es": ("{y}/{4d}", "F{yy}-{4d}", "A-{y}-{3d}", "FV{y}{4d}"),
    "it": ("{n}/{y}", "{n}/{yy}", "FT{y}/{3d}", "{y}/{4d}", "{4d}/A"),
}
CREDIT_ID_PATTERNS: dict[str, tuple[str, ...]] = {
    "en": ("CN-{y}-{3d}", "CR{5d}"),
    "de": ("GS-{y}-{3d}", "G{yy}{4d}"),
    "fr": ("AV{y}-{3d}", "AV-{5d}"),
    "nl": ("CR{y}-{3d}", "C{yy}{4d}"),
    "es": ("R-{y}/{3d}", "R{yy}-{4d}"),
    "it": ("NC {n}/{y}", "NC{y}/{3d}"),
}
PO_PATTERNS = ("PO-{5d}", "45{8d}", "{y}-PO-{4d}", "BE-{y}-{3d}", "ORD{5d}", "{6d}", "P{yy}/{4d}")
CUSTOMER_ID_PATTERNS = ("K{5d}", "{5d}", "CUST-{5d}", "C{6d}", "D{5d}", "KD-{4d}", "{2L}{4d}")
CODE_PATTERNS = ("ART-{5d}", "{3d}-{4d}", "{2L}{4d}", "SKU{6d}", "{4d}.{3d}", "{L}{5d}-{2L}")
COLUMN_SCHEMES: tuple[tuple[str, ...], ...] = (
    ("desc", "qty", "unit_price", "amount"),
    ("pos", "code", "desc", "qty", "unit", "unit_price", "amount"),
    ("qty", "desc", "unit_price", "vat", "amount"),
    ("code", "desc", "qty", "unit", "unit_price", "vat", "amount"),
    ("pos", "desc", "qty", "unit_price", "vat", "amount"),
    ("desc", "code", "qty", "unit_price", "amount"),
    ("pos", "desc", "qty", "unit", "unit_price", "amount"),
)
LATE_FEE_FR = (
    "En cas de retard de paiement, une pénalité égale à trois fois le taux d'intérêt légal "
    "sera appliquée, ainsi qu'une indemnité forfaitaire pour frais de recouvrement de 40 €."
)
# fmt: on


def fill(rng: random.Random, pattern: str, year: int) -> str:
    """Expand an id pattern: {y} year, {yy} two-digit year, {n} small number, {4d} digits,
    {2L} letters."""

    def token(m: re.Match[str]) -> str:
        tok = m.group(1)
        if tok == "y":
            return str(year)
        if tok == "yy":
            return f"{year % 100:02d}"
        if tok == "n":
            return str(rng.randint(1, 480))
        count = int(tok[:-1] or 1)
        if tok.endswith("d"):
            return str(rng.randint(1, 9)) + "".join(
                str(rng.randint(0, 9)) for _ in range(count - 1)
            )
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXZ") for _ in range(count))

    return re.sub(r"\{(\w+)\}", token, pattern)


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


# --------------------------------------------------------------------------- content


@dataclass
class Party:
    name: str
    address: list[str]  # printed address lines, country line included when printed
    country: str
    tax_id: str
    tax_printed: str
    phone: str
    domain: str
    person: str
    city: str  # the postcode/city line, for register entries


@dataclass
class Line:
    description: str
    qty: Decimal
    qty_places: int
    unit: str
    unit_price: Decimal
    price_places: int
    rate: Decimal
    code: str

    @property
    def amount(self) -> Decimal:
        return round_cents(self.qty * self.unit_price)


@dataclass
class Invoice:
    index: int
    lang: str
    locale: Locale
    credit: bool
    multipage: bool
    vendor: Party
    customer: Party
    ship_to: list[str] | None
    invoice_id: str
    reference_id: str
    invoice_date: dt.date
    due_date: dt.date
    terms: str
    terms_kind: str
    customer_id: str
    purchase_order: str
    service_period: tuple[dt.date, dt.date] | None
    delivery_note: str
    order_date: dt.date
    currency: str
    rates: tuple[Decimal, ...]
    lines: list[Line]
    discount_pct: Decimal | None
    prepay_fraction: Decimal | None
    previous_balance: Decimal | None
    bank: Bank
    iban: str | None
    account_no: str | None
    sort_code: str | None
    legal: list[str]
    code_pattern: str
    goods_only: bool | None  # True goods, False services, None mixed
    precise_prices: bool


@dataclass
class Totals:
    subtotal: Decimal
    discount: Decimal
    by_rate: list[tuple[Decimal, Decimal, Decimal]]  # (rate, taxable base, tax)
    total_tax: Decimal
    total: Decimal
    prepayment: Decimal
    previous: Decimal
    amount_due: Decimal


def compute_totals(inv: Invoice) -> Totals:
    amounts = [line.amount for line in inv.lines]
    subtotal = sum(amounts, Decimal(0))
    per_rate: dict[Decimal, Decimal] = {}
    for line in inv.lines:
        per_rate[line.rate] = per_rate.get(line.rate, Decimal(0)) + line.amount
    discount = round_cents(subtotal * inv.discount_pct / 100) if inv.discount_pct else Decimal(0)
    by_rate: list[tuple[Decimal, Decimal, Decimal]] = []
    left = discount
    rates = sorted(per_rate, reverse=True)
    for i, rate in enumerate(rates):
        share = left if i == len(rates) - 1 else round_cents(discount * per_rate[rate] / subtotal)
        left -= share
        base = per_rate[rate] - share
        by_rate.append((rate, base, round_cents(base * rate / 100)))
    total_tax = sum((tax for _, _, tax in by_rate), Decimal(0))
    total = subtotal - discount + total_tax
    prepayment = Decimal(0)
    if inv.prepay_fraction:
        prepayment = quantize(total * inv.prepay_fraction, 0).quantize(Decimal("0.01"))
    previous = inv.previous_balance or Decimal(0)
    return Totals(
        subtotal, discount, by_rate, total_tax, total, prepayment, previous,
        total - prepayment + previous,
    )  # fmt: skip


def make_party(rng: random.Random, locale: Locale) -> Party:
    country = locale.country
    name = places.company_name(rng, places.region(locale))
    address = places.address_lines(rng, places.region(locale))
    city = address[-1]
    if chance(rng, 0.3):
        address.append(rng.choice(locale.country_names))
    tax_id, tax_printed = places.vat_id(rng, country)
    return Party(
        name=name,
        address=address,
        country=country,
        tax_id=tax_id,
        tax_printed=tax_printed,
        phone=places.phone_number(rng, country),
        domain=places.email_domain(name, country),
        person=rng.choice(places.NAMES[places.region(locale)].people),
        city=city,
    )


def invoice_date(rng: random.Random) -> dt.date:
    start = dt.date(2023, 1, 2)
    day = start + dt.timedelta(days=rng.randint(0, 3 * 365 - 20))
    # day-of-month > 12 most of the time, but not always: numeric dates stay ambiguous
    dom = rng.randint(13, 28) if chance(rng, 0.65) else rng.randint(1, 12)
    return day.replace(day=dom)


def make_lines(rng: random.Random, inv: Invoice, count: int) -> list[Line]:
    articles = [
        a for a in CATALOG[inv.lang] if inv.goods_only is None or a.service != inv.goods_only
    ]
    lines: list[Line] = []
    for i in range(count):
        art = rng.choice(articles)
        desc = expand(rng, art.text)
        if chance(rng, 0.12):
            desc += rng.choice((", ", " - ")) + rng.choice(DETAILS[inv.lang][art.service])
        qty, places_q = _quantity(rng, art.unit, art.high)
        price_places = 2
        if art.high < 2 and inv.precise_prices:
            price_places = rng.choice((3, 4))
        price = quantize(Decimal(str(rng.uniform(art.low, art.high))), price_places)
        if art.unit == "flat" and chance(rng, 0.5):
            price = quantize(price, 0).quantize(Decimal("0.01"))
        rate = inv.rates[0]
        if len(inv.rates) > 1:
            rate = inv.rates[i % len(inv.rates)] if i < len(inv.rates) else rng.choice(inv.rates)
        if inv.credit:
            price = -price
        code = fill(rng, inv.code_pattern, inv.invoice_date.year)
        lines.append(Line(desc, qty, places_q, art.unit, price, price_places, rate, code))
    return lines


def _quantity(rng: random.Random, unit: str, high: float) -> tuple[Decimal, int]:
    if unit == "h":
        if chance(rng, 0.4):
            q = Decimal(rng.randint(2, 80)) / 2
            return q, 1 if q != q.to_integral_value() else 0
        return Decimal(rng.randint(1, 40)), 0
    if unit == "day":
        return Decimal(rng.choice((1, 1, 2, 3, 5, 10))), 0
    if unit == "month":
        return Decimal(rng.choice((1, 1, 1, 3, 6, 12))), 0
    if unit in ("kg", "m", "l"):
        places_q = rng.choice((0, 1, 2))
        return quantize(Decimal(rng.randint(50, 50000)) / 100, places_q), places_q
    if unit == "flat":
        return Decimal(1), 0
    if high < 2:
        return Decimal(rng.choice((50, 100, 200, 250, 500, 1000, 1500, 2000))), 0
    return Decimal(rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12, 20, 25, 50))), 0


def build_invoice(
    rng: random.Random, index: int, lang: str, *, credit: bool, multipage: bool
) -> Invoice:
    names, weights = zip(*places.LANGUAGE_LOCALES[lang], strict=True)
    locale = LOCALES[rng.choices(names, weights)[0]]
    vocab = VOCAB[lang]
    vendor = make_party(rng, locale)
    customer = make_party(rng, locale)
    date = invoice_date(rng)
    year = date.year
    terms_template, terms_kind = rng.choice(vocab.terms)
    days = rng.choice((7, 10, 14, 14, 30, 30, 30, 45, 60))
    terms = terms_template.format(d=days)
    if terms_kind == "receipt":
        due = date
    elif terms_kind == "eom":
        due = end_of_month(date + dt.timedelta(days=days))
    else:
        due = date + dt.timedelta(days=days)
    period = None
    if chance(rng, 0.2):
        first = (date.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        period = (first, end_of_month(first))
    if len(locale.tax_rates) == 1 or chance(rng, 0.65):
        rates: tuple[Decimal, ...] = (locale.tax_rates[0],)
    else:
        rates = tuple(rng.sample(locale.tax_rates, rng.randint(2, len(locale.tax_rates))))
    bank = rng.choice(places.BANKS[locale.country])
    iban = None if locale.country == "US" else places.make_iban(rng, locale.country, bank)
    account_no = sort_code = None
    if locale.country == "US":
        account_no = str(rng.randint(10**9, 10**10 - 1))
        sort_code = bank.code
    elif locale.country == "GB" and iban:
        account_no, sort_code = iban[14:], f"{iban[8:10]}-{iban[10:12]}-{iban[12:14]}"
    id_patterns = CREDIT_ID_PATTERNS[lang] if credit else INVOICE_ID_PATTERNS[lang]
    inv = Invoice(
        index=index,
        lang=lang,
        locale=locale,
        credit=credit,
        multipage=multipage,
        vendor=vendor,
        customer=customer,
        ship_to=places.address_lines(rng, places.region(locale)) if chance(rng, 0.12) else None,
        invoice_id=fill(rng, rng.choice(id_patterns), year),
        reference_id=fill(rng, rng.choice(INVOICE_ID_PATTERNS[lang]), year),
        invoice_date=date,
        due_date=due,
        terms=terms,
        terms_kind=terms_kind,
        customer_id=fill(rng, rng.choice(CUSTOMER_ID_PATTERNS), year),
        purchase_order=fill(rng, rng.choice(PO_PATTERNS), year),
        service_period=period,
        delivery_note=fill(rng, rng.choice(("LS-{5d}", "{7d}", "DN{5d}")), year),
        order_date=date - dt.timedelta(days=rng.randint(3, 40)),
        currency=locale.currency,
        rates=rates,
        lines=[],
        discount_pct=None,
        prepay_fraction=None,
        previous_balance=None,
        bank=bank,
        iban=iban,
        account_no=account_no,
        sort_code=sort_code,
        legal=places.register_lines(rng, locale.country, vendor.city, vendor.person),
        code_pattern=rng.choice(CODE_PATTERNS),
        goods_only=rng.choice((True, False, None)),
        precise_prices=chance(rng, 0.3),
    )
    if not credit:
        if chance(rng, 0.2):
            inv.discount_pct = Decimal(rng.choice(("2", "3", "5", "10")))
        extra = rng.random()
        if extra < 0.12:
            inv.prepay_fraction = Decimal(rng.choice(("0.2", "0.3", "0.5")))
        elif extra < 0.24:
            inv.previous_balance = quantize(Decimal(str(rng.uniform(80, 4000))), 2)
    count = rng.randint(25, 60) if multipage else rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 12))
    inv.lines = make_lines(rng, inv, count)
    return inv


# --------------------------------------------------------------------------- document


@dataclass
class Pair:
    field: str  # canonical field name or "" for context the truth does not carry
    label: str
    value: str


@dataclass
class Block:
    name: str
    lines: list[str]
    extra: list[str] = field(default_factory=list)  # tax id line, contact lines
    attn: str | None = None


@dataclass
class Column:
    key: str
    header: str
    align: str  # "L" | "R" | "C"


@dataclass
class TotalLine:
    kind: str
    label: str
    value: str
    strong: bool = False


@dataclass
class Document:
    lang: str
    locale: str
    title: str
    subject: str  # "Invoice No. 123" as a letter subject line
    vendor: Block
    brand: str
    vendor_tax: str | None
    contact: list[str]
    customer: Block
    customer_label: str | None
    ship: Block | None
    ship_label: str
    meta: list[Pair]
    columns: list[Column]
    rows: list[dict[str, str]]
    row_amounts: list[Decimal]
    money_table: MoneyFormat
    table_plain: bool
    totals: list[TotalLine]
    tax_table: list[tuple[str, str, str]] | None
    tax_table_header: tuple[str, str, str]
    currency_note: str | None
    salutation: tuple[str, str] | None
    notes: list[str]
    bank_heading: str
    bank: list[str]
    bank_sep: str | None  # print the bank parts on one line joined by this, else one per line
    legal: list[str]
    page_label: str | None
    carried: str | None
    brought: str | None
    repeat_header: bool
    first_page_rows: int | None  # most item rows on page 1 (multi-page invoices), else None
    continued: str
    page_format: str


@dataclass
class Composition:
    document: Document
    truth: dict[str, Any]
    printed: dict[str, Any]
    details: dict[str, Any]  # the variant choices, for debugging benchmark results


def _label(rng: random.Random, options: tuple[str, ...]) -> str:
    return rng.choice(options)


def compose(inv: Invoice, rng: random.Random) -> Composition:
    v: Vocab = VOCAB[inv.lang]
    loc = inv.locale
    totals = compute_totals(inv)
    truth: dict[str, Any] = {}
    printed: dict[str, Any] = {}

    def put(name: str, value: Any, shown: Any) -> None:
        truth[name] = value
        printed[name] = shown

    # ---- formats
    styles = loc.number_styles
    thousands, decimal_sep = styles[0] if chance(rng, 0.6) else rng.choice(styles)
    nf = NumberFormat(thousands, decimal_sep, rng.choice(loc.group_min))
    neg_style = "minus"
    if inv.credit:
        neg_style = rng.choice(("minus", "parens", "trailing"))
    currency_mode = rng.choices(("symbol", "symbol_totals", "code", "header"), (35, 25, 20, 20))[0]
    if currency_mode == "code" or loc.symbol == loc.currency:
        patterns = [p for p in loc.money_patterns if "{c}" in p] or ["{c} {n}"]
    else:
        patterns = [p for p in loc.money_patterns if "{s}" in p] or ["{n} {s}"]
    mf = MoneyFormat(nf, rng.choice(patterns), loc.symbol, inv.currency, neg_style)
    plain_totals = currency_mode == "header"
    table_plain = currency_mode != "symbol"

    def money(value: Decimal) -> str:
        return mf.format(value, plain=plain_totals)

    date_style = rng.choice(loc.date_styles)

    def fdate(day: dt.date) -> str:
        return format_date(day, date_style, inv.lang, loc.code)

    rate_style = rng.choice(("{r} %", "{r}%")) if inv.lang != "en" else "{r}%"
    rate_places = 1 if chance(rng, 0.15) else 0
    label_upper = chance(rng, 0.2)
    colon = rng.choice((":", ":", ""))

    def lab(text: str) -> str:
        return (text.upper() if label_upper else text) + colon

    # ---- parties
    vendor, customer = inv.vendor, inv.customer
    put("vendor_name", vendor.name, vendor.name)
    put("vendor_address", ", ".join(vendor.address), list(vendor.address))
    vendor_tax = None
    if chance(rng, 0.5 if loc.country == "US" else 0.93):
        sep = rng.choice((": ", " ", ": "))
        vendor_tax = f"{rng.choice(loc.vendor_tax_labels)}{sep}{vendor.tax_printed}"
        put("vendor_tax_id", vendor.tax_id.replace(" ", ""), vendor.tax_printed)
    contact = [f"{rng.choice(v.phone)} {vendor.phone}"]
    if chance(rng, 0.8):
        contact.append(
            f"{rng.choice(v.email)}: {rng.choice(('info', 'billing', 'office'))}@{vendor.domain}"
        )
    if chance(rng, 0.6):
        contact.append(f"www.{vendor.domain}")

    put("customer_name", customer.name, customer.name)
    put("customer_address", ", ".join(customer.address), list(customer.address))
    cblock = Block(customer.name, list(customer.address))
    if chance(rng, 0.15):
        cblock.attn = f"{rng.choice(v.attention)} {customer.person}"
    meta_customer_tax = False
    if chance(rng, 0.25):
        put("customer_tax_id", customer.tax_id, customer.tax_printed)
        if chance(rng, 0.5):
            cblock.extra.append(f"{rng.choice(loc.vendor_tax_labels)}: {customer.tax_printed}")
        else:
            meta_customer_tax = True
    customer_label = rng.choice(v.bill_to) if chance(rng, 0.8) else None
    ship = None
    if inv.ship_to:
        ship = Block(customer.name, list(inv.ship_to))

    # ---- title and meta block
    title = rng.choice(v.credit_title if inv.credit else v.invoice_title)
    id_label = rng.choice(v.credit_id if inv.credit else v.invoice_id)
    meta: list[Pair] = []
    put("invoice_id", inv.invoice_id, inv.invoice_id)
    put("invoice_date", inv.invoice_date.isoformat(), fdate(inv.invoice_date))
    head = [
        Pair("invoice_id", lab(id_label), inv.invoice_id),
        Pair("invoice_date", lab(rng.choice(v.invoice_date)), fdate(inv.invoice_date)),
    ]
    if chance(rng, 0.25):
        head.reverse()
    plain_title = (v.credit_title if inv.credit else v.invoice_title)[0]
    subject = f"{plain_title} {v.number_short} {inv.invoice_id}"
    if inv.lang == "it" and not inv.credit and chance(rng, 0.4):
        # "Fattura n. 123/2024 del 15/03/2024": number and date only in the title line
        title = f"Fattura n. {inv.invoice_id} del {fdate(inv.invoice_date)}"
        subject = title
        head = []
    tail: list[Pair] = []
    notes: list[str] = []
    due_mode = rng.choices(("pair", "sentence", "none"), (70, 15, 15))[0]
    if inv.credit or (inv.terms_kind == "receipt" and chance(rng, 0.5)):
        due_mode = "none"
    if due_mode != "none":
        put("due_date", inv.due_date.isoformat(), fdate(inv.due_date))
        if due_mode == "pair":
            tail.append(Pair("due_date", lab(rng.choice(v.due_date)), fdate(inv.due_date)))
        else:
            notes.append(rng.choice(v.due_sentence).format(date=fdate(inv.due_date)))
    if chance(rng, 0.8):
        put("customer_id", inv.customer_id, inv.customer_id)
        tail.append(Pair("customer_id", lab(rng.choice(v.customer_id)), inv.customer_id))
    if chance(rng, 0.55):
        put("purchase_order", inv.purchase_order, inv.purchase_order)
        tail.append(Pair("purchase_order", lab(rng.choice(v.purchase_order)), inv.purchase_order))
    terms_mode = "none" if inv.credit else rng.choices(("pair", "note", "none"), (45, 25, 30))[0]
    if terms_mode != "none":
        put("payment_terms", inv.terms, inv.terms)
        if terms_mode == "pair":
            tail.append(Pair("payment_terms", lab(rng.choice(v.payment_terms)), inv.terms))
        else:
            notes.insert(0, inv.terms)
    if meta_customer_tax:
        tail.append(
            Pair("customer_tax_id", lab(rng.choice(v.customer_tax_id)), customer.tax_printed)
        )
    if inv.service_period:
        start, end = inv.service_period
        sep = rng.choice((" - ", " – ", " to " if inv.lang == "en" else " - "))
        put("service_start_date", start.isoformat(), fdate(start))
        put("service_end_date", end.isoformat(), fdate(end))
        tail.append(Pair("", lab(rng.choice(v.service_period)), f"{fdate(start)}{sep}{fdate(end)}"))
    if chance(rng, 0.2):
        tail.append(Pair("", lab(rng.choice(v.delivery_note)), inv.delivery_note))
    if chance(rng, 0.15):
        tail.append(Pair("", lab(rng.choice(v.order_date)), fdate(inv.order_date)))
    if chance(rng, 0.25):
        tail.append(Pair("", lab(rng.choice(v.contact)), vendor.person))
    if inv.credit:
        tail.insert(0, Pair("", lab(rng.choice(v.reference_invoice)), inv.reference_id))
    rng.shuffle(tail)
    meta = head + tail

    # ---- currency shown
    currency_note = None
    currency_shown = inv.currency if currency_mode in ("code", "header") else loc.symbol
    column_currency = ""
    if currency_mode == "header":
        where = rng.choice(("note", "meta", "column"))
        if where == "note":
            currency_note = rng.choice(v.amounts_in).format(cur=inv.currency)
        elif where == "meta":
            meta.append(Pair("", lab(rng.choice(v.currency)), inv.currency))
        else:
            column_currency = f" ({inv.currency})" if chance(rng, 0.6) else f" {inv.currency}"
    put("currency", inv.currency, currency_shown)

    # ---- items table
    keys = list(rng.choice(COLUMN_SCHEMES))
    if len(inv.rates) > 1 and "vat" not in keys:
        keys.insert(keys.index("amount"), "vat")
    header_upper = chance(rng, 0.25)
    columns = []
    for key in keys:
        header = rng.choice(v.columns[key])
        if key == "amount":
            header += column_currency
        align = "L" if key in ("desc", "code", "unit") else ("C" if key == "pos" else "R")
        columns.append(Column(key, header.upper() if header_upper else header, align))
    unit_words = {kind: rng.choice(words) for kind, words in v.units.items()}
    pos_style = rng.choice(("seq", "seq", "tens", "pad"))
    qty_fixed = chance(rng, 0.25)
    vat_cell_style = rng.choice(("{r} %", "{r}%", "{r}"))
    rows: list[dict[str, str]] = []
    items: list[dict[str, str]] = []
    printed_items: list[dict[str, str]] = []
    for n, line in enumerate(inv.lines, start=1):
        qty_places = 2 if qty_fixed else line.qty_places
        cells = {
            "pos": {"seq": str(n), "tens": str(n * 10), "pad": f"{n:03d}"}[pos_style],
            "code": line.code,
            "desc": line.description,
            "qty": nf.number(line.qty, qty_places),
            "unit": unit_words[line.unit],
            "unit_price": mf.format(line.unit_price, plain=table_plain, places=line.price_places),
            "vat": percent(line.rate, nf, vat_cell_style, rate_places),
            "amount": mf.format(line.amount, plain=table_plain),
        }
        rows.append(cells)
        item = {
            "description": line.description,
            "quantity": decimal_text(quantize(line.qty, qty_places)),
            "unit_price": decimal_text(line.unit_price),
            "amount": decimal_text(line.amount),
        }
        shown = {
            "description": line.description,
            "quantity": cells["qty"],
            "unit_price": cells["unit_price"],
            "amount": cells["amount"],
        }
        for key, name in (("unit", "unit"), ("vat", "tax_rate"), ("code", "product_code")):
            if key in keys:
                item[name] = line.code if key == "code" else unit_words[line.unit]
                if key == "vat":
                    item[name] = rate_text(line.rate)
                shown[name] = cells[key]
        items.append(item)
        printed_items.append(shown)

    # ---- totals
    tax_name = rng.choice(loc.tax_names)
    lines: list[TotalLine] = []
    sub_label = rng.choice(v.subtotal)
    lines.append(TotalLine("subtotal", sub_label, money(totals.subtotal)))
    put("subtotal", decimal_text(totals.subtotal), money(totals.subtotal))
    if totals.discount:
        pct = percent(inv.discount_pct or Decimal(0), nf, rate_style)
        shown_disc = money(-totals.discount if chance(rng, 0.6) else totals.discount)
        disc_label = rng.choice(v.discount).format(pct=pct)
        lines.append(TotalLine("discount", disc_label, shown_disc))
        put("total_discount", decimal_text(totals.discount), shown_disc)
    multi = len(totals.by_rate) > 1
    use_tax_table = chance(rng, 0.5 if inv.lang in ("fr", "es", "it") else 0.2) and not (
        inv.lang == "en" and loc.country == "US"
    )
    tax_table = None
    tax_templates = v.tax_line
    rate_strs = [percent(rate, nf, rate_style, rate_places) for rate, _, _ in totals.by_rate]
    if use_tax_table:
        tax_table = [
            (rs, money(base), money(tax))
            for rs, (_, base, tax) in zip(rate_strs, totals.by_rate, strict=True)
        ]
    else:
        template = rng.choice(tax_templates)
        for rs, (_, base, tax) in zip(rate_strs, totals.by_rate, strict=True):
            label = template.format(tax=tax_name, rate=rs, base=money(base))
            lines.append(TotalLine("tax", label, money(tax)))
    total_tax_shown: Any = [money(tax) for _, _, tax in totals.by_rate]
    if use_tax_table or (multi and chance(rng, 0.5)):
        label = rng.choice(v.total_tax).format(tax=tax_name)
        lines.append(TotalLine("total_tax", label, money(totals.total_tax)))
        total_tax_shown = money(totals.total_tax)
    elif not multi:
        total_tax_shown = money(totals.total_tax)
    put("total_tax", decimal_text(totals.total_tax), total_tax_shown)

    total_label = rng.choice(v.credit_total if inv.credit else v.total)
    due_label = rng.choice(v.amount_due)
    if inv.credit:
        lines.append(TotalLine("total", total_label, money(totals.total), strong=True))
        put("invoice_total", decimal_text(totals.total), money(totals.total))
    elif totals.prepayment or totals.previous:
        lines.append(TotalLine("total", total_label, money(totals.total)))
        put("invoice_total", decimal_text(totals.total), money(totals.total))
        if totals.prepayment:
            paid = money(-totals.prepayment if chance(rng, 0.6) else totals.prepayment)
            lines.append(TotalLine("prepayment", rng.choice(v.prepayment), paid))
        if totals.previous:
            previous = money(totals.previous)
            lines.append(TotalLine("previous", rng.choice(v.previous_balance), previous))
            put("previous_unpaid_balance", decimal_text(totals.previous), previous)
        lines.append(TotalLine("due", due_label, money(totals.amount_due), strong=True))
        put("amount_due", decimal_text(totals.amount_due), money(totals.amount_due))
    else:
        closing = rng.choices(("total", "due", "both"), (55, 20, 25))[0]
        if closing in ("total", "both"):
            lines.append(TotalLine("total", total_label, money(totals.total), closing == "total"))
        if closing in ("due", "both"):
            lines.append(TotalLine("due", due_label, money(totals.amount_due), strong=True))
            put("amount_due", decimal_text(totals.amount_due), money(totals.amount_due))
        put("invoice_total", decimal_text(totals.total), money(totals.total))

    # ---- payment details
    bank_lines: list[str] = []
    bank_sep = None
    if chance(rng, 0.9):
        bank_lines = _bank_lines(rng, inv, v, put)
        if chance(rng, 0.35):
            bank_sep = rng.choice(("  ·  ", " | ", ", "))

    # ---- notes
    if not inv.credit and chance(rng, 0.5):
        notes.append(rng.choice(v.thanks))
    if loc.code == "fr-FR" and chance(rng, 0.5):
        notes.append(LATE_FEE_FR)
    salutation = None if inv.credit else rng.choice(v.salutation)

    multipage = inv.multipage
    truth["line_items"] = items
    printed["line_items"] = printed_items
    page_label = rng.choice(v.page) if multipage or chance(rng, 0.25) else None
    carried = rng.choice(v.carried_forward) if multipage and chance(rng, 0.5) else None
    document = Document(
        lang=inv.lang,
        locale=loc.code,
        title=title,
        subject=subject,
        vendor=Block(vendor.name, list(vendor.address)),
        brand=places.brand_of(vendor.name),
        vendor_tax=vendor_tax,
        contact=contact,
        customer=cblock,
        customer_label=customer_label,
        ship=ship,
        ship_label=rng.choice(v.ship_to),
        meta=meta,
        columns=columns,
        rows=rows,
        row_amounts=[line.amount for line in inv.lines],
        money_table=mf,
        table_plain=table_plain,
        totals=lines,
        tax_table=tax_table,
        tax_table_header=rng.choice(v.tax_table_headers),
        currency_note=currency_note,
        salutation=salutation,
        notes=notes,
        bank_heading=rng.choice(v.bank_heading),
        bank=bank_lines,
        bank_sep=bank_sep,
        legal=list(inv.legal),
        page_label=page_label,
        carried=carried,
        brought=rng.choice(v.brought_forward) if carried else None,
        repeat_header=chance(rng, 0.6),
        # a fixed-form limit below the smallest item count of a multi-page invoice, so that
        # the table spans pages whatever the font metrics
        first_page_rows=rng.randint(14, 24) if multipage else None,
        continued=v.continued,
        page_format=loc.page_format,
    )
    details = {
        "locale": loc.code,
        "credit_note": inv.credit,
        "date_style": date_style,
        "number_format": [nf.thousands, nf.decimal, nf.group_min],
        "money_pattern": mf.pattern,
        "currency_mode": currency_mode,
        "negative_style": neg_style,
        "columns": keys,
        "tax_rates": [rate_text(r) for r in inv.rates],
        "tax_table": use_tax_table,
    }
    ordered = {name: truth[name] for name in _FIELD_ORDER if name in truth}
    return Composition(document, ordered, printed, details)


_FIELD_ORDER = (*INVOICE_FIELDS, "line_items")


def _bank_lines(rng: random.Random, inv: Invoice, v: Vocab, put: Any) -> list[str]:
    bank = inv.bank
    show_bic = chance(rng, 0.8)
    sep = rng.choice((": ", " ", ": "))
    parts: list[str] = []
    if chance(rng, 0.7):
        parts.append(f"{rng.choice(v.bank)}{sep}{bank.name}" if chance(rng, 0.6) else bank.name)
    if inv.locale.country == "US":
        assert inv.account_no and inv.sort_code
        parts.append(f"Routing No.{sep}{inv.sort_code}")
        parts.append(
            f"{rng.choice(('Account No.', 'Account Number', 'Acct #'))}{sep}{inv.account_no}"
        )
        put("bank_account_number", inv.account_no, inv.account_no)
    else:
        assert inv.iban
        iban_shown = places.group4(inv.iban) if chance(rng, 0.75) else inv.iban
        parts.append(f"IBAN{sep}{iban_shown}")
        put("iban", inv.iban, iban_shown)
        if inv.account_no and inv.sort_code and chance(rng, 0.4):
            parts.append(f"Sort code{sep}{inv.sort_code}")
            parts.append(f"Account No.{sep}{inv.account_no}")
            put("bank_account_number", inv.account_no, inv.account_no)
    if show_bic:
        parts.append(f"{rng.choice(v.bic)}{sep}{bank.bic}")
        put("swift", bank.bic, bank.bic)
    if chance(rng, 0.25):
        parts.insert(0, f"{rng.choice(v.account_holder)}{sep}{inv.vendor.name}")
    return parts
