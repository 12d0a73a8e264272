"""The memory browser in a real Chromium: search, a memory's source, forget one and see it
gone, correct a fact, the profile, and export then import (a bad file is refused in words)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser import logged_in, shoot

pytestmark = pytest.mark.browser


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg.assistant").last.locator(".badge").first).to_be_visible()


def test_search_forget_edit_profile_export_import(psi, browser: Browser, tmp_path: Path) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    say(page, "Remember that my locker code is 4711.")
    say(page, "My bike is a red Gazelle with a squeaky bell")
    page.get_by_role("link", name="Memory").click()

    page.get_by_label("Search what psi remembers").fill("bike Gazelle")
    page.get_by_role("button", name="Search").click()
    # What alice said, and psi's echo of it: two memories; she forgets both.
    mine = page.get_by_role("link", name="My bike is a red Gazelle with a squeaky bell", exact=True)
    echo = page.get_by_role("link", name=re.compile("^You said: My bike"))
    expect(mine).to_be_visible()
    expect(echo).to_be_visible()
    shoot(page, "memory")
    mine.click()
    expect(page.get_by_text("Where it came from")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"conversation \d+"))).to_be_visible()

    # Forget it: asked first, then gone from search and from the conversation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Forget memory")).click()
    expect(page.get_by_role("status")).to_contain_text("Forgot memory")
    page.goto("/memory?q=bike+Gazelle")
    page.get_by_role("link", name=re.compile("^You said: My bike")).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Forget memory")).click()
    expect(page.get_by_role("status")).to_contain_text("Forgot memory")
    page.get_by_label("Search what psi remembers").fill("bike Gazelle")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#said")).not_to_contain_text("My bike is a red Gazelle")
    page.goto("/")
    page.locator("#conversation-list a").first.click()
    expect(page.locator(".msg", has_text="Gazelle")).to_have_count(0)
    expect(page.locator(".msg.user", has_text="locker code")).to_have_count(1)

    # A fact, corrected in the user's words.
    page.goto("/memory?q=locker")
    page.get_by_role("link", name="Your locker code is 4711.", exact=True).click()
    page.get_by_label("In your words").fill("Your locker code is 4712.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the fact")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your locker code is 4712.")

    # The profile, in the user's words.
    page.goto("/memory")
    page.get_by_label(re.compile("What psi keeps in mind")).fill("Alice, a cyclist in Lisbon.")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("Saved your profile")
    expect(page.get_by_label(re.compile("written by you"))).to_have_value(
        "Alice, a cyclist in Lisbon."
    )

    # Export, then a bad file and the good one imported.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export my memory").click()
    exported = tmp_path / "psi-memory.json"
    download.value.save_as(exported)
    data = json.loads(exported.read_text())
    assert data["format"] == "psi-memory" and data["profile"] == "Alice, a cyclist in Lisbon."
    said = json.dumps(data["conversations"])
    assert "4711" in said and "Gazelle" not in said
    bad = tmp_path / "notes.json"
    bad.write_text("{not json")
    page.get_by_label("Import a psi memory export").set_input_files(bad)
    page.get_by_role("button", name="Import the file").click()
    expect(page.get_by_role("alert")).to_contain_text("notes.json is not a psi export")
    page.get_by_label("Import a psi memory export").set_input_files(exported)
    page.get_by_role("button", name="Import the file").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Imported \d+ messages"))
    page.context.close()
