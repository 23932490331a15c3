"""A stand-in Application Insights ingestion endpoint: a real HTTP server on 127.0.0.1 that
accepts the Azure Monitor exporter's `POST /v2.1/track` (a JSON array of envelopes, gzipped or
not) and keeps every envelope it received.

Point a connection string at it: `InstrumentationKey=<guid>;IngestionEndpoint=<url>`.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INSTRUMENTATION_KEY = "11111111-2222-3333-4444-555555555555"


class _Server(ThreadingHTTPServer):
    envelopes: list[dict[str, Any]]
    paths: list[str]
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = json.loads(body)
        with self.server.lock:
            self.server.paths.append(self.path)
            self.server.envelopes.extend(items)
        answer = json.dumps(
            {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeIngestion:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.envelopes, self._server.paths = [], []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeIngestion:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={self.url}"

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        with self._server.lock:
            return list(self._server.envelopes)

    @property
    def paths(self) -> list[str]:
        with self._server.lock:
            return list(self._server.paths)
