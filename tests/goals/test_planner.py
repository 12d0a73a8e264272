"""Plans for goals: the even plan always fits; a model's plan is checked, trimmed or replaced;
a plan in progress is re-spread from where the user stands."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psi.clock import FrozenClock
from psi.errors import BadModelOutput, EndpointError, ModelError, ModelTimeout
from psi.goals.drafts import GoalDraft, MetricDraft, PlanDraft
from psi.goals.planner import deterministic_plan, draft_plan, plan_context, replan
from psi.goals.store import Goals
from psi.llm.scripted import ScriptedModel
from psi.memory.facts import FactDraft, Facts
from psi.store.db import Store

TODAY = date(2026, 5, 6)
BERLIN = ZoneInfo("Europe/Berlin")


def goal(
    title: str = "Run a marathon",
    *,
    target: date = date(2027, 10, 31),
    metric: MetricDraft | None = None,
    starts_on: date = TODAY,
) -> GoalDraft:
    return GoalDraft(title=title, starts_on=starts_on, target_date=target, metric=metric)


def km(baseline: float = 10, target: float = 42.2) -> MetricDraft:
    return MetricDraft(
        unit="km", baseline=baseline, target=target, direction="increase", aggregate="last"
    )


def assert_sound(plan: PlanDraft, draft: GoalDraft) -> None:
    """Valid as a PlanDraft, inside the goal's span, dates and values strictly in order."""
    assert PlanDraft.model_validate(plan.model_dump()) == plan
    assert plan.problems(draft) == []
    dues = [m.due for m in plan.milestones]
    assert all(a < b for a, b in pairwise(dues))
    metric = draft.metric
    if metric is not None:
        values = [metric.baseline, *(m.value for m in plan.milestones if m.value is not None)]
        sign = 1 if metric.direction == "increase" else -1
        assert all(sign * (b - a) > 0 for a, b in pairwise(values))
        assert sign * (metric.target - values[-1]) >= 0


# -- the even plan -------------------------------------------------------------------


@pytest.mark.parametrize(
    "draft",
    [
        goal(metric=km()),
        goal("Lose 5 kg", target=date(2027, 3, 31), metric=MetricDraft(
            unit="kg", baseline=82, target=77, direction="decrease", aggregate="last"
        )),
        goal("Read 24 books", target=date(2026, 12, 31), metric=MetricDraft(
            unit="books", baseline=0, target=24, direction="increase", aggregate="sum"
        )),
        goal("Save €5,000", target=date(2027, 6, 1), metric=MetricDraft(
            unit="€", baseline=0, target=5000, direction="increase", aggregate="sum"
        )),
        goal("Learn Spanish to B1", target=date(2026, 11, 6)),
        goal("Run 10 km in under 50 minutes", target=date(2026, 5, 20), metric=MetricDraft(
            unit="minutes", baseline=58, target=50, direction="decrease", aggregate="last"
        )),
    ],
)  # fmt: skip
def test_even_plans_fit_their_goals(draft: GoalDraft) -> None:
    plan = deterministic_plan(draft, today=TODAY)
    assert_sound(plan, draft)
    assert 2 <= len(plan.milestones) <= 8
    assert plan.milestones[-1].due == draft.target_date
    gaps = [(b - a).days for a, b in pairwise([TODAY, *(m.due for m in plan.milestones)])]
    assert max(gaps) - min(gaps) <= 1
    if draft.metric is not None:
        assert plan.milestones[-1].value == draft.metric.target
    review = plan.tasks[0]
    assert review.title == f"Review progress on {draft.title}"
    assert review.rule == "FREQ=WEEKLY;BYDAY=SU"
    assert len(plan.habits) == 1 and len(plan.if_then) == 1


def test_even_plan_titles_and_rounding() -> None:
    marathon = deterministic_plan(goal(metric=km(0, 40)), today=TODAY)
    assert [m.title for m in marathon.milestones][:2] == ["Reach 5 km", "Reach 10 km"]
    assert marathon.milestones[-1].title == "Reach 40 km"
    assert marathon.habits[0].title == "Go for a run"
    spanish = deterministic_plan(goal("Learn Spanish to B1", target=date(2026, 9, 6)), today=TODAY)
    assert [m.title for m in spanish.milestones] == [
        "Quarter of the way",
        "Halfway",
        "Three quarters of the way",
        "Learn Spanish to B1",
    ]
    assert spanish.habits[0].title == "Work on Learn Spanish to B1"
    assert spanish.habits[0].rule == "FREQ=WEEKLY;BYDAY=MO,WE,FR"


@st.composite
def goals_and_days(draw: st.DrawFn) -> tuple[GoalDraft, date]:
    start = draw(st.dates(date(2020, 1, 1), date(2035, 1, 1)))
    span = draw(st.integers(14, 5 * 366))
    metric = None
    if draw(st.booleans()):
        baseline = draw(st.floats(-1e6, 1e6, allow_nan=False))
        change = draw(st.floats(1e-3, 1e6)) * draw(st.sampled_from([1, -1]))
        metric = MetricDraft(
            unit=draw(st.sampled_from(["km", "kg", "€", "books", "%", "push-ups"])),
            baseline=baseline,
            target=baseline + change,
            direction="increase" if change > 0 else "decrease",
            aggregate=draw(st.sampled_from(["last", "sum"])),
        )
    title = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=200))
    if not title.split():
        title = "A goal"
    draft = GoalDraft(
        title=title, starts_on=start, target_date=start + timedelta(days=span), metric=metric
    )
    today = start + timedelta(days=draw(st.integers(-30, span + 30)))
    return draft, today


@settings(max_examples=300, deadline=None)
@given(goals_and_days())
def test_even_plans_always_validate(case: tuple[GoalDraft, date]) -> None:
    draft, today = case
    plan = deterministic_plan(draft, today=today)
    assert_sound(plan, draft)
    assert 1 <= len(plan.milestones) <= 8
    assert plan.milestones[-1].due == draft.target_date


# -- a model's plan ------------------------------------------------------------------


def model_plan(draft: GoalDraft, **changes: Any) -> dict[str, Any]:
    plan = json.loads(deterministic_plan(draft, today=TODAY).model_dump_json())
    plan["habits"] = [{"title": "Long run on Sundays", "rule": "FREQ=WEEKLY;BYDAY=SU"}]
    plan.update(changes)
    return plan


def test_a_sound_model_plan_is_used() -> None:
    draft = goal(metric=km())
    reply = model_plan(draft)
    model = ScriptedModel([json.dumps(reply)])
    outcome = draft_plan(draft, model, today=TODAY, context="- You work night shifts.")
    assert (outcome.source, outcome.notes) == ("model", [])
    assert outcome.plan == PlanDraft.model_validate(reply)
    prompt = model.calls[0].messages[0].content
    assert "You work night shifts." in prompt and "2027-10-31" in prompt
    assert "from 2026-05-06 to 2027-10-31" in prompt


@pytest.mark.parametrize(
    "reply",
    [
        "Here is a great plan: run a lot!",
        '{"milestones": [{"title": "", "due": "someday"}]}',
        '{"milestones": [{"title": "Halfway", "due": "2026-09-01"',
    ],
)
def test_unusable_json_falls_back_with_a_note(reply: str) -> None:
    draft = goal(metric=km())
    outcome = draft_plan(draft, ScriptedModel([reply, reply]), today=TODAY, context="")
    assert outcome.source == "fallback"
    assert outcome.plan == deterministic_plan(draft, today=TODAY)
    assert len(outcome.notes) == 1 and "did not produce valid JSON" in outcome.notes[0]


def test_bad_items_are_dropped_and_the_rest_kept() -> None:
    draft = goal(metric=km())
    reply = model_plan(draft)
    reply["milestones"].append({"title": "Ultra", "due": "2028-01-01", "value": 42.2})
    reply["milestones"][2]["value"] = 5  # backwards from the milestone before
    reply["habits"].append({"title": "Swim", "rule": "FREQ=FORTNIGHTLY"})
    reply["tasks"].append({"title": "Buy shoes", "due": "2026-01-01", "rule": None})
    outcome = draft_plan(draft, ScriptedModel([json.dumps(reply)]), today=TODAY, context="")
    assert outcome.source == "model"
    assert_sound(outcome.plan, draft)
    assert len(outcome.plan.milestones) == len(reply["milestones"]) - 2
    assert [h.title for h in outcome.plan.habits] == ["Long run on Sundays"]
    assert [t.title for t in outcome.plan.tasks] == ["Review progress on Run a marathon"]
    notes = "\n".join(outcome.notes)
    assert "'Ultra'" in notes and "outside 2026-05-06 to 2027-10-31" in notes
    assert "value 5 is not on the way" in notes
    assert "'Swim'" in notes and "FORTNIGHTLY" in notes
    assert "'Buy shoes'" in notes


def test_a_plan_with_nothing_usable_falls_back() -> None:
    draft = goal(metric=km())
    late = [{"title": f"M{i}", "due": f"2029-0{i}-01", "value": None} for i in range(1, 4)]
    outcome = draft_plan(
        draft, ScriptedModel([json.dumps(model_plan(draft, milestones=late))]), today=TODAY,
        context="",
    )  # fmt: skip
    assert outcome.source == "fallback"
    assert outcome.plan == deterministic_plan(draft, today=TODAY)
    assert "no usable milestone" in " ".join(outcome.notes)
    rules = model_plan(draft, habits=[{"title": f"H{i}", "rule": "NOPE"} for i in range(3)])
    rules["milestones"] = rules["milestones"][:1]
    rules["tasks"] = [{"title": f"T{i}", "rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}
                      for i in range(3)]  # fmt: skip
    outcome = draft_plan(draft, ScriptedModel([json.dumps(rules)]), today=TODAY, context="")
    assert outcome.source == "fallback"
    assert "Most of the model's plan did not fit" in " ".join(outcome.notes)


@pytest.mark.parametrize(
    "error",
    [
        ModelError("The model crashed."),
        ModelTimeout("No answer within 120 s."),
        BadModelOutput("Not JSON."),
        EndpointError("Server down.", host="127.0.0.1"),
    ],
)
def test_model_errors_fall_back_and_never_raise(error: ModelError) -> None:
    draft = goal("Learn Spanish to B1", target=date(2026, 11, 6))
    outcome = draft_plan(draft, ScriptedModel([error]), today=TODAY, context="")
    assert outcome.source == "fallback"
    assert outcome.plan == deterministic_plan(draft, today=TODAY)
    assert error.message in outcome.notes[0]


def test_without_a_model_the_plan_is_even() -> None:
    draft = goal()
    outcome = draft_plan(draft, None, today=TODAY, context="")
    assert (outcome.source, outcome.plan) == ("fallback", deterministic_plan(draft, today=TODAY))


def test_metric_values_are_dropped_for_a_goal_without_a_metric() -> None:
    draft = goal("Learn Spanish to B1", target=date(2026, 11, 6))
    reply = model_plan(draft)
    reply["milestones"][0]["value"] = 3
    outcome = draft_plan(draft, ScriptedModel([json.dumps(reply)]), today=TODAY, context="")
    assert outcome.source == "model"
    assert all(m.value is None for m in outcome.plan.milestones)


# -- what psi knows ------------------------------------------------------------------


def test_plan_context_is_the_profile_and_a_bounded_number_of_facts(store: Store) -> None:
    user_id = store.ensure_user("local")
    facts = Facts(store, user_id=user_id)
    facts.add(FactDraft(subject="user", statement="You work night shifts.", category="profile"))
    for week in range(30):
        facts.add(
            FactDraft(
                subject="user",
                statement=f"You have a work trip to city number {week} planned.",
                category="plan",
                valid_from=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(weeks=week),
            )
        )
    context = plan_context(store, user_id)
    assert "You work night shifts." in context
    assert context.count("You work night shifts.") == 1
    assert context.count("work trip") == 15
    assert "city number 29" in context and "city number 14" not in context
    assert len(context) <= 2000
    assert plan_context(store, store.ensure_user("someone else")) == ""


# -- re-planning ---------------------------------------------------------------------

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def marathon() -> GoalDraft:
    return GoalDraft(
        title="Run a marathon",
        starts_on=date(2026, 3, 2),
        target_date=date(2026, 11, 1),
        metric=km(10, 42),
    )


def started(store: Store, values: list[tuple[date, float]], now: datetime) -> tuple[Goals, int]:
    clock = FrozenClock(START)
    goals = Goals(store, user_id=store.ensure_user("local"), zone=BERLIN, clock=clock)
    goal_id = goals.add(marathon(), deterministic_plan(marathon(), today=date(2026, 3, 2)))
    for day, value in values:
        goals.log(goal_id, value, at=datetime.combine(day, datetime.min.time(), tzinfo=BERLIN))
    first = goals.plan(goal_id).milestones[0]
    goals.complete_milestone(first.id, at=first.due)
    clock.at = now
    return goals, goal_id


NOW = datetime(2026, 7, 1, 8, 0, tzinfo=BERLIN)


def test_replan_when_behind_respreads_from_today_and_suggests_a_change(store: Store) -> None:
    values = [(date(2026, 3, 10), 10), (date(2026, 4, 10), 10.5), (date(2026, 6, 25), 12)]
    goals, goal_id = started(store, values, NOW)
    before = goals.get(goal_id)
    plan = goals.plan(goal_id)
    outcome = replan(before, plan, goals.check_ins(goal_ids=[goal_id]), None, now=NOW, context="")
    assert outcome.source == "fallback"
    notes = " ".join(outcome.notes)
    assert notes.startswith("Off track. Now at 12 km")
    assert "move the target date to about" in notes or "aim for about" in notes
    milestones = outcome.plan.milestones
    assert len(milestones) == len(plan.milestones) - 1  # the done one stays stored
    assert milestones[0].due > NOW.date() and milestones[-1].due == date(2026, 11, 1)
    assert milestones[0].value is not None and 12 < milestones[0].value < 42
    assert milestones[-1].value == 42
    assert [h.title for h in outcome.plan.habits] == ["Go for a run"]
    goals.replace_plan(goal_id, outcome.plan)
    after = goals.plan(goal_id)
    # The goal itself is not changed (its plan was, so it counts as updated).
    assert after.goal.draft(goals.zone) == before.draft(goals.zone)
    assert sum(1 for m in after.milestones if m.done_at is not None) == 1


def test_replan_when_ahead_says_so(store: Store) -> None:
    values = [(date(2026, 3, 10), 12), (date(2026, 4, 20), 21), (date(2026, 6, 20), 32)]
    goals, goal_id = started(store, values, NOW)
    outcome = replan(
        goals.get(goal_id),
        goals.plan(goal_id),
        goals.check_ins(goal_ids=[goal_id]),
        None,
        now=NOW,
        context="",
    )
    assert outcome.notes[0].startswith("On track. Now at 32 km")
    assert not any("target date" in note for note in outcome.notes)
    assert outcome.plan.milestones[0].value is not None and outcome.plan.milestones[0].value > 32


def test_replan_asks_the_model_and_checks_its_answer(store: Store) -> None:
    goals, goal_id = started(store, [(date(2026, 6, 25), 20)], NOW)
    reply = {
        "milestones": [
            {"title": "Too late now", "due": "2026-06-01", "value": 22},
            {"title": "Reach 30 km", "due": "2026-09-01", "value": 30},
            {"title": "Marathon", "due": "2026-11-01", "value": 42},
        ],
        "tasks": [],
        "habits": [{"title": "Go for a run", "rule": "FREQ=WEEKLY;BYDAY=TU,SA"}],
        "if_then": [{"situation": "it rains", "action": "I run on the treadmill"}],
    }
    model = ScriptedModel([json.dumps(reply)])
    outcome = replan(
        goals.get(goal_id),
        goals.plan(goal_id),
        goals.check_ins(goal_ids=[goal_id]),
        model,
        now=NOW,
        context="- You work night shifts.",
    )
    assert outcome.source == "model"
    assert [m.title for m in outcome.plan.milestones] == ["Reach 30 km", "Marathon"]
    assert any("'Too late now'" in note for note in outcome.notes)
    prompt = model.calls[0].messages[0].content
    assert "Now at 20 km" in prompt and "Done: Reach" in prompt
    goals.replace_plan(goal_id, outcome.plan)


def test_replan_after_the_target_date_keeps_the_plan_and_says_so(store: Store) -> None:
    late = datetime(2026, 11, 20, 8, 0, tzinfo=BERLIN)
    goals, goal_id = started(store, [(date(2026, 6, 25), 20)], late)
    model = ScriptedModel([])
    outcome = replan(
        goals.get(goal_id),
        goals.plan(goal_id),
        goals.check_ins(goal_ids=[goal_id]),
        model,
        now=late,
        context="",
    )
    assert outcome.source == "fallback" and model.calls == []
    assert "The target date has passed" in outcome.notes[-1]
    assert outcome.plan.problems(marathon()) == []
