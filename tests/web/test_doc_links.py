"""In a real Chromium: a reply that cites a document lists it under the reply as a link,
and the link opens the passage psi read."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from psi.config import load_settings
from psi.knowledge.library import Library
from psi.store.db import open_store
from support.browser import logged_in

pytestmark = pytest.mark.browser


def test_cited_sources_are_links_to_their_passages(psi, browser: Browser, tmp_path: Path) -> None:
    note = tmp_path / "Porto.md"
    note.write_text("# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    store = open_store(load_settings().db_url)
    Library(store, user_id=store.ensure_user("alice")).add([note], embed=False)
    store.dispose()
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    box = page.get_by_label("Message")
    # The scripted model echoes the message, so its reply cites [1].
    box.fill("What should I pack for Porto [1]?")
    box.press("Enter")
    sources = page.locator(".msg.assistant").last.get_by_role("list", name="Sources")
    link = sources.get_by_role("link")
    expect(link).to_have_text(f"{note} — Porto trip > Packing")
    link.click()
    expect(page.locator("blockquote")).to_have_text("Bring the blue raincoat.")
    page.context.close()
