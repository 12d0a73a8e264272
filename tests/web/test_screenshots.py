"""The main pages with a few weeks of life in them, saved at desktop (1280x800) and phone
(390x844) width into build/screenshots/ (PSI_TEST_SCREENSHOTS=docs/screenshots refreshes
the README's); each page is checked to fit the phone's width (no sideways scrolling)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from psi.config import load_settings
from psi.egress.ledger import Ledger
from psi.goals.drafts import GoalDraft, MetricDraft
from psi.goals.spread import deterministic_plan
from psi.goals.store import Goals
from psi.safety.approval import Approvals, Request
from psi.server.app import create_app
from psi.store.db import open_store
from support.browser import logged_in, shoot
from support.serving import serving
from support.webapp import CONFIG, add_user

pytestmark = pytest.mark.browser

PLAN = (
    "Here is your week:\\n\\n- **Tuesday**: 5 km easy\\n- **Thursday**: intervals, 6 × 400 m\\n"
    "- **Saturday**: long run, 12 km\\n\\nYou are at 31 km of 100: on track for the spring."
)
PAGES = ("/", "/today", "/goals/1", "/memory", "/privacy", "/approvals", "/settings")
NAMES = ("chat", "today", "goal", "memory", "privacy", "approvals", "settings")


def seed(user: str) -> None:
    """Two goals with three weeks of check-ins, a held action and a request that left."""
    settings = load_settings()
    store = open_store(settings.db_url)
    user_id = store.ensure_user(user)
    goals = Goals(store, user_id=user_id, zone=settings.zone())
    now = datetime.now(UTC)
    today = goals.local_day(now)
    run = GoalDraft(
        title="Run 100 km before spring", area="fitness", starts_on=today - timedelta(days=24),
        target_date=today + timedelta(days=110), why="Feel fit again",
        metric=MetricDraft(unit="km", baseline=0, target=100, direction="increase",
                           aggregate="sum"),
    )  # fmt: skip
    run_id = goals.add(run, deterministic_plan(run, today=today - timedelta(days=24)))
    for days, km in ((22, 4), (19, 5.5), (15, 6), (12, 3.5), (8, 5), (5, 4), (1, 3)):
        goals.log(run_id, km, at=now - timedelta(days=days))
    books = GoalDraft(
        title="Read 12 books this year", area="learning", starts_on=today - timedelta(days=40),
        target_date=today + timedelta(days=200),
        metric=MetricDraft(unit="books", baseline=0, target=12, direction="increase",
                           aggregate="sum"),
    )  # fmt: skip
    books_id = goals.add(books, deterministic_plan(books, today=today - timedelta(days=40)))
    for days in (35, 21, 6):
        goals.log(books_id, 1, at=now - timedelta(days=days))
    Approvals(store, user_id=user_id).hold(
        Request(tool="web_fetch", arguments={"url": "https://example.org/training-plan"},
                risk="outward", reason="it sends data off this machine, while untrusted "
                "content (web) is in the conversation and your private data is in reach",
                action="web_fetch(...)", origin="scheduler")
    )  # fmt: skip
    Ledger(store, user_id=user_id).record(
        host="api.openai.com", method="POST", path="/v1/chat/completions", purpose="chat",
        payload=b'{"messages": []}', model="gpt-4o-mini", redactions={"PERSON": 2, "CITY": 1},
    )  # fmt: skip
    store.dispose()


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide"  # type: ignore[index]


def test_main_pages_at_desktop_and_phone_width(
    write_config: Callable[[str], Path], browser: Browser
) -> None:
    demo = 'backend = "scripted"\nmodel = "demo"\n'
    write_config(CONFIG.replace(demo, f'{demo}replies = ["{PLAN}"]\n'))
    token = add_user("ada", admin=True)
    seed("ada")
    with serving(create_app(load_settings())) as url:
        page = logged_in(browser, url, token)
        page.get_by_label("Message").fill("Remember that my sister Ana lives in Lisbon.")
        page.get_by_label("Message").press("Enter")
        expect(page.locator(".msg.assistant .badge")).to_have_text("psi itself, no model")
        page.get_by_label("Message").fill("What should I run this week?")
        page.get_by_label("Message").press("Enter")
        expect(page.locator(".msg.assistant strong").first).to_have_text("Tuesday")
        page.locator(".msg.assistant").last.get_by_text("Why this model").click()
        conversation = page.url
        for phone in (False, True):
            if phone:
                page = logged_in(browser, url, token, phone=True)
            for path, name in zip(PAGES, NAMES, strict=True):
                page.goto(conversation if path == "/" else url + path)
                expect(page.locator("main")).to_be_visible()
                fits(page)
                shoot(page, name)
            page.context.close()
