from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from psi.errors import InputError, NotFound, StoreError
from psi.llm import Message, ToolCall
from psi.store.conversations import Conversations
from psi.store.db import Store, alembic_config, open_store
from psi.store.migrations import HEAD
from psi.store.quickread import list_conversations

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL


def test_head_constant_matches_alembic() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_migrations_create_tables_with_user_id(store: Store) -> None:
    inspector = inspect(store.engine)
    assert {"users", "conversations", "messages", "alembic_version"} <= set(
        inspector.get_table_names()
    )
    for table in ("conversations", "messages"):
        assert "user_id" in {c["name"] for c in inspector.get_columns(table)}
    assert store.current_revision() == HEAD


@pytest.mark.filterwarnings("ignore:Did not recognize type 'vector'")
def test_migrations_build_the_tables_the_models_describe(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from psi.store.models import Base

    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # FTS5's own tables are made by raw SQL in the migrations and have no model.
    # PostgreSQL's keyword and vector columns (0012, 0013) are made by raw SQL too.
    differences = [d for d in differences if not _fts_table(d) and not _postgres_index(d)]
    assert differences == []
    tables = set(inspect(store.engine).get_table_names())
    for table in ("goals", "milestones", "tasks", "habits", "if_then_plans", "check_ins"):
        assert table in tables
        assert "user_id" in {c["name"] for c in inspect(store.engine).get_columns(table)}


def _fts_table(difference: object) -> bool:
    return (
        isinstance(difference, tuple)
        and difference[0] == "remove_table"
        and str(difference[1].name).startswith(("memory_fts", "doc_fts"))
    )


_POSTGRES_INDEX = {"embedding", "document_tsv", "turn_tsv", "keywords_tsv"}


def _postgres_index(difference: object) -> bool:
    if not isinstance(difference, tuple):
        return False
    if difference[0] == "remove_column":
        return (
            difference[2] in ("memory_items", "doc_chunks")
            and difference[3].name in _POSTGRES_INDEX
        )
    if difference[0] == "remove_index":
        return {c.name for c in difference[1].columns} <= _POSTGRES_INDEX
    return False


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode(store: Store, psi_home: Path) -> None:
    with sqlite3.connect(psi_home / "psi.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_conversation_survives_reopening(conversations: Conversations, store: Store) -> None:
    cid = conversations.create(model_profile="local")
    conversations.add(cid, Message.user("Remember the milk"))
    call = ToolCall(id="c1", name="note", arguments={"text": "milk"})
    conversations.add(
        cid,
        Message.assistant("Noted.", [call]),
        model_profile="local",
        prompt_tokens=12,
        completion_tokens=3,
        interrupted=True,
    )
    store.dispose()
    reopened = open_store(store.url)
    again = Conversations(reopened, user_id=reopened.ensure_user("local"))
    messages = again.messages(cid)
    assert [m.content for m in messages] == ["Remember the milk", "Noted."]
    assert messages[1].interrupted and messages[1].completion_tokens == 3
    assert messages[1].chat.tool_calls == [call]
    assert messages[0].created_at.tzinfo is not None
    summary = again.list()[0]
    assert summary.title == "Remember the milk"
    assert summary.message_count == 2
    reopened.dispose()


def test_users_see_only_their_own_conversations(store: Store) -> None:
    alice = Conversations(store, user_id=store.ensure_user("alice"))
    bob = Conversations(store, user_id=store.ensure_user("bob"))
    cid = alice.create()
    alice.add(cid, Message.user("my secret"))
    assert bob.list() == []
    assert bob.latest() is None
    assert not bob.exists(cid)
    with pytest.raises(NotFound):
        bob.messages(cid)
    with pytest.raises(NotFound):
        bob.add(cid, Message.user("sneaky"))
    assert [m.content for m in alice.messages(cid)] == ["my secret"]


def test_starting_a_conversation_with_its_message_is_creating_then_adding(
    conversations: Conversations,
) -> None:
    cid, first = conversations.start(Message.user("Plan the  trip\nto Porto"), model_profile="demo")
    second = conversations.add(cid, Message.assistant("Sure."), model_profile="demo")
    said = conversations.messages(cid)
    assert [(m.id, m.role, m.model_profile) for m in said] == [
        (first, "user", None),
        (second, "assistant", "demo"),
    ]
    summary = conversations.list()[0]
    assert (summary.id, summary.title, summary.model_profile) == (
        cid,
        "Plan the trip to Porto",
        "demo",
    )
    # A later user message does not retitle it; an assistant's first message titles nothing.
    conversations.add(cid, Message.user("Actually, Lisbon"))
    assert conversations.list()[0].title == "Plan the trip to Porto"
    other, _ = conversations.start(Message.assistant("Good morning!"))
    assert conversations.list()[0].id == other and conversations.list()[0].model_profile is None


def test_list_is_newest_first_and_paginates(conversations: Conversations) -> None:
    ids = []
    for n in range(3):
        cid = conversations.create()
        conversations.add(cid, Message.user(f"topic {n}"))
        ids.append(cid)
    assert [c.id for c in conversations.list()] == ids[::-1]
    assert [c.id for c in conversations.list(limit=1, offset=1)] == [ids[1]]


def test_long_titles_are_shortened(conversations: Conversations) -> None:
    cid = conversations.create()
    conversations.add(cid, Message.user("word " * 40))
    assert len(conversations.list()[0].title) <= 60


@pytest.mark.sqlite_only
def test_locked_database_waits_then_explains(psi_home: Path, store: Store) -> None:
    conversations = Conversations(store, user_id=store.ensure_user("local"))
    cid = conversations.create()
    conversations.add(cid, Message.user("kept"))
    impatient = Store(store.url, busy_timeout=0.2)
    blocker = sqlite3.connect(psi_home / "psi.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as caught:
            Conversations(impatient, user_id=1).add(cid, Message.user("blocked"))
        assert "locked" in caught.value.message
        assert "Close other psi sessions" in (caught.value.hint or "")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [m.content for m in conversations.messages(cid)] == ["kept"]
    impatient.dispose()


WRITER = """
import sys, time
from psi.llm import Message
from psi.store.conversations import Conversations
from psi.store.db import Store
store = Store(sys.argv[1], busy_timeout=0.0)  # meeting a lock would be an error at once
conversations = Conversations(store, user_id=1)
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
for n in range(400):
    conversations.add(int(sys.argv[2]), Message.user(f"{sys.argv[3]} {n}"))
"""


@pytest.mark.sqlite_only
def test_writers_in_several_processes_and_threads_take_turns(store: Store) -> None:
    """psi serve's workers write to one SQLite file: they queue on a lock beside it (and
    threads on one in the process) instead of meeting SQLite's busy handler. With no
    busy timeout at all, not one of 1,600 writes at once finds the database locked."""
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    conversations = Conversations(store, user_id=store.ensure_user("local"))
    cid = conversations.create()
    impatient = Store(store.url, busy_timeout=0.0)
    mine = Conversations(impatient, user_id=1)
    start = time.time() + 3  # every writer begins together, once all have started
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store.url, str(cid), name, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]

    def write(name: str) -> None:
        time.sleep(max(0.0, start - time.time()))
        for n in range(400):
            mine.add(cid, Message.user(f"{name} {n}"))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, ["up", "down"]))
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    said = [m.content for m in conversations.messages(cid)]
    assert len(said) == 1600
    for name in ("left", "right", "up", "down"):
        assert [m for m in said if m.split()[0] == name] == [f"{name} {n}" for n in range(400)]
    impatient.dispose()


def test_bad_database_url_is_explained() -> None:
    with pytest.raises(StoreError) as caught:
        Store("nosuchdialect://x")
    assert "database_url" in (caught.value.hint or "")


@pytest.mark.sqlite_only
def test_quick_list_matches_the_repository(store: Store) -> None:
    alice = Conversations(store, user_id=store.ensure_user("alice"))
    bob = Conversations(store, user_id=store.ensure_user("bob"))
    for n in range(4):
        cid = alice.create(model_profile="local")
        alice.add(cid, Message.user(f"alice topic {n}"))
        if n % 2:
            alice.add(cid, Message.assistant("ok"), model_profile="gpt")
    alice.create()  # empty conversations are listed too
    bob.add(bob.create(), Message.user("bob's only"))
    for user, repo in (("alice", alice), ("bob", bob)):
        for limit, offset in ((20, 0), (2, 1), (1, 4)):
            quick = list_conversations(store.url, user=user, limit=limit, offset=offset)
            assert quick == repo.list(limit=limit, offset=offset)
    assert list_conversations(store.url, user="nobody", limit=5) == []


def test_quick_list_steps_aside_when_it_cannot_answer(store: Store, tmp_path: Path) -> None:
    assert list_conversations("postgresql://db/psi", user="local", limit=5) is None
    assert list_conversations(f"sqlite:///{tmp_path}/missing.db", user="local", limit=5) is None
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    assert list_conversations(store.url, user="local", limit=5) is None


def test_text_with_a_nul_character_is_stored_or_refused_plainly(
    conversations: Conversations, database: str
) -> None:
    cid = conversations.create()
    message = Message(role="user", content="before\x00after")
    if database == "sqlite":
        conversations.add(cid, message)
        assert conversations.messages(cid)[0].content == "before\x00after"
        return
    with pytest.raises(InputError, match="NUL character"):
        conversations.add(cid, message)
    assert conversations.messages(cid) == []  # nothing half-stored


def test_upgrading_to_0015_keeps_what_memory_indexed_and_indexes_the_rest(store: Store) -> None:
    from alembic import command

    from psi.memory.service import Memory
    from psi.store.models import MemoryItem
    from psi.store.models import Message as MessageRow

    user_id = store.ensure_user("local")
    conversations = Conversations(store, user_id=user_id)
    memory = Memory(store, user_id=user_id, embedder=None)
    talk = conversations.create(model_profile="demo")
    conversations.add(talk, Message.user("The beagle is called Miso."))
    conversations.add(talk, Message.assistant("Miso, noted."))
    assert memory.index_pending(embed=False) == 2
    with store.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    assert store.current_revision() == "0014"
    # Said while psi was older: not indexed yet, and a tool's output, never indexed.
    with store.engine.begin() as connection:
        at = "2026-01-01 09:00:00.000000"
        for role, content in (("user", "Miso likes carrots."), ("tool", "42")):
            connection.exec_driver_sql(
                "INSERT INTO messages (conversation_id, user_id, role, content, created_at, "
                "prompt_tokens, completion_tokens, interrupted) "
                f"VALUES ({talk}, {user_id}, '{role}', '{content}', '{at}', 0, 0, FALSE)"
            )
    store.migrate()
    assert store.current_revision() == HEAD
    with store.session() as session:
        flags = dict(session.execute(select(MessageRow.content, MessageRow.indexed)).all())
        assert session.query(MemoryItem).count() == 2
    assert flags == {
        "The beagle is called Miso.": True,
        "Miso, noted.": True,
        "Miso likes carrots.": False,
        "42": True,
    }
    assert memory.index_pending(embed=False) == 1
    assert [e.text for e in memory.episodes.tail(talk, 10)] == [
        "The beagle is called Miso.",
        "Miso, noted.",
        "Miso likes carrots.",
    ]
    assert memory.index_pending(embed=False) == 0
