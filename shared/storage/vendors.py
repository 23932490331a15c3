"""What reviewers' corrections taught about each vendor (table vendor_examples).

A corrected invoice becomes an example for its vendor: the start of its document text and its
corrected fields (few-shot material for the LLM), and the labels printed before the corrected
values (hints for the rules extractor). The newest examples of a vendor are used first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from shared.extraction.hints import label_hints
from shared.extraction.schema import InvoiceFields
from shared.extraction.text import fold
from shared.llm.answer import as_answer
from shared.llm.prompt import EXAMPLE_EXCERPT_CHARS, Example

Conn = Connection[Any]
EXAMPLES_PER_VENDOR = 2


@dataclass(frozen=True)
class VendorMemory:
    examples: list[Example] = field(default_factory=list)
    label_hints: dict[str, list[str]] = field(default_factory=dict)


def vendor_key(name: str | None) -> str | None:
    key = fold(name or "")
    return key or None


def remember(
    conn: Conn,
    owner: str,
    invoice_id: UUID,
    invoice: InvoiceFields,
    corrected: Sequence[str],
    document_text: str,
) -> None:
    """Keep a corrected invoice as an example of its vendor (call in the correction's
    transaction). Without a vendor name there is no vendor to learn for."""
    key = vendor_key(invoice.vendor_name)
    if key is None or not document_text:
        return
    hints: dict[str, list[str]] = {}
    for name in corrected:
        found = label_hints(document_text, name, getattr(invoice, name, None))
        if found:
            hints[name] = found
    conn.execute(
        """INSERT INTO vendor_examples
               (owner, invoice_id, vendor_key, vendor_tax_id, excerpt, answer, label_hints)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (owner, invoice_id) DO UPDATE
               SET vendor_key = EXCLUDED.vendor_key, vendor_tax_id = EXCLUDED.vendor_tax_id,
                   excerpt = EXCLUDED.excerpt, answer = EXCLUDED.answer,
                   label_hints = vendor_examples.label_hints || EXCLUDED.label_hints,
                   updated_at = now()""",
        (
            owner,
            invoice_id,
            key,
            invoice.vendor_tax_id,
            document_text[:EXAMPLE_EXCERPT_CHARS],
            Jsonb(as_answer(invoice)),
            Jsonb(hints),
        ),
    )


def recall(
    conn: Conn, owner: str, vendor_name: str | None, vendor_tax_id: str | None
) -> VendorMemory:
    """The newest examples of this owner's vendor (by name or tax id) and all their hints."""
    key = vendor_key(vendor_name)
    if key is None and not vendor_tax_id:
        return VendorMemory()
    rows = conn.execute(
        """SELECT excerpt, answer, label_hints FROM vendor_examples
            WHERE owner = %s AND (vendor_key = %s OR (%s::text IS NOT NULL AND vendor_tax_id = %s))
            ORDER BY updated_at DESC LIMIT 20""",
        (owner, key, vendor_tax_id, vendor_tax_id),
    ).fetchall()
    hints: dict[str, list[str]] = {}
    for _, _, learned in rows:
        for name, labels in (learned or {}).items():
            for label in labels:
                if label not in hints.setdefault(name, []):
                    hints[name].append(label)
    examples = [Example(excerpt, answer) for excerpt, answer, _ in rows[:EXAMPLES_PER_VENDOR]]
    return VendorMemory(examples, hints)
