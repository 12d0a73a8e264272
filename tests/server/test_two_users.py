"""Two people on one psi serve, each chatting through the official openai SDK and using an
MCP client over HTTP with their own token: what each tells psi stays theirs, through recall,
resources, goals and the REST API alike, and nobody without a token gets in (401)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import openai
import pytest
from mcp import ClientSession, MCPError

from psi.config import load_settings
from psi.server.app import create_app
from support.serving import add_user, call, failure, mcp_client, read, serving

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[server]
rate_limit = "1000/minute"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""


@dataclass
class Person:
    name: str
    told_in_chat: str  # "remember that ...", said to psi over /v1/chat/completions
    chat_fact: str  # the fact psi keeps from it
    told_over_mcp: str  # given to the MCP tool remember
    mcp_fact: str
    words: str  # a query that finds both
    goal: str
    token: str = ""
    goal_id: int = 0


def test_two_users_never_see_each_others_data(write_config: Callable[[str], Path]) -> None:
    write_config(CONFIG)
    alice = Person(
        "alice",
        "Remember that my locker code is 4711.",
        "locker code",
        "my sister Ana lives in Lisbon",
        "Ana lives in Lisbon",
        "locker code sister Ana Lisbon",
        "Run a marathon",
    )
    bob = Person(
        "bob",
        "Remember that my cat is called Miso.",
        "cat is called Miso",
        "my dentist is Dr Okafor",
        "dentist is Dr Okafor",
        "cat Miso dentist Okafor",
        "Read more novels",
    )
    people = (alice, bob)
    for person in people:
        person.token = add_user(person.name)
    in_a_year = str(date.today() + timedelta(days=365))

    with serving(create_app(load_settings())) as url:

        def rest(person: Person | None, method: str, path: str, **kw: Any) -> httpx2.Response:
            headers = {"Authorization": f"Bearer {person.token}"} if person else {}
            return httpx2.request(method, url + path, headers=headers, **kw)

        def mcp(person: Person | None, conversation: Any) -> None:
            async def run() -> None:
                with anyio.fail_after(60):
                    async with mcp_client(url, person.token if person else None) as session:
                        await conversation(session)

            anyio.run(run)

        # Each tells psi something in a chat and something through their MCP client.
        for person in people:
            chat = openai.OpenAI(base_url=f"{url}/v1", api_key=person.token, max_retries=0)
            reply = chat.chat.completions.create(
                model="psi", messages=[{"role": "user", "content": person.told_in_chat}]
            )
            assert person.chat_fact.split()[-1] in (reply.choices[0].message.content or "")

            async def tell(session: ClientSession, person: Person = person) -> None:
                kept = await call(session, "remember", statement=person.told_over_mcp)
                assert person.mcp_fact in kept["remembered"]
                made = await call(
                    session, "create_goal", title=person.goal, target_date=in_a_year,
                    unit="km", target=100, cumulative=True,
                )  # fmt: skip
                person.goal_id = made["goal_id"]

            mcp(person, tell)

        # Each sees their own, and nothing of the other's, whichever way they look.
        for me, other in ((alice, bob), (bob, alice)):

            async def look(session: ClientSession, me: Person = me, other: Person = other) -> None:
                mine = await call(session, "recall", query=me.words)
                facts = " ".join(f["statement"] for f in mine["facts"])
                assert me.chat_fact in facts and me.mcp_fact in facts
                assert any(me.told_in_chat in s["text"] for s in mine["said"])
                theirs = await call(session, "recall", query=other.words)
                seen = json.dumps(theirs)
                assert other.chat_fact not in seen and other.mcp_fact not in seen
                assert other.told_in_chat not in seen

                profile = await read(session, "psi://profile")
                assert me.mcp_fact in profile and other.mcp_fact not in profile
                assert other.chat_fact not in profile
                goals = json.loads(await read(session, "psi://goals"))["goals"]
                assert [g["title"] for g in goals] == [me.goal]
                week = await call(session, "agenda", days=7)
                assert [g["title"] for g in week["goals"]] == [me.goal]
                assert f"No goal {other.goal_id}" in await failure(
                    session, "goal_status", goal=str(other.goal_id)
                )
                assert "No goal matches" in await failure(
                    session, "goal_status", goal=other.goal.split()[0]
                )
                # Progress on the other's goal id: psi asks which of one's own goals it is.
                logged = await call(
                    session, "log_progress", goal=str(other.goal_id), value=5, unit="km"
                )
                assert [g["title"] for g in logged["candidates"]] == [me.goal]
                # Forgetting the other's words finds nothing to forget.
                gone = await call(session, "forget", description=other.told_over_mcp)
                assert gone["facts"] == [] and gone["messages"] == 0

            mcp(me, look)

            search = rest(me, "GET", "/api/memories/search", params={"q": other.words})
            assert search.status_code == 200
            assert other.told_in_chat not in search.text
            own = rest(me, "GET", "/api/memories/search", params={"q": me.words}).text
            assert me.told_in_chat in own
            profile = rest(me, "GET", "/api/profile").json()["text"]
            assert me.mcp_fact in profile and other.mcp_fact not in profile
            goals = rest(me, "GET", "/api/goals").json()["data"]
            assert [g["title"] for g in goals] == [me.goal]
            assert rest(me, "GET", f"/api/goals/{other.goal_id}").status_code == 404
            checkin = rest(me, "POST", f"/api/goals/{other.goal_id}/checkins", json={"value": 1})
            assert checkin.status_code == 404
            said = rest(me, "GET", "/api/conversations").json()["data"]
            assert len(said) == 1
            audit = json.dumps(rest(me, "GET", "/api/audit").json())
            assert me.goal in audit and other.goal not in audit  # create_goal, audited

        # The other's attempts changed nothing: each still has their facts and their goal.
        for person in people:

            async def still(session: ClientSession, person: Person = person) -> None:
                facts = (await call(session, "recall", query=person.words))["facts"]
                assert len(facts) == 2
                status = await call(session, "goal_status", goal=str(person.goal_id))
                assert status["forecast"]["current"] == 0

            mcp(person, still)

        # No token, or a wrong one: 401 everywhere.
        for path in ("/v1/models", "/api/profile", "/api/goals", "/api/memories/search?q=x"):
            assert rest(None, "GET", path).status_code == 401
        assert rest(None, "POST", "/mcp", json={}).status_code == 401
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(
                base_url=f"{url}/v1", api_key="psi_0000000a_" + "x" * 40, max_retries=0
            ).chat.completions.create(model="psi", messages=[{"role": "user", "content": "hi"}])

        async def never(session: ClientSession) -> None:
            raise AssertionError("no session without a token")

        with pytest.raises(ExceptionGroup) as caught:
            mcp(None, never)
        assert caught.group_contains(MCPError, match="needs an API token", depth=None)
