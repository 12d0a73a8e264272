"""The `openai` backend: any server that speaks OpenAI's chat-completions wire format.

One adapter for many hosts (OpenAI, Ollama, vLLM, LM Studio, llama.cpp's
server, OpenRouter, Gemini's compatible endpoint): the profile's `base_url`
and `api_key_env` name the endpoint and its key; psi.llm.remote does the
client, the offline check and the errors, and this module the wire format.
Requests always stream; text arrives as deltas, and tool calls, usage and the
finish reason arrive in one final Chunk.

- Tools go out as native function tools; tool-call deltas are assembled by
  index and their arguments parsed from JSON at the end of the stream.
- A schema goes out as `response_format: json_schema` (not strict, so any
  pydantic schema is accepted); the base class still validates the result.
  llama-cpp-python's server rejects that form but constrains output with its
  own `{"type": "json_object", "schema": ...}`: a profile with
  `schema_format = "json_object"` sends that instead.

Left out: the Responses API, audio and images, `n > 1`, logprobs, and exact
token counting (`count_tokens` stays the base estimate).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCallFunction

from psi.llm.remote import (
    ClientOptions,
    RemoteChatModel,
    ServerFault,
    one_line,
    request_timeout,
    tool_arguments,
)
from psi.llm.types import ChatOptions, Chunk, FinishReason, Message, ToolCall, ToolSpec, Usage

# OpenAI's own reasoning models refuse `max_tokens`; most other servers only know it.
_MAX_COMPLETION_TOKENS_HOSTS = frozenset({"api.openai.com"})
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "stop",
}


class OpenAIChatModel(RemoteChatModel[openai.OpenAI]):
    backend = "openai"
    supports_tools = True
    supports_schema = True
    default_base_url = "https://api.openai.com/v1"
    sdk_error = openai.OpenAIError
    sdk_timeout = openai.APITimeoutError
    sdk_connection_error = openai.APIConnectionError
    # Often a server on this machine or the LAN, which may be down or busy.
    timeout_hint = (
        "Raise the profile's timeout, ask for a shorter answer, "
        "or check that the server is not overloaded."
    )
    unreachable_hint = (
        "Check that the server at {base_url} is running and reachable, "
        "or fix base_url under [models.{name}] in config.toml."
    )
    mid_answer_hint = "Try again; if it keeps happening, pick another model with --model."

    @property
    def schema_format(self) -> Literal["json_schema", "json_object"]:
        return self.profile.schema_format or "json_schema"

    def _connect(self, options: ClientOptions) -> openai.OpenAI:
        return openai.OpenAI(**options)

    def _send(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        with self._api_call(options):
            stream = self._client.chat.completions.create(
                model=self.model_id,
                messages=[wire_message(m) for m in messages],
                stream=True,
                stream_options={"include_usage": True},
                **self._optional_params(tools=tools, json_schema=json_schema, options=options),
            )
            with stream:
                yield from self._read(stream)

    # -- request ------------------------------------------------------------

    def _optional_params(
        self,
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> dict[str, Any]:
        """The request fields psi sets only when they have a value."""
        request: dict[str, Any] = {}
        if options.max_tokens is not None:
            field = (
                "max_completion_tokens"
                if self.host in _MAX_COMPLETION_TOKENS_HOSTS
                else "max_tokens"
            )
            request[field] = options.max_tokens
        if options.temperature is not None:
            request["temperature"] = options.temperature
        if options.seed is not None:
            request["seed"] = options.seed
        if options.stop:
            request["stop"] = list(options.stop)
        if options.timeout is not None:
            request["timeout"] = request_timeout(options.timeout)
        if tools:
            request["tools"] = [wire_tool(tool) for tool in tools]
        if json_schema is not None:
            request["response_format"] = wire_response_format(json_schema, self.schema_format)
        return request

    # -- response -----------------------------------------------------------

    def _read(self, stream: Iterable[ChatCompletionChunk]) -> Iterator[Chunk]:
        calls: dict[int, _PartialCall] = {}
        usage: Usage | None = None
        finish: FinishReason | None = None
        for event in stream:
            if event.usage is not None:
                usage = Usage(
                    prompt_tokens=event.usage.prompt_tokens,
                    completion_tokens=event.usage.completion_tokens,
                )
            # psi never asks for n > 1, so only the first choice carries anything.
            for choice in event.choices[:1]:
                delta = choice.delta
                if delta.content:
                    yield Chunk(text=delta.content)
                for part in delta.tool_calls or ():
                    call = calls.setdefault(part.index, _PartialCall())
                    call.add(part.id, part.function)
                if choice.finish_reason is not None:
                    finish = _FINISH.get(choice.finish_reason, "stop")
        tool_calls = [call.finish(self.name, position) for position, call in sorted(calls.items())]
        if tool_calls and finish != "length":
            # Some servers say "stop" even when the turn ends in tool calls.
            finish = "tool_calls"
        yield Chunk(tool_calls=tool_calls, usage=usage, finish_reason=finish)

    # -- errors -------------------------------------------------------------

    def _server_fault(self, exc: Exception) -> ServerFault | None:
        if isinstance(exc, openai.APIStatusError):
            return ServerFault(exc.status_code, _server_message(exc.body) or exc.message)
        if isinstance(exc, openai.APIError):
            # An error event in the middle of an otherwise successful stream.
            return ServerFault(None, _server_message(exc.body) or exc.message)
        return None


# -- wire format (pure) ------------------------------------------------------


def wire_message(message: Message) -> ChatCompletionMessageParam:
    """One psi Message as an OpenAI chat message."""
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if not message.tool_calls:
        return {"role": "assistant", "content": message.content}
    calls: list[ChatCompletionMessageFunctionToolCallParam] = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in message.tool_calls
    ]
    # "" rather than null: llama.cpp's server (and others) reject a null content.
    return {"role": "assistant", "content": message.content, "tool_calls": calls}


def wire_tool(tool: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def wire_response_format(
    json_schema: dict[str, Any], schema_format: Literal["json_schema", "json_object"]
) -> dict[str, Any]:
    if schema_format == "json_object":
        return {"type": "json_object", "schema": json_schema}
    # The name must match [a-zA-Z0-9_-]{1,64}; a pydantic title usually does.
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", str(json_schema.get("title") or "reply"))[:64]
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": json_schema, "strict": False},
    }


@dataclass
class _PartialCall:
    """A tool call as its deltas arrive: the id and name once, the arguments in pieces."""

    id: str = ""
    name: str = ""
    arguments: str = ""

    def add(self, call_id: str | None, function: ChoiceDeltaToolCallFunction | None) -> None:
        if call_id and not self.id:
            self.id = call_id
        if function is None:
            return
        # Servers that send whole calls repeat the name; keep the first.
        if function.name and not self.name:
            self.name = function.name
        if function.arguments:
            self.arguments += function.arguments

    def finish(self, model: str, position: int) -> ToolCall:
        arguments = tool_arguments(self.arguments, model=model, tool=self.name)
        return ToolCall(id=self.id or f"call_{position}", name=self.name, arguments=arguments)


def _server_message(body: object) -> str:
    """The human part of an error body, short enough for one line."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        text = message if isinstance(message, str) else ""
    elif isinstance(body, str):
        text = body
    else:
        text = ""
    return one_line(text)
