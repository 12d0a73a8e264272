"""Embedder backends by name, imported only when used (the CLI must start fast).

Each backend class has `from_settings(settings)`. Embedders are cached per
process and per configuration, so a model is loaded once, even when two
threads ask for it at the same moment.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

from psi.config import Settings

if TYPE_CHECKING:
    from psi.embed.base import Embedder

BACKENDS: dict[str, str] = {
    "onnx": "psi.embed.onnx:OnnxEmbedder",
    "sentence-transformers": "psi.embed.sentence:SentenceEmbedder",
    "openai": "psi.embed.openai_embed:OpenAIEmbedder",
    "hashing": "psi.embed.hashing:HashingEmbedder",
}

_cache: dict[str, Embedder] = {}
_lock = threading.Lock()


def backend_class(name: str) -> type[Embedder]:
    module_name, _, attr = BACKENDS[name].partition(":")
    cls: type[Embedder] = getattr(importlib.import_module(module_name), attr)
    return cls


def get_embedder(settings: Settings) -> Embedder:
    """The embedder `settings.embedder` describes, built on first use and then reused."""
    config = settings.embedder
    # Which fields were set counts too: a backend may pick its own default for one unset.
    key = f"{config.model_dump_json()} set={sorted(config.model_fields_set)} {settings.offline}"
    with _lock:
        if key not in _cache:
            cls = backend_class(settings.embedder.backend)
            _cache[key] = cls.from_settings(settings)
        return _cache[key]


def clear_cache() -> None:
    with _lock:
        for embedder in _cache.values():
            embedder.close()
        _cache.clear()
