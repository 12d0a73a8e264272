"""The model seam: ChatModel, its stream, structured output and the JSON tool protocol.

A backend implements one method, `_generate`, which yields `Chunk`s. This
class builds everything else on it, the same way for every backend:

- `stream()` returns a ChatStream: iterate it for text deltas, then read
  `.reply`. It enforces the timeout, honours `options.cancel`, and keeps the
  partial text when generation is interrupted.
- `chat(schema=Model)` returns a Reply whose `.parsed` is a validated
  instance. Backends with native JSON-schema output (`supports_schema`) are
  constrained by it; the rest are asked for JSON and re-asked with the
  validation error, up to `options.schema_retries` times.
- `chat(tools=[...])` passes tools natively when `supports_tools`; otherwise
  the model answers in a schema-constrained JSON protocol ({"tool", "arguments"}
  or {"answer"}), so a small local model can still call tools.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from psi.config import ModelProfile, Settings
from psi.errors import BadModelOutput, ModelTimeout
from psi.llm.types import (
    ChatOptions,
    Chunk,
    FinishReason,
    Message,
    Reply,
    ToolCall,
    ToolSpec,
    Usage,
)

T = TypeVar("T", bound=BaseModel)


@cache
def prompt_text(name: str) -> str:
    """A prompt shipped as a data file in psi/prompts/ (read once per process)."""
    return resources.files("psi.prompts").joinpath(name).read_text(encoding="utf-8")


class ChatModel(ABC):
    """A chat model behind one small surface. Capabilities are attributes."""

    backend: ClassVar[str]
    supports_tools: bool = False
    supports_schema: bool = False

    def __init__(self, profile: ModelProfile) -> None:
        self.profile = profile
        self.name = profile.name
        self.model_id = profile.model
        self.context_window = profile.context_window
        self.is_local = profile.local
        self.is_open_weight = profile.open_weight
        if profile.supports_tools is not None:
            self.supports_tools = profile.supports_tools
        if profile.supports_schema is not None:
            self.supports_schema = profile.supports_schema

    @classmethod
    def from_profile(cls, profile: ModelProfile, settings: Settings) -> ChatModel:
        """Build the backend for a configured profile."""
        return cls(profile)

    @abstractmethod
    def _generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        """Yield the reply as chunks. Raise psi.errors types for failures the user can act on."""

    def count_tokens(self, text: str) -> int:
        """Tokens in `text`. An estimate here; backends with a tokenizer count exactly."""
        return max(1, (len(text.encode("utf-8")) + 3) // 4)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        # A few tokens per message for the chat template's role markers.
        return sum(self.count_tokens(m.content) + 4 for m in messages)

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing here
        """Release what the backend holds (connections, a loaded model)."""

    # -- the public surface -------------------------------------------------

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        options: ChatOptions | None = None,
    ) -> ChatStream:
        options = self._options(options)
        if tools and not self.supports_tools:
            # The JSON protocol needs the whole object before it means anything.
            return ChatStream.of_reply(self._chat_json_tools(messages, tools, options))
        chunks = self._generate(messages, tools=tools or None, json_schema=None, options=options)
        return ChatStream(chunks, model=self, options=options, prompt=messages)

    def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        schema: type[BaseModel] | None = None,
        options: ChatOptions | None = None,
    ) -> Reply:
        options = self._options(options)
        if schema is not None:
            return self._chat_structured(messages, schema, options)
        if tools and not self.supports_tools:
            return self._chat_json_tools(messages, tools, options)
        return self.stream(messages, tools=tools, options=options).collect()

    def structured(
        self, messages: Sequence[Message], schema: type[T], options: ChatOptions | None = None
    ) -> T:
        """Shorthand for `chat(..., schema=schema).parsed`, typed."""
        parsed = self.chat(messages, schema=schema, options=options).parsed
        assert isinstance(parsed, schema)
        return parsed

    # -- shared machinery ---------------------------------------------------

    def _options(self, options: ChatOptions | None) -> ChatOptions:
        options = options or ChatOptions()
        if options.max_tokens is None:
            options.max_tokens = self.profile.max_tokens
        if options.temperature is None:
            options.temperature = self.profile.temperature
        if options.timeout is None:
            options.timeout = self.profile.timeout
        return options

    def _complete(
        self,
        messages: Sequence[Message],
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Reply:
        chunks = self._generate(messages, tools=None, json_schema=json_schema, options=options)
        return ChatStream(chunks, model=self, options=options, prompt=messages).collect()

    def _chat_structured(
        self, messages: Sequence[Message], schema: type[BaseModel], options: ChatOptions
    ) -> Reply:
        json_schema = schema.model_json_schema()
        parsed, reply = self._ask_for_json(
            messages, json_schema, lambda data: schema.model_validate(data), options
        )
        reply.parsed = parsed
        return reply

    def _ask_for_json(
        self,
        messages: Sequence[Message],
        json_schema: dict[str, Any],
        validate: Any,
        options: ChatOptions,
    ) -> tuple[Any, Reply]:
        """Ask until the reply parses and `validate(data)` accepts it; the retry loop."""
        native = self.supports_schema
        convo = (
            list(messages)
            if native
            else _with_instruction(messages, _json_instruction(json_schema))
        )
        usage = Usage()
        problem = ""
        for _attempt in range(options.schema_retries + 1):
            reply = self._complete(convo, json_schema if native else None, options)
            usage = usage + reply.usage
            try:
                result = validate(extract_json(reply.text))
            except (ValueError, ValidationError) as exc:
                problem = _short_error(exc)
                convo = [
                    *convo,
                    Message.assistant(reply.text),
                    Message.user(
                        f"That reply was not valid: {problem}. "
                        "Answer again with only a JSON object that matches the schema."
                    ),
                ]
                continue
            reply.usage = usage
            return result, reply
        raise BadModelOutput(
            f"Model '{self.name}' did not produce valid JSON after "
            f"{options.schema_retries + 1} tries: {problem}",
            hint="A larger model follows schemas better; pick one with --model.",
        )

    def _chat_json_tools(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: ChatOptions
    ) -> Reply:
        by_name = {tool.name: tool for tool in tools}
        json_schema = tool_protocol_schema(tools)
        convo = _with_instruction(render_tool_history(messages), tool_protocol_instruction(tools))

        def validate(data: Any) -> Message:
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if "tool" in data:
                if data["tool"] not in by_name:
                    raise ValueError(f"unknown tool {data['tool']!r}; known: {sorted(by_name)}")
                arguments = data.get("arguments", {})
                if not isinstance(arguments, dict):
                    raise ValueError("arguments must be a JSON object")
                call = ToolCall(id=f"call_{len(messages)}", name=data["tool"], arguments=arguments)
                return Message.assistant("", [call])
            if isinstance(data.get("answer"), str):
                return Message.assistant(data["answer"])
            raise ValueError('expected {"tool": ..., "arguments": {...}} or {"answer": "..."}')

        message, reply = self._ask_for_json(convo, json_schema, validate, options)
        finish: FinishReason = "tool_calls" if message.tool_calls else "stop"
        return reply.model_copy(update={"message": message, "finish_reason": finish})


class ChatStream:
    """Text deltas as they arrive; `.reply` once the stream has ended or been interrupted.

    stream = model.stream(messages)
    for text in stream:
        print(text, end="")
    stream.reply.usage
    """

    def __init__(
        self,
        chunks: Iterator[Chunk],
        *,
        model: ChatModel | None,
        options: ChatOptions,
        prompt: Sequence[Message] = (),
        model_name: str = "",
    ) -> None:
        self._chunks = chunks
        self._model_name = model.name if model is not None else model_name
        self._model = model
        self._options = options
        self._prompt = prompt
        self._parts: list[str] = []
        self._tool_calls: list[ToolCall] = []
        self._usage: Usage | None = None
        self._finish: FinishReason | None = None
        self._reply: Reply | None = None

    @classmethod
    def of_reply(cls, reply: Reply) -> ChatStream:
        """A stream that yields an already finished reply in one piece."""
        chunk = Chunk(
            text=reply.text,
            tool_calls=list(reply.tool_calls),
            usage=reply.usage,
            finish_reason=reply.finish_reason,
        )
        return cls(iter([chunk]), model=None, options=ChatOptions(), model_name=reply.model)

    def __iter__(self) -> Iterator[str]:
        if self._reply is not None:
            return
        deadline = time.monotonic() + self._options.timeout if self._options.timeout else None
        cancel = self._options.cancel
        try:
            for chunk in self._chunks:
                if chunk.text:
                    self._parts.append(chunk.text)
                self._tool_calls.extend(chunk.tool_calls)
                if chunk.usage is not None:
                    self._usage = chunk.usage
                if chunk.finish_reason is not None:
                    self._finish = chunk.finish_reason
                if chunk.text:
                    yield chunk.text
                if cancel is not None and cancel.is_set():
                    self._finish = "interrupted"
                    break
                if deadline is not None and time.monotonic() > deadline:
                    self._finish = "interrupted"
                    self._finalise()
                    raise ModelTimeout(
                        f"Model '{self.model_name}' did not finish within "
                        f"{self._options.timeout:g} s.",
                        hint="Raise the profile's timeout, or ask for a shorter answer.",
                    )
        except (GeneratorExit, KeyboardInterrupt):
            # The consumer stopped reading or the user pressed Ctrl-C: an
            # interruption, not an error; what arrived so far is kept.
            self._finish = "interrupted"
            raise
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._finalise()

    def interrupt(self) -> Reply:
        """Stop generating; keep what arrived so far, marked interrupted."""
        if self._reply is None:
            self._finish = "interrupted"
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._finalise()
        assert self._reply is not None
        return self._reply

    def collect(self) -> Reply:
        for _ in self:
            pass
        return self.reply

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def reply(self) -> Reply:
        if self._reply is None:
            raise RuntimeError("the stream has not finished; iterate it or call interrupt()")
        return self._reply

    def _finalise(self) -> None:
        if self._reply is not None:
            return
        text = "".join(self._parts)
        usage = self._usage
        if usage is None:
            usage = Usage()
            if self._model is not None:
                usage = Usage(
                    prompt_tokens=self._model.count_message_tokens(self._prompt),
                    completion_tokens=self._model.count_tokens(text) if text else 0,
                )
        finish = self._finish or ("tool_calls" if self._tool_calls else "stop")
        self._reply = Reply(
            message=Message.assistant(text, list(self._tool_calls)),
            usage=usage,
            finish_reason=finish,
            model=self.model_name,
        )


# -- JSON helpers (pure) -----------------------------------------------------


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`, tolerating prose and ``` fences around it."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _end = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                continue
            return value
    raise ValueError("no JSON object found in the reply")


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the object"
        return f"{where}: {first['msg']}"
    return str(exc)


def _json_instruction(json_schema: dict[str, Any]) -> str:
    return prompt_text("json_output.md").format(schema=json.dumps(json_schema))


def _with_instruction(messages: Sequence[Message], instruction: str) -> list[Message]:
    """Messages with `instruction` appended to the system message (or as a new first one)."""
    out = list(messages)
    if out and out[0].role == "system":
        out[0] = Message.system(f"{out[0].content}\n\n{instruction}")
    else:
        out.insert(0, Message.system(instruction))
    return out


def tool_protocol_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """JSON schema for one step of the tool protocol: call one tool, or answer."""
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": tool.parameters},
            "required": ["tool", "arguments"],
        }
        for tool in tools
    ]
    options.append(
        {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    )
    return {"anyOf": options}


def tool_protocol_instruction(tools: Sequence[ToolSpec]) -> str:
    listing = "\n".join(
        f"- {tool.name}: {tool.description} Arguments schema: {json.dumps(tool.parameters)}"
        for tool in tools
    )
    return prompt_text("json_tools.md").format(tools=listing)


def render_tool_history(messages: Sequence[Message]) -> list[Message]:
    """Earlier tool calls and results as plain turns, for models without native tools."""
    out: list[Message] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            call = message.tool_calls[0]
            out.append(
                Message.assistant(json.dumps({"tool": call.name, "arguments": call.arguments}))
            )
        elif message.role == "tool":
            out.append(Message.user(f"Result of tool {message.name}: {message.content}"))
        else:
            out.append(message)
    return out
