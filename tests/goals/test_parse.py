"""Goals said in one line: title, target date and metric, or a question for what is missing."""

from __future__ import annotations

from datetime import date

import pytest

from psi.errors import GoalError
from psi.goals.parse import (
    ParsedGoal,
    ParsedMetric,
    Question,
    parse_goal_text,
    parse_target_date,
)

TODAY = date(2026, 5, 6)


def parsed(text: str, today: date = TODAY) -> ParsedGoal:
    result = parse_goal_text(text, today=today)
    assert isinstance(result, ParsedGoal), result
    return result


def asked(text: str, today: date = TODAY) -> Question:
    result = parse_goal_text(text, today=today)
    assert isinstance(result, Question), result
    return result


@pytest.mark.parametrize(
    ("text", "title", "target", "metric"),
    [
        (
            "Run a marathon by October 2027",
            "Run a marathon",
            date(2027, 10, 31),
            ParsedMetric("km", 42.2, False, "increase", "last"),
        ),
        # March has passed this year: the next March.
        (
            "Lose 5 kg by March",
            "Lose 5 kg",
            date(2027, 3, 31),
            ParsedMetric("kg", 5, True, "decrease", "last"),
        ),
        (
            "Read 24 books this year",
            "Read 24 books",
            date(2026, 12, 31),
            ParsedMetric("books", 24, False, "increase", "sum"),
        ),
        (
            "Save €5,000 by 1 June 2027",
            "Save €5,000",
            date(2027, 6, 1),
            ParsedMetric("€", 5000, False, "increase", "sum"),
        ),
        ("Learn Spanish to B1 in 6 months", "Learn Spanish to B1", date(2026, 11, 6), None),
        (
            "Run 10 km in under 50 minutes by summer",
            "Run 10 km in under 50 minutes",
            date(2026, 6, 1),
            ParsedMetric("minutes", 50, False, "decrease", "last"),
        ),
        (
            "Run 500 km this year",
            "Run 500 km",
            date(2026, 12, 31),
            ParsedMetric("km", 500, False, "increase", "sum"),
        ),
        (
            "weigh 70 kg by the end of the year",
            "Weigh 70 kg",
            date(2026, 12, 31),
            ParsedMetric("kg", 70, False, None, "last"),
        ),
        (
            "Run 10 km by 2027-03-01",
            "Run 10 km",
            date(2027, 3, 1),
            ParsedMetric("km", 10, False, None, "last"),
        ),
        (
            "By June 2027, run a 5k",
            "Run a 5k",
            date(2027, 6, 30),
            ParsedMetric("km", 5, False, None, "last"),
        ),
        (
            "Walk 10k steps a day by next month",
            "Walk 10k steps a day",
            date(2026, 6, 30),
            ParsedMetric("steps", 10000, False, None, "last"),
        ),
        (
            "Reduce screen time to 2 hours within 2 weeks",
            "Reduce screen time to 2 hours",
            date(2026, 5, 20),
            ParsedMetric("hours", 2, False, "decrease", "last"),
        ),
        ("Finish my thesis by 15 July", "Finish my thesis", date(2026, 7, 15), None),
        # Today's date without a year: the next one, a year on.
        ("Write a novel by 6 May", "Write a novel", date(2027, 5, 6), None),
        ("Write a novel by the end of summer 2027", "Write a novel", date(2027, 8, 31), None),
        (
            "Save $10k by Christmas",
            "Save $10k",
            date(2026, 12, 25),
            ParsedMetric("$", 10000, False, "increase", "sum"),
        ),
    ],
)
def test_goals_in_one_line(
    text: str, title: str, target: date, metric: ParsedMetric | None
) -> None:
    goal = parsed(text)
    assert (goal.title, goal.target_date, goal.metric) == (title, target, metric)
    assert goal.missing == (("baseline",) if metric else ())


@pytest.mark.parametrize(
    "text",
    ["Learn the piano by someday", "Learn the piano eventually", "Learn the piano", "Get fit soon"],
)
def test_no_date_or_a_vague_one_is_asked_for_not_guessed(text: str) -> None:
    question = asked(text)
    assert question.about == "target_date"
    assert question.text == "By when? e.g. 'by 1 June 2027' or 'in 6 months'"
    assert question.title is not None and "someday" not in question.title


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Run a marathon by March 2020", "31 March 2020 has passed"),
        ("Run 5 km by 6 May 2026", "today"),
    ],
)
def test_a_date_that_is_not_in_the_future_is_asked_again(text: str, says: str) -> None:
    question = asked(text)
    assert question.about == "target_date"
    assert says in question.text
    assert question.title is not None and question.title.startswith("Run")


def test_a_number_without_a_unit_asks_for_the_unit() -> None:
    question = asked("get to 50 by June")
    assert question.about == "unit"
    assert question.text.startswith("50 what?")
    assert question.title == "Get to 50"


@pytest.mark.parametrize("text", ["", "   ", "!"])
def test_empty_text_asks_for_the_goal(text: str) -> None:
    assert asked(text).about == "goal"


def test_a_date_alone_asks_what_the_goal_is() -> None:
    question = asked("by June 2027")
    assert question.about == "goal"
    assert "30 June 2027" in question.text


def test_the_answer_to_by_when() -> None:
    assert parse_target_date("in 6 months", today=TODAY) == date(2026, 11, 6)
    assert parse_target_date("end of next year", today=TODAY) == date(2027, 12, 31)
    assert isinstance(parse_target_date("whenever", today=TODAY), Question)
    assert isinstance(parse_target_date("May 2026", today=TODAY), date)
    assert isinstance(parse_target_date("April 2026", today=TODAY), Question)


def test_a_draft_needs_the_baseline_and_applies_relative_changes() -> None:
    goal = parsed("Lose 5 kg by March")
    with pytest.raises(GoalError):
        goal.draft(starts_on=TODAY)
    draft = goal.draft(starts_on=TODAY, baseline=82)
    assert draft.metric is not None
    assert (draft.metric.target, draft.metric.direction) == (77, "decrease")
    assert draft.area == "health" and draft.target_date == date(2027, 3, 31)


def test_the_baseline_decides_a_direction_the_text_left_open() -> None:
    goal = parsed("Weigh 70 kg by December")
    assert goal.metric is not None
    assert goal.metric.draft(80).direction == "decrease"
    assert goal.metric.draft(60).direction == "increase"
    with pytest.raises(GoalError):
        goal.metric.draft(70)
    faster = parsed("Run 10 km in under 50 minutes by summer")
    assert faster.metric is not None
    with pytest.raises(GoalError):
        faster.metric.draft(45)  # already under: a decrease cannot go up
