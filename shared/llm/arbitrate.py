"""Arbitration between the LLM's answer and the rules extractor's result.

Per field:
- both found the same value: it is very likely right (AGREE confidence);
- only the LLM found it: its confidence depends on whether the value is printed in the
  document; a value that is not (an invented IBAN, a "corrected" total) is flagged
  `llm_value_not_in_text` and scored low, so the invoice goes to review;
- they disagree: `extractors_disagree`, the invoice goes to review; the LLM's value is kept
  when the document shows it, else the rules' value when the document shows that;
- only the rules found it: kept at the rules' confidence, capped (the LLM read the same page
  and did not see it).
The usual validation (amounts printed, totals add up, dates plausible) runs afterwards.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from shared.extraction.dates import find_dates
from shared.extraction.schema import (
    DATE_FIELDS,
    INVOICE_FIELDS,
    MONEY_FIELDS,
    ExtractedInvoice,
    InvoiceFields,
)
from shared.extraction.text import fold
from shared.extraction.validation import amounts_in_text

AGREE = 0.97
LLM_IN_TEXT = 0.85
NOT_IN_TEXT = 0.3
DISAGREE = 0.5
RULES_ONLY_CAP = 0.6

LLM_VALUE_NOT_IN_TEXT = "llm_value_not_in_text"
EXTRACTORS_DISAGREE = "extractors_disagree"


class DocumentEvidence:
    """What the document text shows, computed once per document."""

    def __init__(self, text: str) -> None:
        self.compact = fold(text).replace(" ", "")
        self.amounts = amounts_in_text(text)
        self._dates: set[dt.date] | None = None
        self._text = text

    @property
    def dates(self) -> set[dt.date]:
        if self._dates is None:
            found = find_dates(self._text, day_first=True) + find_dates(self._text, day_first=False)
            self._dates = {d.value for d in found}
        return self._dates

    def shows(self, name: str, value: Any) -> bool:
        if value is None:
            return True
        if name == "currency":
            return True  # printed as a symbol ("€") as often as a code; not checkable here
        if name in MONEY_FIELDS or isinstance(value, Decimal):
            return abs(Decimal(value)) in self.amounts
        if name in DATE_FIELDS or isinstance(value, dt.date):
            return value in self.dates
        needle = fold(str(value)).replace(" ", "")
        return bool(needle) and needle in self.compact


def _same(name: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            return abs(Decimal(a) - Decimal(b)) < Decimal("0.005")
        except (ArithmeticError, ValueError):
            return False
    if isinstance(a, str) and isinstance(b, str):
        return fold(a).replace(" ", "") == fold(b).replace(" ", "")
    return bool(a == b)


def arbitrate(
    llm: InvoiceFields,
    rules: ExtractedInvoice,
    text: str,
    *,
    extractor: str = "llm",
    extra_warnings: list[str] | None = None,
) -> ExtractedInvoice:
    evidence = DocumentEvidence(text)
    values: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    warnings = list(extra_warnings or [])

    def warn(code: str) -> None:
        if code not in warnings:
            warnings.append(code)

    for name in INVOICE_FIELDS:
        mine, theirs = getattr(llm, name), getattr(rules, name)
        if mine is None and theirs is None:
            continue
        if mine is None:
            values[name] = theirs
            confidence[name] = min(rules.confidence.get(name, RULES_ONLY_CAP), RULES_ONLY_CAP)
            continue
        shown = evidence.shows(name, mine)
        if _same(name, mine, theirs):
            values[name], confidence[name] = mine, AGREE
        elif theirs is None:
            values[name], confidence[name] = mine, LLM_IN_TEXT if shown else NOT_IN_TEXT
        else:
            warn(EXTRACTORS_DISAGREE)
            use_rules = not shown and evidence.shows(name, theirs)
            values[name] = theirs if use_rules else mine
            confidence[name] = DISAGREE
        if not shown:
            warn(LLM_VALUE_NOT_IN_TEXT)

    items = llm.line_items or rules.line_items
    if llm.line_items:
        for item in llm.line_items:
            if item.description and not evidence.shows("description", item.description):
                warn(LLM_VALUE_NOT_IN_TEXT)
                break
        if rules.line_items and len(rules.line_items) != len(llm.line_items):
            warn(EXTRACTORS_DISAGREE)
    return ExtractedInvoice(
        **values,
        line_items=items,
        confidence=confidence,
        warnings=warnings,
        extractor=extractor,
        pages=rules.pages,
    )
