"""Forgetting for real, and export/import that round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from psi.errors import InputError, NotFound
from psi.llm import Message
from psi.memory.control import (
    export_document,
    export_memory,
    forget_all,
    forget_episode,
    import_document,
    import_memory,
    parse_ref,
)
from psi.memory.extraction import explicit_draft
from psi.memory.facts import Facts
from psi.memory.profile import Profiles
from psi.memory.service import Memory
from psi.store.conversations import Conversations
from psi.store.db import Store
from support.database import all_rows

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "my bank PIN is QZ8086"


def fill(conversations: Conversations) -> int:
    cid = conversations.create(at=START)
    lines = [
        ("Ada", "Morning! Big day today."),
        ("psi", "Good morning, what is on?"),
        ("Ada", f"Two things. First, {SECRET}, keep it safe."),
        ("psi", "I will keep it in memory."),
        ("Ada", "Second, the dentist at noon."),
    ]
    for n, (speaker, text) in enumerate(lines):
        role = "assistant" if speaker == "psi" else "user"
        conversations.add(
            cid,
            Message(role=role, content=text, name=None if role == "assistant" else speaker),
            at=START + timedelta(minutes=n),
        )
    return cid


def test_forget_leaves_the_text_in_no_table(
    store: Store, conversations: Conversations, psi_home: Path
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    assert "QZ8086" in all_rows(store)
    target = memory.recall("bank PIN")[0].episode
    assert SECRET in target.text
    forget_episode(memory, target.id)
    assert "QZ8086" not in all_rows(store)
    assert all("QZ8086" not in r.episode.text for r in memory.recall("bank PIN"))
    # The neighbours stay findable, and linked across the gap.
    dentist = memory.recall("dentist")[0]
    assert "dentist" in dentist.episode.text
    assert dentist.context[0].text == "I will keep it in memory."
    with pytest.raises(NotFound):
        forget_episode(memory, target.id)


def test_forget_all_empties_memory_and_history(
    store: Store, conversations: Conversations, psi_home: Path
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    assert forget_all(memory) == 1
    assert conversations.list() == []
    assert memory.recall("dentist") == []
    assert "dentist" not in all_rows(store)


def test_export_import_round_trip(
    store: Store, conversations: Conversations, tmp_path: Path
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    path = tmp_path / "memory.json"
    assert export_memory(memory, path) == 5
    exported = json.loads(path.read_text())
    assert exported["format"] == "psi-memory" and exported["version"] == 1

    other = Memory(store, user_id=store.ensure_user("restored"))
    assert import_memory(other, path) == 5
    again = tmp_path / "again.json"
    export_memory(other, again)

    def without_ids(document: dict[str, Any]) -> list[Any]:
        return [
            {**c, "messages": [{k: v for k, v in m.items() if k != "id"} for m in c["messages"]]}
            for c in document["conversations"]
        ]

    assert without_ids(json.loads(again.read_text())) == without_ids(exported)
    assert "dentist" in other.recall("dentist at noon")[0].episode.text


def test_a_bad_import_file_changes_nothing(
    store: Store, conversations: Conversations, tmp_path: Path
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    path = tmp_path / "bad.json"
    path.write_text(
        '{"format": "psi-memory", "version": 1, "conversations": [{"messages": '
        '[{"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00"},'
        ' {"role": "robot", "content": "x"}]}]}'
    )
    with pytest.raises(InputError) as caught:
        import_memory(memory, path)
    assert "unknown role 'robot'" in caught.value.message
    assert len(conversations.list()) == 1
    path.write_text("not json")
    with pytest.raises(InputError):
        import_memory(memory, path)
    with pytest.raises(InputError):
        import_memory(memory, tmp_path / "missing.json")


def test_a_document_with_wrong_kinds_of_values_is_refused_whole(
    store: Store, conversations: Conversations
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    document = export_document(memory)
    message = document["conversations"][0]["messages"][0]
    for key, value in (("prompt_tokens", "many"), ("name", {"a": 1}), ("tool_calls", "x")):
        broken = json.loads(json.dumps(document))
        broken["conversations"][0]["messages"][0] = {**message, key: value}
        with pytest.raises(InputError) as caught:
            import_document(memory, broken)
        assert key in caught.value.message
    assert len(conversations.list()) == 1


def test_memory_ids_read_as_the_cli_writes_them() -> None:
    assert parse_ref("42") == ("episode", 42) == parse_ref("e42")
    assert parse_ref("F7") == ("fact", 7)
    for bad in ("f", "x7", "4 2", "1" * 16, "٣"):
        with pytest.raises(InputError):
            parse_ref(bad)


def test_facts_follow_their_messages_through_export_forget_and_import(
    store: Store, conversations: Conversations, tmp_path: Path, psi_home: Path
) -> None:
    fill(conversations)
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    source = memory.recall("dentist")[0].episode
    facts = Facts(store, user_id=conversations.user_id)
    facts.add(
        explicit_draft("my dentist appointment is at noon", at=START, message_id=source.message_id)
    )
    Profiles(store, user_id=conversations.user_id).set("Ada. Likes risotto.")
    path = tmp_path / "with-facts.json"
    export_memory(memory, path)
    exported = json.loads(path.read_text())
    assert [f["statement"] for f in exported["facts"]] == ["Your dentist appointment is at noon."]
    assert exported["profile"] == "Ada. Likes risotto."

    other = Memory(store, user_id=store.ensure_user("restored"))
    import_memory(other, path)
    restored = Facts(store, user_id=other.episodes.user_id).current()
    assert [f.statement for f in restored] == ["Your dentist appointment is at noon."]
    new_source = other.recall("dentist")[0].episode
    assert restored[0].source_message_ids == (new_source.message_id,)
    assert Profiles(store, user_id=other.episodes.user_id).get().text == "Ada. Likes risotto."

    # Forgetting the message forgets what was learnt from it.
    forget_episode(memory, source.id)
    assert facts.current() == []
    # The restored user's copy is theirs and stays.
    assert Facts(store, user_id=other.episodes.user_id).current() != []
