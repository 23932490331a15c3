"""Embedders (shared/embeddings.py): the offline default, and embeddings models over HTTP against
the local OpenAI-compatible server (OpenAI and Azure OpenAI routes)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from shared.config import EmbeddingSettings, LlmSettings, Settings
from shared.embeddings import HashingEmbedder, OpenAIEmbedder, make_embedder
from shared.errors import EmbeddingFailed
from shared.metrics import REGISTRY
from tests.fakes.openai_server import FakeOpenAI, Reply, error, fake_openai, fake_vector


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


def _openai(
    fake: FakeOpenAI, dimensions: int = 64, *, max_attempts: int = 4, timeout_seconds: int = 5
) -> Settings:
    return Settings(
        llm=LlmSettings(
            base_url=fake.base_url,
            embeddings_model="text-embedding-3-small",
            max_attempts=max_attempts,
        ),
        embeddings=EmbeddingSettings(dimensions=dimensions, timeout_seconds=timeout_seconds),
    )


def _requests(model: str, outcome: str) -> float:
    labels = {"model": model, "outcome": outcome}
    return REGISTRY.get_sample_value("invoices_embedding_requests_total", labels) or 0.0


def test_without_an_embeddings_model_the_offline_hashing_embedder_is_used() -> None:
    embedder = make_embedder(Settings(embeddings=EmbeddingSettings(dimensions=128)))
    assert isinstance(embedder, HashingEmbedder)
    assert (embedder.model, embedder.dimensions) == ("hashing-v1-128", 128)
    vector = embedder.embed_text("Acme Supplies GmbH INV-1 119.00")
    assert len(vector) == 128
    assert math.isclose(math.fsum(v * v for v in vector), 1.0)
    assert embedder.embed_texts(["a b", "c"]) == [
        embedder.embed_text("a b"),
        embedder.embed_text("c"),
    ]


def test_openai_embeddings_ask_for_the_configured_model_and_dimensions(fake: FakeOpenAI) -> None:
    embedder = make_embedder(_openai(fake, dimensions=64))
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.model, embedder.dimensions) == ("text-embedding-3-small", 64)
    vectors = embedder.embed_texts(["Acme INV-1", "Globex INV-2"])
    assert vectors == [fake_vector("Acme INV-1", 64), fake_vector("Globex INV-2", 64)]
    [request] = fake.of_kind("embeddings")
    assert request.path == "/v1/embeddings"
    assert request.body["model"] == "text-embedding-3-small"
    assert request.body["dimensions"] == 64
    assert request.body["input"] == ["Acme INV-1", "Globex INV-2"]
    assert request.body["encoding_format"] == "float"


def test_azure_openai_embeddings_go_to_the_deployment_with_the_api_key(fake: FakeOpenAI) -> None:
    settings = Settings(
        llm=LlmSettings(
            azure_endpoint=fake.endpoint,
            azure_api_key="azure-key",
            api_version="2024-10-21",
            embeddings_model="invoice-embeddings",
        ),
        embeddings=EmbeddingSettings(dimensions=256),
    )
    embedder = make_embedder(settings)
    assert embedder.embed_text("Acme INV-1") == fake_vector("Acme INV-1", 256)
    [request] = fake.of_kind("embeddings")
    assert (
        request.path == "/openai/deployments/invoice-embeddings/embeddings?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "azure-key"
    assert request.body["dimensions"] == 256


def test_many_texts_go_in_batches_and_come_back_in_order(fake: FakeOpenAI) -> None:
    embedder = make_embedder(_openai(fake, dimensions=8))
    assert isinstance(embedder, OpenAIEmbedder)
    texts = [f"invoice {n}" for n in range(2 * embedder.batch_size + 2)]
    assert embedder.embed_texts(texts) == [fake_vector(text, 8) for text in texts]
    sizes = [len(request.body["input"]) for request in fake.of_kind("embeddings")]
    assert sizes == [embedder.batch_size, embedder.batch_size, 2]


def test_vectors_are_matched_to_texts_by_index_not_by_position(fake: FakeOpenAI) -> None:
    data = [
        {"object": "embedding", "index": index, "embedding": fake_vector(text, 4)}
        for index, text in enumerate(["first", "second"])
    ]
    usage = {"prompt_tokens": 2, "total_tokens": 2}
    fake.queue("embeddings", Reply(body={"object": "list", "data": data[::-1], "usage": usage,
                                         "model": "m"}))  # fmt: skip
    vectors = make_embedder(_openai(fake, dimensions=4)).embed_texts(["first", "second"])
    assert vectors == [fake_vector("first", 4), fake_vector("second", 4)]


def test_server_errors_are_retried_up_to_the_attempts(fake: FakeOpenAI) -> None:
    fake.queue("embeddings", error(503, retry_after=0.01), error(429, retry_after=0.01))
    embedder = make_embedder(_openai(fake, dimensions=16, max_attempts=3))
    assert embedder.embed_text("Acme") == fake_vector("Acme", 16)
    assert len(fake.of_kind("embeddings")) == 3


def test_a_failure_after_the_retries_raises_embedding_failed_and_is_counted(
    fake: FakeOpenAI,
) -> None:
    fake.queue("embeddings", *[error(500, "down", retry_after=0.01)] * 2)
    embedder = make_embedder(_openai(fake, dimensions=16, max_attempts=2))
    errors = _requests("text-embedding-3-small", "error")
    with pytest.raises(EmbeddingFailed, match="text-embedding-3-small"):
        embedder.embed_text("Acme")
    assert len(fake.of_kind("embeddings")) == 2
    assert _requests("text-embedding-3-small", "error") == errors + 1


def test_a_refused_request_is_not_retried(fake: FakeOpenAI) -> None:
    fake.queue("embeddings", error(400, "bad input"))
    embedder = make_embedder(_openai(fake, dimensions=16, max_attempts=4))
    with pytest.raises(EmbeddingFailed):
        embedder.embed_text("Acme")
    assert len(fake.of_kind("embeddings")) == 1


def test_a_model_that_ignores_dimensions_is_refused_naming_both_sizes(fake: FakeOpenAI) -> None:
    fake.embedding = lambda text, dimensions: fake_vector(text, 1536)  # like ada-002
    embedder = make_embedder(_openai(fake, dimensions=256))
    with pytest.raises(
        EmbeddingFailed, match=r"returned 1536 dimensions, EMBEDDINGS_DIMENSIONS is 256"
    ):
        embedder.embed_text("Acme")


def test_a_slow_model_times_out(fake: FakeOpenAI) -> None:
    fake.queue("embeddings", Reply(body={}, delay=3.0))
    embedder = make_embedder(_openai(fake, dimensions=16, max_attempts=1, timeout_seconds=1))
    with pytest.raises(EmbeddingFailed, match="timed out"):
        embedder.embed_text("Acme")


def test_services_embed_with_the_model_when_one_is_configured(fake: FakeOpenAI) -> None:
    from shared.services import Services

    assert isinstance(Services(_openai(fake)).embedder, OpenAIEmbedder)
    offline = Services(Settings(embeddings=EmbeddingSettings(dimensions=32))).embedder
    assert isinstance(offline, HashingEmbedder) and offline.dimensions == 32
