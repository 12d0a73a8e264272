"""Chat in a real Chromium: log in with a token, watch a reply stream in, see which model
answered and what memory it used, stop a long reply, and come back to the conversation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from support.browser import logged_in, shoot

pytestmark = pytest.mark.browser


def test_login_refuses_a_bad_token_and_pages_need_one(psi, browser: Browser) -> None:
    context = browser.new_context(base_url=psi.url)
    page = context.new_page()
    page.goto("/notices")
    expect(page).to_have_url(re.compile(r"/login\?next=/notices$"))
    page.get_by_label("Your API token").fill("psi_00000000_not-a-real-token-at-all")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.get_by_label("Your API token").fill(psi.tokens["bob"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{psi.url}/notices")
    context.close()


def test_chat_streams_a_reply_with_its_model_and_memories(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    box = page.get_by_label("Message")
    box.fill("Remember that my sister Ana lives in Lisbon.")
    box.press("Enter")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".badge")).to_have_text("psi itself, no model")

    box.fill("Where does **Ana** live? Lisbon, as I said")
    page.get_by_role("button", name="Send").click()
    streaming = page.locator(".msg.assistant[aria-busy=true] .body")
    # Words arrive while the reply is still being written, and the stop button is there.
    expect(streaming).not_to_be_empty()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".badge")).to_have_text("demo · local · open weights")
    expect(answer.locator(".body strong")).to_have_text("Ana")  # markdown, rendered
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    answer.get_by_text("Memories used").click()
    expect(answer.locator("details").last).to_contain_text("Lisbon")
    answer.get_by_text("Why this model").click()
    expect(answer.locator("details").first).to_contain_text("demo")
    expect(page).to_have_url(re.compile(r"/c/\d+$"))
    shoot(page, "chat")

    # The conversation is in the list, and reloading shows it as it was.
    page.reload()
    expect(page.locator("#conversation-list a").first).to_contain_text("Remember that my sister")
    expect(page.locator(".msg.user")).to_have_count(2)
    expect(page.locator(".msg.assistant .body strong")).to_have_text("Ana")
    page.context.close()


def test_stop_keeps_what_arrived(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    page.get_by_label("Model").select_option("slow")
    page.get_by_label("Message").fill("Count for me")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".msg.assistant[aria-busy=true] .body")).to_contain_text("three")
    page.get_by_role("button", name="Stop").click()
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".badge.stopped")).to_be_visible()
    assert "twenty" not in answer.locator(".body").inner_text()
    page.reload()
    expect(page.locator(".msg.assistant .badge.stopped")).to_be_visible()
    expect(page.locator(".msg.assistant .badge").first).to_have_text("slow · local · open weights")
    page.context.close()


def test_phone_layout(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"], phone=True)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_label("Message").fill("Hello from a phone")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg.assistant .badge")).to_have_text("demo · local · open weights")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    shoot(page, "chat")
    page.context.close()
