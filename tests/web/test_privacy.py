"""Privacy and safety in a real Chromium: approve a held action (it runs) and deny another,
the egress ledger with its redaction counts, the audit log, and the routing policy saved
to config.toml by the owner, read-only for everyone else."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect

from psi.config import load_settings
from psi.egress.ledger import Ledger
from psi.safety.approval import Approvals, Request
from psi.store.db import open_store
from support.browser import logged_in, shoot

pytestmark = pytest.mark.browser


def test_approve_and_deny_held_actions(psi, browser: Browser) -> None:
    store = open_store(load_settings().db_url)
    alice = store.ensure_user("alice")
    held = Approvals(store, user_id=alice)
    goal = {"title": "Learn Portuguese", "target_date": str(date.today() + timedelta(days=200))}
    held.hold(Request(tool="create_goal", arguments=goal, risk="write",
                      reason="it changes your data, and untrusted content (web) is in the "
                      "conversation", action="create_goal(...)", origin="scheduler"))  # fmt: skip
    held.hold(Request(tool="forget_memory", arguments={"memory_id": 1}, risk="irreversible",
                      reason="it cannot be undone", action="forget_memory(1)"))  # fmt: skip
    Ledger(store, user_id=alice).record(
        host="api.openai.com", method="POST", path="/v1/chat/completions", purpose="chat",
        payload=b'{"messages": "[PERSON_1] runs"}', model="gpt-4o-mini",
        redactions={"PERSON": 2, "EMAIL_ADDRESS": 1},
    )  # fmt: skip
    store.dispose()

    page = logged_in(browser, psi.url, psi.tokens["alice"])
    page.get_by_role("link", name="Privacy").click()
    expect(page.get_by_role("cell", name=re.compile("api.openai.com"))).to_be_visible()
    expect(page.get_by_role("cell", name="2 PERSON, 1 EMAIL_ADDRESS")).to_be_visible()
    shoot(page, "privacy")

    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name=re.compile("create_goal"))).to_be_visible()
    shoot(page, "approvals")
    page.get_by_role("button", name=re.compile(r"Approve create_goal")).click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_role("status")).to_contain_text("Learn Portuguese")
    page.get_by_role("button", name=re.compile(r"Deny forget_memory")).click()
    expect(page.get_by_role("status")).to_contain_text("Denied")
    expect(page.get_by_text("Nothing waits for you.")).to_be_visible()
    page.get_by_role("link", name="Goals").click()
    expect(page.get_by_role("link", name="Learn Portuguese")).to_be_visible()

    page.get_by_role("link", name="Privacy").click()
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Show").select_option("approval_decision")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="the user approved it")).to_be_visible()
    expect(page.get_by_role("cell", name="the user denied it")).to_be_visible()
    page.context.close()


def test_the_routing_policy_is_the_owners_to_change(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"])  # an admin
    page.goto("/privacy")
    page.get_by_label(re.compile("With personal data replaced")).check()
    page.get_by_label(re.compile("Sensitive data")).select_option("local-only")
    page.get_by_label(re.compile("Monthly budget")).fill("5")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_contain_text("routing.privacy is redact")
    routing = load_settings().routing
    assert routing.privacy == "redact" and routing.levels == {"sensitive": "local-only"}
    assert routing.monthly_budget_usd == 5.0
    page.get_by_label(re.compile("Monthly budget")).fill("lots")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("alert")).to_contain_text("The monthly budget must be a number")
    page.context.close()

    bob = logged_in(browser, psi.url, psi.tokens["bob"])
    bob.goto("/privacy")
    expect(bob.get_by_label(re.compile("With personal data replaced"))).to_be_disabled()
    expect(bob.get_by_role("button", name="Save the policy")).to_have_count(0)
    status = bob.request.post(f"{psi.url}/privacy/routing", form={"privacy": "allow"},
                              headers={"Origin": psi.url}, max_redirects=0)  # fmt: skip
    assert status.status == 303
    assert load_settings().routing.privacy == "redact"
    bob.context.close()
