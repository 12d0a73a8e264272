from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psi.llm import Message
from psi.memory.rank import DateMention
from psi.memory.service import Memory
from psi.memory.when import question_periods
from psi.store.conversations import Conversations
from psi.store.db import Store

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_relative_months_and_days() -> None:
    assert question_periods("What did I do last May?", NOW) == [DateMention(2026, 5)]
    assert question_periods("what did I do last November?", NOW) == [DateMention(2025, 11)]
    assert question_periods("anything in November?", NOW) == [DateMention(2026, 11)]
    assert question_periods("and in December?", NOW) == [DateMention(2025, 12)]
    assert question_periods("where was I yesterday?", NOW) == [DateMention(2026, 11, 27)]
    assert question_periods("what happened last month?", NOW) == [DateMention(2026, 10)]
    assert question_periods("what about last week?", NOW) == []
    # A year written out is the ranker's own business.
    assert question_periods("what did I do in May 2023?", NOW) == []
    assert question_periods("how are you?", NOW) == []


def test_recall_prefers_turns_from_the_month_asked_about(
    store: Store, conversations: Conversations
) -> None:
    for month, place in ((3, "the coast"), (5, "the mountains"), (8, "the lake")):
        at = datetime(2026, month, 10, 12, tzinfo=UTC)
        cid = conversations.create(at=at)
        conversations.add(cid, Message.user(f"We went hiking at {place} today."), at=at)
        conversations.add(cid, Message.assistant("Sounds great!"), at=at + timedelta(minutes=1))
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    best = memory.recall("Where did we go hiking last May?", now=NOW)[0].episode
    assert "mountains" in best.text
