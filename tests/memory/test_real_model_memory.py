"""The embedded SmolLM2 model answers from what it was told in an earlier conversation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from psi.agent.chat import ChatService
from psi.clock import FrozenClock
from psi.config import load_settings
from psi.llm import ChatOptions, get_model
from psi.memory.service import Memory
from psi.store.db import Store

pytestmark = pytest.mark.slow


def test_real_model_uses_an_earlier_conversation(store: Store) -> None:
    settings = load_settings()
    user_id = store.ensure_user("local")
    clock = FrozenClock(datetime(2026, 11, 2, 19, 0, tzinfo=UTC))
    chat = ChatService(
        settings=settings,
        store=store,
        user_id=user_id,
        model=get_model(settings.profile("local"), settings),
        memory=Memory(store, user_id=user_id),
        clock=clock,
    )
    # The spotlight key is random per turn; fixed here, so the prompt is the same each run
    # (the 135M model's answer turns on a few tokens).
    chat.spotlight_key = lambda: "k7f3a9"
    greedy = ChatOptions(temperature=0, max_tokens=40)
    chat.ask("My dog's name is Biscuit and he is a beagle.", options=greedy)
    assert chat.indexer is not None and chat.indexer.flush(timeout=30)
    clock.advance(days=5)
    chat.new_conversation()
    reply = chat.ask("What is my dog's name?", options=greedy)
    assert "Biscuit" in reply.text
    chat.close()
