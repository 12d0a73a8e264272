"""`psi serve` with two users: the official openai SDK as the client (streaming too),
bearer tokens, and each user's data out of the other's reach."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai
import pytest
import uvicorn
from typer.testing import CliRunner

from psi.cli.main import app as cli
from psi.config import load_settings
from psi.safety.approval import Approvals, Request
from psi.server.app import create_app
from psi.store.db import open_store

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

runner = CliRunner()

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""


@dataclass
class Server:
    url: str
    tokens: dict[str, str]

    def client(self, user: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.tokens[user], max_retries=0)

    def get(self, path: str, user: str | None = None, **kwargs: object) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx2.get(self.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, user: str | None = None, **kwargs: object) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx2.post(self.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def add_user(name: str) -> str:
    result = runner.invoke(cli, ["user", "add", name])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def server(write_config: Callable[[str], Path]) -> Iterator[Server]:
    write_config(CONFIG)
    tokens = {name: add_user(name) for name in ("alice", "bob")}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(load_settings()), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", tokens)
    running.should_exit = True
    thread.join(timeout=10)


def test_chat_through_the_openai_sdk_whole_and_streamed(server: Server) -> None:
    alice = server.client("alice")
    models = [m.id for m in alice.models.list()]
    assert models[0] == "psi" and "demo" in models
    reply = alice.chat.completions.create(
        model="psi", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert reply.choices[0].message.content == "You said: Hello there"
    stream = alice.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "count to three"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 2 and "".join(pieces) == "You said: count to three"


def test_each_user_sees_only_their_own_data(server: Server) -> None:
    reply = server.client("alice").chat.completions.create(
        model="psi", messages=[{"role": "user", "content": "Remember that my locker is 4711."}]
    )
    conversation = reply.model_extra["psi_conversation_id"]  # type: ignore[index]
    settings = load_settings()
    store = open_store(settings.db_url)
    alice_id = store.ensure_user("alice")
    held = Approvals(store, user_id=alice_id).hold(
        Request(
            tool="web_fetch",
            arguments={"url": "http://127.0.0.1:9/x"},
            risk="outward",
            reason="test",
            action="web_fetch(...)",
        )
    )
    assert [a["id"] for a in server.get("/api/approvals", "alice").json()["data"]] == [held]
    assert server.get("/api/approvals", "bob").json()["data"] == []
    denied = server.post(f"/api/approvals/{held}/deny", "bob")
    assert denied.status_code == 404 and "No approval" in denied.json()["error"]["message"]
    assert server.get("/api/audit", "bob").json()["data"] == []
    assert server.get("/api/audit", "alice").json()["data"]  # alice's verdicts
    with pytest.raises(openai.NotFoundError):
        server.client("bob").chat.completions.create(
            model="psi",
            messages=[{"role": "user", "content": "what is in there?"}],
            extra_headers={"X-Psi-Conversation": str(conversation)},
        )
    assert server.post(f"/api/approvals/{held}/deny", "alice").json()["status"] == "denied"


def test_no_token_or_a_bad_one_is_401(server: Server) -> None:
    for path in ("/v1/models", "/api/approvals", "/api/audit", "/api/egress"):
        assert server.get(path).status_code == 401
    bad = httpx2.get(server.url + "/v1/models", headers={"Authorization": "Bearer psi_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="psi_0000000a_" + "x" * 40,
                      max_retries=0).models.list()  # fmt: skip


def test_a_revoked_token_stops_working(server: Server) -> None:
    assert server.get("/v1/models", "bob").status_code == 200
    listed = runner.invoke(cli, ["user", "tokens", "bob"])
    token_id = listed.output.split()[0]
    assert runner.invoke(cli, ["user", "revoke", token_id]).exit_code == 0
    settings = load_settings()
    # The server process remembers verified tokens for a minute; a fresh one checks anew.
    fresh = create_app(settings)
    from fastapi.testclient import TestClient

    with TestClient(fresh) as client:
        headers = {"Authorization": f"Bearer {server.tokens['bob']}"}
        assert client.get("/v1/models", headers=headers).status_code == 401


def test_bad_requests_are_4xx_with_messages(server: Server) -> None:
    empty = server.post("/v1/chat/completions", "alice", json={"model": "psi", "messages": []})
    assert empty.status_code == 422
    last = server.post(
        "/v1/chat/completions", "alice",
        json={"messages": [{"role": "assistant", "content": "hi"}]},
    )  # fmt: skip
    assert last.status_code == 400 and "last message" in last.json()["error"]["message"]
    # Refused before anything is kept: the earlier turns start no conversation.
    before = server.get("/api/conversations", "alice").json()["data"]
    seeded = server.post(
        "/v1/chat/completions", "alice",
        json={"messages": [{"role": "user", "content": "keep me?"},
                           {"role": "assistant", "content": "   "}]},
    )  # fmt: skip
    assert seeded.status_code == 400
    assert server.get("/api/conversations", "alice").json()["data"] == before
    unknown = server.post(
        "/v1/chat/completions", "alice",
        json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
    )  # fmt: skip
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]
    assert server.get("/openapi.json").status_code == 200


def test_single_user_mode_makes_one_private_token_file(psi_home: Path) -> None:
    from psi.cli.serve_cmd import local_token
    from psi.server.tokens import Tokens

    settings = load_settings()
    store = open_store(settings.db_url)
    tokens = Tokens(store)
    path = local_token(settings, store, tokens)
    assert path == psi_home / "api-token" and (path.stat().st_mode & 0o777) == 0o600
    token = path.read_text().strip()
    assert tokens.verify(token) == store.ensure_user(settings.user)
    assert local_token(settings, store, tokens) is None  # kept, not remade
    assert tokens.verify(token.replace("_", "-", 1)) is None


def test_rest_routes_belong_to_their_owner(server: Server) -> None:
    alice = server.client("alice")
    reply = alice.chat.completions.create(
        model="psi", messages=[{"role": "user", "content": "My sister Ada lives in Lyon."}]
    )
    conversation = reply.model_extra["psi_conversation_id"]  # type: ignore[index]
    listed = server.get("/api/conversations", "alice").json()["data"]
    assert [c["id"] for c in listed] == [conversation]
    said = server.get(f"/api/conversations/{conversation}/messages", "alice").json()["data"]
    assert [m["role"] for m in said] == ["user", "assistant"]
    assert server.get("/api/conversations", "bob").json()["data"] == []
    assert server.get(f"/api/conversations/{conversation}/messages", "bob").status_code == 404
    # Memory: indexed after the reply; wait for the background indexer of that turn.
    deadline = time.monotonic() + 10
    found: list[dict[str, object]] = []
    while not found and time.monotonic() < deadline:
        found = server.get("/api/memories/search", "alice", params={"q": "sister Lyon"}).json()[
            "data"
        ]
        time.sleep(0.05)
    assert found and "Lyon" in str(found[0]["text"])
    assert server.get("/api/memories/search", "bob", params={"q": "sister Lyon"}).json() == {
        "data": []
    }
    memory = found[0]["id"]
    assert httpx2.delete(f"{server.url}/api/memories/{memory}",
                         headers={"Authorization": f"Bearer {server.tokens['bob']}"}
                         ).status_code == 404  # fmt: skip
    gone = httpx2.delete(
        f"{server.url}/api/memories/{memory}",
        headers={"Authorization": f"Bearer {server.tokens['alice']}"},
    )
    assert gone.status_code == 204
    after = server.get("/api/memories/search", "alice", params={"q": "sister Lyon"}).json()
    assert memory not in [m["id"] for m in after["data"]]
    put = httpx2.put(f"{server.url}/api/profile", json={"text": "Likes tea."},
                     headers={"Authorization": f"Bearer {server.tokens['alice']}"})  # fmt: skip
    assert put.json() == {"text": "Likes tea."}
    assert server.get("/api/profile", "alice").json()["text"] == "Likes tea."
    assert "tea" not in server.get("/api/profile", "bob").json()["text"]
    assert server.get("/api/goals", "bob").json()["data"] == []
    assert "tasks" in server.get("/api/agenda", "alice", params={"days": 7}).json()
    assert server.get("/api/agenda", "alice", params={"days": 99}).status_code == 422
    for path in ("/api/conversations", "/api/profile", "/api/goals", "/api/agenda"):
        assert server.get(path).status_code == 401


def test_a_stream_the_client_drops_is_kept_marked_interrupted(
    write_config: Callable[[str], Path], server: Server
) -> None:
    write_config(CONFIG + 'chunk_delay = 0.05\nreplies = ["' + "word " * 200 + '"]\n')
    slow = create_app(load_settings())
    from fastapi.testclient import TestClient

    headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
    body = {"model": "demo", "stream": True,
            "messages": [{"role": "user", "content": "talk for a while"}]}  # fmt: skip
    with (
        TestClient(slow) as client,
        client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any("word" in line for line in received)
    deadline = time.monotonic() + 10
    said: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        with TestClient(slow) as client:
            listed = client.get("/api/conversations", headers=headers).json()["data"]
            if listed:
                cid = listed[0]["id"]
                said = client.get(f"/api/conversations/{cid}/messages", headers=headers).json()[
                    "data"
                ]
        if len(said) == 2:
            break
        time.sleep(0.1)
    assert [m["role"] for m in said] == ["user", "assistant"]
    assert said[1]["interrupted"] is True
    assert 0 < str(said[1]["content"]).count("word") < 200


def test_admins_manage_users_and_everyone_their_own_tokens(server: Server) -> None:
    admin = add_user_admin()
    server.tokens["root"] = admin
    assert server.get("/api/users", "alice").status_code == 403
    names = [u["name"] for u in server.get("/api/users", "root").json()["data"]]
    assert {"alice", "bob", "root"} <= set(names)
    made = server.post("/api/users", "root", json={"name": "cleo"})
    assert made.status_code == 201 and made.json()["token"].startswith("psi_")
    server.tokens["cleo"] = made.json()["token"]
    assert server.get("/v1/models", "cleo").status_code == 200
    assert server.post("/api/users", "root", json={"name": "cleo"}).status_code == 400
    assert server.post("/api/users", "alice", json={"name": "eve"}).status_code == 403
    bobs = server.get("/api/tokens", "bob").json()["data"]
    gone = httpx2.delete(f"{server.url}/api/tokens/{bobs[0]['id']}",
                         headers={"Authorization": f"Bearer {server.tokens['alice']}"})  # fmt: skip
    assert gone.status_code == 404  # alice cannot revoke bob's token
    fresh = server.post("/api/tokens/rotate", "cleo").json()["token"]
    server.tokens["cleo-new"] = fresh
    assert server.get("/v1/models", "cleo-new").status_code == 200


def add_user_admin() -> str:
    result = runner.invoke(cli, ["user", "add", "root", "--admin"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_goals_over_the_api_stay_with_their_owner(server: Server) -> None:
    made = server.post(
        "/api/goals", "alice",
        json={"title": "Read 12 books", "target_date": "2027-11-01", "unit": "books",
              "baseline": 0, "target": 12, "cumulative": True},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    goal_id = made.json()["goal_id"]
    logged = server.post(f"/api/goals/{goal_id}/checkins", "alice", json={"value": 2})
    assert logged.status_code == 201 and "%" in logged.json()["standing"]
    shown = server.get(f"/api/goals/{goal_id}", "alice").json()
    assert shown["title"] == "Read 12 books" and shown["status"] == "active"
    assert server.get(f"/api/goals/{goal_id}", "bob").status_code == 404
    stolen = server.post(f"/api/goals/{goal_id}/checkins", "bob", json={"value": 5})
    assert stolen.status_code == 404
    bad = server.post("/api/goals", "alice", json={"title": "x"})
    assert bad.status_code == 422 and "target_date" in bad.text
    missing = server.post("/api/items/t999/done", "alice")
    assert missing.status_code in (400, 404) and "error" in missing.json()
