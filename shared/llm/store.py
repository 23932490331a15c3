"""The LLM extractor's store in PostgreSQL: vendor memory, result cache and budget, each a
short transaction of its own (an LLM call never holds a database connection)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from psycopg import Connection

from shared.extraction.schema import InvoiceFields, LlmUsage
from shared.storage import llm, vendors
from shared.storage.llm import Reservation
from shared.storage.vendors import VendorMemory

Connect = Callable[[], AbstractContextManager[Connection[Any]]]


class PostgresLlmStore:
    def __init__(self, connect: Connect, monthly_token_budget: int | None) -> None:
        self.connect = connect
        self.budget = monthly_token_budget

    def recall(
        self, owner: str, vendor_name: str | None, vendor_tax_id: str | None
    ) -> VendorMemory:
        with self.connect() as conn:
            return vendors.recall(conn, owner, vendor_name, vendor_tax_id)

    def cached(
        self, owner: str, sha256: str, model: str, prompt_version: str
    ) -> tuple[InvoiceFields, LlmUsage] | None:
        with self.connect() as conn:
            return llm.cached_answer(conn, owner, sha256, model, prompt_version)

    def save(self, owner: str, sha256: str, answer: InvoiceFields, usage: LlmUsage) -> None:
        with self.connect() as conn:
            llm.save_answer(conn, owner, sha256, answer, usage)

    def reserve(self, owner: str, tokens: int) -> Reservation:
        with self.connect() as conn:
            return llm.reserve_tokens(conn, owner, tokens, self.budget)

    def settle(self, owner: str, reserved: int, usage: LlmUsage | None, pages: int) -> None:
        with self.connect() as conn:
            llm.settle_tokens(conn, owner, reserved, usage, pages)
