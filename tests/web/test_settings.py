"""Settings in a real Chromium: add an Ollama endpoint (a real OpenAI-compatible server on
127.0.0.1 stands in for it) and test it, a remote OpenAI profile whose test says why it
cannot answer, timezone and quiet hours saved, a bad one refused in words, and the
notice channels."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from psi.config import load_settings
from support.browser import logged_in, shoot
from support.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser


def test_add_and_test_models_and_save_the_day(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    page.get_by_role("link", name="Settings").click()
    with FakeOpenAI(answer=lambda request: "ready") as ollama:
        page.get_by_label("Kind of endpoint").select_option("ollama")
        page.get_by_label("Profile name").fill("qwen")
        page.get_by_label("Model on that server").fill("qwen2.5:7b-instruct")
        page.get_by_label(re.compile("Server URL")).fill(ollama.url)
        page.get_by_role("button", name="Add the model").click()
        expect(page.get_by_role("status")).to_contain_text("Added the model profile qwen")
        page.get_by_role("button", name="Test qwen").click()
        expect(page.get_by_role("status")).to_contain_text(
            re.compile(r"qwen answered in .* 'ready'")
        )
        assert ollama.requests[-1]["model"] == "qwen2.5:7b-instruct"
    profile = load_settings().profile("qwen")
    assert profile.local and profile.open_weight and profile.base_url == ollama.url

    # OpenAI: remote and closed; under the local-only policy its test says so.
    page.get_by_label("Kind of endpoint").select_option("openai")
    page.get_by_label("Profile name").fill("gpt")
    page.get_by_label("Model on that server").fill("gpt-4o-mini")
    page.get_by_role("button", name="Add the model").click()
    expect(page.get_by_role("row", name=re.compile("gpt"))).to_contain_text("remote")
    page.get_by_role("button", name="Test gpt").click()
    expect(page.get_by_role("alert")).to_be_visible()
    shoot(page, "settings")

    # The day: timezone and quiet hours; then a timezone that is none.
    page.get_by_label("Timezone").fill("America/New_York")
    page.get_by_label("Quiet from").fill("21:30")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    settings = load_settings()
    assert settings.timezone == "America/New_York"
    assert settings.goals.quiet_hours == "21:30-07:00"
    page.get_by_label("Timezone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("no IANA timezone")
    assert load_settings().timezone == "America/New_York"

    page.get_by_label(re.compile("Desktop notifications")).uncheck()
    page.get_by_label(re.compile("Webhook")).fill("https://ntfy.example/alice")
    page.get_by_role("button", name="Save notices").click()
    expect(page.get_by_role("status")).to_contain_text("Saved where notices go")
    goals = load_settings().goals
    assert goals.webhook_url == "https://ntfy.example/alice" and not goals.desktop
    page.context.close()

    # The chat's model picker offers the new profile at once, badge and all.
    page = logged_in(browser, psi.url, psi.tokens["bob"])
    expect(
        page.get_by_label("Model").locator("option", has_text="qwen (local, open)")
    ).to_have_count(1)
    page.goto("/settings")
    expect(page.get_by_role("button", name="Add the model")).to_have_count(0)
    page.context.close()
