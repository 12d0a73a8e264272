"""Plans for goals: an even one psi builds itself, and a model's, checked before use.

    plan = deterministic_plan(goal, today=today)       # always valid, no model
    outcome = draft_plan(goal, model, today=today, context=plan_context(store, user_id))
    outcome.plan, outcome.source, outcome.notes         # source "model" or "fallback"
    replan(goal_view, plan_view, check_ins, model, now=now, context=...)
    replan_goal(goals, goal_id, model)                  # the same for a stored goal

The deterministic plan (psi.goals.spread) spreads about one milestone a month
(2 to 8) evenly to the target date, metric values on a straight ramp, and adds
a weekly review, a habit suited to the metric and an if-then plan.

A model's plan is asked for with the PlanDraft schema (grammar-constrained on
llama.cpp) and trusted no further than it is checked: milestones inside the
span, in date order, their values moving from the start value towards the
target; every rule parses and fires before the target date. Bad items are
dropped, each with a note. When no milestone survives, or more items were
dropped than kept, or the model fails in any way (an error, a timeout, JSON
that never fits), the deterministic plan is used and a note says why. Model
misbehaviour never raises.

`replan` does the same for the rest of a goal in progress: the forecast says
how it is going; the open milestones are re-spread from today and the current
value to the target; done ones stay stored (Goals.replace_plan keeps them).
Off track or at risk, a note suggests a later target date or a smaller
target; the goal itself is never changed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from psi.errors import InvalidRule, ModelError, OfflineRefusal
from psi.goals.drafts import (
    GoalDraft,
    HabitDraft,
    IfThenDraft,
    MilestoneDraft,
    PlanDraft,
    TaskDraft,
)
from psi.goals.forecast import Forecast, Point, forecast
from psi.goals.recurrence import next_after, parse_rule
from psi.goals.spread import (
    MAX_MILESTONES,
    amount,
    deterministic_plan,
    even_milestones,
    plan_start,
)
from psi.goals.store import CheckInView, Goals, GoalView, PlanView
from psi.llm.base import ChatModel, prompt_text
from psi.llm.types import ChatOptions, Message
from psi.memory.facts import Facts
from psi.memory.profile import Profiles
from psi.store.db import Store

PLAN_TOKENS = 1000
CONTEXT_FACTS = 15
MAX_CONTEXT_CHARS = 2000

Source = Literal["model", "fallback"]


@dataclass(frozen=True)
class PlanOutcome:
    """A plan, whose it is, and what the user should know about how it came about."""

    plan: PlanDraft
    source: Source
    notes: list[str] = field(default_factory=list)


# -- asking a model ------------------------------------------------------------------


def draft_plan(
    goal: GoalDraft,
    model: ChatModel | None,
    *,
    today: date,
    context: str,
    options: ChatOptions | None = None,
) -> PlanOutcome:
    """A model's plan for `goal`, checked; the deterministic plan when it will not do.

    `context` is what psi knows about the user (`plan_context`); it goes into the
    prompt quoted as data."""
    even = deterministic_plan(goal, today=today)
    if model is None:
        return PlanOutcome(even, "fallback", ["No model to ask: the plan is spread evenly."])
    start = plan_start(goal, today)
    prompt = prompt_text("plan_goal.md").format(
        today=today.isoformat(),
        start=start.isoformat(),
        target_date=goal.target_date.isoformat(),
        goal=_describe(goal),
        context=context.strip() or "(nothing yet)",
        example=even.model_dump_json(),
    )
    level = goal.metric.baseline if goal.metric else None
    return _ask(model, prompt, goal, start=start, level=level, fallback=even, options=options)


def _ask(
    model: ChatModel,
    prompt: str,
    goal: GoalDraft,
    *,
    start: date,
    level: float | None,
    fallback: PlanDraft,
    options: ChatOptions | None,
) -> PlanOutcome:
    messages = [Message.system(prompt), Message.user("Write the plan as JSON.")]
    ask = options or ChatOptions(max_tokens=PLAN_TOKENS, temperature=0.0, schema_retries=1)
    try:
        parsed = model.chat(messages, schema=PlanDraft, options=ask).parsed
    except (ModelError, OfflineRefusal) as exc:
        reason = " ".join(exc.message.split())
        return PlanOutcome(
            fallback,
            "fallback",
            [f"The model could not plan ({reason}); the plan is spread evenly."],
        )
    if not isinstance(parsed, PlanDraft):
        return PlanOutcome(
            fallback, "fallback", ["The model gave no plan; the plan is spread evenly."]
        )
    kept, notes = vet_plan(parsed, goal, start=start, level=level)
    if kept is None:
        return PlanOutcome(fallback, "fallback", [*notes, "The plan is spread evenly instead."])
    return PlanOutcome(kept, "model", notes)


def vet_plan(
    plan: PlanDraft, goal: GoalDraft, *, start: date, level: float | None
) -> tuple[PlanDraft | None, list[str]]:
    """`plan` without the items that do not fit, and a note for each; None when too little
    is left (no milestone, or more items dropped than kept).

    Milestones must fall from `start` to the target date, each after the one before,
    with values (for a goal with a metric) moving from `level` towards the target and
    not past it; rules must parse and fire before the target date; one-off tasks must
    be due in the span."""
    notes: list[str] = []
    milestones: list[MilestoneDraft] = []
    metric = goal.metric
    previous_due: date | None = None
    previous_value = level
    for milestone in plan.milestones:
        problem = _milestone_problem(milestone, goal, start, previous_due, previous_value)
        if problem:
            notes.append(f"Dropped the milestone {milestone.title!r}: {problem}.")
            continue
        if metric is None and milestone.value is not None:
            milestone = milestone.model_copy(update={"value": None})
        milestones.append(milestone)
        previous_due = milestone.due
        if milestone.value is not None:
            previous_value = milestone.value
    tasks = []
    for task in plan.tasks:
        if task.due is not None and not start <= task.due <= goal.target_date:
            problem = f"it is due {task.due}, outside {start} to {goal.target_date}"
        else:
            problem = _rule_problem(task.rule, start, goal.target_date) if task.rule else None
        if problem:
            notes.append(f"Dropped the task {task.title!r}: {problem}.")
        else:
            tasks.append(task)
    habits = []
    for habit in plan.habits:
        problem = _rule_problem(habit.rule, start, goal.target_date)
        if problem:
            notes.append(f"Dropped the habit {habit.title!r}: {problem}.")
        else:
            habits.append(habit)
    kept = len(milestones) + len(tasks) + len(habits) + len(plan.if_then)
    if not milestones:
        return None, [*notes, "The model's plan had no usable milestone."]
    if len(notes) > kept:
        return None, [*notes, "Most of the model's plan did not fit the goal."]
    vetted = PlanDraft(milestones=milestones, tasks=tasks, habits=habits, if_then=plan.if_then)
    assert not vetted.problems(goal), vetted.problems(goal)
    return vetted, notes


def _milestone_problem(
    milestone: MilestoneDraft,
    goal: GoalDraft,
    start: date,
    previous_due: date | None,
    previous_value: float | None,
) -> str | None:
    if not start <= milestone.due <= goal.target_date:
        return f"it is due {milestone.due}, outside {start} to {goal.target_date}"
    if previous_due is not None and milestone.due <= previous_due:
        return f"it is due {milestone.due}, not after the milestone before it ({previous_due})"
    metric, value = goal.metric, milestone.value
    if metric is None or value is None or previous_value is None:
        return None
    sign = 1 if metric.direction == "increase" else -1
    if not (sign * (value - previous_value) > 0 and sign * (metric.target - value) >= 0):
        return (
            f"its value {value:g} is not on the way from {previous_value:g} "
            f"to {metric.target:g} {metric.unit}"
        )
    return None


def _rule_problem(text: str, start: date, end: date) -> str | None:
    """Why the rule will not do between `start` and `end`, or None."""
    begin = datetime.combine(start, time(0), tzinfo=UTC)
    try:
        rule = parse_rule(text, begin)
    except InvalidRule as exc:
        return f"its rule {text!r} cannot be read ({exc.message})"
    first = next_after(rule, begin - timedelta(seconds=1))
    if first is None or first.date() > end:
        return f"its rule {text!r} does not fire before {end}"
    return None


def _describe(goal: GoalDraft) -> str:
    lines = [f"Title: {goal.title}"]
    if goal.why:
        lines.append(f"Why: {goal.why}")
    lines.append(f"Area: {goal.area}")
    lines.append(
        f"Starts: {goal.starts_on.isoformat()}; target date: {goal.target_date.isoformat()}"
    )
    metric = goal.metric
    if metric is None:
        lines.append("Measured: no")
    else:
        how = "check-ins add up" if metric.aggregate == "sum" else "each check-in is the level"
        lines.append(
            f"Measured in {metric.unit}: from {metric.baseline:g} to {metric.target:g} "
            f"({metric.direction}; {how})"
        )
    return "\n".join(lines)


# -- what psi knows --------------------------------------------------------------------


def plan_context(
    store: Store, user_id: int, *, now: datetime | None = None, zone: ZoneInfo | None = None
) -> str:
    """What psi knows that may shape a plan: the profile, up to CONTEXT_FACTS current
    facts (newest first) and, given `now` and `zone`, the commitments of the next two
    weeks from the user's imported calendars; one per line, at most MAX_CONTEXT_CHARS;
    "" when nothing."""
    profile = Profiles(store, user_id=user_id).get().text.strip()
    facts = Facts(store, user_id=user_id).current(
        categories=("profile", "preference", "plan", "event")
    )
    lines = [f"- {line.strip()}" for line in profile.splitlines() if line.strip()]
    new = [f for f in facts if f.statement not in profile][:CONTEXT_FACTS]
    lines += [f"- {' '.join(f.statement.split())}" for f in new]
    if now is not None and zone is not None:
        lines += busy_lines(store, user_id, now=now, zone=zone)
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > MAX_CONTEXT_CHARS:
            break
        text += line + "\n"
    return text.rstrip()


def busy_lines(store: Store, user_id: int, *, now: datetime, zone: ZoneInfo) -> list[str]:
    """The next two weeks' commitments, a line each: a repeating one once, with its
    weekday and time ("Busy Mon 09:00-10:00: Team standup (weekly)")."""
    from psi.goals.commitments import busy_between

    seen: dict[tuple[str, str], int] = {}
    for block in busy_between(store, user_id, now, now + timedelta(days=14)):
        start, end = block.starts_at.astimezone(zone), block.ends_at.astimezone(zone)
        when = f"{start:%a}" if block.all_day else f"{start:%a %H:%M}-{end:%H:%M}"
        key = (when, block.summary)
        seen[key] = seen.get(key, 0) + 1
    return [
        f"- Busy {when}: {' '.join(summary.split())[:80]}" + (" (weekly)" if count > 1 else "")
        for (when, summary), count in list(seen.items())[:CONTEXT_FACTS]
    ]


# -- re-planning -----------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How a goal in progress is going, for the notes and the prompt."""

    status: str  # a forecast status, or "behind" / "on_track" from milestones alone
    level: float | None  # the metric's current value
    summary: str
    advice: list[str]


def replan(
    goal: GoalView,
    plan: PlanView,
    check_ins: Sequence[CheckInView],
    model: ChatModel | None,
    *,
    now: datetime,
    context: str,
    zone: ZoneInfo | None = None,
    options: ChatOptions | None = None,
) -> PlanOutcome:
    """The rest of the plan adapted to progress so far; the goal itself is not changed.

    `check_ins` are the goal's (Goals.check_ins(goal_ids=[goal.id])); `zone` is the
    user's (default: `now`'s), in which stored dates are read."""
    zone = zone or _zone(now)
    today = now.astimezone(zone).date()
    draft = goal.draft(zone)
    progress = _progress(goal, plan, check_ins, now, today, zone)
    current = _open_plan(plan, zone, today, draft.target_date)
    if today >= draft.target_date:
        advice = "The target date has passed: move it later, or close the goal."
        return PlanOutcome(current, "fallback", [progress.summary, advice])
    if progress.status == "done":
        return PlanOutcome(current, "fallback", [progress.summary, *progress.advice])
    start = plan_start(draft, today)
    open_milestones = [m for m in plan.milestones if m.done_at is None]
    count = min(MAX_MILESTONES, max(1, len(open_milestones)), (draft.target_date - start).days)
    titles = [None if m.value is not None else m.title for m in open_milestones][-count:]
    if not titles:
        titles = [None]
    even = current.model_copy(
        update={"milestones": even_milestones(draft, start, count, progress.level, titles=titles)}
    )
    notes = [progress.summary, *progress.advice]
    if model is None:
        return PlanOutcome(
            even, "fallback", [*notes, "No model to ask: the rest is spread evenly."]
        )
    prompt = prompt_text("replan_goal.md").format(
        today=today.isoformat(),
        start=start.isoformat(),
        target_date=draft.target_date.isoformat(),
        goal=_describe(draft),
        progress=_progress_text(progress, plan, zone),
        context=context.strip() or "(nothing yet)",
        example=even.model_dump_json(),
    )
    outcome = _ask(
        model, prompt, draft, start=start, level=progress.level, fallback=even, options=options
    )
    return PlanOutcome(outcome.plan, outcome.source, [*notes, *outcome.notes])


def replan_goal(goals: Goals, goal_id: int, model: ChatModel | None) -> PlanOutcome:
    """`replan` for one of `goals`' stored goals, now, with what psi knows about its user
    as context; nothing is saved (Goals.replace_plan saves the plan chosen)."""
    now = goals.clock()
    return replan(
        goals.get(goal_id),
        goals.plan(goal_id),
        goals.check_ins(goal_ids=[goal_id]),
        model,
        now=now,
        context=plan_context(goals.store, goals.user_id, now=now, zone=goals.zone),
        zone=goals.zone,
    )


def _zone(now: datetime) -> ZoneInfo:
    zone = now.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone
    if zone is not None and now.utcoffset() == timedelta(0):
        return ZoneInfo("UTC")
    raise ValueError("give `zone`, or `now` in a zoneinfo.ZoneInfo zone")


def _progress(
    goal: GoalView,
    plan: PlanView,
    check_ins: Sequence[CheckInView],
    now: datetime,
    today: date,
    zone: ZoneInfo,
) -> Progress:
    metric = goal.metric
    if metric is None:
        overdue = [
            m
            for m in plan.milestones
            if m.done_at is None and m.due.astimezone(zone).date() < today
        ]
        done = sum(1 for m in plan.milestones if m.done_at is not None)
        summary = f"{done} of {len(plan.milestones)} milestones done"
        if overdue:
            return Progress(
                "behind",
                None,
                f"Behind: {summary}; {len(overdue)} overdue.",
                ["If the rest will not fit, move the target date later or make the goal smaller."],
            )
        return Progress("on_track", None, f"On track: {summary}.", [])
    points = [
        Point(c.at, c.value)
        for c in check_ins
        if c.goal_id == goal.id and c.value is not None and c.at <= now
    ]
    seen = forecast(metric, points, goal.starts_at, goal.target_date, now)
    unit = metric.unit
    summary = (
        f"Now at {amount(seen.current, unit)} ({seen.percent:.0f}% of the way); "
        f"the straight line says {amount(round(seen.expected_now, 6), unit)} by today."
    )
    status = seen.status
    advice: list[str] = []
    if status == "done":
        advice.append("The target is reached: mark the goal done, or set a new target.")
    elif status == "on_track":
        summary = f"On track. {summary}"
    elif status == "not_enough_data":
        summary = f"Too few check-ins for a forecast. {summary}"
    else:
        summary = f"{'At risk' if status == 'at_risk' else 'Off track'}. {summary}"
        advice.append(
            _suggestion(seen, metric.target, unit, goal.target_date.astimezone(zone).date(), today)
        )
    return Progress(status, seen.current, summary, advice)


def _suggestion(seen: Forecast, target: float, unit: str, target_date: date, today: date) -> str:
    """A later date at the current pace, or a smaller target; the goal is left as it is."""
    slope = seen.trend.slope if seen.trend else 0.0
    towards = (target - seen.current) * slope > 0
    parts = []
    if towards:
        days = (target - seen.current) / slope
        if days < 365 * 50:
            later = today + timedelta(days=math.ceil(days))
            if later > target_date:
                parts.append(f"move the target date to about {later.isoformat()}")
    if seen.projected is not None and (seen.projected - seen.current) * (target - seen.current) > 0:
        parts.append(f"aim for about {amount(round(seen.projected, 1), unit)} instead")
    if not parts:
        return "Progress has stalled: consider a later target date or a smaller target."
    return "At this pace the target is out of reach: " + ", or ".join(parts) + "."


def _open_plan(plan: PlanView, zone: ZoneInfo, today: date, target_date: date) -> PlanDraft:
    """What is not done yet, as a draft: open milestones (within the span), one-off tasks
    (overdue ones due today, within the span), recurring tasks, active habits and the
    if-then plans."""
    starts_on = plan.goal.starts_at.astimezone(zone).date()
    # A goal edited to new dates may have left milestones outside its span.
    milestones = [
        MilestoneDraft(
            title=m.title,
            due=min(max(m.due.astimezone(zone).date(), starts_on), target_date),
            value=m.value,
        )
        for m in plan.milestones
        if m.done_at is None
    ]
    tasks = []
    for task in plan.tasks:
        if task.done_at is not None:
            continue
        if task.rule is not None:
            tasks.append(
                TaskDraft(
                    title=task.title, rule=task.rule.text, estimate_minutes=task.estimate_minutes
                )
            )
        elif task.due is not None:
            due = min(max(task.due.astimezone(zone).date(), today), target_date)
            tasks.append(
                TaskDraft(title=task.title, due=due, estimate_minutes=task.estimate_minutes)
            )
    habits = [
        HabitDraft.model_validate(
            {"title": h.title, "rule": h.rule.text, "per_period": h.per_period, "period": h.period}
        )
        for h in plan.habits
        if h.active
    ]
    if_then = [IfThenDraft(situation=p.situation, action=p.action) for p in plan.if_then]
    return PlanDraft(milestones=milestones, tasks=tasks, habits=habits, if_then=if_then)


def _progress_text(progress: Progress, plan: PlanView, zone: ZoneInfo) -> str:
    done = [m for m in plan.milestones if m.done_at is not None]
    lines = [progress.summary, *progress.advice]
    lines += [f"Done: {m.title} (due {m.due.astimezone(zone).date().isoformat()})" for m in done]
    return "\n".join(lines)


__all__ = [
    "PlanOutcome",
    "deterministic_plan",
    "draft_plan",
    "plan_context",
    "replan",
    "vet_plan",
]
