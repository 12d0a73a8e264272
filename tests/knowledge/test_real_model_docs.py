"""The embedded SmolLM2 model answers from a note psi read, through the whole turn."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from psi.agent.chat import ChatService
from psi.clock import FrozenClock
from psi.config import load_settings
from psi.embed.registry import get_embedder
from psi.knowledge.library import Library
from psi.llm import ChatOptions, get_model
from psi.store.db import Store

pytestmark = pytest.mark.slow


def test_real_model_answers_from_a_note(store: Store, tmp_path: Path) -> None:
    settings = load_settings()
    user_id = store.ensure_user("local")
    (tmp_path / "bike.md").write_text("# Bike\n\n## Lock\n\nThe bike lock code is 4096.\n")
    (tmp_path / "garden.md").write_text("# Garden\n\nPlant the tulip bulbs in October.\n")
    library = Library(
        store, user_id=user_id, settings=settings.docs, embedder=lambda: get_embedder(settings)
    )
    library.add([tmp_path])
    chat = ChatService(
        settings=settings,
        store=store,
        user_id=user_id,
        model=get_model(settings.profile("local"), settings),
        clock=FrozenClock(datetime(2026, 11, 2, 19, 0, tzinfo=UTC)),
        library=library,
    )
    # Fixed, so the prompt is the same each run (the 135M model's answer turns on it).
    chat.spotlight_key = lambda: "k7f3a9"
    turn = chat.send(
        "What is my bike lock code?", options=ChatOptions(temperature=0, max_tokens=48)
    )
    assert "4096" in "".join(turn)
    assert [s.where for s in turn.sources] == [f"{tmp_path / 'bike.md'} — Bike > Lock"]
    chat.close()
