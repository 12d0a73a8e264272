"""The web app's chat lists the documents a reply cites, each a link to the passage as
psi read it; the passage page is the viewer's alone. Without a browser: the server-sent
events and pages as the script and a person receive them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from psi.config import load_settings
from psi.knowledge.library import Library
from psi.server.app import create_app
from psi.store.db import open_store
from psi.web.base import COOKIE
from support.webapp import add_user

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
replies = ["Bring the blue raincoat [1]."]
"""


def test_a_cited_reply_links_to_the_passage_for_its_reader_alone(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    write_config(CONFIG)
    tokens = {"alice": add_user("alice"), "bob": add_user("bob")}
    note = tmp_path / "Porto.md"
    note.write_text("# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    settings = load_settings()
    store = open_store(settings.db_url)
    Library(store, user_id=store.ensure_user("alice")).add([note], embed=False)
    with TestClient(create_app(settings, store=store)) as client:
        client.cookies.set(COOKIE, tokens["alice"])
        streamed = client.post(
            "/chat/stream",
            data={"text": "What should I pack for Porto?", "model": "psi"},
            headers={"Origin": "http://testserver"},
        )
        events = [
            json.loads(block.split("data: ", 1)[1])
            for block in streamed.text.split("\n\n")
            if block.startswith("event: done")
        ]
        [done] = events
        [source] = done["sources"]
        assert source["number"] == 1
        assert source["where"] == f"{note} — Porto trip > Packing"
        page = client.get(source["href"], headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "Bring the blue raincoat." in page.text and "Porto trip &gt; Packing" in page.text

        client.cookies.set(COOKIE, tokens["bob"])
        other = client.get(source["href"], headers={"Accept": "text/html"})
        assert other.status_code == 404 and "raincoat" not in other.text
    store.dispose()
