"""Memory under abuse: kill -9 mid-ingest, huge and foreign messages."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from psi.config import load_settings
from psi.llm import Message
from psi.memory.service import Memory
from psi.store.conversations import Conversations
from psi.store.db import Store, open_store

# Stores messages and indexes them as it goes, printing each message id once committed.
INGEST = """
import sys
from psi.config import load_settings
from psi.llm import Message
from psi.memory.service import Memory
from psi.store.conversations import Conversations
from psi.store.db import open_store

settings = load_settings()
store = open_store(settings.db_url)
user = store.ensure_user("local")
conversations = Conversations(store, user_id=user)
memory = Memory(store, user_id=user)
cid = conversations.create()
for n in range(100000):
    message_id = conversations.add(cid, Message.user(f"note number {n} about topic {n % 97}"))
    print(message_id, flush=True)
    if n % 25 == 0:
        memory.index_pending(embed=False)
"""


@pytest.mark.slow
def test_kill_9_during_ingest_loses_nothing_acknowledged(psi_home: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", INGEST], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert process.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert len(acknowledged) >= 300

    database = sqlite3.connect(psi_home / "psi.db")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in database.execute("SELECT id FROM messages")}
    assert set(acknowledged) <= stored
    database.close()

    # A restart finishes the half-built index.
    store = open_store(load_settings().db_url)
    memory = Memory(store, user_id=store.ensure_user("local"))
    memory.index_pending(embed=False)
    assert memory.episodes.count() == len(stored)
    assert memory.recall("note number 250")[0].episode.text.startswith("note number 250 ")
    store.dispose()


def test_a_100_kb_message_and_foreign_scripts(store: Store, conversations: Conversations) -> None:
    cid = conversations.create(at=datetime(2026, 1, 5, tzinfo=UTC))
    big = "lorem ipsum dolor " * 5_700 + "the treasure is under the old oak"
    assert len(big) > 100_000
    conversations.add(cid, Message.user(big))
    conversations.add(cid, Message.user("東京の天気は晴れです。"))
    conversations.add(cid, Message.user("Моя собака любит гулять в парке."))
    memory = Memory(store, user_id=conversations.user_id)
    memory.index_pending()
    assert "treasure" in memory.recall("where is the treasure?")[0].episode.text
    assert "собака" in memory.recall("собака")[0].episode.text
    assert memory.recall("東京の天気は晴れです。")[0].episode.text.startswith("東京")
