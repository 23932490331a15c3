"""Per-field precision, recall and F1 of extraction results against ground truth.

A field counts as a true positive when predicted and equal to the truth, a false
positive when predicted but absent or different, a false negative when in the
truth but missing or different (so a wrong value costs both). Line items are
paired in order by equal amount or description (a longest common subsequence,
so one missed row costs that row only) and compared as `line_items.<field>`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.extraction.schema import INVOICE_FIELDS, LINE_ITEM_FIELDS
from shared.extraction.text import fold

_MONEY_LIKE = {
    "subtotal", "total_discount", "total_tax", "invoice_total", "amount_due",
    "previous_unpaid_balance", "quantity", "unit_price", "amount", "tax", "tax_rate",
}  # fmt: skip
SCORED_LINE_FIELDS = ("description", "quantity", "unit_price", "amount", "tax_rate", "product_code")


def normalise(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _MONEY_LIKE:
        try:
            return Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value)
    if name in {"iban", "swift", "vendor_tax_id", "customer_tax_id"}:
        return "".join(str(value).split()).upper().replace(".", "")
    return " ".join(fold(str(value)).split())


@dataclass
class FieldScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    fields: dict[str, FieldScore] = field(default_factory=lambda: defaultdict(FieldScore))
    errors: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    @property
    def micro(self) -> FieldScore:
        total = FieldScore()
        for score in self.fields.values():
            total.tp += score.tp
            total.fp += score.fp
            total.fn += score.fn
        return total


def _compare(report: Report, doc: str, name: str, truth: Any, predicted: Any) -> None:
    t, p = normalise(name.split(".")[-1], truth), normalise(name.split(".")[-1], predicted)
    score = report.fields[name]
    if t is not None and p is not None and t == p:
        score.tp += 1
        return
    if p is not None:
        score.fp += 1
    if t is not None:
        score.fn += 1
    report.errors.append((doc, name, truth, predicted))


def _same_item(truth: Mapping[str, Any], predicted: Mapping[str, Any]) -> bool:
    amount = normalise("amount", truth.get("amount"))
    if amount is not None and amount == normalise("amount", predicted.get("amount")):
        return True
    description = normalise("description", truth.get("description"))
    return description is not None and description == normalise(
        "description", predicted.get("description")
    )


def align_items(
    truth: list[Mapping[str, Any]], predicted: list[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Pair items in order (longest common subsequence), so one missed row costs one row.

    Unpaired items come back paired with an empty mapping.
    """
    n, m = len(truth), len(predicted)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if _same_item(truth[i], predicted[j]):
                best[i][j] = best[i + 1][j + 1] + 1
            else:
                best[i][j] = max(best[i + 1][j], best[i][j + 1])
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    i = j = 0
    while i < n and j < m:
        if _same_item(truth[i], predicted[j]) and best[i][j] == best[i + 1][j + 1] + 1:
            pairs.append((truth[i], predicted[j]))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            pairs.append((truth[i], {}))
            i += 1
        else:
            pairs.append(({}, predicted[j]))
            j += 1
    pairs.extend((item, {}) for item in truth[i:])
    pairs.extend(({}, item) for item in predicted[j:])
    return pairs


def score_documents(pairs: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]]) -> Report:
    """`pairs` yields (document id, truth, prediction) with the CLI's JSON shapes."""
    report = Report()
    for doc, truth, predicted in pairs:
        for name in INVOICE_FIELDS:
            if name in truth or name in predicted:
                _compare(report, doc, name, truth.get(name), predicted.get(name))
        truth_items = list(truth.get("line_items", []))
        predicted_items = list(predicted.get("line_items", []))
        for t_item, p_item in align_items(truth_items, predicted_items):
            for name in SCORED_LINE_FIELDS:
                assert name in LINE_ITEM_FIELDS
                if name in t_item:
                    _compare(report, doc, f"line_items.{name}", t_item.get(name), p_item.get(name))
                elif name in p_item and not t_item:
                    # A predicted item matching no printed item: every value is wrong.
                    _compare(report, doc, f"line_items.{name}", None, p_item.get(name))
                # A value for a column the document does not show is not scored.
    return report
