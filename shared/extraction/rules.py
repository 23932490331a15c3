"""The offline rules extractor: labels, layout and checkable shapes; no network.

How a field is found: a label from `labels.py` starts a segment; its value is the
rest of that segment, the next segment to its right on the same row, or the
segment below it. The value must parse as the field's kind (date, amount,
identifier, text). Where no label exists, shapes that can be checked (IBAN
checksum, VAT id patterns) and the page layout (vendor in the header, the
largest text near the top) fill in. Each field gets a confidence from how it was
found; validation adjusts it afterwards.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from shared.documents.parse import ParsedDocument
from shared.extraction.amounts import (
    Money,
    currency_from_text,
    detect_decimal_separator,
    find_amounts,
)
from shared.extraction.dates import find_dates, infer_day_first
from shared.extraction.hits import Hit, colon_after, label_hits, segment_labels, starts_with_label
from shared.extraction.identifiers import find_bic, find_ibans, find_vat_ids, id_token
from shared.extraction.labels import LANGUAGE_MARKERS, TITLE_TOKENS, learned_labels
from shared.extraction.layout import Layout, Row, Segment, build_layout
from shared.extraction.parties import Party, customer_party, vendor_party
from shared.extraction.schema import MONEY_FIELDS, ExtractedInvoice
from shared.extraction.tables import extract_tables

_DATE_FIELDS = ("invoice_date", "due_date")
_ID_FIELDS = ("invoice_id", "purchase_order", "customer_id", "bank_account_number")

# How sure a value is, by where it was found relative to its label.
_SAME_SEGMENT = 0.92
_RIGHT = 0.9
_BELOW = 0.85
_UNLABELLED = 0.6


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    confidence: float
    segment: Segment


@dataclass(slots=True)
class Context:
    layout: Layout
    language: str | None
    decimal_separator: str | None
    day_first: bool | None
    hits: list[Hit]


class RulesExtractor:
    """Extracts the canonical invoice fields from a parsed document.

    `label_hints` ({field: [label text]}) are labels learned from a vendor's corrections
    (shared.extraction.hints); they count as dictionary labels for this extractor's documents.
    """

    name = "rules"

    def __init__(self, label_hints: Mapping[str, Sequence[str]] | None = None) -> None:
        self.label_hints = dict(label_hints or {})

    def extract(self, document: ParsedDocument) -> ExtractedInvoice:
        with learned_labels(self.label_hints):
            return self._extract(document)

    def _extract(self, document: ParsedDocument) -> ExtractedInvoice:
        layout = build_layout(document)
        text = document.text
        decimal_separator = detect_decimal_separator(
            word.text for row in layout.rows for word in row.words
        )
        language = detect_language(layout)
        day_first = infer_day_first(_date_samples(text), language)
        if day_first is None:
            day_first = _default_day_first(language, text)
        table = extract_tables(layout, decimal_separator)
        if table is not None:
            layout.table_rows = table.header_rows | table.item_rows
        hits = list(label_hits(layout, layout.table_rows))
        ctx = Context(layout, language, decimal_separator, day_first, hits)

        values: dict[str, Any] = {}
        confidence: dict[str, float] = {}

        def put(name: str, value: Any, score: float) -> None:
            if value is not None and value != "":
                values[name] = value
                confidence[name] = round(score, 2)

        for name in _ID_FIELDS:
            found = _identifier(ctx, name)
            if found:
                put(name, found[0], found[1])
        if "invoice_id" not in values:
            titled = _id_after_title(layout)
            if titled:
                put("invoice_id", titled, _UNLABELLED)
        for name in _DATE_FIELDS:
            date_found = _date(ctx, name)
            if date_found:
                put(name, date_found[0], date_found[1])
        if "due_date" not in values:
            due = _due_sentence(ctx)  # "Please pay by 20-Jul-2024", "Zahlbar bis zum 7. März"
            if due:
                put("due_date", due, _UNLABELLED)
        if "invoice_date" not in values:
            # "Invoice No. 17 dated 3 May 2024", "Fattura n. 5 del 11/01/2023"
            dated = _date_beside_id(ctx)
            if dated:
                put("invoice_date", dated, _BELOW)
        if "invoice_date" not in values:
            fallback = _first_header_date(ctx, exclude=values.get("due_date"))
            if fallback:
                put("invoice_date", fallback, _UNLABELLED)
        period = _service_period(ctx)
        if period:
            put("service_start_date", period[0], _RIGHT)
            put("service_end_date", period[1], _RIGHT)

        money: dict[str, tuple[Money, float]] = {}
        for name in MONEY_FIELDS:
            found_money = _money_field(ctx, name)
            if found_money:
                money[name] = found_money
        _reconcile_tax(ctx, money)
        if (
            "invoice_total" not in money
            and "amount_due" in money
            and not {"previous_unpaid_balance", "prepayment"} & {h.label.field for h in hits}
        ):
            # Nothing paid before and no older balance: what is due is the invoice total.
            due, score = money["amount_due"]
            money["invoice_total"] = (due, score - 0.1)
        for name, (amount, score) in money.items():
            value = abs(amount.value) if name == "total_discount" else amount.value
            put(name, value, score)

        currency = _currency(ctx, money, text)
        if currency:
            put("currency", currency[0], currency[1])

        payment_terms = _text_field(ctx, "payment_terms") or _terms_sentence(layout)
        if payment_terms:
            put("payment_terms", payment_terms[0], payment_terms[1])

        ibans = find_ibans(text)
        if ibans:
            put("iban", ibans[0], 0.97)
        swift = _swift(ctx)
        if swift:
            put("swift", swift[0], swift[1])

        vendor = vendor_party(layout, hits)
        customer = customer_party(layout, hits, vendor.name)
        if vendor.name:
            put("vendor_name", vendor.name, vendor.confidence)
        if vendor.address:
            put("vendor_address", vendor.address, vendor.confidence - 0.1)
        if customer.name:
            put("customer_name", customer.name, customer.confidence)
        if customer.address:
            put("customer_address", customer.address, customer.confidence - 0.1)
        vendor_tax, customer_tax = _tax_ids(ctx, customer)
        if vendor_tax:
            put("vendor_tax_id", vendor_tax[0], vendor_tax[1])
        if customer_tax:
            put("customer_tax_id", customer_tax[0], customer_tax[1])

        items = table.items if table else []
        return ExtractedInvoice(
            **values,
            line_items=items,
            confidence=confidence,
            extractor=self.name,
            pages=len(document.pages),
        )


# --- context -------------------------------------------------------------------------------


def detect_language(layout: Layout) -> str | None:
    """The language whose labels and titles the document uses most."""
    votes: dict[str, float] = {}
    for segment in layout.segments:
        folded = segment.folded
        for start in range(len(folded)):
            for length in (3, 2, 1):
                key = folded[start : start + length]
                languages = LANGUAGE_MARKERS.get(key)
                if languages and len(languages) < 6:
                    for language in languages:
                        votes[language] = votes.get(language, 0.0) + length / len(languages)
                    break
    if not votes:
        return None
    return max(votes, key=lambda language: votes[language])


def _date_samples(text: str) -> list[str]:
    return [found.text for found in find_dates(text)]


def _default_day_first(language: str | None, text: str) -> bool:
    """Without evidence, only US-style English documents are month-first."""
    return not (language == "en" and ("$" in text or "USD" in text))


def _hits(ctx: Context, name: str) -> list[Hit]:
    """Hits for a field, labels that open their segment first ("Zu Rechnung Nr." is weaker)."""
    found = [hit for hit in ctx.hits if hit.label.field == name]
    return sorted(found, key=lambda hit: not hit.at_start)


def _row(ctx: Context, segment: Segment) -> Row:
    return ctx.layout.rows[segment.row]


def _candidates(ctx: Context, hit: Hit) -> Iterator[Candidate]:
    """Value texts near a label: same segment, then to the right, then below."""
    segment = hit.segment
    rest = segment.text_after_token(hit.tokens)
    if rest:
        yield Candidate(rest, _SAME_SEGMENT, segment)
    row = _row(ctx, segment)
    # Dot leaders and stray colons between a label and its value are not the value.
    right = sorted(
        (s for s in row.segments if s.x0 > segment.x1 + 1 and any(ch.isalnum() for ch in s.text)),
        key=lambda s: s.x0,
    )
    if right and not starts_with_label(right[0]):
        yield Candidate(right[0].text, _RIGHT, right[0])
    below = _segment_below(ctx, segment)
    if below is not None and not starts_with_label(below):
        yield Candidate(below.text, _BELOW, below)


def _segment_below(ctx: Context, segment: Segment) -> Segment | None:
    rows = ctx.layout.rows
    height = segment.y1 - segment.y0
    for row in rows[segment.row + 1 : segment.row + 4]:
        if row.page != segment.page or row.y0 - segment.y1 > 2.5 * max(height, 6.0):
            return None
        for below in row.segments:
            overlap = min(below.x1, segment.x1) - max(below.x0, segment.x0)
            if overlap > 0 or abs(below.x0 - segment.x0) < 8:
                return below
    return None


# --- fields --------------------------------------------------------------------------------


def _identifier(ctx: Context, name: str) -> tuple[str, float] | None:
    for hit in _hits(ctx, name):
        for candidate in _candidates(ctx, hit):
            token = id_token(candidate.text)
            if token and not find_dates(candidate.text.split()[0] if candidate.text else ""):
                return token, candidate.confidence
    return None


def _date_beside_id(ctx: Context) -> Any:
    for hit in _hits(ctx, "invoice_id"):
        for candidate in _candidates(ctx, hit):
            if id_token(candidate.text):
                dates = find_dates(candidate.text, day_first=ctx.day_first, language=ctx.language)
                if dates:
                    return dates[0].value
                break
    return None


_TERMS = re.compile(
    r"\b(net|netto|within|innerhalb|binnen|sous|dans les|à|a|entro|dentro de|en|payable|zahlbar|"
    r"pagamento|pago|paiement|betaling|payment|due|sofort|immediately|upon receipt|on receipt|"
    r"à réception|a vista|al contado|rimessa diretta|contant|direct)\b.{0,40}?"
    r"(\b\d{1,3}\s*(days?|tage[n]?|jours?|dagen|días|dias|giorni|gg)\b|sofort|immediately|"
    r"receipt|réception|vista|contado|diretta|contant|direct|\bnet\s*\d{1,3}\b|netto\s*\d{1,3})",
    re.IGNORECASE,
)


_TERMS_DAYS_FIRST = re.compile(
    r"^\s*\d{1,3}\s*(days?|tage[n]?|jours?|dagen|días|dias|giorni|gg)\b", re.IGNORECASE
)


_DEADLINE = re.compile(
    r"\b(pay|paid|payable|due|überweisen|zahlen|zahlbar|fällig|betalen|betaald|voldoen|paiement|"
    r"payer|régler|réglé|pagar|pago|pagado|pagare|pagamento|saldare|vencimiento|scadenza)\b",
    re.IGNORECASE,
)


def _due_sentence(ctx: Context) -> Any:
    """A due date stated in a sentence rather than a labelled field."""
    for row in ctx.layout.rows:
        if row.index in ctx.layout.table_rows or not _DEADLINE.search(row.text):
            continue
        dates = find_dates(row.text, day_first=ctx.day_first, language=ctx.language)
        if len(dates) == 1:
            return dates[0].value
    return None


def _terms_sentence(layout: Layout) -> tuple[str, float] | None:
    """Unlabelled payment terms: "Net 30", "Zahlbar innerhalb von 14 Tagen", "Pagamento a vista"."""
    for row in layout.rows:
        if row.index in layout.table_rows:
            continue
        for segment in row.segments:
            text = segment.text
            labels = segment_labels(segment)
            if labels and labels[0][1] == 0 and labels[0][0].field in ("payment_terms", "ignore"):
                text = segment.text_after_token(labels[0][2])  # "Forma de pago: ..."
            if len(text) > 80 or find_amounts(text):
                continue
            if (_TERMS.search(text) or _TERMS_DAYS_FIRST.match(text)) and not find_dates(text):
                return text.strip(" .:"), _UNLABELLED
    return None


def _id_after_title(layout: Layout) -> str | None:
    for row in layout.rows[:40]:
        for segment in row.segments:
            folded = segment.folded
            for length in (3, 2, 1):
                if folded[:length] in TITLE_TOKENS:
                    rest = segment.text_after_token(length)
                    token = id_token(rest)
                    if token and not find_dates(rest):
                        return token
    return None


def _date(ctx: Context, name: str) -> tuple[Any, float] | None:
    for hit in _hits(ctx, name):
        for candidate in _candidates(ctx, hit):
            dates = find_dates(candidate.text, day_first=ctx.day_first, language=ctx.language)
            if dates:
                return dates[0].value, candidate.confidence
    return None


def _first_header_date(ctx: Context, exclude: Any) -> Any:
    hit_rows = {h.segment.row for h in ctx.hits if h.label.field not in ("invoice_date",)}
    first_page = [row for row in ctx.layout.rows if row.page == 1]
    for row in first_page[: max(len(first_page) // 2, 1)]:
        if row.index in hit_rows:
            continue
        for found in find_dates(row.text, day_first=ctx.day_first, language=ctx.language):
            if found.value != exclude:
                return found.value
    return None


def _service_period(ctx: Context) -> tuple[Any, Any] | None:
    for hit in _hits(ctx, "service_period"):
        for candidate in _candidates(ctx, hit):
            dates = find_dates(candidate.text, day_first=ctx.day_first, language=ctx.language)
            if len(dates) >= 2 and dates[0].value <= dates[1].value:
                return dates[0].value, dates[1].value
    return None


def _money_field(ctx: Context, name: str) -> tuple[Money, float] | None:
    """The last labelled amount of this kind: totals blocks end documents."""
    found: tuple[Money, float] | None = None
    for hit in _hits(ctx, name):
        for candidate in _money_candidates(ctx, hit):
            found = candidate
            break
    return found


def _money_candidates(ctx: Context, hit: Hit) -> Iterator[tuple[Money, float]]:
    segment = hit.segment
    row = _row(ctx, segment)
    # The value of a totals line is its right-most amount ("VAT 19 % of 100.00   19.00").
    same_row = [segment.text_after_token(hit.tokens)]
    for right in sorted((s for s in row.segments if s.x0 > segment.x1 + 1), key=lambda s: s.x0):
        if starts_with_label(right):
            break  # the next label's value is not ours
        same_row.append(right.text)
    amounts = find_amounts("   ".join(same_row), ctx.decimal_separator)
    if amounts:
        yield amounts[-1], _RIGHT
        return
    below = _segment_below(ctx, segment)
    if below is not None:
        amounts = find_amounts(below.text, ctx.decimal_separator)
        if amounts:
            yield amounts[-1], _BELOW


def _reconcile_tax(ctx: Context, money: dict[str, tuple[Money, float]]) -> None:
    """Choose the total tax among tax lines: one per rate, maybe a total line too."""
    hits = sorted(_hits(ctx, "total_tax"), key=lambda h: (h.segment.row, h.segment.x0))
    lines = [amount for hit in hits for amount, _ in _money_candidates(ctx, hit)]
    if len(lines) < 2:
        return
    values = [m.value for m in lines]
    summed = sum(values, Decimal(0))
    biggest = max(values, key=abs)
    subtotal, total = money.get("subtotal"), money.get("invoice_total")
    discount = money.get("total_discount")
    chosen: Decimal | None = None
    if subtotal and total:
        base = subtotal[0].value - (abs(discount[0].value) if discount else Decimal(0))
        target = total[0].value - base
        if target in values:
            chosen = target
        elif summed == target:
            chosen = summed
    if chosen is None:
        # A line equal to the sum of the others is their total; otherwise rates add up.
        chosen = biggest if summed - biggest == biggest else summed
    money["total_tax"] = (replace(lines[-1], value=chosen), _RIGHT)


def _currency(
    ctx: Context, money: dict[str, tuple[Money, float]], text: str
) -> tuple[str, float] | None:
    attached = Counter(m.currency for m, _ in money.values() if m.currency)
    if attached:
        return attached.most_common(1)[0][0], 0.95
    found = currency_from_text(text)
    if found:
        return found, 0.8
    return None


def _text_field(ctx: Context, name: str) -> tuple[str, float] | None:
    for hit in _hits(ctx, name):
        for candidate in _candidates(ctx, hit):
            value = candidate.text.strip(" :")
            if (
                candidate.segment is hit.segment
                and hit.tokens == 1
                and len(hit.label.tokens[0]) <= 9
                and not colon_after(hit)
            ):
                # "Pagamento a vista": without a colon the label word is part of the phrase.
                value = hit.segment.text.strip(" .:")
            if len(value) >= 2:
                return value, candidate.confidence
    return None


def _swift(ctx: Context) -> tuple[str, float] | None:
    for hit in _hits(ctx, "swift"):
        for candidate in _candidates(ctx, hit):
            bic = find_bic(candidate.text.upper())
            if bic:
                return bic, candidate.confidence
    return None


def _bare_tax_id(text: str) -> list[str]:
    """A labelled tax id printed without its country prefix (Partita IVA, NIF, Steuernummer)."""
    token = id_token(text)
    if token is None:
        return []
    compact = token.replace(".", "").replace(" ", "")
    digits = sum(ch.isdigit() for ch in compact)
    return [compact] if len(compact) >= 8 and digits >= 7 else []


def _tax_ids(
    ctx: Context, customer_party: Party
) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    """Tax ids by label; a generic "VAT No." inside the customer's block is the customer's."""
    vendor: tuple[str, float] | None = None
    customer: tuple[str, float] | None = None
    for name in ("customer_tax_id", "vendor_tax_id"):
        for hit in _hits(ctx, name):
            if name == "vendor_tax_id" and customer_party.near(hit.segment):
                name_here = "customer_tax_id"
            else:
                name_here = name
            for candidate in _candidates(ctx, hit):
                ids = find_vat_ids(candidate.text) or _bare_tax_id(candidate.text)
                if not ids:
                    continue
                if name_here == "customer_tax_id" and customer is None:
                    customer = (ids[0], candidate.confidence)
                elif (
                    name_here == "vendor_tax_id"
                    and vendor is None
                    and (customer is None or ids[0] != customer[0])
                ):
                    vendor = (ids[0], candidate.confidence)
                break
    if vendor is None:
        for row in ctx.layout.rows:
            for vat in find_vat_ids(row.text):
                if customer is None or vat != customer[0]:
                    return (vat, _UNLABELLED), customer
    return vendor, customer
