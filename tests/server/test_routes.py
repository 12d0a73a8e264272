"""The REST routes that match `psi memory`, `psi goal replan|show`, `psi review` and
`psi config`: what they return, what they change, and what they refuse."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from psi.config import load_settings
from psi.server.app import create_app
from psi.server.tokens import Tokens
from psi.store.db import Store, open_store
from psi.store.models import User

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[goals]
webhook_url = "https://ntfy.example/psi?auth=s3cret-token"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""


@dataclass
class Api:
    client: TestClient
    store: Store
    tokens: dict[str, str]

    def __call__(self, method: str, path: str, user: str = "ada", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, user: str = "ada", **kwargs: Any) -> Any:
        response = self(method, path, user, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture
def api(write_config: Callable[[str], Path]) -> Iterator[Api]:
    write_config(CONFIG)
    settings = load_settings()
    store = open_store(settings.db_url)
    tokens = Tokens(store)
    plain = {}
    for name, admin in (("ada", False), ("bo", False), ("root", True)):
        user_id = store.ensure_user(name)
        with store.session() as session:
            row = session.get(User, user_id)
            assert row is not None
            row.is_admin = admin
        plain[name] = tokens.issue(user_id)
    with TestClient(create_app(settings, store=store)) as client:
        yield Api(client, store, plain)


def chat(api: Api, text: str, user: str = "ada") -> int:
    body = {"messages": [{"role": "user", "content": text}]}
    return int(api.ok("POST", "/v1/chat/completions", user, json=body)["psi_conversation_id"])


def said(api: Api, user: str = "ada", count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found: list[dict[str, Any]] = api.ok("GET", "/api/memories", user, params={"limit": 100})[
            "data"
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_memories_page_show_and_edit_as_the_cli_does(api: Api) -> None:
    for n in range(3):
        chat(api, f"Note number {n} about the garden.")
    chat(api, "Remember that my sister lives in Porto.")
    episodes = said(api, count=8)
    assert len(episodes) == 8
    first = api.ok("GET", "/api/memories", params={"limit": 5})
    assert len(first["data"]) == 5 and first["next_offset"] == 5
    rest = api.ok("GET", "/api/memories", params={"limit": 5, "offset": 5})
    assert len(rest["data"]) == 3 and rest["next_offset"] is None
    assert {e["id"] for e in first["data"]}.isdisjoint({e["id"] for e in rest["data"]})

    shown = api.ok("GET", f"/api/memories/{episodes[-1]['ref']}")
    assert shown["kind"] == "said" and shown["around"] and shown["conversation_id"]
    facts = api.ok("GET", "/api/memories", params={"kind": "facts"})["data"]
    fact = next(f for f in facts if "Porto" in f["statement"])
    assert fact["ref"] == f"f{fact['id']}"

    edited = api.ok("PATCH", f"/api/memories/{fact['ref']}",
                    json={"statement": "Your sister lives in Lisbon."})  # fmt: skip
    assert edited["statement"] == "Your sister lives in Lisbon." and edited["origin"] == "edited"
    assert api.ok("GET", f"/api/memories/{fact['ref']}")["history"][-1]["statement"] == (
        "Your sister lives in Lisbon."
    )
    record = api("PATCH", f"/api/memories/{shown['id']}", json={"statement": "Other words."})
    assert record.status_code == 400 and "Only facts" in record.json()["error"]["message"]
    bad = api("PATCH", f"/api/memories/{fact['ref']}", json={"statement": ""})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "statement"
    assert api("GET", "/api/memories/x7").status_code == 422

    assert api("DELETE", f"/api/memories/{fact['ref']}").status_code == 204
    assert api("GET", f"/api/memories/{fact['ref']}").status_code == 404


def test_export_is_the_cli_file_and_imports_into_another_user(api: Api, tmp_path: Path) -> None:
    from psi.memory.control import export_memory
    from psi.memory.service import Memory

    chat(api, "My bike is teal and fast.")
    said(api, count=2)
    exported = api.ok("GET", "/api/memories/export")
    assert exported["format"] == "psi-memory" and exported["version"] == 1
    memory = Memory(api.store, user_id=api.store.ensure_user("ada"))
    export_memory(memory, tmp_path / "mine.json")
    import json

    written = json.loads((tmp_path / "mine.json").read_text())
    assert {**written, "exported_at": None} == {**exported, "exported_at": None}

    assert api.ok("POST", "/api/memories/import", "bo", json=exported) == {"imported": 2}
    texts = [e["text"] for e in said(api, "bo", count=2)]
    assert any("teal" in t for t in texts)

    broken = {**exported, "conversations": [{"messages": [{"role": "wizard", "content": "x"}]}]}
    refused = api("POST", "/api/memories/import", "bo", json=broken)
    assert refused.status_code == 400 and "role" in refused.json()["error"]["message"]
    assert len(api.ok("GET", "/api/conversations", "bo")["data"]) == 1  # nothing more stored
    wrong = api("POST", "/api/memories/import", "bo", json={"format": "other", "version": 1})
    assert wrong.status_code == 422


def make_goal(api: Api) -> int:
    made = api.ok("POST", "/api/goals",
                  json={"title": "Read 24 books", "target_date": "2030-12-31", "unit": "books",
                        "baseline": 0, "target": 24, "cumulative": True})  # fmt: skip
    return int(made["goal_id"])


def test_goal_plan_redraft_save_and_refuse(api: Api) -> None:
    goal = make_goal(api)
    plan = api.ok("GET", f"/api/goals/{goal}/plan")
    assert plan["milestones"] and all(m["id"].startswith("m") for m in plan["milestones"])

    drafted = api.ok("POST", f"/api/goals/{goal}/plan", json={"no_model": True})
    assert drafted["source"] == "fallback" and drafted["saved"] is False and drafted["notes"]
    assert api.ok("GET", f"/api/goals/{goal}/plan") == plan  # only shown

    # The scripted model answers with an echo, not a plan: psi's own plan, saying why.
    by_model = api.ok("POST", f"/api/goals/{goal}/plan", json={"save": True})
    assert by_model["source"] == "fallback" and by_model["saved"] is True
    assert any("demo" in n or "model" in n.lower() for n in by_model["notes"])

    mine = {"milestones": [{"title": "A dozen", "due": "2029-06-01", "value": 12}],
            "habits": [{"title": "Read 20 pages", "rule": "FREQ=DAILY"}]}  # fmt: skip
    saved = api.ok("PUT", f"/api/goals/{goal}/plan", json=mine)
    assert [m["title"] for m in saved["milestones"]] == ["A dozen"]
    assert [h["title"] for h in saved["habits"] if h["active"]] == ["Read 20 pages"]
    outside = {"milestones": [{"title": "Too late", "due": "2035-01-01"}]}
    refused = api("PUT", f"/api/goals/{goal}/plan", json=outside)
    assert refused.status_code == 400 and "does not fit" in refused.json()["error"]["message"]
    assert api.ok("GET", f"/api/goals/{goal}/plan") == saved


def test_forecast_and_review(api: Api) -> None:
    goal = make_goal(api)
    first = api.ok("GET", f"/api/goals/{goal}/forecast")
    assert first["forecast"]["current"] == 0 and first["values"] == []
    for value in (2, 3):
        api.ok("POST", f"/api/goals/{goal}/checkins", json={"value": value})
    shown = api.ok("GET", f"/api/goals/{goal}/forecast")
    f = shown["forecast"]
    assert f["current"] == 5 and f["status"] in ("on_track", "at_risk", "off_track",
                                                  "not_enough_data")  # fmt: skip
    assert [v["value"] for v in shown["values"]] == [2, 3]
    assert shown["metric"]["unit"] == "books"

    review = api.ok("GET", "/api/review", params={"no_model": True})
    (entry,) = review["goals"]
    assert entry["id"] == goal and entry["check_ins"] == 2
    assert entry["suggestion"]["source"] == "rule" and entry["suggestion"]["text"]
    assert any("check-ins" in m for m in entry["moved"]) and "books" in entry["forecast"]
    assert api.ok("GET", "/api/review", "bo")["goals"] == []
    assert api("GET", "/api/review", params={"model": "nope"}).status_code == 400


def test_settings_masked_and_changed_by_an_admin_only(api: Api, psi_home: Path) -> None:
    shown = api.ok("GET", "/api/settings")
    webhook = shown["settings"]["goals"]["webhook_url"]
    assert "s3cret" not in webhook and "auth=********" in webhook
    assert shown["settings"]["server"]["request_timeout"] == 300
    config = psi_home / "config.toml"
    before = config.read_text()

    assert api("PATCH", "/api/settings", json={"goals": {"max_per_day": 2}}).status_code == 403
    wrong = {"server": {"rate_limit": "fast", "port": 0}, "timezone": "Europe/Berlin"}
    bad = api("PATCH", "/api/settings", "root", json=wrong)
    assert bad.status_code == 422
    locs = {tuple(d["loc"]) for d in bad.json()["detail"]}
    assert locs == {("body", "server", "rate_limit"), ("body", "server", "port")}
    assert config.read_text() == before  # nothing stored, not even the good value

    changed = api.ok("PATCH", "/api/settings", "root",
                     json={"goals.max_per_day": 2, "server": {"request_timeout": 60}})  # fmt: skip
    assert set(changed["pending_restart"]) == {"goals.max_per_day", "server.request_timeout"}
    assert changed["settings"]["goals"]["max_per_day"] == 6  # the server runs as it started
    saved = load_settings()
    assert saved.goals.max_per_day == 2 and saved.server.request_timeout == 60
    assert "s3cret-token" in config.read_text()  # the file keeps what was there

    back = api.ok("PATCH", "/api/settings", "root", json={"goals": {"max_per_day": None}})
    assert back["pending_restart"] == ["server.request_timeout"]
    home = api("PATCH", "/api/settings", "root", json={"home": "/tmp"})
    assert home.status_code == 422 and home.json()["detail"][0]["loc"] == ["body", "home"]


def test_a_new_timezone_keeps_every_users_habits_at_their_wall_time(api: Api) -> None:
    make_goal(api)
    moved = api.ok("PATCH", "/api/settings", "root", json={"timezone": "Pacific/Auckland"})
    assert moved["moved"] >= 1
    assert load_settings().timezone == "Pacific/Auckland"


def test_every_list_is_a_page(api: Api) -> None:
    """limit and offset on each list route, and the same shape of answer."""
    schema = api.client.get("/openapi.json").json()
    # Rankings: the best `limit`, no further pages.
    ranked = {"/api/memories/search", "/api/docs/search"}
    lists = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or ("{" in path and not path.endswith("/messages")):
            continue
        names = {p["name"] for p in get.get("parameters", [])}
        if "limit" in names and path not in ranked:
            assert "offset" in names, path
            lists.append(path)
    assert {"/api/memories", "/api/goals", "/api/tokens", "/api/users", "/api/approvals",
            "/api/audit", "/api/egress", "/api/conversations"} <= set(lists)  # fmt: skip
    for path in lists:
        if "{" in path:
            continue
        body = api.ok("GET", path, "root", params={"limit": 1})
        assert set(body) >= {"data", "limit", "offset", "next_offset"}, path
