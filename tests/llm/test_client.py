"""LlmClient against a local OpenAI-compatible server: retries, Retry-After, timeouts, refusals,
the circuit breaker and the metrics, through the real openai client."""

from __future__ import annotations

import dataclasses

import pytest

from shared.config import LlmSettings
from shared.llm.breaker import CircuitBreaker
from shared.llm.client import LlmClient, LlmRefused, LlmUnavailable, retry_after
from shared.llm.connection import openai_client
from shared.metrics import LLM_REQUESTS, LLM_TOKENS
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, error

FORMAT = {"type": "json_object"}
MESSAGES = [{"role": "user", "content": "hi"}]


def _settings(server: FakeOpenAI, **changes: object) -> LlmSettings:
    base = LlmSettings(base_url=server.base_url, model="test-model", timeout_seconds=5)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(server: FakeOpenAI, sleeps: Sleeps | None = None, **changes: object) -> LlmClient:
    settings = _settings(server, **changes)
    return LlmClient(
        settings, openai_client(settings), sleep=Sleeps() if sleeps is None else sleeps
    )


def _count(outcome: str, model: str = "test-model") -> float:
    return float(LLM_REQUESTS.labels(model, outcome)._value.get())


def test_an_answer_comes_back_with_its_usage_and_cost(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", completion({"ok": 1}, prompt_tokens=1200, completion_tokens=300))
    client = _client(llm_server, price_input_per_million=0.15, price_output_per_million=0.6)
    before_ok, before_tokens = _count("ok"), LLM_TOKENS.labels("test-model", "prompt")._value.get()
    answer = client.complete(MESSAGES, FORMAT)
    assert answer.content == '{"ok": 1}'
    assert (answer.prompt_tokens, answer.completion_tokens, answer.attempts) == (1200, 300, 1)
    assert answer.cost_usd == pytest.approx((1200 * 0.15 + 300 * 0.6) / 1_000_000)
    assert _count("ok") == before_ok + 1
    assert LLM_TOKENS.labels("test-model", "prompt")._value.get() == before_tokens + 1200
    sent = llm_server.of_kind("chat")[0].body
    assert sent["model"] == "test-model" and sent["response_format"] == FORMAT
    assert sent["max_completion_tokens"] == 16_384


def test_429_waits_what_retry_after_asks_then_succeeds(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", error(429, "slow down", retry_after=7), completion({}))
    sleeps = Sleeps()
    before = _count("rate_limited")
    answer = _client(llm_server, sleeps).complete(MESSAGES, FORMAT)
    assert answer.attempts == 2
    assert sleeps == [7.0]
    assert _count("rate_limited") == before + 1


def test_5xx_are_retried_with_backoff_until_the_attempts_run_out(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", *[error(503)] * 4)
    sleeps = Sleeps()
    with pytest.raises(LlmUnavailable, match="failed 4 times") as raised:
        _client(llm_server, sleeps, max_attempts=4).complete(MESSAGES, FORMAT)
    assert raised.value.code == "llm_unavailable"
    assert len(llm_server.of_kind("chat")) == 4
    assert len(sleeps) == 3
    assert all(0 < s <= 20 for s in sleeps) and sleeps[2] > sleeps[0] * 0.9


def test_a_500_then_an_answer_succeeds(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", error(500), error(502), completion({"a": 1}))
    assert _client(llm_server).complete(MESSAGES, FORMAT).attempts == 3


def test_a_retry_after_longer_than_a_minute_is_not_waited_for(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", error(429, retry_after=600))
    sleeps = Sleeps()
    with pytest.raises(LlmUnavailable, match="asked to wait 600 s"):
        _client(llm_server, sleeps).complete(MESSAGES, FORMAT)
    assert sleeps == []


def test_a_slow_endpoint_times_out_and_counts_as_a_failed_attempt(llm_server: FakeOpenAI) -> None:
    llm_server.queue("chat", Reply(body={}, delay=2.5), Reply(body={}, delay=2.5))
    before = _count("timeout")
    with pytest.raises(LlmUnavailable, match="timed out"):
        _client(llm_server, timeout_seconds=1, max_attempts=2).complete(MESSAGES, FORMAT)
    assert _count("timeout") == before + 2


@pytest.mark.parametrize("status", [400, 401, 404])
def test_other_client_errors_are_not_retried(llm_server: FakeOpenAI, status: int) -> None:
    llm_server.queue("chat", error(status))
    with pytest.raises(LlmRefused, match=f"HTTP {status}") as raised:
        _client(llm_server).complete(MESSAGES, FORMAT)
    assert raised.value.code == "llm_request_refused"
    assert len(llm_server.of_kind("chat")) == 1


def test_the_circuit_opens_after_consecutive_failures_and_fails_fast(
    llm_server: FakeOpenAI,
) -> None:
    llm_server.chat = lambda body: error(500)
    now = [0.0]
    settings = _settings(llm_server, max_attempts=1)
    breaker = CircuitBreaker(3, 30, clock=lambda: now[0])
    client = LlmClient(settings, openai_client(settings), breaker, sleep=Sleeps())
    for _ in range(3):
        with pytest.raises(LlmUnavailable, match="failed 1 times"):
            client.complete(MESSAGES, FORMAT)
    before = _count("circuit_open")
    with pytest.raises(LlmUnavailable, match="paused for 30 more seconds"):
        client.complete(MESSAGES, FORMAT)
    assert len(llm_server.of_kind("chat")) == 3  # the fourth call never left
    assert _count("circuit_open") == before + 1
    # After the cooldown one trial goes out; it succeeds and the circuit closes.
    now[0] = 31.0
    llm_server.chat = lambda body: completion({"back": True})
    assert client.complete(MESSAGES, FORMAT).content == '{"back": true}'
    assert breaker.state == "closed"


def test_azure_openai_gets_the_deployment_route_and_an_entra_token(
    llm_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = LlmSettings(
        azure_endpoint=llm_server.endpoint, azure_deployment="invoices-gpt", azure_api_key="k-1"
    )
    llm_server.queue("chat", completion({}))
    LlmClient(settings, openai_client(settings)).complete(MESSAGES, FORMAT)
    request = llm_server.of_kind("chat")[0]
    assert request.path.startswith("/openai/deployments/invoices-gpt/chat/completions")
    assert "api-version=2024-10-21" in request.path
    assert request.headers["api-key"] == "k-1"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_reads_seconds_milliseconds_and_dates(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after(headers) == expected
