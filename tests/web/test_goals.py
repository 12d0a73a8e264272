"""Goals in a real Chromium: a goal from a sentence (psi asks what it lacks), its drafted
plan edited before saving, a task ticked on Today, a check-in, the goal's chart with its
forecast, and the weekly review."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from support.browser import logged_in, shoot

pytestmark = pytest.mark.browser


def test_goal_from_a_sentence_with_an_edited_plan_then_tick_and_check_in(
    psi, browser: Browser
) -> None:
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    by = today + timedelta(days=300)
    page = logged_in(browser, psi.url, psi.tokens["alice"])
    page.get_by_role("link", name="Goals").click()

    # No date: psi asks for one, keeping what was typed.
    page.get_by_label("Say it in a sentence").fill("Run 100 km")
    page.get_by_role("button", name="Draft a plan").click()
    expect(page.get_by_role("alert")).to_contain_text("By when?")
    page.get_by_label("Your goal in a sentence").fill(f"Run 100 km by {by:%d %B %Y}")
    page.get_by_role("button", name="Draft a plan").click()
    expect(page.get_by_role("alert")).to_contain_text("Where do you start, in km?")
    page.get_by_label("Where you start, in km").fill("0")
    page.get_by_role("button", name="Draft a plan").click()

    # The drafted plan, edited: a milestone renamed, a task added, a bad date refused.
    expect(page.get_by_role("heading", name="Check the plan, then save it")).to_be_visible()
    first = page.get_by_label("Milestone 1", exact=True)
    expect(first).not_to_have_value("")
    first.fill("First 25 km, easy pace")
    page.get_by_label("Each check-in").select_option("sum")  # km add up
    tasks = page.locator("input[name=t_title]")
    tasks.last.fill("Buy running shoes")
    page.locator("input[name=t_when]").last.fill(f"{by + timedelta(days=30)}")
    shoot(page, "goal-plan")
    page.get_by_role("button", name="Save the goal").click()
    expect(page.get_by_role("alert")).to_contain_text("outside the goal's span")
    expect(page.locator("input[name=t_title]").last).to_have_value("")  # rows kept as typed
    page.locator("input[name=t_title]").nth(-2).fill("Buy running shoes")
    page.locator("input[name=t_when]").nth(-2).fill(str(today))
    page.get_by_role("button", name="Save the goal").click()

    expect(page).to_have_url(re.compile(r"/goals/\d+$"))
    expect(page.get_by_role("status")).to_contain_text("Saved goal")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run 100 km")
    expect(page.get_by_role("button", name="Mark First 25 km, easy pace reached")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Progress of Run 100 km"))).to_be_visible()

    # Today: the task, ticked with one click.
    page.get_by_role("link", name="Today").click()
    page.get_by_role("button", name="Mark Buy running shoes done").click()
    expect(page.get_by_role("status")).to_contain_text("Done: Buy running shoes.")
    expect(page.locator(".done-item", has_text="Buy running shoes")).to_be_visible()

    # Two check-ins, and the chart draws the values and the forecast band.
    page.get_by_label(re.compile("Value for Run 100 km")).fill("12")
    page.get_by_role("button", name="Log Run 100 km").click()
    expect(page.get_by_role("status")).to_contain_text("Logged 12 km for Run 100 km")
    page.get_by_role("link", name="Run 100 km").first.click()
    page.get_by_label(re.compile("Check in")).fill("8.5")
    page.get_by_role("button", name="Log check-in").click()
    expect(page.get_by_role("status")).to_contain_text("Logged 8.5 km")
    chart = page.locator(".chart svg")
    expect(chart.locator("circle[fill='#1d4ed8']").last).to_be_visible()
    expect(chart.locator("desc")).to_contain_text("20.5 of 100 km")
    shoot(page, "goal")

    page.get_by_role("link", name="Today").click()
    shoot(page, "today")
    page.get_by_role("link", name="The weekly review").click()
    expect(page.get_by_role("heading", name="Run 100 km")).to_be_visible()
    expect(page.get_by_text("Suggestion")).to_be_visible()
    page.context.close()


def test_a_goal_that_is_not_the_users_is_not_found(psi, browser: Browser) -> None:
    page = logged_in(browser, psi.url, psi.tokens["bob"])
    response = page.goto("/goals/1")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("No goal")
    page.context.close()
