"""The anthropic backend against httpx2.MockTransport speaking the Messages API's
SSE stream (message_start, content_block_*, message_delta, message_stop)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from pydantic import BaseModel

from psi.config import Backend, ModelProfile, Settings
from psi.errors import EndpointError, MissingAPIKey, ModelTimeout, OfflineRefusal
from psi.llm.anthropic_chat import AnthropicChatModel
from psi.llm.registry import get_model
from psi.llm.types import ChatOptions, Message, ToolCall, ToolSpec

if TYPE_CHECKING:
    from conftest import ScriptedServer

KEY_ENV = "PSI_TEST_ANTHROPIC_KEY"


class City(BaseModel):
    name: str
    country: str


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, "sk-ant-test")
    return "sk-ant-test"


def profile(**overrides: Any) -> ModelProfile:
    fields = {
        "name": "claude",
        "backend": Backend.anthropic,
        "model": "claude-test",
        "api_key_env": KEY_ENV,
        "max_tokens": 256,
    }
    return ModelProfile.model_validate({**fields, **overrides})


def model_for(server: ScriptedServer, **overrides: Any) -> AnthropicChatModel:
    return AnthropicChatModel(profile(**overrides), transport=server.transport)


# -- the wire format, scripted ----------------------------------------------------


def event(kind: str, **data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


def message_start(input_tokens: int = 12) -> str:
    return event(
        "message_start",
        message={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    )


def text_block(index: int, *pieces: str) -> list[str]:
    return [
        event("content_block_start", index=index, content_block={"type": "text", "text": ""}),
        *(
            event("content_block_delta", index=index, delta={"type": "text_delta", "text": p})
            for p in pieces
        ),
        event("content_block_stop", index=index),
    ]


def tool_block(index: int, call_id: str, name: str, *json_pieces: str) -> list[str]:
    start = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    return [
        event("content_block_start", index=index, content_block=start),
        *(
            event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
            for piece in json_pieces
        ),
        event("content_block_stop", index=index),
    ]


def finish(stop_reason: str, output_tokens: int) -> list[str]:
    return [
        event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        event("message_stop"),
    ]


def sse(*parts: str | list[str]) -> bytes:
    flat = [item for part in parts for item in ([part] if isinstance(part, str) else part)]
    return "".join(flat).encode()


def text_reply(*pieces: str) -> bytes:
    return sse(message_start(), text_block(0, *pieces), finish("end_turn", len(pieces)))


def error(status: int, kind: str, message: str) -> httpx2.Response:
    return httpx2.Response(
        status, json={"type": "error", "error": {"type": kind, "message": message}}
    )


# -- tests ------------------------------------------------------------------------


def test_text_streams_in_deltas(server: ScriptedServer, api_key: str) -> None:
    server.answer(
        sse(
            message_start(input_tokens=12),
            event("ping"),
            text_block(0, "Hello", ", ", "world."),
            finish("end_turn", 5),
        )
    )

    stream = model_for(server).stream([Message.user("Greet me.")])
    deltas = list(stream)

    assert deltas == ["Hello", ", ", "world."]
    assert stream.reply.text == "Hello, world."
    assert stream.reply.finish_reason == "stop"
    assert (stream.reply.usage.prompt_tokens, stream.reply.usage.completion_tokens) == (12, 5)
    request = server.requests[0]
    assert request.url == "https://api.anthropic.com/v1/messages"
    # SDK 2.x sends the key as a bearer token, no longer as x-api-key.
    assert request.headers["authorization"] == f"Bearer {api_key}"


def test_system_prompt_goes_in_the_system_parameter(server: ScriptedServer) -> None:
    server.answer(text_reply("Bonjour."))
    conversation = [
        Message.system("You are terse."),
        Message.system("Answer in French."),
        Message.user("Greet me."),
    ]

    model_for(server).chat(conversation)

    body = server.body()
    assert body["system"] == "You are terse.\n\nAnswer in French."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Greet me."}]}
    ]
    assert body["max_tokens"] == 256  # the API requires it; the profile's budget by default
    assert body["stream"] is True


def test_options_reach_the_request(server: ScriptedServer) -> None:
    server.answer(sse(message_start(), text_block(0, "one two"), finish("max_tokens", 2)))

    reply = model_for(server).chat(
        [Message.user("count")], options=ChatOptions(max_tokens=2, temperature=0.3, stop=["END"])
    )

    body = server.body()
    assert body["max_tokens"] == 2
    assert body["stop_sequences"] == ["END"]
    # API version 2026-10-21 rejects sampling parameters, so none are sent.
    assert "temperature" not in body
    assert reply.finish_reason == "length"


def test_tool_use_round_trip(server: ScriptedServer, weather_tool: ToolSpec) -> None:
    server.answer(
        sse(
            message_start(),
            text_block(0, "Let me check."),
            tool_block(1, "toolu_01", "get_weather", '{"ci', 'ty": "Pa', 'ris"}'),
            finish("tool_use", 20),
        )
    )

    reply = model_for(server).chat([Message.user("Weather in Paris?")], tools=[weather_tool])

    assert reply.text == "Let me check."
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        ToolCall(id="toolu_01", name="get_weather", arguments={"city": "Paris"})
    ]
    assert server.body()["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]


def test_tool_history_becomes_tool_use_and_tool_result_blocks(server: ScriptedServer) -> None:
    server.answer(text_reply("Sunny in Paris, rainy in Oslo."))
    paris = ToolCall(id="toolu_01", name="get_weather", arguments={"city": "Paris"})
    oslo = ToolCall(id="toolu_02", name="get_weather", arguments={"city": "Oslo"})
    conversation = [
        Message.user("Weather in Paris and Oslo?"),
        Message.assistant("Checking both.", [paris, oslo]),
        Message.tool("sunny", tool_call_id="toolu_01", name="get_weather"),
        Message.tool("rainy", tool_call_id="toolu_02", name="get_weather"),
    ]

    model_for(server).chat(conversation)

    assert server.body()["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        # Both results in one user turn, as the API requires.
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "rainy"},
            ],
        },
    ]


def test_overloaded_api_ends_in_endpoint_error_after_retries(server: ScriptedServer) -> None:
    server.answer(error(529, "overloaded_error", "Overloaded"))

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert caught.value.status == 529
    assert caught.value.host == "api.anthropic.com"
    assert "Overloaded" in str(caught.value)
    assert caught.value.hint and "overloaded" in caught.value.hint
    assert len(server.requests) == 3  # the first try and two retries


def test_server_error_ends_in_endpoint_error(server: ScriptedServer) -> None:
    server.answer(error(500, "api_error", "Internal server error"))

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert caught.value.status == 500
    assert "Internal server error" in str(caught.value)


def test_overload_then_success_is_retried(server: ScriptedServer) -> None:
    server.answer(error(529, "overloaded_error", "Overloaded"), text_reply("Fine now."))

    reply = model_for(server).chat([Message.user("hello")])

    assert reply.text == "Fine now."
    assert len(server.requests) == 2


def test_rejected_key_hint_names_the_variable(server: ScriptedServer) -> None:
    server.answer(error(401, "authentication_error", "invalid x-api-key"))

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert caught.value.status == 401
    assert caught.value.hint and f"${KEY_ENV}" in caught.value.hint


def test_error_event_mid_stream_becomes_endpoint_error(server: ScriptedServer) -> None:
    server.answer(
        sse(
            message_start(),
            text_block(0, "Partial"),
            event("error", error={"type": "overloaded_error", "message": "Overloaded"}),
        )
    )

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert "Overloaded" in str(caught.value)


def test_unreachable_endpoint_names_the_host(unused_port: int) -> None:
    model = AnthropicChatModel(profile(base_url=f"http://127.0.0.1:{unused_port}"), max_retries=0)

    with pytest.raises(EndpointError) as caught:
        model.chat([Message.user("hello")])

    assert caught.value.host == f"127.0.0.1:{unused_port}"
    assert f"Cannot reach 127.0.0.1:{unused_port} (model profile 'claude')" in str(caught.value)


def test_timeout_becomes_model_timeout(server: ScriptedServer) -> None:
    server.time_out()
    model = AnthropicChatModel(profile(timeout=3), transport=server.transport, max_retries=0)

    with pytest.raises(ModelTimeout) as caught:
        model.chat([Message.user("hello")])

    assert "3 s" in str(caught.value)


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(MissingAPIKey) as caught:
        AnthropicChatModel(profile())

    assert KEY_ENV in str(caught.value)


def test_offline_mode_refuses_without_sending(server: ScriptedServer) -> None:
    model = AnthropicChatModel(profile(), offline=True, transport=server.transport)

    started = time.monotonic()
    with pytest.raises(OfflineRefusal) as caught:
        model.chat([Message.user("hello")])

    assert "api.anthropic.com" in str(caught.value)
    assert server.requests == []
    assert time.monotonic() - started < 1.0  # refused outright, not retried with backoff


def test_offline_setting_reaches_the_backend() -> None:
    settings = Settings(
        offline=True,
        models={"claude": {"backend": "anthropic", "model": "claude-x", "api_key_env": KEY_ENV}},
    )
    model = get_model(settings.profile("claude"), settings)

    with pytest.raises(OfflineRefusal):
        model.chat([Message.user("hello")])


def test_structured_output_through_the_json_retry_loop(server: ScriptedServer) -> None:
    server.answer(
        text_reply("Lyon, France."),
        text_reply('{"name": "Lyon", ', '"country": "France"}'),
    )

    reply = model_for(server).chat([Message.user("A city in France?")], schema=City)

    assert reply.parsed == City(name="Lyon", country="France")
    assert "output_config" not in server.body(0)
    assert "JSON" in server.body(0)["system"]  # the base class's instruction


def test_native_structured_output_when_the_profile_turns_it_on(server: ScriptedServer) -> None:
    server.answer(text_reply('{"name": "Lyon", "country": "France"}'))

    city = model_for(server, supports_schema=True).structured(
        [Message.user("A city in France?")], City
    )

    assert city == City(name="Lyon", country="France")
    output_format = server.body()["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert output_format["schema"]["additionalProperties"] is False
    assert output_format["schema"]["properties"] == City.model_json_schema()["properties"]
