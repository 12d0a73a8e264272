"""`psi mcp` as an MCP client meets it: the SDK's own client starts the `psi` command over
stdio on this test's PSI_HOME and talks to it through list_tools, call_tool and
read_resource."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client

import psi
from psi.llm.types import Message
from psi.safety.audit import Audit
from psi.store.conversations import Conversations
from psi.store.db import Store
from support.serving import call, failure, read

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

PSI = shutil.which("psi", path=str(Path(sys.executable).parent)) or "psi"
# The psi under test, wherever the installed `psi` script would import it from otherwise.
SOURCE = str(Path(psi.__file__).resolve().parents[1])
SEVEN = {
    "recall",
    "remember",
    "forget",
    "agenda",
    "goal_status",
    "log_progress",
    "create_goal",
}

Session = Callable[[ClientSession], Awaitable[None]]


@asynccontextmanager
async def psi_mcp(home: Path) -> AsyncIterator[ClientSession]:
    # The client passes on only a few variables of its own (PATH, HOME): psi's are given.
    env = {name: value for name, value in os.environ.items() if name.startswith("PSI_")}
    env |= {"PSI_HOME": str(home), "PSI_SAFETY__GUARD": "none", "PYTHONPATH": SOURCE}
    server = StdioServerParameters(command=PSI, args=["mcp"], env=env)
    with (home.parent / "psi-mcp.log").open("w") as log:
        async with (
            stdio_client(server, errlog=log) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def talk(home: Path, conversation: Session) -> None:
    async def run() -> None:
        with anyio.fail_after(60):
            async with psi_mcp(home) as session:
                await conversation(session)

    anyio.run(run)


def in_a_year() -> str:
    return str(date.today() + timedelta(days=365))


def test_an_agent_sees_seven_tools_marked_by_what_they_can_do(psi_home: Path) -> None:
    async def conversation(session: ClientSession) -> None:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed) == SEVEN
        assert listed["recall"].annotations is not None
        assert listed["recall"].annotations.read_only_hint
        assert listed["forget"].annotations is not None
        assert listed["forget"].annotations.destructive_hint
        assert not listed["remember"].annotations.read_only_hint  # type: ignore[union-attr]
        # The goal tools take the same arguments a model calling psi's tools gives.
        assert set(listed["create_goal"].input_schema["required"]) == {"title", "target_date"}
        resources = {str(r.uri) for r in (await session.list_resources()).resources}
        assert resources == {"psi://profile", "psi://goals"}
        assert session.instructions and "recall" in session.instructions

    talk(psi_home, conversation)
    assert "serving local's memory and goals" in (psi_home.parent / "psi-mcp.log").read_text()


def test_remember_recall_and_forget_a_fact_and_what_was_said(
    psi_home: Path, conversations: Conversations
) -> None:
    chat = conversations.create()
    conversations.add(chat, Message.user("My sister Ana moved to Lisbon to work at the aquarium."))

    async def conversation(session: ClientSession) -> None:
        assert await read(session, "psi://profile") == "psi knows nothing about the user yet."
        kept = await call(session, "remember", statement="remember that my dog is called Rex")
        assert kept["remembered"] == "Your dog is called Rex."
        assert "Rex" in await read(session, "psi://profile")

        found = await call(session, "recall", query="what is my dog called?")
        assert [f["statement"] for f in found["facts"]] == ["Your dog is called Rex."]
        found = await call(session, "recall", query="where does Ana work?")
        assert "aquarium" in found["said"][0]["text"]

        gone = await call(session, "forget", description="my dog is called Rex")
        assert gone["facts"] == ["Your dog is called Rex."]
        assert gone["answer"].startswith("Done: I forgot 1 fact")
        assert (await call(session, "recall", query="my dog"))["facts"] == []
        assert "Rex" not in await read(session, "psi://profile")

        gone = await call(session, "forget", description="that Ana moved to Lisbon aquarium")
        assert gone["messages"] == 1
        assert (await call(session, "recall", query="Ana Lisbon aquarium"))["said"] == []
        nothing = await call(session, "forget", description="my bicycle")
        assert nothing["answer"].startswith("I found nothing like that")

    talk(psi_home, conversation)


def test_create_a_goal_see_it_on_the_agenda_and_move_it(psi_home: Path) -> None:
    async def conversation(session: ClientSession) -> None:
        made = await call(
            session,
            "create_goal",
            title="Run 100 km",
            target_date=in_a_year(),
            unit="km",
            target=100,
            cumulative=True,
        )
        goal_id = made["goal_id"]
        week = await call(session, "agenda", days=7)
        assert [g["title"] for g in week["goals"]] == ["Run 100 km"]
        assert week["habits"]  # the starting plan's habit is due this week

        before = await call(session, "goal_status", goal="run")
        assert before["id"] == goal_id and before["metric"]["unit"] == "km"
        assert before["forecast"]["current"] == 0

        logged = await call(session, "log_progress", goal=str(goal_id), value=12, unit="km")
        assert logged["goal"] == "Run 100 km" and "12% of the way" in logged["standing"]
        after = await call(session, "goal_status", goal=str(goal_id))
        assert after["forecast"]["current"] == 12 and after["forecast"]["percent"] == 12
        assert after["summary"].startswith("That is 12% of the way")

        listed = json.loads(await read(session, "psi://goals"))["goals"]
        assert [(g["title"], g["percent"]) for g in listed] == [("Run 100 km", 12)]
        assert listed[0]["id"] == goal_id

    talk(psi_home, conversation)


def test_bad_input_comes_back_as_a_tool_error_that_says_what_to_do(psi_home: Path) -> None:
    async def conversation(session: ClientSession) -> None:
        unknown = await failure(session, "goal_status", goal="999")
        assert "No goal 999" in unknown and "psi goal list" in unknown
        assert "No goal matches 'marathon'" in await failure(
            session, "goal_status", goal="marathon"
        )
        bad_date = await failure(session, "create_goal", title="Read", target_date="soon")
        assert "Bad arguments for create_goal: target_date" in bad_date
        assert "Bad arguments for recall: query" in await failure(session, "recall")
        assert "psi has no tool 'fly'" in await failure(session, "fly")
        with_words = await failure(session, "remember", statement="...")
        assert "not something psi can remember" in with_words
        with pytest.raises(MCPError, match="psi has no resource psi://notes"):
            await session.read_resource("psi://notes")
        # The server is still there for the next call.
        assert await call(session, "agenda") == {
            "tasks": [],
            "habits": [],
            "overdue": [],
            "goals": [],
        }

    talk(psi_home, conversation)


def test_writes_are_audited_without_the_words_of_what_memory_holds(
    psi_home: Path, store: Store
) -> None:
    async def conversation(session: ClientSession) -> None:
        await call(session, "remember", statement="my locker code is 4711")
        await call(session, "recall", query="locker")
        await call(session, "forget", description="my locker code")

    talk(psi_home, conversation)
    entries = Audit(store, user_id=store.ensure_user("local")).entries()
    assert [e.action for e in entries] == ["ran", "ran"]  # recall only reads
    assert all(e.reason == "asked by an MCP client (psi mcp)" for e in entries)
    forgotten, remembered = entries
    assert remembered.subject.startswith("remember(") and "4711" not in remembered.subject
    assert forgotten.subject.startswith("forget(") and "locker" not in forgotten.subject


def test_the_cli_starts_without_the_mcp_sdk() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, psi.cli.main; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'mcp'" not in loaded and "psi.mcp" not in loaded
