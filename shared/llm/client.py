"""Calls to the chat completions API with timeouts, retries and a circuit breaker.

- A call times out after LLM_TIMEOUT_SECONDS (the openai client's own timeout).
- 429 and 5xx answers, timeouts and connection errors are retried up to LLM_MAX_ATTEMPTS
  attempts in all, waiting what the server's Retry-After (or retry-after-ms) asks, or else an
  exponential backoff with jitter; a server asking for more than MAX_RETRY_AFTER seconds is
  not waited for.
- Other 4xx answers (bad request, authentication) are not retried: retrying cannot help.
- Every attempt is counted in invoices_llm_requests_total by outcome; every answered call's
  tokens, cost and latency go to the metrics and come back on the `Completion`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai import OpenAI

from shared.config import LlmSettings
from shared.errors import ExtractionFailed
from shared.llm.breaker import CircuitBreaker
from shared.metrics import LLM_COST, LLM_DURATION, LLM_REQUESTS, LLM_TOKENS

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 60.0
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 20.0


class LlmUnavailable(ExtractionFailed):
    """The endpoint failed (after retries), timed out, or the circuit is open: try later."""

    code = "llm_unavailable"


class LlmRefused(ExtractionFailed):
    """The endpoint refused the request (4xx other than 429): retrying would not help."""

    code = "llm_request_refused"


@dataclass(frozen=True)
class Completion:
    content: str
    finish_reason: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_seconds: float
    attempts: int
    cost_usd: float


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (Retry-After in seconds or an HTTP date, or
    retry-after-ms), or None."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def cost_usd(settings: LlmSettings, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * settings.price_input_per_million
        + completion_tokens * settings.price_output_per_million
    ) / 1_000_000


class LlmClient:
    def __init__(
        self,
        settings: LlmSettings,
        client: OpenAI,
        breaker: CircuitBreaker | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client
        self.model = settings.model_name
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failures, settings.breaker_cooldown_seconds
        )
        self._sleep = sleep

    def complete(
        self, messages: Sequence[dict[str, Any]], response_format: dict[str, Any]
    ) -> Completion:
        started = time.perf_counter()
        attempts = 0
        while True:
            if not self.breaker.allow():
                LLM_REQUESTS.labels(self.model, "circuit_open").inc()
                wait = self.breaker.seconds_until_retry()
                raise LlmUnavailable(
                    f"the LLM endpoint is failing; calls are paused for {wait:.0f} more seconds"
                )
            attempts += 1
            try:
                # No temperature: reasoning models accept only their default, and structured
                # outputs pin the shape. max_completion_tokens is the current name of the cap.
                response = self.client.chat.completions.create(  # type: ignore[call-overload]
                    model=self.model,
                    messages=list(messages),
                    response_format=response_format,
                    max_completion_tokens=self.settings.max_output_tokens,
                )
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status != 429 and status < 500:
                    self.breaker.success()  # the endpoint is up; it just says no
                    LLM_REQUESTS.labels(self.model, "error").inc()
                    raise LlmRefused(
                        f"the LLM endpoint refused the request (HTTP {status})"
                    ) from exc
                outcome = "rate_limited" if status == 429 else "server_error"
                delay = retry_after(exc.response.headers)
                self._failed(outcome, attempts, delay, f"HTTP {status}")
                continue
            except openai.APITimeoutError:
                self._failed("timeout", attempts, None, "timed out")
                continue
            except openai.APIConnectionError:
                self._failed("error", attempts, None, "connection failed")
                continue
            self.breaker.success()
            LLM_REQUESTS.labels(self.model, "ok").inc()
            return self._completion(response, attempts, time.perf_counter() - started)

    def probe(self, timeout: float) -> None:
        """List the endpoint's models: reachable and authenticated, at no token cost."""
        self.client.with_options(timeout=timeout, max_retries=0).models.list()

    def _failed(self, outcome: str, attempts: int, delay: float | None, what: str) -> None:
        """Count a failed attempt; wait before the next one, or raise when there is none."""
        LLM_REQUESTS.labels(self.model, outcome).inc()
        self.breaker.failure()
        if attempts >= self.settings.max_attempts:
            raise LlmUnavailable(f"the LLM endpoint failed {attempts} times ({what})")
        if delay is None:
            delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempts - 1))
            delay *= 0.5 + random.random() / 2  # noqa: S311 (jitter, not security)
        elif delay > MAX_RETRY_AFTER:
            raise LlmUnavailable(
                f"the LLM endpoint asked to wait {delay:.0f} s ({what}); not waiting that long"
            )
        log.info("LLM call attempt %d failed (%s); retrying in %.2f s", attempts, what, delay)
        self._sleep(delay)

    def _completion(self, response: Any, attempts: int, elapsed: float) -> Completion:
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = cost_usd(self.settings, prompt, completion)
        LLM_TOKENS.labels(self.model, "prompt").inc(prompt)
        LLM_TOKENS.labels(self.model, "completion").inc(completion)
        LLM_COST.labels(self.model).inc(cost)
        LLM_DURATION.labels(self.model).observe(elapsed)
        message = choice.message if choice is not None else None
        return Completion(
            content=(message.content or "") if message is not None else "",
            finish_reason=(choice.finish_reason or "") if choice is not None else "",
            model=response.model or self.model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency_seconds=elapsed,
            attempts=attempts,
            cost_usd=cost,
        )
