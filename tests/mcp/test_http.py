"""psi's MCP server over streamable HTTP under `psi serve`: the SDK's own client against a
real uvicorn server on 127.0.0.1, with a token from `psi user add`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import anyio
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import ClientSession, MCPError

from psi.config import load_settings
from psi.safety.audit import Audit
from psi.server.app import create_app
from psi.store.db import Store
from support.serving import add_user, call, failure, mcp_client, read, serving

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

SEVEN = {"recall", "remember", "forget", "agenda", "goal_status", "log_progress", "create_goal"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@dataclass
class Served:
    url: str
    token: str


@pytest.fixture
def served() -> Iterator[Served]:
    token = add_user("ada")
    with serving(create_app(load_settings())) as url:
        yield Served(url, token)


def talk(
    url: str, token: str | None, conversation: Callable[[ClientSession], Awaitable[None]]
) -> None:
    async def run() -> None:
        with anyio.fail_after(60):
            async with mcp_client(url, token) as session:
                await conversation(session)

    anyio.run(run)


def in_a_year() -> str:
    return str(date.today() + timedelta(days=365))


def test_an_mcp_client_uses_psi_serve_at_mcp_with_its_token(served: Served) -> None:
    async def conversation(session: ClientSession) -> None:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed) == SEVEN
        assert listed["forget"].annotations and listed["forget"].annotations.destructive_hint
        resources = {str(r.uri) for r in (await session.list_resources()).resources}
        assert resources == {"psi://profile", "psi://goals"}

        assert await read(session, "psi://profile") == "psi knows nothing about the user yet."
        kept = await call(session, "remember", statement="remember that my dog is called Rex")
        assert kept["remembered"] == "Your dog is called Rex."
        found = await call(session, "recall", query="what is my dog called?")
        assert [f["statement"] for f in found["facts"]] == ["Your dog is called Rex."]
        assert "Rex" in await read(session, "psi://profile")

        assert await call(session, "agenda") == {
            "tasks": [],
            "habits": [],
            "overdue": [],
            "goals": [],
        }
        made = await call(
            session, "create_goal", title="Run 100 km", target_date=in_a_year(),
            unit="km", target=100, cumulative=True,
        )  # fmt: skip
        week = await call(session, "agenda", days=7)
        assert [g["title"] for g in week["goals"]] == ["Run 100 km"]
        await call(session, "log_progress", goal=str(made["goal_id"]), value=12, unit="km")
        status = await call(session, "goal_status", goal="run")
        assert status["id"] == made["goal_id"] and status["forecast"]["current"] == 12
        goals = json.loads(await read(session, "psi://goals"))["goals"]
        assert [(g["title"], g["percent"]) for g in goals] == [("Run 100 km", 12)]
        assert "No goal 999" in await failure(session, "goal_status", goal="999")

    talk(served.url, served.token, conversation)

    # The same user's REST API sees what the MCP client wrote.
    headers = {"Authorization": f"Bearer {served.token}"}
    profile = httpx2.get(served.url + "/api/profile", headers=headers).json()["text"]
    assert "Rex" in profile
    titles = [
        g["title"] for g in httpx2.get(served.url + "/api/goals", headers=headers).json()["data"]
    ]
    assert titles == ["Run 100 km"]


def test_writes_over_http_are_audited_for_the_tokens_user(served: Served, store: Store) -> None:
    async def conversation(session: ClientSession) -> None:
        await call(session, "remember", statement="my locker code is 4711")
        await call(session, "forget", description="my locker code")

    talk(served.url, served.token, conversation)
    entries = Audit(store, user_id=store.ensure_user("ada")).entries()
    assert [e.subject.split("(")[0] for e in entries] == ["forget", "remember"]
    assert all(e.reason == "asked by an MCP client over HTTP (psi serve)" for e in entries)
    assert all("4711" not in e.subject for e in entries)
    assert Audit(store, user_id=store.ensure_user("local")).entries() == []


def test_no_token_or_a_bad_one_is_401_with_what_to_do(served: Served) -> None:
    endpoint = served.url + "/mcp"
    bare = httpx2.post(endpoint, json=INITIALIZE, headers=ACCEPT)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert "needs an API token" in bare.json()["error"]["message"]
    for wrong in ("psi_nope", "psi_0000000a_" + "x" * 40, served.token + "x"):
        refused = httpx2.post(
            endpoint, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {wrong}"}
        )
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert "psi user rotate" in refused.json()["error"]["message"]
    assert httpx2.get(endpoint, headers=ACCEPT).status_code == 401

    # The SDK's client reports psi's message.
    async def nothing(session: ClientSession) -> None:
        raise AssertionError("the session should not have started")

    for token, said in ((None, "needs an API token"), ("psi_nope", "not valid")):
        with pytest.raises(ExceptionGroup) as caught:
            talk(served.url, token, nothing)
        assert caught.group_contains(MCPError, match=said, depth=None)

    # With the token, a plain JSON-RPC POST is answered in JSON (stateless: no session id).
    answered = httpx2.post(
        endpoint, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {served.token}"}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["result"]["serverInfo"]["name"] == "psi"
    assert "mcp-session-id" not in answered.headers


def test_the_endpoint_runs_with_each_lifespan_of_the_app(psi_home: object) -> None:
    token = add_user("ada")
    app = create_app(load_settings())
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    # Outside the app's lifespan the SDK's task group is not there: 503, not a crash.
    idle = TestClient(app).post("/mcp", json=INITIALIZE, headers=headers)
    assert idle.status_code == 503 and "starts and stops with psi serve" in idle.text
    for _ in range(2):
        with TestClient(app) as client:
            answered = client.post("/mcp", json=INITIALIZE, headers=headers)
            assert answered.status_code == 200, answered.text


def test_the_servers_limits_hold_at_mcp_too(write_config: Callable[[str], Path]) -> None:
    write_config('[server]\nrate_limit = "3/minute"\nmax_body_bytes = 2000\n')
    token = add_user("ada")
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    with TestClient(create_app(load_settings())) as client:
        big = {**INITIALIZE, "padding": "x" * 5000}
        assert client.post("/mcp", json=big, headers=headers).status_code == 413
        codes = [
            client.post("/mcp", json=INITIALIZE, headers=headers).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
