"""Every route of psi serve, each user's alone: the owner gets it, another user gets 404 for
the owner's row (or a list without it), no token gets 401. A route missing from CASES fails
the test, so a new route joins it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient

from psi.config import load_settings
from psi.memory.facts import Facts
from psi.safety.approval import Approvals, Request
from psi.server.app import create_app
from psi.server.tokens import Tokens
from psi.store.db import open_store

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""

Kind = Literal["owned", "list", "self", "shared", "admin"]


@dataclass
class Case:
    """`owned`: another user gets 404. `list`: another user gets 200 without `marker`.
    `self`: acts on the caller alone. `shared`: the same for everyone. `admin`: 403 for
    anyone else."""

    method: str
    route: str
    kind: Kind
    path: str = ""
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    marker: str = ""


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, Any]

    def call(self, case: Case, user: str | None) -> Any:
        headers = dict(case.headers)
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return self.client.request(
            case.method, case.path or case.route, json=case.json, params=case.params,
            headers=headers,
        )  # fmt: skip

    def get(self, path: str, user: str, **params: Any) -> Any:
        response = self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.tokens[user]}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, user: str, json: Any = None) -> Any:
        response = self.client.request(
            method, path, json=json, headers={"Authorization": f"Bearer {self.tokens[user]}"}
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture
def world(write_config: Callable[[str], Path], tmp_path: Path) -> Iterator[World]:
    from psi.knowledge.library import Library

    write_config(CONFIG)
    settings = load_settings()
    store = open_store(settings.db_url)
    tokens = Tokens(store)
    users = {name: store.ensure_user(name) for name in ("alice", "bob", "root")}
    from psi.store.models import User

    with store.session() as session:
        row = session.get(User, users["root"])
        assert row is not None
        row.is_admin = True
    plain = {name: tokens.issue(user_id) for name, user_id in users.items()}
    with TestClient(create_app(settings, store=store)) as client:
        w = World(client, plain, {})
        said = w.send(
            "POST", "/v1/chat/completions", "alice", ask("Remember that my locker is 4711.")
        )
        w.ids["conversation"] = said["psi_conversation_id"]
        w.send("POST", "/v1/chat/completions", "alice", ask("Remember that my bike is teal."))
        facts = {f.statement: f.id for f in Facts(store, user_id=users["alice"]).current()}
        w.ids["fact"] = next(i for s, i in facts.items() if "4711" in s)
        w.ids["fact2"] = next(i for s, i in facts.items() if "teal" in s)
        deadline = time.monotonic() + 10
        while not w.get("/api/memories", "alice")["data"] and time.monotonic() < deadline:
            time.sleep(0.05)
        w.ids["episode"] = w.get("/api/memories", "alice")["data"][0]["id"]
        goal = w.send("POST", "/api/goals", "alice",
                      {"title": "Read 12 novels", "target_date": "2030-06-01", "unit": "books",
                       "baseline": 0, "target": 12, "cumulative": True})  # fmt: skip
        w.ids["goal"] = goal["goal_id"]
        w.send("POST", f"/api/goals/{goal['goal_id']}/checkins", "alice", {"value": 1})
        plan = w.get(f"/api/goals/{goal['goal_id']}/plan", "alice")
        w.ids["milestone"] = plan["milestones"][0]["id"]
        w.ids["approval"] = Approvals(store, user_id=users["alice"]).hold(
            Request(tool="web_fetch", arguments={"url": "http://127.0.0.1:9/"}, risk="outward",
                    reason="test", action="web_fetch(...)")
        )  # fmt: skip
        w.ids["token"] = tokens.list(users["alice"])[0].id
        tokens.issue(users["alice"], label="spare")
        w.ids["spare_token"] = tokens.list(users["alice"])[-1].id
        w.ids["export"] = w.get("/api/memories/export", "alice")
        note = tmp_path / "Porto.md"
        note.write_text("# Porto trip\n\nBring the blue raincoat.\n")
        alices = Library(store, user_id=users["alice"])
        alices.add([note], embed=False)
        w.ids["document"] = alices.index.listed()[0].id
        yield w


def ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def cases(ids: dict[str, Any]) -> list[Case]:
    c, g, f = ids["conversation"], ids["goal"], ids["fact"]
    plan = {"milestones": [{"title": "Half way", "due": "2028-01-01", "value": 6}]}
    return [
        Case("GET", "/v1/models", "shared"),
        Case("POST", "/v1/chat/completions", "owned",
             json={"messages": [{"role": "user", "content": "and now?"}]},
             headers={"X-Psi-Conversation": str(c)}),
        Case("GET", "/api/conversations", "list", marker="4711"),
        Case("GET", "/api/conversations/{conversation_id}/messages", "owned",
             path=f"/api/conversations/{c}/messages"),
        Case("GET", "/api/memories", "list", marker="4711"),
        Case("GET", "/api/memories/search", "list", params={"q": "locker 4711"}, marker="4711"),
        Case("GET", "/api/memories/export", "list", marker="4711"),
        Case("POST", "/api/memories/import", "self", json=ids["export"]),
        Case("GET", "/api/memories/{ref}", "owned", path=f"/api/memories/f{f}"),
        Case("PATCH", "/api/memories/{ref}", "owned", path=f"/api/memories/f{f}",
             json={"statement": "Your locker is 4712."}),
        Case("DELETE", "/api/memories/{ref}", "owned", path=f"/api/memories/f{ids['fact2']}"),
        Case("GET", "/api/profile", "self"),
        Case("PUT", "/api/profile", "self", json={"text": "Reads novels."}),
        Case("GET", "/api/docs", "list", marker="Porto trip"),
        Case("GET", "/api/docs/search", "list", params={"q": "raincoat"}, marker="raincoat"),
        Case("DELETE", "/api/docs/{document_id}", "owned", path=f"/api/docs/{ids['document']}"),
        Case("GET", "/api/goals", "list", marker="Read 12 novels"),
        Case("POST", "/api/goals", "self", json={"title": "Walk", "target_date": "2031-01-01"}),
        Case("GET", "/api/goals/{goal_id}", "owned", path=f"/api/goals/{g}"),
        Case("POST", "/api/goals/{goal_id}/checkins", "owned", path=f"/api/goals/{g}/checkins",
             json={"value": 2}),
        # Before the plan is replaced: its milestones go with it.
        Case("POST", "/api/items/{item}/done", "owned", path=f"/api/items/{ids['milestone']}/done"),
        Case("GET", "/api/goals/{goal_id}/plan", "owned", path=f"/api/goals/{g}/plan"),
        Case("POST", "/api/goals/{goal_id}/plan", "owned", path=f"/api/goals/{g}/plan",
             json={"no_model": True}),
        Case("PUT", "/api/goals/{goal_id}/plan", "owned", path=f"/api/goals/{g}/plan", json=plan),
        Case("GET", "/api/goals/{goal_id}/forecast", "owned", path=f"/api/goals/{g}/forecast"),
        Case("GET", "/api/agenda", "list", params={"days": 7}, marker="Read 12 novels"),
        Case("GET", "/api/review", "list", marker="Read 12 novels"),
        Case("GET", "/api/approvals", "list", marker="web_fetch"),
        Case("POST", "/api/approvals/{approval_id}/{decision}", "owned",
             path=f"/api/approvals/{ids['approval']}/deny"),
        Case("GET", "/api/audit", "list", marker=f'"conversation_id": {c}'),
        Case("GET", "/api/egress", "list"),
        Case("GET", "/api/users", "admin"),
        Case("POST", "/api/users", "admin", json={"name": "cleo"}),
        Case("GET", "/api/tokens", "list", marker=f'"id": {ids["token"]},'),
        Case("DELETE", "/api/tokens/{token_id}", "owned",
             path=f"/api/tokens/{ids['spare_token']}"),
        Case("GET", "/api/settings", "shared"),
        Case("PATCH", "/api/settings", "admin", json={"goals": {"max_per_day": 3}}),
        # Last: it revokes the caller's token.
        Case("POST", "/api/tokens/rotate", "self"),
    ]  # fmt: skip


def test_every_route_is_its_owners_alone(world: World) -> None:
    import json

    table = cases(world.ids)
    schema = world.client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert routes == {(c.method, c.route) for c in table}, "a route is missing from CASES"
    for case in table:
        where = f"{case.method} {case.path or case.route}"
        assert world.call(case, None).status_code == 401, where
        if case.kind == "owned":
            other = world.call(case, "bob")
            assert other.status_code == 404, f"{where}: {other.status_code} {other.text}"
        elif case.kind == "list":
            other = world.call(case, "bob")
            assert other.status_code == 200, f"{where}: {other.text}"
            assert not case.marker or case.marker not in json.dumps(other.json()), where
        elif case.kind == "admin":
            assert world.call(case, "alice").status_code == 403, where
        owner = world.call(case, "root" if case.kind == "admin" else "alice")
        assert owner.status_code < 300, f"{where}: {owner.status_code} {owner.text}"
        if case.kind == "list" and case.marker:
            assert case.marker in json.dumps(owner.json()), where
