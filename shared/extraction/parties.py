"""Vendor and customer: names and addresses from the page layout.

The customer is introduced by a label ("Bill to", "Rechnungsadresse", "Facturé à"),
or, on letters without one, is the address block in the envelope window of the
first page. The vendor is who the document comes from, found by evidence: an
account-holder line, a name repeated in the footer or on the sender line
("ACME GmbH · Street 1 · 12345 City"), a "From"/"Supplier" label, big type with a
company suffix at the top of the first page. Its address is the block (or the
dotted line) that follows the name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.extraction.amounts import find_amounts
from shared.extraction.dates import find_dates
from shared.extraction.hits import Hit, starts_with_label
from shared.extraction.identifiers import find_ibans, find_vat_ids
from shared.extraction.labels import COLUMN_LABELS, FIELD_LABELS, TITLE_TOKENS, match_label
from shared.extraction.layout import Layout, Segment, middle_value
from shared.extraction.text import fold, tokens

_COMPANY_SUFFIXES = frozenset(
    fold(s)
    for s in (
        "GmbH", "AG", "KG", "UG", "e.K.", "OHG", "mbH", "Ltd", "Limited", "LLC", "Inc", "Corp",
        "Corporation", "PLC", "LLP", "SA", "S.A.", "SAS", "S.A.S.", "SARL", "S.A.R.L.", "EURL",
        "SNC", "BV", "B.V.", "NV", "N.V.", "VOF", "SL", "S.L.", "SLU", "S.L.U.", "S.r.l.", "Srl",
        "S.p.A.", "SpA", "S.n.c.", "S.a.s.", "Sagl", "Oy", "AB", "A/S", "ApS", "SRL", "SC",
        "S.C.", "Cooperativa", "CommV", "GbR", "eG", "e.V.",
    )
)  # fmt: skip
_COMPANY_SUFFIX_PHRASES = tuple(f" {s} " for s in _COMPANY_SUFFIXES if " " in s)
_CONTACT = re.compile(
    r"(@|www\.|https?://|\b(tel|tél|tlf|phone|fax|fon|telefon|telefono|teléfono|telefoon|email|"
    r"e-mail|mail|pec|mobile|mob|handy)\b|^[TFM](\.|:|\s)\s*[+(]?\d)",
    re.IGNORECASE,
)
# Lines that say who to address, not where: dropped from addresses.
_ATTENTION = re.compile(
    r"^\s*(attn|attention|fao|z\.?\s?h(d)?\.?|zu handen|a l'attention|à l'attention|t\.?a\.?v\.?|"
    r"a la atenci[oó]n|att\.?|alla c\.?a\.?|c\.a\.|ter attentie)(?![a-z])",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"(\b\d{4,5}\b\s+\w|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b|\b[A-Z]\d{2}\s?[A-Z\d]{4}\b|"
    r"\b\d{4}\s?[A-Z]{2}\b|\b[A-Z]{2}-?\d{4,5}\b)"
)
# Banks, registers and courts print names in footers too; none of them is the vendor.
_NOT_A_NAME = re.compile(
    r"\b(bank|banque|banco|banca|sparkasse|volksbank|raiffeisen|ing|bnp|paribas|crédit|credit|"
    r"caisse|rabobank|abn|santander|bbva|caixabank|sabadell|intesa|unicredit|bpm|bper|hsbc|"
    r"barclays|lloyds|natwest|commerzbank|postbank|belfius|kbc|rpm|rcs|hrb|hra|kvk|rea|"
    r"amtsgericht|registergericht|registro|tribunal|entidad|iban|bic|swift)\b",
    re.IGNORECASE,
)
# Separators of a one-line sender address ("ACME GmbH · Street 1 · 12345 City"); OCR
# reads the middle dot as a spaced dash or colon, so those count when spaced.
_SEPARATORS = re.compile(r"\s*[·•|]\s*|\s{3,}|\s[-–:]\s")


@dataclass(frozen=True, slots=True)
class Party:
    name: str | None = None
    address: str | None = None
    confidence: float = 0.0
    # The box (page, x0, y0, x1, y1) of the party's block on the page, when known.
    area: tuple[int, float, float, float, float] | None = None

    def near(self, segment: Segment) -> bool:
        """Inside the block or just under it, in the same column."""
        if self.area is None:
            return False
        page, x0, y0, x1, y1 = self.area
        line = max((y1 - y0) / 4, 8.0)
        return (
            segment.page == page
            and segment.x0 < x1
            and segment.x1 > x0
            and y0 - 1 <= segment.y0 <= y1 + 2.5 * line
        )


def has_company_suffix(text: str) -> bool:
    folded = fold(text)
    words = folded.split()
    if any(word in _COMPANY_SUFFIXES for word in words[1:]):
        return True
    joined = f" {folded} "
    return any(phrase in joined for phrase in _COMPANY_SUFFIX_PHRASES)


def _field_of(hit: Hit) -> str:
    return hit.label.field


def _is_label(segment: Segment) -> bool:
    return starts_with_label(segment)


def _is_title(segment: Segment) -> bool:
    folded = segment.folded
    return any(folded[:n] in TITLE_TOKENS for n in (1, 2, 3))


def _is_address_line(text: str) -> bool:
    return not (
        _CONTACT.search(text)
        or _ATTENTION.search(text)
        or find_amounts(text)
        or find_ibans(text)
        or find_vat_ids(text)
        or find_dates(text)
    )


def _name_like(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    # OCR noise from logos ("a ae ee") has no word of three letters.
    has_word = any(sum(ch.isalpha() for ch in word) >= 3 for word in text.split())
    return has_word and letters >= 3 and digits <= letters / 3 and _is_address_line(text)


def _block_below(layout: Layout, anchor: Segment, limit: int = 5) -> list[Segment]:
    """Segments stacked under `anchor` in the same column, until a gap or a label."""
    out: list[Segment] = []
    previous = anchor
    for row in layout.rows[anchor.row + 1 : anchor.row + 1 + limit * 2]:
        if row.page != anchor.page or row.index in layout.table_rows:
            break
        if row.y0 - previous.y1 > 1.6 * max(previous.y1 - previous.y0, 6.0):
            break
        # Blocks are left-aligned, right-aligned (letterheads) or centred.
        below = [
            s
            for s in row.segments
            if abs(s.x0 - anchor.x0) < 12
            or abs(s.x1 - anchor.x1) < 12
            or abs((s.x0 + s.x1) / 2 - (anchor.x0 + anchor.x1) / 2) < 6
        ]
        if not below:
            continue
        segment = below[0]
        if _is_label(segment) or _is_title(segment):
            break
        out.append(segment)
        previous = segment
        if len(out) >= limit:
            break
    return out


def _address(lines: Sequence[str]) -> str | None:
    parts: list[str] = []
    pieces = [piece for line in lines for piece in _SEPARATORS.split(line) if piece.strip()]
    for line in pieces:
        if (
            _CONTACT.search(line)
            or find_ibans(line)
            or find_vat_ids(line)
            or find_amounts(line)
            or match_label(tokens(line), 0, FIELD_LABELS) is not None
        ):
            break  # contact, tax and bank details follow the address; stop at the first
        if _ATTENTION.search(line) or find_dates(line):
            continue
        cleaned = line.strip(" ,")
        if cleaned:
            parts.append(cleaned)
    return ", ".join(parts) if parts else None


def _party_from_block(
    name: str, lines: Sequence[str], confidence: float, rows: Sequence[Segment] = ()
) -> Party:
    area = None
    if rows:
        area = (
            rows[0].page,
            min(s.x0 for s in rows),
            min(s.y0 for s in rows),
            max(s.x1 for s in rows),
            max(s.y1 for s in rows),
        )
    return Party(name.strip(" ,:"), _address(lines), confidence, area)


# --- customer ------------------------------------------------------------------------------


def customer_party(layout: Layout, hits: Sequence[Hit], vendor_name: str | None) -> Party:
    for hit in hits:
        if _field_of(hit) != "customer_block":
            continue
        segment = hit.segment
        rest = segment.text_after_token(hit.tokens)
        below = _block_below(layout, segment)
        lines = ([rest] if rest else []) + [s.text for s in below]
        lines = [line for line in lines if not _ATTENTION.search(line)]
        if not lines or not _name_like(lines[0]):
            continue
        return _party_from_block(lines[0], lines[1:], 0.85, [segment, *below])
    # No label: the address block in the envelope window of the first page.
    for block in _address_blocks(layout):
        lines = [s.text for s in block if not _ATTENTION.search(s.text)]
        if not lines or (vendor_name and fold(lines[0]) == fold(vendor_name)):
            continue
        return _party_from_block(lines[0], lines[1:], 0.7, block)
    return Party()


def _address_blocks(layout: Layout) -> list[list[Segment]]:
    """Left-aligned blocks of 2-6 short lines with a postcode, top half of page one."""
    page_height = layout.page_heights.get(1, 842.0)
    blocks: list[list[Segment]] = []
    used: set[int] = set()
    for row in layout.rows:
        if row.page != 1 or row.y0 > page_height * 0.5:
            continue
        for segment in row.segments:
            if id(segment) in used or not _name_like(segment.text) or _is_label(segment):
                continue
            if _is_title(segment) or _SEPARATORS.search(segment.text):
                continue
            block = [segment, *_block_below(layout, segment)]
            used.update(id(s) for s in block)
            texts = [s.text for s in block]
            if 2 <= len(block) <= 7 and any(_POSTCODE.search(t) for t in texts[1:]):
                blocks.append(block)
    return blocks


# --- vendor --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    name: str
    address_lines: list[str]
    score: float


def vendor_party(layout: Layout, hits: Sequence[Hit]) -> Party:
    for hit in hits:
        if _field_of(hit) != "vendor_block":
            continue
        rest = hit.segment.text_after_token(hit.tokens)
        block = [s.text for s in _block_below(layout, hit.segment)]
        lines = ([rest] if rest else []) + block
        if lines and _name_like(lines[0]):
            return _party_from_block(lines[0], lines[1:], 0.85)
    customer_rows: set[int] = set()
    for hit in hits:
        if _field_of(hit) in ("customer_block", "ship_to"):
            customer_rows.add(hit.segment.row)
            customer_rows.update(s.row for s in _block_below(layout, hit.segment))
    candidates = _vendor_candidates(layout, hits, customer_rows)
    if not candidates:
        return Party()
    # Evidence adds up per name; the best-scored occurrence gives the address.
    totals: dict[str, float] = {}
    for candidate in candidates:
        key = fold(candidate.name)
        totals[key] = totals.get(key, 0.0) + candidate.score
    best_key = max(totals, key=lambda k: totals[k])
    occurrences = [c for c in candidates if fold(c.name) == best_key]
    with_address = [c for c in occurrences if _address(c.address_lines)]
    chosen = max(
        with_address or occurrences, key=lambda c: (len(_address(c.address_lines) or ""), c.score)
    )
    name = max(occurrences, key=lambda c: c.score).name
    confidence = min(0.95, 0.5 + 0.1 * totals[best_key])
    return Party(name.strip(" ,"), _address(chosen.address_lines), round(confidence, 2))


def _vendor_candidates(
    layout: Layout, hits: Sequence[Hit], customer_rows: set[int]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    first_page = [row for row in layout.rows if row.page == 1]
    heights = [w.height for row in first_page for w in row.words]
    typical = middle_value(heights) if heights else 10.0
    customer_names: set[str] = set()
    for hit in hits:
        if _field_of(hit) == "account_holder":
            rest = hit.segment.text_after_token(hit.tokens)
            name = _SEPARATORS.split(rest)[0].split(",")[0].strip()
            if _name_like(name):
                out.append(_Candidate(name, [], 3.0))
    for row in layout.rows:
        if row.index in customer_rows:
            customer_names.update(fold(s.text) for s in row.segments)
    for row in layout.rows:
        page_height = layout.page_heights.get(row.page, 842.0)
        in_footer = row.y0 > page_height * 0.8
        in_header = row.page == 1 and row.y0 < page_height * 0.3
        if not (in_footer or in_header) or row.index in customer_rows:
            continue
        if row.index in layout.table_rows:
            continue
        for segment in row.segments:
            text = segment.text
            pieces = [p for p in _SEPARATORS.split(text) if p.strip()]
            if not pieces or _NOT_A_NAME.search(pieces[0]):
                continue
            if (
                len(pieces) >= 3
                and _name_like(pieces[0])
                and any(_POSTCODE.search(p) for p in pieces[1:4])
            ):
                # A sender line: "ACME GmbH · Street 1 · 12345 City · VAT ..."
                score = 2.0 + (1.0 if has_company_suffix(pieces[0]) else 0.0)
                out.append(_Candidate(pieces[0], pieces[1:], score))
                continue
            if not _name_like(text) or _is_label(segment) or _is_title(segment):
                continue
            if match_label(segment.folded, 0, COLUMN_LABELS) is not None:
                continue  # a table header cell ("Art.nr.") is nobody's name
            if fold(text) in customer_names:
                continue
            score = 0.0
            if has_company_suffix(text):
                score += 1.5
            if in_footer:
                score += 1.0
            if in_header:
                score += min(segment.height / typical, 3.0) - 1.0
                score += 0.5 * (1 - row.y0 / (page_height * 0.3))
            if score <= 0:
                continue
            block = [s.text for s in _block_below(layout, segment)]
            if any(_CONTACT.search(line) or find_vat_ids(line) for line in block):
                score += 1.0  # a letterhead: name, address, phone, VAT number
            out.append(_Candidate(text, block, score))
    return out
