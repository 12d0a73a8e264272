"""`psi migrate --to`: a SQLite home copied into PostgreSQL + pgvector, and psi going on there."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from typer.testing import CliRunner

from psi.cli.main import app
from psi.config import load_settings
from psi.embed.hashing import HashingEmbedder
from psi.goals.drafts import GoalDraft, MetricDraft
from psi.goals.store import Goals
from psi.llm import Message
from psi.memory.facts import FactDraft, Facts
from psi.memory.service import Memory
from psi.server.tokens import Tokens
from psi.store.conversations import Conversations
from psi.store.db import Store, open_store

runner = CliRunner()
START = datetime(2026, 5, 2, 18, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")


def fact(statement: str, at: datetime, **fields: Any) -> FactDraft:
    return FactDraft(subject="user", statement=statement, category="profile", valid_from=at,
                     **fields)  # fmt: skip


def fill(store: Store) -> dict[str, Any]:
    """A life in the SQLite home: two users, a conversation with indexed vectors, a fact
    superseded by a newer one (a link to a later row), a goal, an API token."""
    alice = store.ensure_user("local")
    bob = store.ensure_user("bob")
    conversations = Conversations(store, user_id=alice)
    cid = conversations.create(at=START)
    for n, line in enumerate(
        ["The spare key is under the blue flower pot.", "Grace moves to Lisbon in June."]
    ):
        conversations.add(cid, Message(role="user", content=line, name="Ada"),
                          at=START + timedelta(minutes=n))  # fmt: skip
    Conversations(store, user_id=bob).create(at=START)
    embedder = HashingEmbedder()
    Memory(store, user_id=alice, embedder=lambda: embedder).index_pending()
    facts = Facts(store, user_id=alice)
    facts.add(fact("You live in Zanzibar.", START, key="home_city"))
    facts.add(fact("You live in Timbuktu.", START + timedelta(days=3), key="home_city"))
    goal = Goals(store, user_id=alice, zone=ZONE).add(
        GoalDraft(
            title="Run a marathon",
            starts_on=date(2026, 3, 2),
            target_date=date(2026, 10, 11),
            metric=MetricDraft(
                unit="km", baseline=10, target=42.2, direction="increase", aggregate="last"
            ),
        )
    )
    token = Tokens(store).issue(alice)
    return {"alice": alice, "cid": cid, "goal": goal, "token": token}


def test_a_sqlite_home_moves_to_postgresql_and_carries_on(postgres_url: str) -> None:
    settings = load_settings()
    sqlite = open_store(settings.db_url)
    life = fill(sqlite)
    embedder = HashingEmbedder()
    before = Memory(sqlite, user_id=life["alice"], embedder=lambda: embedder)
    hit = before.recall("where is the spare key")[0].episode.text

    result = runner.invoke(app, ["migrate", "--to", postgres_url, "--switch"])
    assert result.exit_code == 0, result.output
    assert "memory_items" in result.output and "is unchanged" in result.output

    settings = load_settings()
    assert settings.db_url.startswith("postgresql")
    pg = open_store(settings.db_url)
    assert not pg.is_sqlite
    alice = life["alice"]
    # Memory answers the same, by keyword and by the vectors now in pgvector's column.
    after = Memory(pg, user_id=alice, embedder=lambda: embedder)
    assert after.recall("where is the spare key")[0].episode.text == hit
    dense = after.dense_search(embedder, "spare key flower pot")
    assert after.episodes.get([dense[0][0]])[dense[0][0]].text == hit
    with pg.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(embedding) FROM memory_items")) == 2
    # The superseded fact keeps its link to the newer one; only that one is current.
    facts = Facts(pg, user_id=alice)
    assert [f.statement for f in facts.current()] == ["You live in Timbuktu."]
    # The token still opens the same account, and the goal is there.
    assert Tokens(pg).verify(life["token"]) == alice
    assert Goals(pg, user_id=alice, zone=ZONE).get(life["goal"]).title == "Run a marathon"
    # New rows continue after the copied ids.
    conversations = Conversations(pg, user_id=alice)
    assert conversations.create(at=START) > life["cid"] + 1
    assert life["cid"] in [c.id for c in conversations.list()]
    # The SQLite home is untouched.
    assert Conversations(sqlite, user_id=alice).list()[0].id == life["cid"]
    sqlite.dispose()
    pg.dispose()


def test_copying_into_a_database_with_users_is_refused_and_changes_nothing(
    postgres_url: str,
) -> None:
    sqlite = open_store(load_settings().db_url)
    fill(sqlite)
    assert runner.invoke(app, ["migrate", "--to", postgres_url]).exit_code == 0
    again = runner.invoke(app, ["migrate", "--to", postgres_url])
    assert again.exit_code != 0
    assert "already holds psi users" in again.output
    assert "Traceback" not in again.output
    pg = open_store(postgres_url)
    with pg.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM users")) == 2
    pg.dispose()
    sqlite.dispose()


def test_a_database_that_cannot_be_reached_is_a_clear_error() -> None:
    result = runner.invoke(app, ["migrate", "--to", "postgresql://psi@127.0.0.1:9/none"])
    assert result.exit_code != 0
    assert "Database error" in result.output or "Cannot use" in result.output
    assert "Traceback" not in result.output


def test_documents_move_with_their_passages_and_vectors(postgres_url: str, tmp_path: Path) -> None:
    from psi.knowledge.library import Library

    (tmp_path / "boiler.md").write_text("# Boiler\n\nServiced on 3 May by Ana.\n")
    (tmp_path / "bike.md").write_text("# Bike\n\nThe lock code is 4096.\n")
    embedder = HashingEmbedder()
    sqlite = open_store(load_settings().db_url)
    alice = sqlite.ensure_user("local")
    Library(sqlite, user_id=alice, embedder=lambda: embedder).add([tmp_path])
    assert runner.invoke(app, ["migrate", "--to", postgres_url]).exit_code == 0
    pg = open_store(postgres_url)
    moved = Library(pg, user_id=alice, embedder=lambda: embedder)
    [hit] = moved.search("bike lock code", limit=1)
    assert hit.passage.text == "The lock code is 4096."
    assert moved.index.nearest(embedder.name, embedder.embed_query("bike lock"), limit=1)
    with pg.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(embedding) FROM doc_chunks")) == 2
    # A sync on PostgreSQL finds nothing new: the files are as they were.
    assert moved.sync().unchanged == 2
    sqlite.dispose()
    pg.dispose()
