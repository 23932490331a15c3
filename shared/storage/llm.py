"""The LLM extractor's tables: the result cache and the per-owner monthly token budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from shared.extraction.schema import InvoiceFields, LlmUsage

Conn = Connection[Any]
# Months are calendar months in UTC: date_trunc('month', now() AT TIME ZONE 'UTC')::date.


def cached_answer(
    conn: Conn, owner: str, sha256: str, model: str, prompt_version: str
) -> tuple[InvoiceFields, LlmUsage] | None:
    row = conn.execute(
        """SELECT answer, usage FROM llm_results
           WHERE owner = %s AND sha256 = %s AND model = %s AND prompt_version = %s""",
        (owner, sha256, model, prompt_version),
    ).fetchone()
    if row is None:
        return None
    return InvoiceFields.model_validate(row[0]), LlmUsage.model_validate(row[1])


def save_answer(
    conn: Conn, owner: str, sha256: str, answer: InvoiceFields, usage: LlmUsage
) -> None:
    conn.execute(
        """INSERT INTO llm_results (owner, sha256, model, prompt_version, answer, usage)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (owner, sha256, model, prompt_version) DO UPDATE
               SET answer = EXCLUDED.answer, usage = EXCLUDED.usage, created_at = now()""",
        (
            owner,
            sha256,
            usage.model,
            usage.prompt_version,
            Jsonb(answer.model_dump(mode="json")),
            Jsonb(usage.model_dump(mode="json")),
        ),
    )


@dataclass(frozen=True)
class Reservation:
    granted: bool
    used: int  # tokens this month after the reservation (or before it, when refused)


def reserve_tokens(conn: Conn, owner: str, tokens: int, budget: int | None) -> Reservation:
    """Set aside `tokens` of this month's budget, atomically: concurrent documents of one owner
    cannot all pass a check that only one of them fits. None budget: always granted."""
    limit = budget if budget is not None else 2**62
    row = conn.execute(
        """INSERT INTO llm_usage (owner, month, tokens)
            SELECT %(owner)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, %(tokens)s
             WHERE %(tokens)s <= %(limit)s
            ON CONFLICT (owner, month) DO UPDATE
                SET tokens = llm_usage.tokens + EXCLUDED.tokens, updated_at = now()
                WHERE llm_usage.tokens + EXCLUDED.tokens <= %(limit)s
            RETURNING tokens""",
        {"owner": owner, "tokens": tokens, "limit": limit},
    ).fetchone()
    if row is not None:
        return Reservation(True, int(row[0]))
    return Reservation(False, month_tokens(conn, owner))


def settle_tokens(
    conn: Conn, owner: str, reserved: int, usage: LlmUsage | None, pages: int
) -> None:
    """Replace a reservation with what the calls really used (nothing, when none answered)."""
    spent = (usage.prompt_tokens + usage.completion_tokens) if usage else 0
    conn.execute(
        """UPDATE llm_usage
               SET tokens = greatest(0, tokens - %(reserved)s + %(spent)s),
                   prompt_tokens = prompt_tokens + %(prompt)s,
                   completion_tokens = completion_tokens + %(completion)s,
                   calls = calls + %(calls)s,
                   pages = pages + %(pages)s,
                   cost_usd = cost_usd + %(cost)s,
                   updated_at = now()
             WHERE owner = %(owner)s
               AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date""",
        {
            "owner": owner,
            "reserved": reserved,
            "spent": spent,
            "prompt": usage.prompt_tokens if usage else 0,
            "completion": usage.completion_tokens if usage else 0,
            "calls": usage.calls if usage else 0,
            "pages": pages if usage else 0,
            "cost": usage.cost_usd if usage else 0.0,
        },
    )


def month_tokens(conn: Conn, owner: str) -> int:
    row = conn.execute(
        "SELECT tokens FROM llm_usage WHERE owner = %s "
        "AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date",
        (owner,),
    ).fetchone()
    return int(row[0]) if row else 0
