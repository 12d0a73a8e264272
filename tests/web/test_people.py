"""Two people on one psi serve, in two real browsers: a notice from the scheduler appears
live on the page its owner has open (server-sent events) and nowhere else, and the second
user sees none of the first user's conversations, goals, memories, approvals or ledger.
Forms posted from another site are refused."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect

from psi.config import load_settings
from psi.egress.ledger import Ledger
from psi.goals.delivery import deliver
from psi.goals.outreach import NoticeDraft
from psi.safety.approval import Approvals, Request
from psi.store.db import open_store
from support.browser import logged_in, shoot

# In the browser, on SQLite and on PostgreSQL + pgvector (a shared psi is the multi-user case).
pytestmark = [pytest.mark.browser, pytest.mark.databases]


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg.assistant").last.locator(".badge").first).to_be_visible()


def test_live_notices_reach_their_owner_only(psi, browser: Browser) -> None:
    alice = logged_in(browser, psi.url, psi.tokens["alice"])
    bob = logged_in(browser, psi.url, psi.tokens["bob"])
    alice.goto("/today")
    bob.goto("/today")
    settings = load_settings()
    store = open_store(settings.db_url)
    now = datetime.now(UTC)
    draft = NoticeDraft(
        kind="agenda", key=f"agenda:{date.today()}", text="Good morning! 2 things today.",
        day=date.today(), at=now, send_at=now, rank=(1, 0, now),
    )  # fmt: skip
    deliver(draft, settings, store, user_id=store.ensure_user("alice"), now=now)
    store.dispose()
    toast = alice.locator(".toast")
    expect(toast).to_contain_text("Good morning! 2 things today.", timeout=10_000)
    expect(alice.locator("#notice-count")).to_have_text("1")
    shoot(alice, "notice")
    alice.wait_for_timeout(2500)  # a round of bob's stream
    expect(bob.locator(".toast")).to_have_count(0)
    alice.get_by_role("link", name="Notices").click()
    expect(alice.get_by_text("Good morning! 2 things today.")).to_be_visible()
    bob.goto("/notices")
    expect(bob.get_by_text("No notices yet.")).to_be_visible()
    alice.context.close()
    bob.context.close()


def test_the_second_user_sees_none_of_the_firsts_data(psi, browser: Browser) -> None:
    alice = logged_in(browser, psi.url, psi.tokens["alice"])
    say(alice, "Remember that my locker code is 4711.")
    say(alice, "My passport number is in the blue folder")
    conversation = alice.url.rsplit("/", 1)[-1]
    alice.goto("/goals")
    alice.get_by_label("Say it in a sentence").fill(
        f"Read 12 books by {date.today() + timedelta(days=200):%d %B %Y}"
    )
    alice.get_by_role("button", name="Draft a plan").click()
    alice.get_by_label(re.compile("Where you start")).fill("0")
    alice.get_by_role("button", name="Draft a plan").click()
    alice.get_by_role("button", name="Save the goal").click()
    expect(alice.get_by_role("heading", level=1)).to_contain_text("Read 12 books")
    goal = alice.url.rsplit("/", 1)[-1]
    store = open_store(load_settings().db_url)
    alice_id = store.ensure_user("alice")
    Approvals(store, user_id=alice_id).hold(
        Request(tool="forget_memory", arguments={"memory_id": 1}, risk="irreversible",
                reason="it cannot be undone", action="forget_memory(1)")
    )  # fmt: skip
    Ledger(store, user_id=alice_id).record(
        host="api.openai.com", method="POST", path="/v1/chat/completions", purpose="chat",
        payload=b"{}", redactions={"PERSON": 1},
    )  # fmt: skip
    store.dispose()

    bob = logged_in(browser, psi.url, psi.tokens["bob"])
    expect(bob.locator("#conversation-list")).to_have_text("None yet.")
    for path in (f"/c/{conversation}", f"/goals/{goal}", "/memory/1", "/memory/f1"):
        response = bob.goto(path)
        assert response is not None and response.status == 404, path
        expect(bob.get_by_role("heading", level=1)).to_contain_text("No ")
    bob.goto("/goals")
    expect(bob.get_by_text("No goals yet.")).to_be_visible()
    bob.goto("/today")
    expect(bob.get_by_text("Read 12 books")).to_have_count(0)
    bob.goto("/memory?q=locker+passport")
    expect(bob.get_by_text("No fact matches.")).to_be_visible()
    expect(bob.get_by_text("Nothing said matches.")).to_be_visible()
    bob.goto("/memory")
    expect(bob.locator("main")).not_to_contain_text("4711")
    bob.goto("/approvals")
    expect(bob.get_by_text("Nothing waits for you.")).to_be_visible()
    bob.goto("/privacy")
    expect(bob.get_by_text("Nothing has left this machine")).to_be_visible()
    bob.goto("/audit")
    expect(bob.get_by_text("Nothing logged yet.")).to_be_visible()
    # Acting on alice's rows by id changes nothing and says so.
    bob.goto("/today")
    done = bob.request.post(f"{psi.url}/items/m1/done", form={"back": "/today"},
                            headers={"Origin": psi.url})  # fmt: skip
    assert done.ok
    bob.goto("/approvals")
    bob.request.post(f"{psi.url}/approvals/1/approve", headers={"Origin": psi.url})
    shoot(bob, "second-user")
    alice.goto("/approvals")
    expect(alice.get_by_role("button", name=re.compile("Approve forget_memory"))).to_be_visible()
    alice.goto(f"/goals/{goal}")
    expect(alice.get_by_role("button", name=re.compile("reached")).first).to_be_visible()
    alice.context.close()
    bob.context.close()


@pytest.mark.sqlite_only
def test_forms_from_another_site_are_refused(psi) -> None:
    cookies = {"psi_session": psi.tokens["alice"]}
    for origin in ("https://evil.example", None):
        headers = {"Origin": origin} if origin else {}
        response = httpx2.post(
            f"{psi.url}/memory/profile", data={"text": "hacked"}, cookies=cookies,
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 403
    page = httpx2.get(f"{psi.url}/memory", cookies=cookies)
    assert "hacked" not in page.text
    assert httpx2.get(f"{psi.url}/memory").status_code == 401  # no session: no page
