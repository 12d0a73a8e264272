"""One turn end to end with the scripted model and a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from psi.agent.chat import ChatService
from psi.agent.context import fit_history
from psi.errors import EndpointError, InputError
from psi.llm import Message
from psi.llm.scripted import ScriptedModel
from psi.store.db import Store
from support.chat import chat_service


def service(store: Store, model: ScriptedModel) -> ChatService:
    return chat_service(store, model, now=datetime(2026, 11, 28, 9, 30, tzinfo=UTC))


def test_a_turn_streams_and_stores_both_sides(store: Store) -> None:
    chat = service(store, ScriptedModel(["Hello! How can I help?"]))
    turn = chat.send("  hi there  ")
    assert "".join(turn) == "Hello! How can I help?"
    stored = chat.history()
    assert [(m.role, m.content) for m in stored] == [
        ("user", "hi there"),
        ("assistant", "Hello! How can I help?"),
    ]
    assert stored[1].model_profile == "scripted"
    assert stored[1].completion_tokens == turn.reply.usage.completion_tokens > 0
    assert not stored[1].interrupted
    system = chat.model.calls[0].messages[0]  # type: ignore[attr-defined]
    assert system.role == "system" and "Saturday 28 November 2026" in system.content


def test_history_is_sent_with_the_next_message(store: Store) -> None:
    model = ScriptedModel(["Nice to meet you, Ada.", "Your name is Ada."])
    chat = service(store, model)
    chat.ask("My name is Ada.")
    chat.ask("What is my name?")
    sent = [m.content for m in model.calls[1].messages[1:]]
    assert sent == ["My name is Ada.", "Nice to meet you, Ada.", "What is my name?"]


def test_a_failing_model_keeps_the_users_message(store: Store) -> None:
    failure = EndpointError("Cannot reach 127.0.0.1:9", host="127.0.0.1:9")
    chat = service(store, ScriptedModel([failure]))
    with pytest.raises(EndpointError):
        chat.ask("Please remember this")
    assert [(m.role, m.content) for m in chat.history()] == [("user", "Please remember this")]


def test_interrupting_keeps_the_partial_reply_marked(store: Store) -> None:
    chat = service(store, ScriptedModel(["one two three four five"]))
    turn = chat.send("count")
    for piece in turn:
        assert piece == "one "
        break
    turn.interrupt()
    reply = chat.history()[-1]
    assert reply.content == "one "
    assert reply.interrupted


def test_ctrl_c_inside_generation_keeps_the_partial_reply(store: Store) -> None:
    def interrupted(_messages: list[Message]) -> str:
        raise KeyboardInterrupt

    model = ScriptedModel([interrupted])
    chat = service(store, model)
    with pytest.raises(KeyboardInterrupt):
        chat.ask("go")
    last = chat.history()[-1]
    assert last.role == "assistant" and last.interrupted and last.content == ""


def test_long_history_drops_oldest_turns_with_a_notice(store: Store) -> None:
    model = ScriptedModel(["ok"] * 10, context_window=300)
    model.profile.max_tokens = 50
    chat = service(store, model)
    for n in range(6):
        chat.ask(f"message number {n} " + "padding " * 20)
    turn = chat.send("the newest question")
    list(turn)
    assert turn.dropped > 0
    assert turn.notice and "left out" in turn.notice and "300-token window" in turn.notice
    sent = model.calls[-1].messages
    assert sent[-1].content == "the newest question"
    assert sent[1].role == "user"
    assert model.count_message_tokens(sent) <= 300 - 50


def test_a_message_too_big_for_the_window_is_refused_and_not_stored(store: Store) -> None:
    model = ScriptedModel(["first answer"], context_window=512)
    chat = service(store, model)
    chat.ask("a first message")
    with pytest.raises(InputError) as caught:
        chat.send("x" * 10_000)
    assert "512-token window, 256 of them kept for the reply" in caught.value.message
    assert len(chat.history()) == 2


def test_a_one_megabyte_message_is_refused_with_the_limit(store: Store) -> None:
    chat = service(store, ScriptedModel([]))
    with pytest.raises(InputError) as caught:
        chat.send("é" * 1_000_000)
    assert "200,000" in caught.value.message
    assert chat.history() == []


def test_empty_and_binary_messages_are_refused(store: Store) -> None:
    chat = service(store, ScriptedModel([]))
    with pytest.raises(InputError):
        chat.send("   ")
    with pytest.raises(InputError):
        chat.send("abc\x00def")


def test_new_conversation_and_resume(store: Store) -> None:
    chat = service(store, ScriptedModel(["a", "b", "c"]))
    chat.ask("first")
    first = chat.conversation_id
    chat.new_conversation()
    chat.ask("second")
    assert chat.conversation_id != first
    assert first is not None
    chat.resume(first)
    chat.ask("third")
    assert [m.content for m in chat.history()] == ["first", "a", "third", "c"]


def test_fit_history_starts_on_a_user_turn() -> None:
    history = [
        Message.user("q1"),
        Message.assistant("a1" * 50),
        Message.user("q2"),
        Message.assistant("a2"),
    ]
    fitted = fit_history(
        system=Message.system("s"),
        history=history,
        new=Message.user("q3"),
        window=60,
        reserve=10,
        count=lambda m: len(m.content) // 2 + 1,
        model_name="m",
    )
    assert [m.content for m in fitted.messages] == ["s", "q2", "a2", "q3"]
    assert fitted.dropped == 2
