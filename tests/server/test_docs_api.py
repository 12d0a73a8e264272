"""`/api/docs` and cited answers over `psi serve`: each user's documents out of the
other's reach."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from typer.testing import CliRunner

from psi.cli.main import app as cli
from psi.config import load_settings
from psi.knowledge.library import Library
from psi.server.app import create_app
from psi.store.db import open_store

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
replies = ["Bring the blue raincoat [1]."]
"""


@pytest.fixture
def served(write_config: Callable[[str], Path]) -> Iterator[tuple[str, dict[str, str]]]:
    write_config(CONFIG)
    tokens = {}
    for name in ("alice", "bob"):
        result = CliRunner().invoke(cli, ["user", "add", name])
        assert result.exit_code == 0, result.output
        tokens[name] = result.output.strip().splitlines()[-1]
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
    yield f"http://127.0.0.1:{port}", tokens
    running.should_exit = True
    thread.join(timeout=10)


def test_documents_over_the_api_belong_to_their_user(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = served
    note = tmp_path / "Porto.md"
    note.write_text("# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    store = open_store(load_settings().db_url)
    Library(store, user_id=store.ensure_user("alice")).add([note])
    store.dispose()

    def call(method: str, path: str, user: str, **kwargs: object) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        return httpx2.request(method, url + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    listed = call("GET", "/api/docs", "alice").json()
    [doc] = listed["data"]
    assert (doc["path"], doc["title"], doc["passages"]) == (str(note), "Porto trip", 1)
    assert call("GET", "/api/docs", "bob").json()["data"] == []
    assert call("GET", "/api/docs", "bob").json()["roots"] == []

    [hit] = call("GET", "/api/docs/search", "alice", params={"q": "raincoat"}).json()["data"]
    assert hit["heading"] == "Porto trip > Packing" and hit["uri"] == note.as_uri()
    assert call("GET", "/api/docs/search", "bob", params={"q": "raincoat"}).json()["data"] == []
    assert httpx2.get(url + "/api/docs").status_code == 401

    answer = call(
        "POST",
        "/v1/chat/completions",
        "alice",
        json={"model": "psi", "messages": [{"role": "user", "content": "What do I pack?"}]},
    ).json()
    assert answer["choices"][0]["message"]["content"] == "Bring the blue raincoat [1]."
    [source] = answer["psi_sources"]
    assert (source["path"], source["heading"], source["uri"]) == (
        str(note), "Porto trip > Packing", note.as_uri()
    )  # fmt: skip

    assert call("DELETE", f"/api/docs/{doc['id']}", "bob").status_code == 404
    assert call("DELETE", f"/api/docs/{doc['id']}", "alice").status_code == 204
    assert call("GET", "/api/docs", "alice").json()["data"] == []
