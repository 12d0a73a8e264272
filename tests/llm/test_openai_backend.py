"""The openai backend: against a real llama.cpp server on 127.0.0.1, and against
httpx2.MockTransport for what a local server cannot show (retries, errors,
native tool calls, offline refusal)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from pydantic import BaseModel

from psi.config import Backend, ModelProfile, Settings
from psi.errors import EndpointError, MissingAPIKey, ModelTimeout, OfflineRefusal
from psi.llm.openai_chat import OpenAIChatModel
from psi.llm.registry import get_model
from psi.llm.types import ChatOptions, Message, ToolCall, ToolSpec

if TYPE_CHECKING:
    from conftest import ScriptedServer

KEY_ENV = "PSI_TEST_OPENAI_KEY"


class City(BaseModel):
    name: str
    country: str


def profile(**overrides: Any) -> ModelProfile:
    fields = {
        "name": "remote",
        "backend": Backend.openai,
        "model": "gpt-test",
        "base_url": "https://api.example.test/v1",
        "max_tokens": 64,
    }
    return ModelProfile.model_validate({**fields, **overrides})


def model_for(server: ScriptedServer, **overrides: Any) -> OpenAIChatModel:
    return OpenAIChatModel(profile(**overrides), transport=server.transport)


# -- the wire format, scripted ----------------------------------------------------


def sse(*events: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(event)}\n\n" for event in events]
    return "".join([*lines, "data: [DONE]\n\n"]).encode()


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    choices = (
        []
        if delta is None and finish is None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    )
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": choices,
        "usage": usage,
    }


def text_stream(*pieces: str, finish: str = "stop") -> bytes:
    return sse(
        chunk({"role": "assistant"}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk(finish=finish),
        chunk(usage={"prompt_tokens": 11, "completion_tokens": len(pieces), "total_tokens": 0}),
    )


def error(status: int, message: str) -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": "server_error"}})


# -- against a real server on 127.0.0.1 -----------------------------------------


def local_settings(base_url: str, **profile_fields: Any) -> Settings:
    fields = {"backend": "openai", "model": "smollm2", "base_url": base_url, "max_tokens": 48}
    fields.update(profile_fields)
    return Settings(offline=True, models={"srv": fields})


@pytest.mark.slow
def test_plain_chat_against_llama_cpp_server(llama_server: str) -> None:
    # Built the way psi builds it, from settings; offline mode lets loopback through.
    settings = local_settings(llama_server)
    model = get_model(settings.profile("srv"), settings)

    reply = model.chat([Message.user("Say hello to me.")])

    assert isinstance(model, OpenAIChatModel)
    assert reply.text.strip()
    assert reply.finish_reason in ("stop", "length")
    # The server sends no usage in streams (despite include_usage), so these
    # are the base class's estimates; they must still be there.
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens > 0


@pytest.mark.slow
def test_streaming_deltas_add_up_to_the_reply(llama_server: str) -> None:
    model = OpenAIChatModel(profile(base_url=llama_server, model="smollm2", max_tokens=40))

    stream = model.stream([Message.user("Tell me a short story about a cat.")])
    deltas = list(stream)

    assert len(deltas) > 3
    assert "".join(deltas) == stream.reply.text
    assert stream.reply.text.strip()


@pytest.mark.slow
def test_structured_output_from_llama_cpp_server(llama_server: str) -> None:
    # llama-cpp-python's server constrains output with its own json_object+schema
    # form; SmolLM2-135M cannot follow a JSON instruction without it. Even
    # constrained, its sampled strings can run on, so it answers greedily here.
    settings = local_settings(
        llama_server, max_tokens=80, temperature=0, schema_format="json_object"
    )
    model = OpenAIChatModel.from_profile(settings.profile("srv"), settings)

    city = model.structured([Message.user("Which city is the capital of France?")], City)

    assert isinstance(city, City)
    assert city.name.strip() and city.country.strip()


@pytest.mark.slow
def test_llama_cpp_server_rejects_json_schema_response_format(llama_server: str) -> None:
    model = OpenAIChatModel(profile(base_url=llama_server, model="smollm2"), max_retries=0)

    with pytest.raises(EndpointError) as caught:
        model.structured([Message.user("Name a city.")], City)

    assert caught.value.host == llama_server.split("//")[1].split("/")[0]
    # It answers 500, not 400, for a request it cannot validate.
    assert caught.value.status == 500
    assert "json_object" in str(caught.value)


def test_profile_schema_format_reaches_the_request(server: ScriptedServer, server_url: str) -> None:
    server.answer(text_stream('{"name": "Lyon", "country": "France"}'))
    settings = local_settings(f"{server_url}/v1", schema_format="json_object")
    model = OpenAIChatModel.from_profile(settings.profile("srv"), settings)

    city = model.structured([Message.user("A city in France?")], City)

    assert city == City(name="Lyon", country="France")
    assert server.body()["response_format"] == {
        "type": "json_object",
        "schema": City.model_json_schema(),
    }


# -- against a scripted server ----------------------------------------------------


def test_rate_limit_then_success_is_retried(server: ScriptedServer) -> None:
    server.answer(error(429, "Slow down"), text_stream("Hi", " there"))

    reply = model_for(server).chat([Message.user("hello")])

    assert reply.text == "Hi there"
    assert len(server.requests) == 2


def test_repeated_server_errors_end_in_endpoint_error(server: ScriptedServer) -> None:
    server.answer(error(500, "The engine is on fire"))

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert caught.value.host == "api.example.test"
    assert caught.value.status == 500
    assert "The engine is on fire" in str(caught.value)
    assert caught.value.hint
    assert len(server.requests) == 3  # the first try and two retries


def test_unreachable_endpoint_names_the_host(unused_port: int) -> None:
    model = OpenAIChatModel(profile(base_url=f"http://127.0.0.1:{unused_port}/v1"), max_retries=0)

    with pytest.raises(EndpointError) as caught:
        model.chat([Message.user("hello")])

    assert caught.value.host == f"127.0.0.1:{unused_port}"
    assert f"Cannot reach 127.0.0.1:{unused_port} (model profile 'remote')" in str(caught.value)
    assert caught.value.hint and "base_url" in caught.value.hint


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)

    with pytest.raises(MissingAPIKey) as caught:
        OpenAIChatModel(profile(api_key_env=KEY_ENV))

    assert KEY_ENV in str(caught.value)
    assert caught.value.hint and KEY_ENV in caught.value.hint


def test_api_key_is_sent_as_bearer_token(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    server.answer(text_stream("ok"))

    model_for(server, api_key_env=KEY_ENV).chat([Message.user("hello")])

    assert server.requests[0].headers["authorization"] == "Bearer sk-test-123"


def test_rejected_key_hint_names_the_variable(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    server.answer(error(401, "Incorrect API key provided"))

    with pytest.raises(EndpointError) as caught:
        model_for(server, api_key_env=KEY_ENV).chat([Message.user("hello")])

    assert caught.value.status == 401
    assert "Incorrect API key provided" in str(caught.value)
    assert caught.value.hint and f"${KEY_ENV}" in caught.value.hint
    assert len(server.requests) == 1  # a wrong key is not worth retrying


def test_offline_mode_refuses_a_remote_host_without_sending(server: ScriptedServer) -> None:
    model = OpenAIChatModel(profile(), offline=True, transport=server.transport)

    started = time.monotonic()
    with pytest.raises(OfflineRefusal) as caught:
        model.chat([Message.user("hello")])

    assert "api.example.test" in str(caught.value)
    assert server.requests == []
    assert time.monotonic() - started < 1.0  # refused outright, not retried with backoff


def test_offline_setting_reaches_the_backend() -> None:
    settings = Settings(offline=True, models={"cloud": {"backend": "openai", "model": "gpt-x"}})
    model = get_model(settings.profile("cloud"), settings)

    with pytest.raises(OfflineRefusal) as caught:
        model.chat([Message.user("hello")])

    assert "api.openai.com" in str(caught.value)


def test_offline_mode_lets_loopback_through(server: ScriptedServer) -> None:
    server.answer(text_stream("local", " answer"))
    model = OpenAIChatModel(
        profile(base_url="http://127.0.0.1:8080/v1"), offline=True, transport=server.transport
    )

    assert model.chat([Message.user("hello")]).text == "local answer"


def test_native_tool_call_round_trip(server: ScriptedServer, weather_tool: ToolSpec) -> None:
    server.answer(
        sse(
            chunk({"role": "assistant", "content": None}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
            chunk(finish="tool_calls"),
        )
    )

    reply = model_for(server).chat([Message.user("Weather in Paris?")], tools=[weather_tool])

    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls == [
        ToolCall(id="call_abc", name="get_weather", arguments={"city": "Paris"})
    ]
    assert server.body()["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]


def test_tool_history_is_serialised_in_openai_format(server: ScriptedServer) -> None:
    server.answer(text_stream("It is sunny in Paris."))
    call = ToolCall(id="call_abc", name="get_weather", arguments={"city": "Paris"})
    conversation = [
        Message.system("You are helpful."),
        Message.user("Weather in Paris?"),
        Message.assistant("", [call]),
        Message.tool('{"sky": "sunny"}', tool_call_id="call_abc", name="get_weather"),
    ]

    reply = model_for(server).chat(conversation)

    assert reply.text == "It is sunny in Paris."
    assert server.body()["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"sky": "sunny"}'},
    ]


def test_options_and_usage(server: ScriptedServer) -> None:
    server.answer(text_stream("one", " two", finish="length"))
    options = ChatOptions(max_tokens=2, temperature=0.2, seed=7, stop=["\n\n"])

    reply = model_for(server).chat([Message.user("count")], options=options)

    body = server.body()
    assert (body["max_tokens"], body["temperature"], body["seed"], body["stop"]) == (
        2,
        0.2,
        7,
        ["\n\n"],
    )
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert reply.finish_reason == "length"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 2)


def test_openai_itself_gets_max_completion_tokens(server: ScriptedServer) -> None:
    server.answer(text_stream("ok"))
    model = model_for(server, base_url="https://api.openai.com/v1")

    model.chat([Message.user("hello")], options=ChatOptions(max_tokens=5))

    assert server.body()["max_completion_tokens"] == 5
    assert "max_tokens" not in server.body()


def test_native_schema_sends_json_schema_response_format(server: ScriptedServer) -> None:
    server.answer(text_stream('{"name": "Lyon",', ' "country": "France"}'))

    city = model_for(server).structured([Message.user("A city in France?")], City)

    assert city == City(name="Lyon", country="France")
    response_format = server.body()["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"
    assert response_format["json_schema"]["schema"] == City.model_json_schema()


def test_schema_retry_loop_when_native_schema_is_off(server: ScriptedServer) -> None:
    server.answer(
        text_stream("Lyon is a lovely city in France."),
        text_stream('{"name": "Lyon", "country": "France"}'),
    )
    model = model_for(server, supports_schema=False)

    reply = model.chat([Message.user("A city in France?")], schema=City)

    assert reply.parsed == City(name="Lyon", country="France")
    assert all("response_format" not in json.loads(r.content) for r in server.requests)
    re_ask = server.body(1)["messages"][-1]
    assert re_ask["role"] == "user" and "not valid" in re_ask["content"]


def test_timeout_becomes_model_timeout(server: ScriptedServer) -> None:
    server.time_out()
    model = OpenAIChatModel(profile(timeout=3), transport=server.transport, max_retries=0)

    with pytest.raises(ModelTimeout) as caught:
        model.chat([Message.user("hello")])

    assert "3 s" in str(caught.value)


def test_error_event_mid_stream_becomes_endpoint_error(server: ScriptedServer) -> None:
    server.answer(
        sse(
            chunk({"content": "Partial"}),
            {"error": {"message": "Model crashed", "type": "server_error"}},
        )
    )

    with pytest.raises(EndpointError) as caught:
        model_for(server).chat([Message.user("hello")])

    assert "Model crashed" in str(caught.value)
