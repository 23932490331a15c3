"""Label hints learned from corrections: when a reviewer sets a field the rules extractor
missed or misread, the words printed before that value in the document are, most likely, the
vendor's own label for the field ("Beleg-Kennung: X-1001" -> "Beleg-Kennung" means invoice_id).
The next invoice of that vendor is read with those labels added to the dictionary.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from shared.extraction.amounts import find_amounts
from shared.extraction.dates import find_dates
from shared.extraction.schema import MONEY_FIELDS
from shared.extraction.text import fold, tokens

# Fields the rules extractor finds by a label (parties are found by layout, not labels).
HINTABLE_FIELDS = (
    "invoice_id",
    "purchase_order",
    "customer_id",
    "vendor_tax_id",
    "customer_tax_id",
    "payment_terms",
    "invoice_date",
    "due_date",
    "bank_account_number",
    *MONEY_FIELDS,
)
_MAX_LABEL_WORDS = 4
_LABEL_END = re.compile(r"[\s:#.\-–]+$")
# A label ends where a wide gap or another field's value does.
_LABEL_START = re.compile(r".*(?:\s{2,}|\t|\d\s|[|])")


def _spans(field: str, value: Any, line: str) -> list[int]:
    """Where `value` is printed in `line` (start offsets)."""
    if isinstance(value, dt.date) or field in ("invoice_date", "due_date"):
        found = find_dates(line, day_first=True) + find_dates(line, day_first=False)
        return sorted({d.start for d in found if d.value == value})
    if isinstance(value, Decimal) or field in MONEY_FIELDS:
        return [m.start for m in find_amounts(line) if abs(m.value) == abs(Decimal(value))]
    text = str(value).strip()
    if not text:
        return []
    return [m.start() for m in re.finditer(re.escape(text), line, flags=re.IGNORECASE)]


def _label_before(line: str, start: int) -> str | None:
    prefix = _LABEL_END.sub("", line[:start])
    cut = _LABEL_START.match(prefix)
    if cut:
        prefix = prefix[cut.end() :]
    words = prefix.split()[-_MAX_LABEL_WORDS:]
    label = " ".join(words)
    folded = tokens(label)
    if not folded or any(any(ch.isdigit() for ch in token) for token in folded):
        return None
    return label


def label_hints(text: str, field: str, value: Any) -> list[str]:
    """Labels printed right before `value` in the document text (usually one)."""
    if field not in HINTABLE_FIELDS or value is None:
        return []
    labels: list[str] = []
    for line in text.splitlines():
        for start in _spans(field, value, line):
            label = _label_before(line, start)
            if label and fold(label) not in {fold(known) for known in labels}:
                labels.append(label)
    return labels
