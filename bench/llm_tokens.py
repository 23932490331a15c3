"""Tokens the shipped LLM prompt costs, per page and per invoice, and what 1,000 invoices cost.

    .venv/bin/python -m bench.llm_tokens [--count 72] [--seed 7]

Generates the corpus (tests/corpus/generator.py, text PDFs), parses each document, and builds
the exact messages the LLM extractor sends (shared.llm.prompt: instructions, the document's
layout text; no vendor examples). Prompt tokens are counted with the o200k_base encoding (the
gpt-4o / gpt-4.1 family; `bpe-openai` ships it, so nothing is downloaded): every message's
text, plus the answer schema (structured outputs send it to the model), plus 3 tokens of
framing per message. Completion tokens are those of the correct answer, the corpus's ground
truth in the answer's shape. It does not call any model: what a real model answers, and how
well, is not measured here.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

import bpe_openai  # type: ignore[import-untyped]

from shared.config import LlmSettings, OcrSettings
from shared.documents.parse import parse_document
from shared.documents.sniff import MediaType
from shared.extraction.schema import InvoiceFields
from shared.llm.answer import as_answer
from shared.llm.layout_text import page_texts
from shared.llm.prompt import (
    PROMPT_VERSION,
    answer_schema,
    chunks,
    estimate_tokens,
    fixed_tokens,
    messages_for,
)
from tests.corpus.generator import generate_corpus

# US dollars per million tokens (standard tier list prices; check the provider's current page).
PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
}
_PER_MESSAGE = 3


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=72)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    encoding = bpe_openai.get_encoding("o200k_base")
    settings = LlmSettings()

    def count(text: str) -> int:
        return len(encoding.encode(text))

    schema_tokens = count(json.dumps(answer_schema()))
    prompts: list[int] = []
    completions: list[int] = []
    estimates: list[int] = []
    pages = 0
    parts_total = 0
    with tempfile.TemporaryDirectory() as folder:
        items = generate_corpus(Path(folder), count=args.count, seed=args.seed, scans=False)
        for item in items:
            document = parse_document(item.pdf_path.read_bytes(), MediaType.PDF, OcrSettings())
            pages += len(document.pages)
            room = max(500, settings.max_input_tokens - fixed_tokens(()))
            parts = chunks(page_texts(document), room)
            parts_total += len(parts)
            prompt = 0
            estimate = 0
            for number, part in enumerate(parts, start=1):
                messages = messages_for(part, number, len(parts))
                text = [m["content"] for m in messages if isinstance(m["content"], str)]
                prompt += schema_tokens + sum(count(t) + _PER_MESSAGE for t in text)
                estimate += estimate_tokens(part) + fixed_tokens(())
            truth = InvoiceFields.model_validate(
                {k: v for k, v in item.truth.items() if k in InvoiceFields.model_fields}
            )
            prompts.append(prompt)
            completions.append(count(json.dumps(as_answer(truth))))
            estimates.append(estimate)
    invoices = len(prompts)
    prompt_mean = statistics.mean(prompts)
    completion_mean = statistics.mean(completions)
    print(f"# LLM prompt tokens: {invoices} invoices, {pages} pages, {parts_total} calls")
    print(f"prompt version {PROMPT_VERSION}; o200k_base; {platform.python_version()}")
    print(f"schema alone: {schema_tokens} tokens per call")
    print(
        f"prompt tokens per invoice: mean {prompt_mean:.0f}, median "
        f"{statistics.median(prompts):.0f}, max {max(prompts)}"
    )
    print(f"prompt tokens per page: {sum(prompts) / pages:.0f}")
    print(f"completion tokens per invoice: mean {completion_mean:.0f}, max {max(completions)}")
    print(f"completion tokens per page: {sum(completions) / pages:.0f}")
    print(
        f"budget estimate / real prompt tokens: "
        f"{sum(estimates) / sum(prompts):.2f} (>1: the budget reserves more than is spent)"
    )
    for model, (price_in, price_out) in PRICES.items():
        per_thousand = (prompt_mean * price_in + completion_mean * price_out) / 1000
        print(
            f"{model}: ${price_in}/M in, ${price_out}/M out -> ${per_thousand:.2f} "
            "per 1,000 invoices"
        )


if __name__ == "__main__":
    main()
