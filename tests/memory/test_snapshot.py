"""Snapshots of a large memory (bm25s and HNSW) answer as FTS5 and the matrix do, cover
what arrives after them, and go when something is forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from psi.embed.hashing import HashingEmbedder
from psi.llm import Message
from psi.memory import snapshot
from psi.memory.control import forget_episode
from psi.memory.service import BackgroundIndexer, Memory
from psi.store.conversations import Conversations
from psi.store.db import Store

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TOPICS = ["pottery", "sailing", "chess", "bread", "violin", "tomatoes", "tax forms", "the roof"]


def chat(conversations: Conversations, day: int, lines: list[str]) -> None:
    at = START + timedelta(days=day)
    cid = conversations.create(at=at)
    for n, text in enumerate(lines):
        role = "user" if n % 2 == 0 else "assistant"
        conversations.add(cid, Message(role=role, content=text), at=at + timedelta(minutes=n))


def fill(conversations: Conversations, days: int) -> None:
    for day in range(days):
        topic = TOPICS[day % len(TOPICS)]
        chat(
            conversations,
            day,
            [
                f"Today I spent the afternoon on {topic} again.",
                f"How is the {topic} going?",
                f"Slowly, day {day} of it.",
                "Keep at it.",
            ],
        )


@pytest.fixture
def memory(store: Store, conversations: Conversations, monkeypatch: pytest.MonkeyPatch) -> Memory:
    monkeypatch.setattr(snapshot, "SNAPSHOT_MIN", 50)
    fill(conversations, 30)
    chat(
        conversations,
        40,
        ["My locker code at the climbing gym is 4417.", "Noted, the gym locker code."],
    )
    embedder = HashingEmbedder()
    built = Memory(store, user_id=conversations.user_id, embedder=lambda: embedder)
    built.embedder()
    built.index_pending()
    return built


def recalled(memory: Memory, query: str, limit: int = 5) -> list[str]:
    return [r.episode.text for r in memory.recall(query, limit=limit)]


def test_snapshots_recall_what_fts5_and_the_matrix_recall(memory: Memory) -> None:
    questions = ["What is my locker code?", "how is the violin going", "tax forms", "day 17"]
    exact = {q: recalled(memory, q) for q in questions}
    assert memory.refresh_snapshots()
    assert memory.snapshots.keywords is not None and memory.snapshots.vectors is not None
    for question in questions:
        assert recalled(memory, question)[:2] == exact[question][:2], question
    assert "4417" in recalled(memory, "What is my locker code?")[0]
    # Not rebuilt while the memory has not grown.
    assert not memory.refresh_snapshots()


def test_what_arrives_after_a_snapshot_is_recalled(
    memory: Memory, conversations: Conversations
) -> None:
    memory.refresh_snapshots()
    upto = memory.snapshots.keywords.upto if memory.snapshots.keywords else 0
    chat(conversations, 60, ["The new bike lock combination is 9021.", "Got it."])
    memory.index_pending()
    assert memory.episodes.newest() > upto
    assert "9021" in recalled(memory, "bike lock combination")[0]
    # Dense search alone reaches it too (keyword search of the delta aside).
    assert any(
        "9021" in memory.episodes.around([i])[i].text
        for i, _ in memory.dense_search(memory.embedder(), "bike lock combination")[:3]  # type: ignore[arg-type]
    )


def test_forgetting_drops_the_snapshots(memory: Memory) -> None:
    memory.refresh_snapshots()
    target = next(r.episode for r in memory.recall("locker code") if "4417" in r.episode.text)
    forget_episode(memory, target.id)
    assert memory.snapshots.keywords is None and memory.snapshots.vectors is None
    assert all("4417" not in text for text in recalled(memory, "locker code"))
    # The next build leaves the forgotten words out.
    memory.refresh_snapshots()
    assert memory.snapshots.keywords is not None
    assert all("4417" not in text for text in recalled(memory, "locker code 4417"))


def test_a_build_overtaken_by_a_forget_is_thrown_away(memory: Memory) -> None:
    documents = memory.episodes.documents

    def forget_while_reading() -> list[tuple[int, str]]:
        read = documents()
        memory.invalidate()
        return read

    memory.snapshots.rebuild(forget_while_reading, lambda: None, frozenset())
    assert memory.snapshots.keywords is None


def test_the_background_indexer_builds_them(memory: Memory, conversations: Conversations) -> None:
    indexer = BackgroundIndexer(memory)
    chat(conversations, 70, ["One more note about pottery glaze.", "Noted."])
    indexer.notify()
    assert indexer.flush(timeout=60)
    indexer.close()
    assert indexer.error is None
    assert memory.snapshots.keywords is not None
    assert memory.snapshots.keywords.upto == memory.episodes.newest()


def test_small_memories_need_no_snapshot(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "SNAPSHOT_MIN", 10_000)
    assert not memory.refresh_snapshots()
    assert memory.snapshots.keywords is None
