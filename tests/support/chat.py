"""A chat service on the test database with a scripted model and a frozen clock."""

from __future__ import annotations

from datetime import datetime

from psi.agent.chat import ChatService
from psi.clock import FrozenClock
from psi.config import load_settings
from psi.llm.scripted import ScriptedModel
from psi.memory.service import Memory
from psi.store.db import Store


def chat_service(
    store: Store, model: ScriptedModel, *, now: datetime, memory: bool = False
) -> ChatService:
    """The local user's service; `memory=True` gives it a Memory (keyword recall)."""
    user_id = store.ensure_user("local")
    return ChatService(
        settings=load_settings(),
        store=store,
        user_id=user_id,
        model=model,
        memory=Memory(store, user_id=user_id) if memory else None,
        clock=FrozenClock(now),
    )
