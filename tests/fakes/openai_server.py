"""A local OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 that the real
`openai` client (OpenAI and AzureOpenAI) talks to. No test reaches the internet.

It answers the routes the product uses, in both spellings:
- OpenAI:       POST /v1/chat/completions, POST /v1/embeddings
- Azure OpenAI: POST /openai/deployments/{deployment}/chat/completions?api-version=...
                POST /openai/deployments/{deployment}/embeddings?api-version=...

Tests decide the answers: `queue(...)` holds replies served first-in first-out to the next
requests of a kind; when the queue is empty, `chat` (a function of the request body) answers
chat requests and embeddings are deterministic vectors of the requested dimension. Every request
is recorded (path, headers, JSON body) so a test can check what the client sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # a JSON value, or bytes sent as they are (truncated answers)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (timeouts)


@dataclass(frozen=True)
class Recorded:
    kind: str  # "chat" or "embeddings"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def text(self) -> str:
        """Every message's text content, joined (what the model was shown)."""
        parts: list[str] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
        return "\n".join(parts)


def completion(
    content: str | dict[str, Any],
    *,
    prompt_tokens: int = 1000,
    completion_tokens: int = 200,
    model: str = "gpt-4o-mini-2024-07-18",
    finish_reason: str = "stop",
) -> Reply:
    """A chat completion whose message is `content` (a dict is sent as its JSON text)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def error(status: int, message: str = "error", retry_after: float | None = None) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(
        status=status,
        body={"error": {"message": message, "type": "server_error", "code": str(status)}},
        headers=headers,
    )


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for a text (the same text, the same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._queues: dict[str, deque[Reply]] = {"chat": deque(), "embeddings": deque()}
        self._lock = threading.Lock()
        self.chat: Callable[[dict[str, Any]], Reply] = lambda body: error(
            500, "no chat answer was scripted for this test"
        )
        self.embedding: Callable[[str, int], list[float]] = fake_vector
        self.default_dimensions = 1536
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The server root (Azure OpenAI's `azure_endpoint`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (`OPENAI_BASE_URL`)."""
        return self.endpoint + "/v1"

    def queue(self, kind: str, *replies: Reply) -> None:
        """Replies for the next requests of a kind ("chat" or "embeddings"), in order."""
        with self._lock:
            self._queues[kind].extend(replies)

    def of_kind(self, kind: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, kind: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queues[kind]:
                return self._queues[kind].popleft()
        if kind == "chat":
            return self.chat(body)
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dimensions = int(body.get("dimensions") or self.default_dimensions)
        data = [
            {"object": "embedding", "index": i, "embedding": self.embedding(t, dimensions)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(max(1, len(str(t)) // 4) for t in texts)
        return Reply(
            body={
                "object": "list",
                "data": data,
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if urlsplit(self.path).path.endswith("/models"):
                    model = {"id": "test-model", "object": "model", "created": 0, "owned_by": "t"}
                    self._send(Reply(body={"object": "list", "data": [model]}))
                else:
                    self._send(error(404, f"no route {self.path}"))

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path.endswith("/chat/completions"):
                    kind = "chat"
                elif path.endswith("/embeddings"):
                    kind = "embeddings"
                else:
                    self._send(error(404, f"no route {path}"))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(
                        Recorded(kind, self.path, {k.lower(): v for k, v in self.headers.items()},
                                 body)
                    )  # fmt: skip
                self._send(fake._answer(kind, body))

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

        return Handler


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
