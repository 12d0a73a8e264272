"""The goal commands as a user runs them: from a sentence to a plan, today's agenda, done,
log, show, edit, and what they say when the input is wrong."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from psi.cli.goals_cmd import open_goals
from psi.cli.main import app

runner = CliRunner()


def psi(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def berlin() -> None:
    assert psi("config", "set", "timezone", "Europe/Berlin")[0] == 0


def test_from_a_sentence_to_a_plan_to_progress() -> None:
    code, output = psi("goal", "add", "Run a marathon by October 2030", "--baseline", "10", "-y")
    assert code == 0, output
    assert "Plan for Run a marathon (spread evenly)" in output
    assert "Saved goal 1: Run a marathon by 2030-10-31" in output
    goals = open_goals()
    plan = goals.plan(1)
    assert plan.milestones and plan.milestones[-1].value == 42.2
    assert plan.habits and plan.if_then

    code, output = psi("today")
    assert code == 0 and "Agenda for" in output
    assert "Run a marathon" in output and "not enough data yet" in output

    habit = plan.habits[0]
    code, output = psi("done", f"h{habit.id}")
    assert code == 0 and f"Done for today: {habit.title}." in output
    code, output = psi("log", "marathon", "12", "long and slow")
    assert code == 0 and "Logged 12 for Run a marathon" in output
    assert [c.value for c in goals.check_ins(goal_ids=[1]) if c.value is not None] == [12]

    code, output = psi("goal", "show", "1")
    assert code == 0
    assert "metric: 10 → 42.2 km" in output and "Milestones" in output


def test_what_the_sentence_lacks_is_asked_not_guessed() -> None:
    code, output = psi("goal", "add", "Get fit someday")
    assert code == 2
    assert "By when?" in output and "--by" in output
    code, output = psi("goal", "add", "Read 24 books by December 2030")
    assert code == 2 and "Where do you start, in books?" in output
    code, output = psi("goal", "add", "Read 24 books by December 2030", "--baseline", "0")
    assert code == 2 and "pass --yes" in output
    assert open_goals().all() == []


def test_edits_are_checked_and_refused_whole() -> None:
    psi("goal", "add", "Save €5,000 by June 2030", "--baseline", "500", "-y")
    code, output = psi("goal", "edit", "1", "--by", "2020-01-01")
    assert code == 2 and "does not make a valid goal: the target date 2020-01-01" in output
    code, output = psi("goal", "edit", "1", "--by", "someday")
    assert code == 2 and "YYYY-MM-DD" in output
    assert str(open_goals().local_day(open_goals().get(1).target_date)) == "2030-06-30"
    code, output = psi("goal", "archive", "save")
    assert code == 0 and "archived" in output
    code, output = psi("log", "1", "200")
    assert code == 2 and "archived" in output
    code, output = psi("goal", "list")
    assert "Save" not in output
    assert "Save" in psi("goal", "list", "--all")[1]


def test_a_new_timezone_keeps_habits_at_their_local_time() -> None:
    psi("goal", "add", "Run a marathon by October 2030", "--baseline", "10", "-y")
    before = open_goals().plan(1).habits[0].rule
    assert before.zone == "Europe/Berlin"
    code, output = psi("config", "set", "timezone", "America/New_York")
    assert code == 0, output
    assert "moved from Europe/Berlin to America/New_York" in output
    after = open_goals().plan(1).habits[0].rule
    assert after.zone == "America/New_York"
    assert (after.start.hour, after.start.minute) == (before.start.hour, before.start.minute)
    code, output = psi("config", "set", "timezone", "Mars/Olympus")
    assert code == 2 and "IANA" in output
