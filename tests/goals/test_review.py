"""The weekly review: what moved and slipped, suggestions from rules and from a model, the
chart, and `psi review`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from psi.cli.main import app
from psi.clock import FrozenClock, system_clock
from psi.config import Backend, ModelProfile, builtin_profiles
from psi.goals.chart import DPI, PANEL_SIZE, grid, review_chart
from psi.goals.drafts import (
    GoalDraft,
    HabitDraft,
    MetricDraft,
    MilestoneDraft,
    PlanDraft,
    TaskDraft,
)
from psi.goals.review import (
    MAX_SUGGESTION_CHARS,
    GoalReview,
    Review,
    Suggestion,
    check_suggestion,
    is_capable,
    slipped_text,
    suggest,
    weekly_review,
)
from psi.goals.store import Goals
from psi.llm.scripted import ScriptedModel
from psi.store.db import Store

BERLIN = ZoneInfo("Europe/Berlin")
PLANNED = datetime(2026, 2, 23, 8, 0, tzinfo=BERLIN)  # a Monday: goals and plans are made
NOW = datetime(2026, 3, 8, 18, 0, tzinfo=BERLIN)  # the Sunday evening after: the review
ON_PACE = "Add a 6 km tempo run on Saturdays to build towards your next milestone."


def at(day: int, hour: int = 19) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=BERLIN)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(PLANNED)


@pytest.fixture
def goals(store: Store, clock: FrozenClock) -> Goals:
    return Goals(store, user_id=store.ensure_user("local"), zone=BERLIN, clock=clock)


def marathon(goals: Goals) -> int:
    """On track, with a week of everything: check-ins, tasks done and overdue, a habit
    kept five days of six, a milestone reached and one missed."""
    goal_id = goals.add(
        GoalDraft(
            title="Run a marathon",
            starts_on=date(2026, 2, 2),
            target_date=date(2026, 10, 11),
            metric=MetricDraft(
                unit="km", baseline=10, target=42.2, direction="increase", aggregate="last"
            ),
        ),
        PlanDraft(
            milestones=[
                MilestoneDraft(title="15 km long run", due=date(2026, 3, 3), value=15),
                MilestoneDraft(title="20 km long run", due=date(2026, 3, 6), value=20),
            ],
            tasks=[
                TaskDraft(title="Buy shoes", due=date(2026, 3, 3)),
                TaskDraft(title="Book a physio", due=date(2026, 3, 5)),
                TaskDraft(title="Intervals", rule="FREQ=WEEKLY;BYDAY=WE"),
                TaskDraft(title="Long run", rule="FREQ=WEEKLY;BYDAY=SU"),
            ],
            habits=[HabitDraft(title="Stretch", rule="FREQ=DAILY")],
        ),
    )
    for day, km in ((datetime(2026, 2, 15, 10, tzinfo=BERLIN), 12), (at(1), 14)):
        goals.log(goal_id, km, at=day)
    goals.log(goal_id, 16, at=at(4))
    goals.log(goal_id, 18, at=at(7))
    plan = goals.plan(goal_id)
    tasks = {t.title: t.id for t in plan.tasks}
    goals.complete_task(tasks["Buy shoes"], at=at(3))
    goals.complete_task(tasks["Long run"], at=at(8, 11))
    for day in (2, 3, 4, 6, 7):
        goals.check_habit(plan.habits[0].id, at=at(day))
    goals.complete_milestone(plan.milestones[0].id, at=at(4))
    return goal_id


def weight(goals: Goals) -> int:
    """Off track: 90 → 80 kg by April at 0.05 kg a week."""
    goal_id = goals.add(
        GoalDraft(
            title="Lose weight",
            starts_on=date(2026, 2, 1),
            target_date=date(2026, 4, 26),
            metric=MetricDraft(
                unit="kg", baseline=90, target=80, direction="decrease", aggregate="last"
            ),
        )
    )
    for day, kg in (
        (datetime(2026, 2, 8, 8, tzinfo=BERLIN), 90),
        (at(1, 8), 89.9),
        (at(8, 8), 89.8),
    ):
        goals.log(goal_id, kg, at=day)
    return goal_id


def spanish(goals: Goals) -> int:
    """Unmeasured, with a daily habit kept two days of six."""
    goal_id = goals.add(
        GoalDraft(title="Learn Spanish", starts_on=date(2026, 2, 1), target_date=date(2026, 12, 1)),
        PlanDraft(habits=[HabitDraft(title="Duolingo", rule="FREQ=DAILY")]),
    )
    habit = goals.plan(goal_id).habits[0].id
    for day in (2, 5):
        goals.check_habit(habit, at=at(day))
    return goal_id


def bench(goals: Goals) -> int:
    """Measured as a level, one check-in: not enough data."""
    goal_id = goals.add(
        GoalDraft(
            title="Bench press 80 kg",
            starts_on=date(2026, 3, 1),
            target_date=date(2026, 12, 31),
            metric=MetricDraft(
                unit="kg", baseline=60, target=80, direction="increase", aggregate="last"
            ),
        )
    )
    goals.log(goal_id, 62, at=at(6))
    return goal_id


@pytest.fixture
def review(goals: Goals, clock: FrozenClock) -> Review:
    for make in (marathon, weight, spanish, bench):
        make(goals)
    clock.at = NOW
    return weekly_review(goals, now=NOW)


def of(review: Review, title: str) -> GoalReview:
    return next(g for g in review.goals if g.goal.title == title)


# -- moved and slipped ------------------------------------------------------------------


def test_the_window_is_the_last_seven_local_days(review: Review) -> None:
    assert review.start == datetime(2026, 3, 2, tzinfo=BERLIN)
    assert review.now == NOW and review.days == 7
    # In the order of `psi goal list`: priority, then the nearest target date.
    assert [g.goal.title for g in review.measured] == [
        "Lose weight", "Run a marathon", "Bench press 80 kg"
    ]  # fmt: skip


def test_what_moved(review: Review) -> None:
    run = of(review, "Run a marathon")
    assert run.check_ins == 2
    assert (run.value_before, run.value_now, run.change) == (14, 18, 4)
    assert [(d.title, d.at) for d in run.done] == [("Buy shoes", at(3)), ("Long run", at(8, 11))]
    assert [m.title for m in run.milestones_reached] == ["15 km long run"]
    (stretch,) = run.habits
    # Mon to Sat are settled; Sunday's occurrence is still open and not held against it.
    assert (stretch.due, stretch.done, stretch.rate) == (6, 5, 5 / 6)


def test_what_slipped(review: Review) -> None:
    run = of(review, "Run a marathon")
    assert [(o.title, o.at) for o in run.overdue] == [
        ("Intervals", at(4, 9)),
        ("Book a physio", datetime(2026, 3, 5, tzinfo=BERLIN)),
    ]
    assert run.missed_habits[0].missed == [at(5, 9)]
    assert [m.title for m in run.milestones_missed] == ["20 km long run"]
    # A goal of habits only: four of six days missed.
    (duolingo,) = of(review, "Learn Spanish").habits
    assert (duolingo.due, duolingo.done) == (6, 2)
    assert [m.day for m in duolingo.missed] == [3, 4, 6, 7]


def test_a_times_a_week_habit_is_judged_by_whole_weeks(goals: Goals, clock: FrozenClock) -> None:
    goal_id = goals.add(
        GoalDraft(title="Get strong", starts_on=date(2026, 2, 1), target_date=date(2026, 9, 1)),
        PlanDraft(
            habits=[HabitDraft(title="Gym", rule="FREQ=WEEKLY", per_period=3, period="week")]
        ),
    )
    gym = goals.plan(goal_id).habits[0].id
    for moment in (datetime(2026, 2, 24, 18, tzinfo=BERLIN), at(2), at(4)):
        goals.check_habit(gym, at=moment)
    clock.at = NOW
    # This week is not over, and two of three is not yet a miss.
    (week,) = weekly_review(goals, now=NOW).goals[0].habits
    assert (week.due, week.done, week.missed) == (0, 0, [])
    # Over two weeks, the one before fell short.
    review = weekly_review(goals, now=NOW, days=14)
    (fortnight,) = review.goals[0].habits
    assert (fortnight.due, fortnight.done) == (1, 0)
    assert fortnight.missed == [datetime(2026, 2, 23, tzinfo=BERLIN)]
    assert slipped_text(review, review.goals[0]) == ["Gym short of 3× (week of 2026-02-23)"]


def test_forecast_per_goal(review: Review) -> None:
    statuses = {g.goal.title: g.forecast.status if g.forecast else None for g in review.goals}
    assert statuses == {
        "Run a marathon": "on_track",
        "Lose weight": "off_track",
        "Learn Spanish": None,
        "Bench press 80 kg": "not_enough_data",
    }


def test_goals_other_than_active_ones_are_left_out(goals: Goals, clock: FrozenClock) -> None:
    paused = weight(goals)
    goals.set_status(paused, "paused")
    clock.at = NOW
    assert weekly_review(goals, now=NOW).goals == []
    with pytest.raises(ValueError):
        weekly_review(goals, now=NOW, days=0)


# -- suggestions ------------------------------------------------------------------------


def test_templated_suggestions(review: Review) -> None:
    found = suggest(review, None)
    assert {s.source for s in found.values()} == {"template"}
    text = {g.goal.title: found[g.goal.id].text for g in review.goals}
    assert text["Run a marathon"] == "On track: keep the current pace."
    assert text["Bench press 80 kg"].startswith("Log progress at least twice a week")
    assert text["Learn Spanish"] == (
        'Make "Duolingo" smaller or move it to a better time: kept 2 of 6 this week.'
    )
    # 9.8 kg to go in seven weeks is 1.4 kg a week; at 0.05 kg a week it takes years.
    off = text["Lose weight"]
    assert off.startswith("Off track: ")
    assert "take off 1.4 kg a week (now 0.05)" in off


def test_off_track_suggests_the_date_the_trend_reaches(goals: Goals, clock: FrozenClock) -> None:
    goal_id = goals.add(
        GoalDraft(
            title="Save for a bike",
            starts_on=date(2026, 2, 1),
            target_date=date(2026, 4, 1),
            metric=MetricDraft(
                unit="EUR", baseline=0, target=1000, direction="increase", aggregate="sum"
            ),
        )
    )
    # 50 EUR a week from the start: 1000 EUR twenty weeks after 1 February.
    for week in range(1, 6):
        goals.log(goal_id, 50, at=datetime(2026, 2, 1, 12, tzinfo=UTC) + timedelta(weeks=week))
    clock.at = NOW
    review = weekly_review(goals, now=NOW)
    text = suggest(review, None)[goal_id].text
    f = review.goals[0].forecast
    assert f is not None and f.status == "off_track"
    reached = f.trend.at(datetime(2026, 6, 21, 12, tzinfo=UTC)) if f.trend else 0
    assert abs(reached - 1000) < 1
    assert "extend the target date to 2026-06-2" in text
    # 750 EUR in the 23.2 days to go is 226.2 EUR a week, against 50 now.
    assert "raise the weekly volume to 226.2 EUR (now 50)" in text


def test_model_suggestions_are_used_when_valid(review: Review) -> None:
    run, bench_id = of(review, "Run a marathon").goal.id, of(review, "Bench press 80 kg").goal.id
    reply = {
        "suggestions": [
            {"goal_id": run, "suggestion": ON_PACE},
            {"goal_id": bench_id, "suggestion": "Add one set of five at 62.5 kg each session."},
        ]
    }
    model = ScriptedModel([json.dumps(reply)])
    found = suggest(review, model)
    assert found[run].text == ON_PACE and found[run].source == "model"
    assert found[bench_id].source == "model"
    assert found[of(review, "Lose weight").goal.id].source == "template"
    (call,) = model.calls
    asked = call.messages[-1].content
    assert f"Goal {run}: Run a marathon" in asked and "Stretch missed Thu 05" in asked


def test_invalid_json_falls_back_to_the_rules(review: Review) -> None:
    model = ScriptedModel(["Sure! Here are my ideas: run more.", "Still no JSON, sorry."])
    notes: list[str] = []
    found = suggest(review, model, notes=notes)
    assert found == suggest(review, None)
    assert len(model.calls) == 2  # asked once more after the first bad reply
    assert "could not be used" in notes[0]


def test_bad_items_are_dropped_one_by_one(review: Review) -> None:
    run, weight_id = of(review, "Run a marathon").goal.id, of(review, "Lose weight").goal.id
    reply = {
        "suggestions": [
            {"goal_id": 999, "suggestion": "Go for a swim on Mondays to recover."},
            {"goal_id": run, "suggestion": '{"goal_id": 1, "suggestion": "..."}'},
            {"goal_id": weight_id, "suggestion": "Cut evening snacks and walk after lunch."},
        ]
    }
    notes: list[str] = []
    found = suggest(review, ScriptedModel([json.dumps(reply)]), notes=notes)
    assert found[run] == suggest(review, None)[run]
    assert found[weight_id].source == "model"
    assert 999 not in found
    assert len(notes) == 2


def test_an_echo_of_the_prompt_is_not_a_suggestion(review: Review) -> None:
    weight_id = of(review, "Lose weight").goal.id
    echo = {"goal_id": weight_id, "suggestion": "2. Lose weight (from 90 to 80 kg, by 2026-04-26)"}
    notes: list[str] = []
    found = suggest(review, ScriptedModel([json.dumps({"suggestions": [echo]})]), notes=notes)
    assert found[weight_id].source == "template" and "unusable" in notes[0]
    # Taking up psi's own rule of thumb is allowed.
    rule = suggest(review, None)[weight_id].text
    echo["suggestion"] = rule
    found = suggest(review, ScriptedModel([json.dumps({"suggestions": [echo]})]))
    assert found[weight_id] == Suggestion(rule, "model")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ok",
        "x" * (MAX_SUGGESTION_CHARS + 1),
        "Answer with one JSON object that matches the schema.",
        "As an AI language model, I cannot run for you.",
        "<|im_start|>assistant run more",
        "See https://example.com for a training plan.",
    ],
)
def test_garbage_is_not_a_suggestion(text: str) -> None:
    assert check_suggestion(text) is None


def test_a_plain_sentence_is_a_suggestion() -> None:
    assert check_suggestion("  Keep   your Sunday long run,\nand add one easy run. ") == (
        "Keep your Sunday long run, and add one easy run."
    )


def test_only_the_embedded_model_is_not_asked_unbidden() -> None:
    assert not is_capable(builtin_profiles()["local"])
    assert is_capable(ModelProfile(name="ollama", backend=Backend.openai, model="qwen3:8b"))
    assert is_capable(ModelProfile(name="big", backend=Backend.llamacpp, model="/m/qwen-7b.gguf"))


# -- the chart --------------------------------------------------------------------------


def test_the_chart_is_a_png_of_the_expected_size(review: Review, tmp_path: Path) -> None:
    from matplotlib.image import imread

    path = review_chart(review, tmp_path / "charts" / "review.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows, columns = grid(len(review.measured))
    assert (rows, columns) == (2, 2)
    pixels = imread(path)
    assert pixels.shape[:2] == (rows * PANEL_SIZE[1] * DPI, columns * PANEL_SIZE[0] * DPI)
    # Something was drawn: the panels are not blank.
    assert pixels[..., :3].std() > 0.05


def test_no_measured_goal_means_no_chart(goals: Goals, clock: FrozenClock, tmp_path: Path) -> None:
    spanish(goals)
    clock.at = NOW
    with pytest.raises(ValueError, match="measured"):
        review_chart(weekly_review(goals, now=NOW), tmp_path / "r.png")


# -- psi review -------------------------------------------------------------------------

runner = CliRunner()


def psi(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


@pytest.fixture
def live(store: Store, write_config: Callable[[str], Path]) -> Goals:
    """Goals on the real clock, as the CLI sees them; a scripted profile `demo` for --model."""
    write_config(
        'timezone = "Europe/Berlin"\n'
        "[models.demo]\n"
        'backend = "scripted"\n'
        'model = "demo"\n'
        "replies = ['"
        + json.dumps({"suggestions": [{"goal_id": 1, "suggestion": ON_PACE}]})
        + "']\n"
    )
    goals = Goals(store, user_id=store.ensure_user("local"), zone=BERLIN, clock=system_clock)
    today = goals.local_day(system_clock())
    goal_id = goals.add(
        GoalDraft(
            title="Run a marathon",
            starts_on=today - timedelta(days=30),
            target_date=today + timedelta(days=200),
            metric=MetricDraft(
                unit="km", baseline=10, target=42.2, direction="increase", aggregate="last"
            ),
        )
    )
    assert goal_id == 1
    now = system_clock()
    for days_ago, km in ((20, 11), (9, 14), (1, 16)):
        goals.log(goal_id, km, at=now - timedelta(days=days_ago))
    return goals


def test_psi_review_prints_each_goal_and_the_chart_path(live: Goals, psi_home: Path) -> None:
    code, out = psi("review")
    assert code == 0
    assert "1. Run a marathon" in out and "on track" in out
    assert "moved" in out and "slipped" in out and "forecast" in out
    assert "keep the current pace" in out and "(psi's rule)" in out
    chart = next((psi_home / "reviews").glob("review-*.png"))
    assert out.rstrip().endswith(str(chart))
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_psi_review_with_a_model_and_no_chart(live: Goals, psi_home: Path) -> None:
    code, out = psi("review", "--model", "demo", "--no-chart", "--days", "14")
    assert code == 0
    assert ON_PACE in out and "(psi's rule)" not in out
    assert "Chart" not in out and not (psi_home / "reviews").exists()


def test_psi_review_to_a_chosen_file(live: Goals, tmp_path: Path) -> None:
    target = tmp_path / "week.png"
    code, out = psi("review", "--out", str(target))
    assert code == 0 and target.exists() and str(target) in out


def test_psi_review_without_goals_says_what_to_do(psi_home: Path) -> None:
    code, out = psi("review")
    assert code == 0
    assert "No active goals" in out and "psi goal add" in out


def test_the_cli_starts_without_matplotlib_or_the_review() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, psi.cli.main; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "matplotlib" not in loaded and "psi.goals.review" not in loaded
