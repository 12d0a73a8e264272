"""The `anthropic` backend: Claude through the Messages API, streamed.

Same shape as the openai backend: the profile names the endpoint and the
environment variable holding the key, and psi.llm.remote does the client, the
offline check and the errors; this module is the wire format. Messages map
onto the wire like this:

- system messages are joined into the request's `system` parameter;
- assistant tool calls become `tool_use` blocks, tool results become
  `tool_result` blocks in a user turn, and consecutive turns of one role are
  merged, as the API wants results for all of a turn's calls together;
- the stream's `text_delta`s are yielded as they come, `input_json_delta`s
  are assembled per block into tool-call arguments, and usage and the stop
  reason arrive with `message_delta`.

Structured output: `supports_schema` is off by default, so the base class
asks for JSON in the prompt and re-asks on invalid output; Claude follows
that reliably. A profile with `supports_schema = true` sends the schema as
`output_config.format` (the API's native JSON-schema output) instead, with
every object schema closed (`additionalProperties: false`) as that API
requires.

Left out: temperature and seed. API version 2026-10-21, which this SDK
speaks, rejects the sampling parameters and the SDK no longer has them, so
they are not sent. Also left out: thinking, images, documents and citations,
prompt caching, and exact token counting (the base estimate stands).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types import (
    ContentBlockParam,
    InputJSONDelta,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    TextBlock,
    TextDelta,
    ToolParam,
    ToolUseBlock,
)

from psi.llm.remote import (
    ClientOptions,
    RemoteChatModel,
    ServerFault,
    one_line,
    request_timeout,
    tool_arguments,
)
from psi.llm.types import ChatOptions, Chunk, FinishReason, Message, ToolCall, ToolSpec, Usage

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "refusal": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class AnthropicChatModel(RemoteChatModel[anthropic.Anthropic]):
    backend = "anthropic"
    supports_tools = True
    supports_schema = False
    default_base_url = "https://api.anthropic.com"
    sdk_error = anthropic.AnthropicError
    sdk_timeout = anthropic.APITimeoutError
    sdk_connection_error = anthropic.APIConnectionError
    timeout_hint = "Raise the profile's timeout, or ask for a shorter answer."
    unreachable_hint = (
        "Check your network and the base_url {base_url} under [models.{name}] in config.toml."
    )
    mid_answer_hint = "Try again in a minute, or pick another model with --model."

    def _connect(self, options: ClientOptions) -> anthropic.Anthropic:
        return anthropic.Anthropic(**options)

    def _send(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        with self._api_call(options):
            system, turns = wire_messages(messages)
            params: dict[str, Any] = {}
            if system:
                params["system"] = system
            if options.stop:
                params["stop_sequences"] = list(options.stop)
            if tools:
                params["tools"] = [wire_tool(tool) for tool in tools]
            if json_schema is not None:
                params["output_config"] = {
                    "format": {"type": "json_schema", "schema": closed_schema(json_schema)}
                }
            if options.timeout is not None:
                params["timeout"] = request_timeout(options.timeout)
            stream = self._client.messages.create(
                model=self.model_id,
                # The API has no default reply budget, so one is always sent.
                max_tokens=options.max_tokens or self.profile.max_tokens,
                messages=turns,
                stream=True,
                **params,
            )
            with stream:
                yield from self._read(stream)

    def _read(self, stream: Iterable[RawMessageStreamEvent]) -> Iterator[Chunk]:
        calls: dict[int, _PartialCall] = {}
        usage: Usage | None = None
        finish: FinishReason | None = None
        for event in stream:
            if isinstance(event, RawMessageStartEvent):
                start = event.message.usage
                usage = Usage(
                    prompt_tokens=_input_tokens(
                        start.input_tokens,
                        start.cache_creation_input_tokens,
                        start.cache_read_input_tokens,
                    ),
                    completion_tokens=start.output_tokens,
                )
            elif isinstance(event, RawContentBlockStartEvent):
                block = event.content_block
                if isinstance(block, ToolUseBlock):
                    calls[event.index] = _PartialCall(block.id, block.name, dict(block.input))
                elif isinstance(block, TextBlock) and block.text:
                    yield Chunk(text=block.text)
            elif isinstance(event, RawContentBlockDeltaEvent):
                delta = event.delta
                if isinstance(delta, TextDelta) and delta.text:
                    yield Chunk(text=delta.text)
                elif isinstance(delta, InputJSONDelta) and event.index in calls:
                    calls[event.index].partial_json += delta.partial_json
            elif isinstance(event, RawMessageDeltaEvent):
                if event.delta.stop_reason is not None:
                    finish = _FINISH.get(event.delta.stop_reason, "stop")
                # message_delta's counts are cumulative, so they replace the start's.
                prompt = usage.prompt_tokens if usage is not None else 0
                if event.usage.input_tokens is not None:
                    prompt = _input_tokens(
                        event.usage.input_tokens,
                        event.usage.cache_creation_input_tokens,
                        event.usage.cache_read_input_tokens,
                    )
                usage = Usage(prompt_tokens=prompt, completion_tokens=event.usage.output_tokens)
        tool_calls = [calls[index].finish(self.name) for index in sorted(calls)]
        yield Chunk(tool_calls=tool_calls, usage=usage, finish_reason=finish)

    def _server_fault(self, exc: Exception) -> ServerFault | None:
        if not isinstance(exc, anthropic.APIStatusError):
            return None
        detail = one_line(exc.api_message or exc.message)
        # An `error` event in the middle of a stream that began with 200 keeps that status.
        return ServerFault(exc.status_code if exc.status_code >= 400 else None, detail)

    def _status_hint(self, status: int) -> str:
        if status == 529:
            return "The API is overloaded; try again in a minute, or pick another model."
        return super()._status_hint(status)


# -- wire format (pure) ------------------------------------------------------


def wire_messages(messages: Sequence[Message]) -> tuple[str, list[MessageParam]]:
    """The system text, and the rest as alternating user/assistant turns of blocks."""
    system: list[str] = []
    turns: list[tuple[str, list[ContentBlockParam]]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    wire: list[MessageParam] = []
    for role, blocks in turns:
        if role == "assistant":
            wire.append({"role": "assistant", "content": blocks})
        else:
            wire.append({"role": "user", "content": blocks})
    return "\n\n".join(part for part in system if part), wire


def _blocks(message: Message) -> list[ContentBlockParam]:
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        return [
            {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
        ]
    if message.role == "user":
        return [{"type": "text", "text": message.content}]
    # The API rejects empty text blocks; an assistant turn may be only tool calls.
    blocks: list[ContentBlockParam] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in message.tool_calls
    )
    return blocks


def wire_tool(tool: ToolSpec) -> ToolParam:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def closed_schema(schema: Any) -> Any:
    """A copy of `schema` with `additionalProperties: false` on objects that leave it unset."""
    if isinstance(schema, list):
        return [closed_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed_schema(value) for key, value in schema.items()}
    if (out.get("type") == "object" or "properties" in out) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@dataclass
class _PartialCall:
    """A tool_use block: id and name at its start, the input as JSON fragments after."""

    id: str
    name: str
    start_input: dict[str, Any] = field(default_factory=dict)
    partial_json: str = ""

    def finish(self, model: str) -> ToolCall:
        if self.partial_json.strip():
            arguments = tool_arguments(self.partial_json, model=model, tool=self.name)
        else:
            # No deltas: the whole input (often {}) came in the block's start.
            arguments = self.start_input
        return ToolCall(id=self.id, name=self.name, arguments=arguments)


def _input_tokens(base: int | None, *cached: int | None) -> int:
    # Cache writes and reads are prompt tokens too; the API counts them apart.
    return (base or 0) + sum(count or 0 for count in cached)
