"""The `openai` backend: any server that speaks OpenAI's chat-completions wire format.

One adapter for many hosts (OpenAI, Ollama, vLLM, LM Studio, llama.cpp's
server, OpenRouter, Gemini's compatible endpoint): the profile's `base_url`
and `api_key_env` name the endpoint and its key; everything else is the wire
format. Requests always stream; text arrives as deltas, and tool calls, usage
and the finish reason arrive in one final Chunk.

- Tools go out as native function tools; tool-call deltas are assembled by
  index and their arguments parsed from JSON at the end of the stream.
- A schema goes out as `response_format: json_schema` (not strict, so any
  pydantic schema is accepted); the base class still validates the result.
  llama-cpp-python's server rejects that form but constrains output with its
  own `{"type": "json_object", "schema": ...}`: `schema_format="json_object"`
  sends that instead.
- 429 and 5xx are retried with backoff by the SDK (`max_retries`); every
  failure leaves here as a psi error (EndpointError, ModelTimeout,
  OfflineRefusal, BadModelOutput), never as an SDK exception.
- The HTTP client comes from psi.egress, so its offline check (and, later,
  redaction and the ledger) sees every request.

Left out: the Responses API, audio and images, `n > 1`, logprobs, and exact
token counting (`count_tokens` stays the base estimate).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCallFunction

from psi import egress
from psi.config import ModelProfile, Settings
from psi.errors import BadModelOutput, EndpointError, ModelError, ModelTimeout, OfflineRefusal
from psi.llm.base import ChatModel
from psi.llm.types import ChatOptions, Chunk, FinishReason, Message, ToolCall, ToolSpec, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# OpenAI's own reasoning models refuse `max_tokens`; most other servers only know it.
_MAX_COMPLETION_TOKENS_HOSTS = frozenset({"api.openai.com"})
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "stop",
}


class OpenAIChatModel(ChatModel):
    backend = "openai"
    supports_tools = True
    supports_schema = True

    def __init__(
        self,
        profile: ModelProfile,
        *,
        offline: bool = False,
        transport: httpx2.BaseTransport | None = None,
        max_retries: int = 2,
        schema_format: Literal["json_schema", "json_object"] = "json_schema",
    ) -> None:
        super().__init__(profile)
        self.schema_format = schema_format
        # An unset base_url means OpenAI itself, never $OPENAI_BASE_URL: the
        # profile alone decides where psi's requests go.
        self.base_url = profile.base_url or DEFAULT_BASE_URL
        self.host = httpx2.URL(self.base_url).host
        self.offline = offline
        self._purpose = f"a chat request (model profile '{self.name}')"
        self._client = openai.OpenAI(
            base_url=self.base_url,
            # Local servers want no key, but the SDK insists on one.
            api_key=profile.api_key() or "not-needed",
            http_client=egress.http_client(
                purpose=self._purpose,
                offline=offline,
                timeout=profile.timeout,
                transport=transport,
            ),
            max_retries=max_retries,
        )

    @classmethod
    def from_profile(cls, profile: ModelProfile, settings: Settings) -> OpenAIChatModel:
        return cls(profile, offline=settings.offline)

    def close(self) -> None:
        self._client.close()

    def _generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        # Refuse before the SDK's retry loop gets a chance to sleep on it.
        egress.check_destination(self.base_url, offline=self.offline, purpose=self._purpose)
        request = self._optional_params(tools=tools, json_schema=json_schema, options=options)
        try:
            stream = self._client.chat.completions.create(
                model=self.model_id,
                messages=[wire_message(m) for m in messages],
                stream=True,
                stream_options={"include_usage": True},
                **request,
            )
            with stream:
                yield from self._read(stream)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            refusal = _offline_refusal(exc)
            if refusal is not None:
                # The egress hook said no; the SDK's wrapper adds nothing to that.
                raise refusal from None
            raise self._psi_error(exc, options) from exc

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
            # Connecting should fail fast even when a long answer is allowed.
            request["timeout"] = httpx2.Timeout(options.timeout, connect=min(options.timeout, 10.0))
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

    def _psi_error(self, exc: Exception, options: ChatOptions) -> ModelError:
        where = f"(model profile '{self.name}')"
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            seconds = options.timeout or self.profile.timeout
            return ModelTimeout(
                f"{self.host} did not answer within {seconds:g} s {where}.",
                hint="Raise the profile's timeout, ask for a shorter answer, "
                "or check that the server is not overloaded.",
            )
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return EndpointError(
                f"Cannot reach {self.host} {where}.",
                host=self.host,
                hint=f"Check that the server at {self.base_url} is running and reachable, "
                f"or fix base_url under [models.{self.name}] in config.toml.",
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc.body) or exc.message
            return EndpointError(
                f"{self.host} answered HTTP {status} {where}: {detail}",
                host=self.host,
                status=status,
                hint=self._status_hint(status),
            )
        if isinstance(exc, openai.APIError):
            # An error event in the middle of an otherwise successful stream.
            detail = _server_message(exc.body) or exc.message
            return EndpointError(
                f"{self.host} reported an error mid-answer {where}: {detail}",
                host=self.host,
                hint="Try again; if it keeps happening, pick another model with --model.",
            )
        return EndpointError(f"Talking to {self.host} failed {where}: {exc}", host=self.host)

    def _status_hint(self, status: int) -> str:
        if status in (401, 403):
            if self.profile.api_key_env:
                return f"Check that ${self.profile.api_key_env} holds a valid key for {self.host}."
            return (
                f"The server wants an API key: set api_key_env under [models.{self.name}] "
                "to the name of the environment variable that holds it."
            )
        if status == 404:
            return f"Check the model id '{self.model_id}' and the base_url {self.base_url}."
        if status == 429:
            return "Rate limited even after retries: wait a little, or pick another model."
        if status >= 500:
            return "The server failed; try again later, or pick another model with --model."
        return "The server rejected the request; the message above says why."


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
        try:
            arguments = json.loads(self.arguments) if self.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise BadModelOutput(
                f"Model '{model}' called tool '{self.name}' with arguments that are not "
                f"JSON ({exc.msg}): {self.arguments[:200]}",
                hint="Raise max_tokens if the answer was cut short, or try a larger model.",
            ) from None
        if not isinstance(arguments, dict):
            raise BadModelOutput(
                f"Model '{model}' called tool '{self.name}' with arguments that are not "
                f"a JSON object: {self.arguments[:200]}",
                hint="A larger model follows tool schemas better; pick one with --model.",
            )
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
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _offline_refusal(exc: BaseException) -> OfflineRefusal | None:
    """The egress hook's refusal, if the SDK wrapped one into its own error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OfflineRefusal):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
