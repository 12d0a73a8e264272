"""The packaged MiniLM, loaded once per session on torch and exported once to ONNX, and an
OpenAI-compatible embeddings server on 127.0.0.1 for the openai embedder's tests.

`sentence_minilm` is the sentence-transformers backend; `onnx_cache` is a folder
holding psi's verified ONNX export of the same weights and its sidecar, made by
the real export path at most once per test session (about 15 s);
`onnx_home` copies that graph to where the test's PSI_HOME looks for it.

`embeddings_server` listens on a real socket and answers `POST .../embeddings`
the way OpenAI does: one vector per input, each with its index (sent in
reverse order, to prove the client sorts them). A vector is the hashing
embedder's, unnormalised and scaled, so texts sharing words point the same
way and the client has to normalise. `fail_with(status)` makes it answer with
an OpenAI-style error instead; `requests` keeps every body it was sent.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from psi.embed import registry
from psi.embed.hashing import HashingEmbedder
from psi.embed.onnx import CACHE_FOLDER, exported_graph, graph_path, sidecar_path
from psi.embed.sentence import (
    MINILM_NAME,
    MINILM_SHA256,
    ModelSource,
    SentenceEmbedder,
    packaged_model_dir,
)


@pytest.fixture(scope="session")
def sentence_minilm() -> SentenceEmbedder:
    return SentenceEmbedder(ModelSource(packaged_model_dir(), MINILM_NAME, MINILM_SHA256))


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("onnx-cache")
    exported_graph(packaged_model_dir(), cache)
    return cache


@pytest.fixture
def onnx_home(onnx_cache: Path, psi_home: Path) -> Path:
    """The session's graph and sidecar copied into PSI_HOME's model cache (copied, not
    linked, so a test may tamper with them); the copied graph's path."""
    target = psi_home / CACHE_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for source in (graph_path(onnx_cache), sidecar_path(graph_path(onnx_cache))):
        shutil.copy2(source, target / source.name)
    return graph_path(target)


@dataclass
class EmbeddingsServer:
    url: str = ""
    dim: int = 8
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    error: str = ""
    # Overrides the vectors in the response, to send malformed ones.
    data: list[dict[str, Any]] | None = None

    def fail_with(self, status: int, message: str = "the server is on fire") -> None:
        self.status = status
        self.error = message

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.status != 200:
            return self.status, {"error": {"message": self.error, "type": "server_error"}}
        texts = body["input"]
        dim = body.get("dimensions", self.dim)
        vectors = HashingEmbedder(dim).embed(texts) * 3.0
        data = [
            {"object": "embedding", "index": index, "embedding": vector.tolist()}
            for index, vector in enumerate(vectors)
        ]
        return 200, {
            "object": "list",
            "model": body["model"],
            "data": self.data if self.data is not None else data[::-1],
            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
        }


@pytest.fixture
def embeddings_server() -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            server.requests.append(body)
            server.headers.append({name.lower(): value for name, value in self.headers.items()})
            if not self.path.endswith("/embeddings"):
                status, payload = 404, {"error": {"message": f"no route {self.path}"}}
            else:
                status, payload = server.answer(body)
            content = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            # The SDK honours this, so its retries of a 500 do not slow the tests down.
            self.send_header("retry-after-ms", "1")
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one stderr line per request adds nothing to a failing test's report

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a moment ago, at least)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def embedder_defaults(psi_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The embedder's own defaults (the suite-wide fixture picks hashing), built afresh."""
    monkeypatch.delenv("PSI_EMBEDDER__BACKEND", raising=False)
    yield
    registry.clear_cache()
