"""Backends by name, imported only when used (the CLI must start fast).

Each backend class has `from_profile(profile, settings)`. Models are cached
per process, so an embedded model file is loaded once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from psi.config import ModelProfile, Settings

if TYPE_CHECKING:
    from psi.llm.base import ChatModel

BACKENDS: dict[str, str] = {
    "llamacpp": "psi.llm.llamacpp:LlamaCppModel",
    "openai": "psi.llm.openai_chat:OpenAIChatModel",
    "anthropic": "psi.llm.anthropic_chat:AnthropicChatModel",
    "scripted": "psi.llm.scripted:ScriptedModel",
}

_cache: dict[str, ChatModel] = {}


def backend_class(name: str) -> type[ChatModel]:
    module_name, _, attr = BACKENDS[name].partition(":")
    cls: type[ChatModel] = getattr(importlib.import_module(module_name), attr)
    return cls


def get_model(
    profile: ModelProfile, settings: Settings, *, privacy: str | None = None
) -> ChatModel:
    """The model for `profile`, built on first use and reused for the rest of the process.
    `privacy` sets the egress door of a remote profile to the policy a route chose for
    the data (a level override); unset, the door follows `routing.privacy`."""
    key = profile.model_dump_json() + f"|{privacy}"
    if key not in _cache:
        cls = backend_class(profile.backend.value)
        model = cls.from_profile(profile, settings)
        door = getattr(model, "outbound", None)
        if privacy is not None and door is not None:
            door.privacy = privacy
        _cache[key] = model
    return _cache[key]


def clear_cache() -> None:
    for model in _cache.values():
        model.close()
    _cache.clear()
