"""Progress said in chat lands on the right goal: by structure for any model, by tools for
models that call them; unsure means asking, never guessing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from psi.agent.chat import ChatService
from psi.goals.conversation import said_progress
from psi.goals.drafts import GoalDraft, MetricDraft
from psi.goals.store import Goals
from psi.llm.scripted import ScriptedModel
from psi.llm.types import Message, Reply, ToolCall
from psi.store.db import Store
from support.chat import chat_service

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def service(store: Store, model: ScriptedModel) -> ChatService:
    return chat_service(store, model, now=NOW)


def add_goal(chat: ChatService, title: str, unit: str, target: float, aggregate: str) -> int:
    return chat.goal_chat.goals.add(
        GoalDraft(
            title=title,
            starts_on=date(2026, 5, 1),
            target_date=date(2026, 12, 31),
            metric=MetricDraft(
                unit=unit, baseline=0, target=target, direction="increase", aggregate=aggregate
            ),
        )
    )


def values(goals: Goals, goal_id: int) -> list[float | None]:
    return [c.value for c in goals.check_ins(goal_ids=[goal_id])]


def test_reported_progress_is_logged_without_the_model(store: Store) -> None:
    model = ScriptedModel()  # any call to it would fail the test
    chat = service(store, model)
    marathon = add_goal(chat, "Run a marathon", "km", 42.2, "last")
    add_goal(chat, "Read 24 books", "books", 24, "sum")
    reply = chat.ask("Ran 12 km this morning, legs are fine")
    assert reply.text.startswith("Logged 12 km for “Run a marathon”. That is 28% of the way")
    assert model.calls == []
    check_in = chat.goal_chat.goals.check_ins(goal_ids=[marathon])[0]
    assert check_in.value == 12
    # The check-in points at the message it came from.
    said = [m for m in chat.history() if m.role == "user"][-1]
    assert check_in.source_message_id == said.id
    assert chat.history()[-1].content == reply.text
    chat.close()


def test_unsure_means_asking_which_goal(store: Store) -> None:
    model = ScriptedModel()
    chat = service(store, model)
    first = add_goal(chat, "Run a marathon", "km", 42.2, "last")
    second = add_goal(chat, "Cycle 2000 km this year", "km", 2000, "sum")
    reply = chat.ask("I did 30 km today")
    assert reply.text.startswith("Which goal is 30 km for?")
    assert "1. Run a marathon" in reply.text and "2. Cycle 2000 km this year" in reply.text
    goals = chat.goal_chat.goals
    assert values(goals, first) == [] and values(goals, second) == []
    answer = chat.ask("the cycling one")
    assert "Cycle 2000 km" in answer.text
    assert values(goals, second) == [30] and values(goals, first) == []
    assert model.calls == []
    chat.close()


def test_questions_and_chat_go_to_the_model(store: Store) -> None:
    model = ScriptedModel(["About 7.5 miles.", "Nice!"])
    chat = service(store, model)
    goal = add_goal(chat, "Run a marathon", "km", 42.2, "last")
    assert chat.ask("How far is 12 km in miles?").text == "About 7.5 miles."
    assert chat.ask("My sister is visiting today").text == "Nice!"
    assert values(chat.goal_chat.goals, goal) == []
    chat.close()


def test_said_progress_reads_numbers_and_units() -> None:
    assert said_progress("ran 12 km this morning") is not None
    assert said_progress("I read 45 pages") == said_progress("I read 45 pages.")
    found = said_progress("Saved €250 this month")
    assert found is not None and (found.value, found.unit) == (250, "€")
    assert said_progress("I weigh 81,5 kg now") is not None
    assert said_progress("what is 5 km in miles") is None
    assert said_progress("the meeting is at 10") is None


def test_a_model_with_tools_logs_progress_and_reads_the_agenda(store: Store) -> None:
    call = ToolCall(id="c1", name="log_progress", arguments={"value": 3, "goal": "books"})
    agenda = ToolCall(id="c2", name="get_agenda", arguments={"days": 1})
    model = ScriptedModel(
        [
            Reply(message=Message.assistant("", [call]), finish_reason="tool_calls"),
            Reply(message=Message.assistant("", [agenda]), finish_reason="tool_calls"),
            "Logged 3 books; nothing else is due today.",
        ],
        supports_tools=True,
    )
    chat = service(store, model)
    books = add_goal(chat, "Read 24 books", "books", 24, "sum")
    reply = chat.ask("Finished the trilogy over the weekend")
    assert reply.text == "Logged 3 books; nothing else is due today."
    assert values(chat.goal_chat.goals, books) == [3]
    # The model saw each tool's result before answering.
    tool_results = [m for m in model.calls[-1].messages if m.role == "tool"]
    assert json.loads(tool_results[0].content)["goal"] == "Read 24 books"
    assert json.loads(tool_results[1].content)["goals"][0]["percent"] == 12
    # Tool traffic is stored with the conversation.
    assert [m.role for m in chat.history()] == [
        "user", "assistant", "tool", "assistant", "tool", "assistant",
    ]  # fmt: skip
    chat.close()


def test_tool_errors_go_back_to_the_model(store: Store) -> None:
    bad = ToolCall(id="c1", name="log_progress", arguments={"value": "lots"})
    unclear = ToolCall(id="c2", name="log_progress", arguments={"value": 5})
    model = ScriptedModel(
        [
            Reply(message=Message.assistant("", [bad, unclear]), finish_reason="tool_calls"),
            "Which goal was that for?",
        ],
        supports_tools=True,
    )
    chat = service(store, model)
    add_goal(chat, "Read 24 books", "books", 24, "sum")
    add_goal(chat, "Run a marathon", "km", 42.2, "last")
    assert chat.ask("Did 5 more").text == "Which goal was that for?"
    results = [json.loads(m.content) for m in model.calls[-1].messages if m.role == "tool"]
    assert "bad arguments" in results[0]["error"]
    assert results[1]["unsure"].startswith("Ask the user")
    assert len(results[1]["candidates"]) == 2
    chat.close()


def test_a_goal_id_names_that_goal_only_not_titles_with_the_digit(store: Store) -> None:
    chat = service(store, ScriptedModel())
    marathon = add_goal(chat, "Run a marathon", "km", 42.2, "last")
    books = add_goal(chat, "Read 12 books", "books", 12, "sum")
    chat.goal_chat.goals.set_status(marathon, "paused")
    call = ToolCall(id="c1", name="log_progress", arguments={"goal": str(marathon), "value": 5})
    answer = json.loads(chat.goal_chat.run(call))
    # Goal 1 is paused: the "1" in "Read 12 books" does not make it the one.
    assert "unsure" in answer
    assert values(chat.goal_chat.goals, books) == []
    chat.close()
