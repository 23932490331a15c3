"""The circuit breaker's states, and label hints learned from corrected values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from shared.extraction.hints import label_hints
from shared.llm.breaker import CircuitBreaker


def test_the_breaker_opens_after_consecutive_failures_only() -> None:
    now = [0.0]
    breaker = CircuitBreaker(3, 10, clock=lambda: now[0])
    breaker.failure()
    breaker.failure()
    breaker.success()  # a success in between resets the count
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.seconds_until_retry() == 10
    now[0] = 10.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # one trial call...
    assert not breaker.allow()  # ...at a time
    breaker.failure()  # the trial failed: open again, for a full cooldown
    assert breaker.state == "open" and breaker.seconds_until_retry() == 10
    now[0] = 25.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


@pytest.mark.parametrize(
    ("text", "field", "value", "expected"),
    [
        ("Nordlicht GmbH     Vorgangskennung: VK-1", "invoice_id", "VK-1", ["Vorgangskennung"]),
        ("Ausstellungstag 03.05.2024", "invoice_date", dt.date(2024, 5, 3), ["Ausstellungstag"]),
        ("Endsumme zu zahlen:  1.234,50 EUR", "invoice_total", Decimal("1234.50"),
         ["Endsumme zu zahlen"]),
        ("Auftrag # PO-7\nAuftrag # PO-7", "purchase_order", "PO-7", ["Auftrag"]),
        ("VK-1 alone on its line", "invoice_id", "VK-1", []),
        ("Ref 2024 12: VK-1", "invoice_id", "VK-1", []),  # digits are a value, not a label
        ("Vorgangskennung: VK-1", "vendor_name", "VK-1", []),  # parties are found by layout
        ("Vorgangskennung: VK-1", "invoice_id", None, []),
    ],
)  # fmt: skip
def test_label_hints_are_the_words_printed_before_a_value(
    text: str, field: str, value: Any, expected: list[str]
) -> None:
    assert label_hints(text, field, value) == expected
