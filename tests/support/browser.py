"""A real Chromium for the web app's tests: Debian's /usr/bin/chromium driven by
Playwright, kept off the network by its flags (Playwright never downloads a browser here).

    with chromium() as browser:
        page = logged_in(browser, url, token)          # desktop size, logged in
        shoot(page, "chat")                             # docs/screenshots/chat-desktop.png

Without Chromium the browser tests are skipped, saying how to install it
(scripts/install-chromium), unless PSI_TEST_REQUIRE_BROWSER is set (as .ci/run sets it):
then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("PSI_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The tests save their screenshots under build/ (not tracked); to refresh the README's,
# run them with PSI_TEST_SCREENSHOTS=docs/screenshots.
SHOTS = Path(__file__).resolve().parents[2] / os.environ.get(
    "PSI_TEST_SCREENSHOTS", "build/screenshots"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"No Chromium at {CHROMIUM}: run scripts/install-chromium (as root)"
        if os.environ.get("PSI_TEST_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def logged_in(browser: Browser, url: str, token: str, *, phone: bool = False) -> Page:
    """A fresh browser context (its own cookies) at desktop or phone size, logged in."""
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=1,
        is_mobile=phone,
        has_touch=phone,
        base_url=url,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Your API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page


def shoot(page: Page, name: str) -> Path:
    """Save the page as SHOTS/NAME-desktop.png or -phone.png, by its width."""
    width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
    size = "phone" if width <= PHONE["width"] else "desktop"
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
