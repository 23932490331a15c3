"""Vendor and customer: names and addresses from the page layout.

The customer is introduced by a label ("Bill to", "Rechnungsadresse", "Facturé à").
The vendor is who the document comes from: a "From"/"Supplier" block when there
is one, otherwise the most prominent name in the header of the first page (big
type, a company suffix), and its address is the block right under that name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Protocol

from shared.extraction.amounts import find_amounts
from shared.extraction.dates import find_dates
from shared.extraction.labels import FIELD_LABELS, TITLE_TOKENS, match_label
from shared.extraction.layout import Layout, Segment
from shared.extraction.text import fold

_COMPANY_SUFFIXES = frozenset(
    fold(s)
    for s in (
        "GmbH", "AG", "KG", "UG", "e.K.", "OHG", "mbH", "GmbH & Co. KG", "Ltd", "Ltd.", "Limited", "LLC",
        "Inc", "Inc.", "Corp", "Corporation", "PLC", "LLP", "Co", "SA", "S.A.", "SAS", "S.A.S.", "SARL",
        "S.A.R.L.", "EURL", "SNC", "BV", "B.V.", "NV", "N.V.", "VOF", "SL", "S.L.", "SLU", "S.L.U.",
        "S.r.l.", "Srl", "S.p.A.", "SpA", "S.n.c.", "S.a.s.", "Sagl", "Oy", "AB", "A/S", "ApS",
    )
)  # fmt: skip
_CONTACT = re.compile(
    r"(@|www\.|https?://|\b(tel|phone|fax|telefon|telefono|telefoon|tél|email|e-mail|mail)\b)",
    re.IGNORECASE,
)


class _HitLike(Protocol):
    @property
    def label(self) -> object: ...

    @property
    def segment(self) -> Segment: ...

    @property
    def tokens(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Party:
    name: str | None = None
    address: str | None = None
    confidence: float = 0.0


def has_company_suffix(text: str) -> bool:
    folded = fold(text)
    words = folded.split()
    joined = " " + folded + " "
    return any(word in _COMPANY_SUFFIXES for word in words[1:]) or any(
        f" {suffix} " in joined for suffix in _COMPANY_SUFFIXES if " " in suffix
    )


def _is_label(segment: Segment) -> bool:
    return match_label(segment.folded, 0, FIELD_LABELS) is not None


def _is_title(segment: Segment) -> bool:
    folded = segment.folded
    return any(folded[:n] in TITLE_TOKENS for n in (1, 2, 3))


def _looks_like_value(segment: Segment) -> bool:
    text = segment.text
    return bool(find_dates(text) or find_amounts(text) or _CONTACT.search(text))


def _field_of(hit: _HitLike) -> str:
    return str(getattr(hit.label, "field", ""))


def _block_below(layout: Layout, anchor: Segment, limit: int = 4) -> list[Segment]:
    """Segments stacked under `anchor` in the same column, until a gap or a label."""
    out: list[Segment] = []
    previous = anchor
    for row in layout.rows[anchor.row + 1 : anchor.row + 1 + limit * 2]:
        if row.page != anchor.page:
            break
        gap = row.y0 - previous.y1
        if gap > 1.6 * max(previous.y1 - previous.y0, 6.0):
            break
        below = [
            s
            for s in row.segments
            if abs(s.x0 - anchor.x0) < 12 or (s.x0 >= anchor.x0 - 2 and s.x0 < anchor.x1)
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


def _address(segments: Iterable[Segment]) -> str | None:
    parts = [s.text.strip(" ,") for s in segments if not _CONTACT.search(s.text)]
    parts = [p for p in parts if p and not find_amounts(p)]
    return ", ".join(parts) if parts else None


def customer_party(layout: Layout, hits: Sequence[_HitLike]) -> Party:
    for hit in hits:
        if _field_of(hit) != "customer_block":
            continue
        segment = hit.segment
        rest = segment.text_after_token(hit.tokens)
        block = _block_below(layout, segment, limit=5)
        if rest:
            name, address_lines = rest, block
        elif block:
            name, address_lines = block[0].text, block[1:]
        else:
            continue
        if _looks_like_value_text(name):
            continue
        return Party(name=name.strip(" ,:"), address=_address(address_lines), confidence=0.85)
    return Party()


def _looks_like_value_text(text: str) -> bool:
    return bool(find_dates(text) or find_amounts(text))


def vendor_party(layout: Layout, hits: Sequence[_HitLike]) -> Party:
    for hit in hits:
        if _field_of(hit) != "vendor_block":
            continue
        segment = hit.segment
        rest = segment.text_after_token(hit.tokens)
        block = _block_below(layout, segment, limit=5)
        if rest and not _looks_like_value_text(rest):
            return Party(rest.strip(" ,:"), _address(block), 0.85)
        if block:
            return Party(block[0].text.strip(" ,"), _address(block[1:]), 0.85)
    customer_rows = _customer_rows(layout, hits)
    best = _prominent_name(layout, customer_rows)
    if best is None:
        return Party()
    segment, score = best
    return Party(segment.text.strip(" ,"), _address(_block_below(layout, segment)), score)


def _customer_rows(layout: Layout, hits: Sequence[_HitLike]) -> set[int]:
    rows: set[int] = set()
    for hit in hits:
        if _field_of(hit) == "customer_block":
            rows.add(hit.segment.row)
            rows.update(s.row for s in _block_below(layout, hit.segment, limit=5))
    return rows


def _prominent_name(layout: Layout, excluded_rows: set[int]) -> tuple[Segment, float] | None:
    first_page = [row for row in layout.rows if row.page == 1]
    if not first_page:
        return None
    page_height = layout.page_heights.get(1, 842.0)
    heights = [w.height for row in first_page for w in row.words]
    typical = median(heights) if heights else 10.0
    candidates: list[tuple[float, Segment]] = []
    for row in first_page:
        if row.y0 > page_height * 0.35 or row.index in excluded_rows:
            continue
        for segment in row.segments:
            text = segment.text
            letters = sum(ch.isalpha() for ch in text)
            if letters < 3 or _is_label(segment) or _is_title(segment) or _looks_like_value(segment):
                continue
            score = 0.0
            score += min(segment.height / typical, 3.0)
            if has_company_suffix(text):
                score += 1.5
            score -= row.y0 / page_height  # higher on the page is likelier
            if sum(ch.isdigit() for ch in text) > letters / 2:
                score -= 1.0
            candidates.append((score, segment))
    # A name also printed in the footer is the vendor's for certain.
    footer_text = " ".join(
        row.text for row in layout.rows if row.y0 > layout.page_heights.get(row.page, 842.0) * 0.8
    )
    if not candidates:
        return None
    scored = [
        (score + (1.0 if fold(seg.text) and fold(seg.text) in fold(footer_text) else 0.0), seg)
        for score, seg in candidates
    ]
    scored.sort(key=lambda pair: -pair[0])
    score, segment = scored[0]
    confidence = 0.8 if has_company_suffix(segment.text) else 0.6
    del score
    return segment, confidence
