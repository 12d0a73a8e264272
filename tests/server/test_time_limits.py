"""psi serve's time limits, with the scripted model speaking slowly (chunk_delay): a request
past server.request_timeout gets 504, a stream past it ends with an error event, and a
stream in flight when the server stops finishes or is stored as far as it came, marked
interrupted; never lost."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from psi.cli.serve_cmd import server_config
from psi.config import load_settings
from psi.server.app import create_app
from psi.server.tokens import Tokens
from psi.store.conversations import Conversations
from psi.store.db import Store, open_store

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[server]
request_timeout = {timeout}
shutdown_timeout = {grace}
scheduler = false
[models.demo]
backend = "scripted"
model = "demo"
local = true
chunk_delay = 0.05
replies = ["{reply}"]
"""
LONG = "word " * 200  # 10 s at 0.05 s a word
ASK = {"model": "demo", "messages": [{"role": "user", "content": "talk for a while"}]}


def setup(
    write_config: Callable[[str], Path], *, timeout: float = 300, grace: int = 10, reply: str = LONG
) -> tuple[Store, int, str]:
    write_config(CONFIG.format(timeout=timeout, grace=grace, reply=reply.strip()))
    store = open_store(load_settings().db_url)
    user_id = store.ensure_user("ada")
    return store, user_id, Tokens(store).issue(user_id)


def stored_reply(store: Store, user_id: int, *, wait: float = 10) -> Any:
    """The assistant's message of the user's one conversation, once it is stored."""
    conversations = Conversations(store, user_id=user_id)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        listed = conversations.list()
        if listed:
            said = conversations.messages(listed[0].id)
            if len(said) == 2:
                return said[1]
        time.sleep(0.05)
    raise AssertionError("no reply was stored")


def test_a_whole_reply_past_the_time_limit_is_504_and_kept_interrupted(
    write_config: Callable[[str], Path],
) -> None:
    store, user_id, token = setup(write_config, timeout=0.5)
    with TestClient(create_app(load_settings(), store=store)) as client:
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=ASK,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        took = time.monotonic() - started
        assert response.status_code == 504
        error = response.json()["error"]
        assert error["type"] == "RequestTimeout" and "server.request_timeout" in error["message"]
        assert took < 3
        reply = stored_reply(store, user_id)
    assert reply.interrupted and 0 < reply.content.count("word") < 200


def test_a_route_that_does_not_stop_by_itself_is_answered_504(
    write_config: Callable[[str], Path],
) -> None:
    store, _, token = setup(write_config, timeout=0.3)
    app = create_app(load_settings(), store=store)
    finished = threading.Event()

    @app.get("/slow")
    def slow() -> dict[str, bool]:
        time.sleep(1)
        finished.set()
        return {"late": True}

    with TestClient(app) as client:
        response = client.get("/slow", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 504 and response.json()["error"]["type"] == "RequestTimeout"
        assert client.get("/api/profile", headers={"Authorization": f"Bearer {token}"}).is_success
    assert finished.is_set()  # shutdown waited for it; its late answer went nowhere


def test_a_stream_past_the_time_limit_ends_with_an_error_event_and_is_kept(
    write_config: Callable[[str], Path],
) -> None:
    store, user_id, token = setup(write_config, timeout=0.6)
    with (
        TestClient(create_app(load_settings(), store=store)) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            json={**ASK, "stream": True},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,  # fmt: skip
    ):
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert any("word" in e for e in events[:-1])
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["type"] == "RequestTimeout"
    reply = stored_reply(store, user_id)
    assert reply.interrupted and 0 < reply.content.count("word") < 200


class Running:
    """psi serve's own uvicorn server (psi.cli.serve_cmd.server_config) on a free port of
    127.0.0.1, in a thread."""

    def __init__(self, store: Store) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = server_config(load_settings(), store, host="127.0.0.1", port=self.port)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stream(self, token: str, events: list[str]) -> threading.Thread:
        def read() -> None:
            try:
                with httpx.stream(
                    "POST", f"http://127.0.0.1:{self.port}/v1/chat/completions",
                    json={**ASK, "stream": True}, timeout=30,
                    headers={"Authorization": f"Bearer {token}"},
                ) as response:  # fmt: skip
                    events.extend(line for line in response.iter_lines() if line)
            except httpx.HTTPError:
                events.append("(connection closed)")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        return reader

    def stop(self) -> float:
        """What SIGTERM does; returns how long the server took to stop."""
        started = time.monotonic()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return time.monotonic() - started


def wait_for(events: list[str], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(events) >= count


def test_a_stream_cut_at_shutdown_is_stored_as_far_as_it_came(
    write_config: Callable[[str], Path],
) -> None:
    store, user_id, token = setup(write_config, grace=1)
    running = Running(store)
    events: list[str] = []
    reader = running.stream(token, events)
    wait_for(events, 5)
    took = running.stop()
    reader.join(timeout=10)
    assert 0.9 < took < 8  # the grace period, not the whole 10 s reply
    reply = stored_reply(store, user_id, wait=1)
    assert reply.interrupted and 0 < reply.content.count("word") < 200
    assert "data: [DONE]" not in events


def test_a_stream_that_ends_within_the_grace_period_finishes(
    write_config: Callable[[str], Path],
) -> None:
    store, user_id, token = setup(write_config, grace=10, reply="word " * 20)
    running = Running(store)
    events: list[str] = []
    reader = running.stream(token, events)
    wait_for(events, 3)
    running.stop()
    reader.join(timeout=10)
    assert events[-1] == "data: [DONE]"
    text = "".join(
        json.loads(e.removeprefix("data: "))["choices"][0]["delta"].get("content", "")
        for e in events[:-1]
    )
    assert text.count("word") == 20
    reply = stored_reply(store, user_id, wait=1)
    assert not reply.interrupted and reply.content.count("word") == 20


def test_a_reply_finished_again_while_it_is_being_stored_is_stored_once() -> None:
    """Storing a reply can run the garbage collector, which may close the response's
    generator on the same thread, whose `finally` finishes the reply again: that must
    neither hang (it once deadlocked psi serve's shutdown) nor store twice."""
    from psi.server.streams import LiveTurns

    class Turn:
        message_id: int | None = None
        stored = 0

        def __iter__(self) -> Iterator[str]:
            yield "so far"

        def interrupt(self) -> None:
            live.finish()  # what the collector's close of the response does
            self.stored += 1
            self.message_id = 1

    streams = LiveTurns()
    turn = Turn()
    live = streams.start(turn, deadline=None, seconds=None)
    assert next(live) == "so far"
    worker = threading.Thread(target=streams.stop_all, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert turn.stored == 1
