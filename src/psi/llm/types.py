"""Typed messages and replies: what goes into a model and what comes back.

Messages are pydantic models so a conversation persists and reloads without
loss (`model_dump()` / `model_validate()`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "interrupted"]


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolSpec(BaseModel):
    """A tool as a model sees it: name, what it does, and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def from_model(cls, name: str, description: str, arguments: type[BaseModel]) -> ToolSpec:
        return cls(name=name, description=description, parameters=arguments.model_json_schema())


class Message(BaseModel):
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str, tool_calls: list[ToolCall] | None = None) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, content: str, *, tool_call_id: str, name: str) -> Message:
        return cls(role="tool", content=content, tool_call_id=tool_call_id, name=name)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Reply(BaseModel):
    """A finished model answer. `parsed` holds the validated object when a schema was asked for."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    model: str = ""
    parsed: Any = None

    @property
    def text(self) -> str:
        return self.message.content

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.message.tool_calls


@dataclass
class ChatOptions:
    """Per-call knobs. Unset fields fall back to the profile's values."""

    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    # Set from another thread (or a signal handler) to stop generation early.
    cancel: threading.Event | None = None
    # How many times a structured-output call re-asks after invalid output.
    schema_retries: int = 2


@dataclass
class Chunk:
    """One piece of a backend's output stream.

    Text arrives in many chunks; tool calls, usage and the finish reason
    usually arrive once, at the end.
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
