"""A deterministic model for tests and demos: queued replies, recorded calls.

    model = ScriptedModel(["Hello!", '{"title": "Run"}', RuntimeError("boom")])
    model.chat([Message.user("hi")]).text          # "Hello!"
    model.calls[0].messages                        # what psi sent (every call; a model
                                                   # from a profile keeps the last 100)

A reply can be a string, a Reply (for tool calls), an exception to raise,
or a function of the messages that returns either. With nothing queued, the
model echoes the last user message (`fallback="echo"`) or raises
(`fallback="error"`). Streaming splits the text into words, with an
optional delay per chunk to exercise interruption and timeouts.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psi.config import Backend, ModelProfile, Settings
from psi.errors import ModelError
from psi.llm.base import ChatModel
from psi.llm.types import ChatOptions, Chunk, Message, Reply, ToolSpec, Usage

ScriptItem = str | Reply | BaseException | Callable[[list[Message]], "str | Reply"]


# Calls a model made from a profile (config.toml) remembers: the latest ones.
KEPT_CALLS = 100


@dataclass
class ScriptedCall:
    messages: list[Message]
    tools: list[ToolSpec]
    json_schema: dict[str, Any] | None
    options: ChatOptions


class ScriptedModel(ChatModel):
    backend = "scripted"

    def __init__(
        self,
        replies: Iterable[ScriptItem] = (),
        *,
        profile: ModelProfile | None = None,
        fallback: Literal["echo", "error"] = "error",
        chunk_delay: float = 0.0,
        supports_tools: bool = False,
        supports_schema: bool = False,
        context_window: int = 8192,
        keep_calls: int | None = None,
    ) -> None:
        profile = profile or ModelProfile(
            name="scripted",
            backend=Backend.scripted,
            model="scripted",
            local=True,
            open_weight=True,
            context_window=context_window,
            supports_tools=supports_tools,
            supports_schema=supports_schema,
        )
        super().__init__(profile)
        self.queue: deque[ScriptItem] = deque(replies)
        self.fallback = fallback
        self.chunk_delay = chunk_delay
        # Every call (None), or the last `keep_calls`: a configured profile answers a
        # long-running psi serve, where keeping every call would grow without end.
        self.keep_calls = keep_calls
        self.calls: list[ScriptedCall] = []

    @classmethod
    def from_profile(cls, profile: ModelProfile, settings: Settings) -> ScriptedModel:
        return cls(
            profile.replies,
            profile=profile,
            fallback="echo",
            chunk_delay=profile.chunk_delay,
            keep_calls=KEPT_CALLS,
        )

    def add(self, *replies: ScriptItem) -> None:
        self.queue.extend(replies)

    def _generate(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None,
        json_schema: dict[str, Any] | None,
        options: ChatOptions,
    ) -> Iterator[Chunk]:
        convo = list(messages)
        self.calls.append(ScriptedCall(convo, list(tools or ()), json_schema, options))
        if self.keep_calls is not None and len(self.calls) > self.keep_calls:
            del self.calls[0]
        reply = self._next(convo)
        words = re.findall(r"\S+\s*|\s+", reply.text)
        budget = options.max_tokens or len(words)
        for word in words[:budget]:
            if self.chunk_delay:
                time.sleep(self.chunk_delay)
            yield Chunk(text=word)
        finish = "length" if len(words) > budget else reply.finish_reason
        usage = Usage(
            prompt_tokens=self.count_message_tokens(convo),
            completion_tokens=min(len(words), budget),
        )
        yield Chunk(tool_calls=list(reply.tool_calls), usage=usage, finish_reason=finish)

    def _next(self, messages: list[Message]) -> Reply:
        if not self.queue:
            if self.fallback == "echo":
                last = next((m.content for m in reversed(messages) if m.role == "user"), "")
                return Reply(message=Message.assistant(f"You said: {last}"), model=self.name)
            raise ModelError(
                f"Scripted model '{self.name}' has no reply left.",
                hint="Queue more replies with ScriptedModel.add() or the profile's `replies`.",
            )
        item = self.queue.popleft()
        if callable(item) and not isinstance(item, BaseException):
            item = item(messages)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            return Reply(message=Message.assistant(item), model=self.name)
        return item
