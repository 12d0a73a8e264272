"""Memory inside a chat: explicit remember/forget, the profile and facts in context, learning."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from psi.agent.chat import ChatService
from psi.agent.remembering import FactLearner
from psi.llm.scripted import ScriptedModel
from psi.memory.facts import Facts
from psi.memory.profile import Profiles
from psi.store.db import Store
from support.chat import chat_service as service_on
from support.database import all_rows

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL


def chat_service(store: Store, model: ScriptedModel) -> ChatService:
    return service_on(store, model, now=datetime(2026, 6, 1, 8, 0, tzinfo=UTC), memory=True)


def test_remember_that_stores_a_fact_without_the_model(store: Store) -> None:
    model = ScriptedModel(["Good morning!"])
    chat = chat_service(store, model)
    reply = chat.ask("Remember that my passport expires in March 2027.")
    assert reply.text == "I'll remember that: Your passport expires in March 2027."
    assert model.calls == []
    assert [f.statement for f in Facts(store, user_id=chat.user_id).current()] == [
        "Your passport expires in March 2027."
    ]
    chat.new_conversation()
    chat.ask("When does my passport expire?")
    system = model.calls[0].messages[0].content
    assert "What psi knows about the user" in system
    assert '"Your passport expires in March 2027." (since 2026-06-01)' in system
    chat.close()


def test_forget_that_removes_the_fact_and_what_was_said(store: Store, psi_home: Path) -> None:
    model = ScriptedModel(["Noted.", "Sure."])
    chat = chat_service(store, model)
    chat.ask("My locker code at the gym is QX4711.")
    chat.ask("Remember that my locker code is QX4711.")
    reply = chat.ask("Forget that my locker code is QX4711.")
    # What was said, the command to remember it, and psi's confirmation.
    assert reply.text.startswith("Done: I forgot 1 fact and 3 messages")
    chat.close()
    assert "QX4711" not in all_rows(store)


def test_forget_that_with_nothing_to_forget(store: Store) -> None:
    chat = chat_service(store, ScriptedModel([]))
    assert "nothing to forget" in chat.ask("Forget that I own a boat.").text
    chat.close()


def test_the_profile_is_always_in_context(store: Store) -> None:
    model = ScriptedModel(["Hi Ada."])
    chat = chat_service(store, model)
    Profiles(store, user_id=chat.user_id).set("Ada, a nurse in Leeds. Vegetarian.")
    chat.ask("hello")
    system = model.calls[0].messages[0].content
    assert "Ada, a nurse in Leeds. Vegetarian." in system
    chat.close()


def test_fact_learner_reads_new_turns_once(store: Store) -> None:
    chat = chat_service(store, ScriptedModel(["Lovely, enjoy Lisbon!"]))
    chat.ask("I moved to Lisbon last month for a new job.")
    assert chat.conversation_id is not None
    extraction = {
        "facts": [
            {
                "subject": "user",
                "statement": "The user moved to Lisbon",
                "category": "profile",
                "key": "home_city",
                "when": "last month",
                "confidence": 0.9,
                "source_ids": [1],
            }
        ]
    }
    fact_model = ScriptedModel([json.dumps(extraction)])
    learner = FactLearner(
        model=fact_model, conversations=chat.conversations, facts=Facts(store, user_id=chat.user_id)
    )
    learner.note(chat.conversation_id)
    learner()
    learner.note(chat.conversation_id)
    learner()  # nothing new: the model is not asked again
    assert len(fact_model.calls) == 1
    facts = Facts(store, user_id=chat.user_id).current()
    assert [f.key for f in facts] == ["home_city"]
    assert "Lisbon" in facts[0].statement
    assert facts[0].event_at == datetime(2026, 5, 1, tzinfo=UTC)
    chat.close()
