"""A recording OpenAI-compatible server on 127.0.0.1 that plays a closed cloud model.

    with FakeOpenAI(answer=lambda request: "Hello [PERSON_1]") as fake:
        profile = {"backend": "openai", "model": "cloud-1", "base_url": fake.url,
                   "local": False}
        ...
        fake.requests          # every JSON body received, in order
        fake.raw               # the same bodies as the bytes that arrived

`answer` maps a request body to the reply text; by default the server repeats
the last user message. Streaming replies go out a few characters per chunk, so
a placeholder is split across chunks. A real HTTP server on a real socket: the
bytes the test checks are the bytes that left psi.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Answer = Callable[[dict[str, Any]], str]


def echo(request: dict[str, Any]) -> str:
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else ""


class FakeOpenAI:
    def __init__(
        self,
        answer: Answer = echo,
        *,
        chunk_chars: int = 3,
        status: int = 200,
        prompt_tokens: int | None = None,
    ) -> None:
        """`prompt_tokens` fixes the usage the server reports (default: words sent)."""
        self.answer = answer
        # /moderations: category scores for a text (none flagged by default).
        self.moderate: Callable[[str], dict[str, float]] = lambda text: {}
        self.prompt_tokens = prompt_tokens
        self.chunk_chars = chunk_chars
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.raw.append(body)
                fake.paths.append(self.path)
                request = json.loads(body)
                fake.requests.append(request)
                if fake.status != 200:
                    self._send_json(fake.status, {"error": {"message": "down for a test"}})
                elif self.path.endswith("/embeddings"):
                    inputs = request["input"]
                    data = [
                        {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                        for i, _ in enumerate(inputs)
                    ]
                    usage = {"prompt_tokens": 1, "total_tokens": 1}
                    reply = {"object": "list", "data": data, "model": "e", "usage": usage}
                    self._send_json(200, reply)
                elif self.path.endswith("/moderations"):
                    scores = fake.moderate(str(request["input"]))
                    result = {"flagged": max(scores.values(), default=0) > 0.5,
                              "categories": {k: v > 0.5 for k, v in scores.items()},
                              "category_scores": scores}  # fmt: skip
                    self._send_json(200, {"id": "m", "model": "m", "results": [result]})
                elif request.get("stream"):
                    self._stream(fake.answer(request), request)
                else:
                    text = fake.answer(request)
                    self._send_json(200, _completion(text, request))

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, text: str, request: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                step = fake.chunk_chars
                pieces = [text[i : i + step] for i in range(0, len(text), step)]
                for piece in pieces:
                    self._event(_chunk({"content": piece}, None))
                self._event(_chunk({}, "stop"))
                sent = fake.prompt_tokens or _words(request)
                usage = {"prompt_tokens": sent, "completion_tokens": len(pieces),
                         "total_tokens": sent + len(pieces)}  # fmt: skip
                self._event({**_chunk({}, None), "choices": [], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "cloud-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(text: str, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "cloud-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": _words(request), "completion_tokens": len(text.split()),
                  "total_tokens": _words(request) + len(text.split())},
    }  # fmt: skip


def _words(request: dict[str, Any]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
