"""The model seam: one ChatModel surface for embedded, self-hosted and cloud models."""

from psi.llm.base import ChatModel, ChatStream
from psi.llm.registry import get_model
from psi.llm.types import ChatOptions, Chunk, Message, Reply, ToolCall, ToolSpec, Usage

__all__ = [
    "ChatModel",
    "ChatOptions",
    "ChatStream",
    "Chunk",
    "Message",
    "Reply",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "get_model",
]
