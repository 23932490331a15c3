"""Extraction as the flow and the CLI run it: the rules extractor (with what corrections
taught about the vendor), then, in `llm` and `auto` modes, the LLM, arbitrated against it.

For one document:
1. The rules extractor reads it (milliseconds, offline). Its vendor names the vendor memory:
   label hints learned from corrections (the rules read the document again with them) and
   corrected examples (few-shot material for the prompt).
2. The result cache is asked for an answer to these bytes, this model and this prompt version.
3. Otherwise the owner's monthly budget reserves the estimated tokens (refused: the document
   gets `llm_budget_exhausted`), the document's layout text goes out in as few parts as the
   input budget allows (page images too, for scans, when LLM_VISION is on), the answers are
   merged, the real usage replaces the reservation and the answer is cached.
4. The answer is arbitrated against the rules' result (shared.llm.arbitrate).

Modes: `llm` fails the document when the LLM cannot answer (unavailable, refused, invalid
output, budget used up), so a retry can run it through the LLM later; `auto` keeps the rules'
result instead, with the reason as a warning, which sends it to review.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.config import LlmSettings
from shared.documents.parse import ParsedDocument
from shared.errors import ExtractionFailed
from shared.extraction.rules import RulesExtractor
from shared.extraction.schema import ExtractedInvoice, InvoiceFields, LlmUsage
from shared.llm.answer import LLM_INVALID_VALUE, LlmInvalidOutput, merge_parts, parse_answer
from shared.llm.arbitrate import arbitrate
from shared.llm.client import Completion, LlmClient
from shared.llm.layout_text import page_texts
from shared.llm.prompt import (
    PROMPT_VERSION,
    Example,
    chunks,
    estimate_tokens,
    fixed_tokens,
    messages_for,
    response_format,
)
from shared.metrics import LLM_CACHE, LLM_REQUESTS
from shared.storage.llm import Reservation
from shared.storage.vendors import VendorMemory

log = logging.getLogger(__name__)

# What an image costs in input tokens, roughly (a high-detail A4 page at 768 px: ~765).
IMAGE_TOKENS = 800
_MIN_PART_TOKENS = 500


class LlmBudgetExhausted(ExtractionFailed):
    code = "llm_budget_exhausted"


@dataclass(frozen=True)
class DocumentContext:
    """Who the document belongs to and what it is: the cache, budget and vendor memory are
    per owner; without an owner (the CLI) none of them apply."""

    owner: str | None = None
    sha256: str | None = None
    images: Sequence[bytes] = ()  # PNG pages of a scan, for vision-capable models


class LlmStore(Protocol):
    def recall(
        self, owner: str, vendor_name: str | None, vendor_tax_id: str | None
    ) -> VendorMemory: ...

    def cached(
        self, owner: str, sha256: str, model: str, prompt_version: str
    ) -> tuple[InvoiceFields, LlmUsage] | None: ...

    def save(self, owner: str, sha256: str, answer: InvoiceFields, usage: LlmUsage) -> None: ...

    def reserve(self, owner: str, tokens: int) -> Reservation: ...

    def settle(self, owner: str, reserved: int, usage: LlmUsage | None, pages: int) -> None: ...


class NoStore:
    """No cache, no budget, no memory: the command line's store."""

    def recall(
        self, owner: str, vendor_name: str | None, vendor_tax_id: str | None
    ) -> VendorMemory:
        return VendorMemory()

    def cached(
        self, owner: str, sha256: str, model: str, prompt_version: str
    ) -> tuple[InvoiceFields, LlmUsage] | None:
        return None

    def save(self, owner: str, sha256: str, answer: InvoiceFields, usage: LlmUsage) -> None:
        return None

    def reserve(self, owner: str, tokens: int) -> Reservation:
        return Reservation(True, 0)

    def settle(self, owner: str, reserved: int, usage: LlmUsage | None, pages: int) -> None:
        return None


@dataclass(frozen=True)
class Answer:
    invoice: InvoiceFields
    usage: LlmUsage
    dropped: list[str]


class Extraction:
    """The configured extractor: `rules`, `llm` or `auto` (an LlmClient only for the last two,
    and only when an LLM is configured)."""

    def __init__(
        self,
        mode: str,
        settings: LlmSettings,
        client: LlmClient | None = None,
        store: LlmStore | None = None,
    ) -> None:
        if mode == "llm" and client is None:
            raise ValueError("the llm extractor needs an LLM client")
        self.name = mode
        self.settings = settings
        self.client = client if mode != "rules" else None
        self.store: LlmStore = store or NoStore()

    def extract(
        self, document: ParsedDocument, context: DocumentContext | None = None
    ) -> ExtractedInvoice:
        context = context or DocumentContext()
        rules = RulesExtractor().extract(document)
        memory = VendorMemory()
        if context.owner:
            memory = self.store.recall(context.owner, rules.vendor_name, rules.vendor_tax_id)
            if memory.label_hints:
                rules = RulesExtractor(memory.label_hints).extract(document)
        if self.client is None:
            return rules
        try:
            answer = self._ask(self.client, document, context, memory.examples)
        except ExtractionFailed as exc:
            if self.name == "llm":
                raise
            log.warning("LLM extraction failed (%s); the rules extractor's result stands", exc.code)
            return rules.model_copy(update={"warnings": [*rules.warnings, exc.code]})
        result = arbitrate(
            answer.invoice,
            rules,
            document.text,
            extractor="llm",
            extra_warnings=[LLM_INVALID_VALUE] if answer.dropped else None,
        )
        return result.model_copy(update={"llm": answer.usage})

    def _ask(
        self,
        client: LlmClient,
        document: ParsedDocument,
        context: DocumentContext,
        examples: Sequence[Example],
    ) -> Answer:
        owner, sha256 = context.owner, context.sha256
        if owner and sha256:
            hit = self.store.cached(owner, sha256, client.model, PROMPT_VERSION)
            LLM_CACHE.labels("hit" if hit else "miss").inc()
            if hit:
                return Answer(hit[0], hit[1].model_copy(update={"cached": True}), [])
        fixed = fixed_tokens(examples)
        parts = chunks(
            page_texts(document), max(_MIN_PART_TOKENS, self.settings.max_input_tokens - fixed)
        )
        images = context.images if self.settings.vision and len(parts) == 1 else ()
        estimate = sum(estimate_tokens(p) + fixed for p in parts) + IMAGE_TOKENS * len(images)
        reserved = self._reserve(client, owner, estimate)
        answers: list[InvoiceFields] = []
        dropped: list[str] = []
        tally = _Tally(LlmUsage(model=client.model, prompt_version=PROMPT_VERSION))
        try:
            for number, part in enumerate(parts, start=1):
                messages = messages_for(
                    part, number, len(parts), examples, images if number == 1 else ()
                )
                invoice, bad = self._part(client, messages, tally)
                answers.append(invoice)
                dropped += bad
        finally:
            # What the calls really used replaces the reservation, also when one failed
            # (an invalid answer was billed all the same).
            if owner:
                spent = tally.usage if tally.usage.calls else None
                self.store.settle(owner, reserved, spent, len(document.pages))
        merged = merge_parts(answers)
        if owner and sha256:
            self.store.save(owner, sha256, merged, tally.usage)
        return Answer(merged, tally.usage, dropped)

    def _reserve(self, client: LlmClient, owner: str | None, estimate: int) -> int:
        if not owner:
            return 0
        reservation = self.store.reserve(owner, estimate)
        if not reservation.granted:
            LLM_REQUESTS.labels(client.model, "budget_exhausted").inc()
            raise LlmBudgetExhausted(
                f"this month's LLM budget is used up ({reservation.used:,} of "
                f"{self.settings.monthly_token_budget:,} tokens; this document needs about "
                f"{estimate:,}); retry the document next month or after raising the budget"
            )
        return estimate

    def _part(
        self, client: LlmClient, messages: list[dict[str, Any]], tally: _Tally
    ) -> tuple[InvoiceFields, list[str]]:
        """One part's answer; an invalid answer is asked for once more, then fails."""
        for attempt in (1, 2):
            completion = client.complete(messages, response_format())
            tally.add(completion)
            try:
                return parse_answer(completion.content, completion.finish_reason)
            except LlmInvalidOutput:
                LLM_REQUESTS.labels(client.model, "invalid_output").inc()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class _Tally:
    """The usage of one document's calls, added up as they answer."""

    def __init__(self, usage: LlmUsage) -> None:
        self.usage = usage

    def add(self, completion: Completion) -> None:
        usage = self.usage
        self.usage = usage.model_copy(
            update={
                "calls": usage.calls + 1,
                "prompt_tokens": usage.prompt_tokens + completion.prompt_tokens,
                "completion_tokens": usage.completion_tokens + completion.completion_tokens,
                "latency_ms": round(usage.latency_ms + completion.latency_seconds * 1000, 1),
                "cost_usd": usage.cost_usd + completion.cost_usd,
            }
        )
