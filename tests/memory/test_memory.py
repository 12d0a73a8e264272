"""Episodic memory on a real SQLite database: indexing, recall, context, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from psi.agent.chat import ChatService
from psi.clock import FrozenClock
from psi.config import load_settings
from psi.llm import Message
from psi.llm.scripted import ScriptedModel
from psi.memory.service import BackgroundIndexer, Memory
from psi.store.conversations import Conversations
from psi.store.db import Store
from support.database import all_rows

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

START = datetime(2026, 5, 2, 18, 0, tzinfo=UTC)


def said(conversations: Conversations, lines: list[tuple[str, str]], at: datetime) -> int:
    cid = conversations.create(at=at)
    for offset, (speaker, text) in enumerate(lines):
        role = "assistant" if speaker == "psi" else "user"
        message = Message(role=role, content=text, name=None if role == "assistant" else speaker)
        conversations.add(cid, message, at=at + timedelta(seconds=offset))
    return cid


def test_recall_finds_what_was_said_with_its_context(
    store: Store, conversations: Conversations
) -> None:
    said(
        conversations,
        [
            ("Ada", "What should I cook tonight?"),
            ("psi", "How about the risotto you liked?"),
            ("Ada", "Good idea, mushrooms it is."),
        ],
        START,
    )
    said(
        conversations,
        [
            ("Ada", "By the way, my sister Grace moves to Lisbon in June."),
            ("psi", "Exciting! Will you visit her there?"),
            ("Ada", "Yes, in July, for her birthday."),
        ],
        START + timedelta(days=3),
    )
    memory = Memory(store, user_id=conversations.user_id)
    assert memory.index_pending() == 6
    assert memory.index_pending() == 0  # nothing twice

    recalled = memory.recall("Where is Grace moving?", limit=3)
    best = recalled[0]
    assert "Lisbon" in best.episode.text
    assert best.episode.speaker == "Ada"
    assert best.episode.at == START + timedelta(days=3)
    # The hit comes with the turn after it, from the same conversation only.
    assert [e.text for e in best.context][:2] == [
        "By the way, my sister Grace moves to Lisbon in June.",
        "Exciting! Will you visit her there?",
    ]


def test_empty_memory_and_queries_without_words(store: Store, conversations: Conversations) -> None:
    memory = Memory(store, user_id=conversations.user_id)
    assert memory.recall("anything at all?") == []
    said(conversations, [("Ada", "Ich wohne in Köln, nahe dem Dom.")], START)
    memory.index_pending()
    assert memory.recall("?!") == []
    assert memory.recall("   ") == []
    # Non-English text is indexed and found (unicode tokenizer).
    assert "Köln" in memory.recall("Köln")[0].episode.text
    # FTS syntax in the query is taken as words, not as operators.
    assert memory.recall('Dom" OR NEAR(') != []


def test_each_user_recalls_only_their_own(store: Store) -> None:
    alice = Conversations(store, user_id=store.ensure_user("alice"))
    bob = Conversations(store, user_id=store.ensure_user("bob"))
    said(alice, [("alice", "My locker code is 4711.")], START)
    said(bob, [("bob", "I keep my bike in the cellar.")], START)
    Memory(store, user_id=alice.user_id).index_pending()
    Memory(store, user_id=bob.user_id).index_pending()
    assert Memory(store, user_id=bob.user_id).recall("locker code") == []
    assert Memory(store, user_id=alice.user_id).recall("locker code")


def test_deleting_a_conversation_leaves_no_text_in_any_table(
    store: Store, conversations: Conversations, psi_home: Path
) -> None:
    cid = said(conversations, [("Ada", "My passport number is X1234567.")], START)
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    with store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM conversations WHERE id = :id"), {"id": cid})
    assert "X1234567" not in all_rows(store)
    assert memory.recall("passport number") == []


def test_background_indexer_runs_off_the_caller_and_flushes(
    store: Store, conversations: Conversations
) -> None:
    memory = Memory(store, user_id=conversations.user_id)
    indexer = BackgroundIndexer(memory)
    said(conversations, [("Ada", "The spare key is under the blue pot.")], START)
    indexer.notify()
    assert indexer.flush(timeout=10)
    indexer.close(timeout=10)
    assert indexer.error is None
    assert "blue pot" in memory.recall("where is the spare key")[0].episode.text


def test_chat_uses_what_was_said_in_an_earlier_conversation(store: Store) -> None:
    model = ScriptedModel(["Noted, Biscuit it is.", "Your dog is called Biscuit."])
    clock = FrozenClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    user_id = store.ensure_user("local")
    chat = ChatService(
        settings=load_settings(),
        store=store,
        user_id=user_id,
        model=model,
        memory=Memory(store, user_id=user_id),
        clock=clock,
    )
    chat.ask("We adopted a beagle puppy and named him Biscuit.")
    assert chat.indexer is not None and chat.indexer.flush(timeout=10)
    clock.advance(days=8)
    chat.new_conversation()
    chat.ask("What did we name the beagle?")
    system = model.calls[1].messages[0].content
    assert "From earlier conversations" in system
    assert '"We adopted a beagle puppy and named him Biscuit."' in system
    assert "[2026-11-20 09:00] user:" in system
    # Only the new conversation's turn is history; the old one comes as quoted memory.
    assert [m.content for m in model.calls[1].messages[1:]] == ["What did we name the beagle?"]
    chat.close()


def test_vectors_are_stored_and_searched_in_the_database_itself(
    store: Store, conversations: Conversations, database: str
) -> None:
    """SQLite: float32 BLOBs searched in a matrix here; PostgreSQL: a pgvector column
    searched by the database. Either way the nearest turn comes first, and only the
    user's own turns come back."""
    from psi.embed.hashing import HashingEmbedder

    embedder = HashingEmbedder()
    said(
        conversations,
        [("Ada", "The spare key is under the blue flower pot."), ("psi", "Noted.")],
        START,
    )
    said(conversations, [("Ada", "Grace moves to Lisbon in June.")], START + timedelta(days=1))
    other = Conversations(store, user_id=store.ensure_user("bob"))
    said(other, [("Bob", "My spare key is with the neighbour.")], START)
    memory = Memory(store, user_id=conversations.user_id, embedder=lambda: embedder)
    assert memory.index_pending() == 3
    Memory(store, user_id=other.user_id, embedder=lambda: embedder).index_pending()

    found = memory.dense_search(embedder, "spare key flower pot")
    texts = [memory.episodes.get([i])[i].text for i, _ in found]
    assert texts[0] == "The spare key is under the blue flower pot."
    assert len(found) == 3 and found[0][1] > found[1][1]
    assert all("neighbour" not in t for t in texts)

    with store.engine.connect() as connection:
        blobs = connection.execute(
            sa.text("SELECT count(*) FROM memory_items WHERE vector IS NOT NULL")
        ).scalar()
        if database == "postgresql":
            stored = connection.execute(
                sa.text("SELECT count(*) FROM memory_items WHERE embedding IS NOT NULL")
            ).scalar()
            assert (blobs, stored) == (0, 4)
        else:
            assert blobs == 4
    # Forgetting every vector (a change of embedder) empties the index on both.
    memory.episodes.clear_vectors()
    memory.invalidate()
    assert memory.dense_search(embedder, "spare key") == []


def test_indexing_in_any_batches_links_turns_and_windows_them_as_at_once(
    store: Store, conversations: Conversations
) -> None:
    """Interleaved conversations, indexed a message at a time, then a few at once, then in
    one batch holding several runs of one conversation: every turn is linked to the one
    said before it in its conversation, and its keyword document is its whole window."""
    from psi.memory.episodes import day_label
    from psi.memory.rank import window_text
    from psi.memory.service import WINDOW

    memory = Memory(store, user_id=conversations.user_id)
    first, second = conversations.create(at=START), conversations.create(at=START)
    lines: dict[int, list[str]] = {first: [], second: []}
    for step in range(14):
        cid = first if step % 3 else second
        text = f"turn {step} about topic{step}"
        conversations.add(cid, Message.user(text), at=START + timedelta(minutes=step))
        lines[cid].append(text)
        if step < 5 or step == 8:
            memory.index_pending(embed=False)
    assert memory.index_pending(embed=False) == 5  # steps 9-13, in runs of both

    documents = dict(memory.episodes.documents())
    for cid, texts in lines.items():
        chain = memory.episodes.tail(cid, 100)
        assert [e.text for e in chain] == texts
        assert [e.prev_id for e in chain] == [None, *(e.id for e in chain[:-1])]
        speakers = [e.speaker for e in chain]
        for i, episode in enumerate(chain):
            expected = window_text(
                speakers, texts, [str(cid)] * len(chain), i,
                date=day_label(episode.at), before=WINDOW, after=WINDOW,
            )  # fmt: skip
            assert documents[episode.id] == expected


def test_a_word_most_of_a_long_memory_holds_recalls_nothing_on_its_own(
    store: Store, conversations: Conversations
) -> None:
    """Past COMMON_FLOOR episodes, a word more than half of them hold ("hi" to a
    companion) is left out of keyword search: it tells no turn from another, and scoring
    every row that holds it grew each reply's cost with the memory. A rarer word beside
    it still finds its turn; in a short memory the same word still recalls."""
    from psi.memory.episodes import COMMON_FLOOR
    from psi.store.models import Conversation
    from psi.store.models import Message as Row

    short = Memory(store, user_id=conversations.user_id)
    said(conversations, [("Ada", "hi"), ("psi", "Hello Ada.")], START)
    short.index_pending(embed=False)
    assert [r.episode.text for r in short.recall("hi", limit=1)] == ["hi"]

    with store.session() as session:
        for n in range(COMMON_FLOOR):
            at = START + timedelta(minutes=n + 1)
            chat = Conversation(user_id=conversations.user_id, created_at=at, updated_at=at)
            session.add(chat)
            session.flush()
            session.add(Row(conversation_id=chat.id, user_id=conversations.user_id,
                            role="user", content="hi", name="Ada", created_at=at))  # fmt: skip
    said(
        conversations,
        [("Ada", "hi, the bike needs new brakes"), ("psi", "The shop on Elm Street?")],
        START + timedelta(days=2),
    )
    memory = Memory(store, user_id=conversations.user_id)
    assert memory.index_pending(embed=False) == COMMON_FLOOR + 2

    assert memory.recall("hi", limit=5) == []
    found = memory.recall("hi! what did I say about the brakes?", limit=5)
    assert found[0].episode.text == "hi, the bike needs new brakes"
    assert all("brakes" in " ".join(e.text for e in r.context) for r in found[:1])
