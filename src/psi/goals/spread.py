"""The even plan: what psi plans for a goal without a model (pure functions).

    deterministic_plan(goal, today=today)   # a PlanDraft that always validates

About one milestone a month (MIN_MILESTONES to MAX_MILESTONES), spread evenly
from today (or the goal's start) to the target date, rounded half up to whole
days so their dates strictly increase. With a metric, their values lie on a
straight ramp from the baseline to the target, rounded to a power of ten no
larger than one step, which keeps them strictly monotone; the last is the
target exactly. Then one weekly review task, one habit suited to the metric
(or "Work on <title>" three times a week) and one if-then plan. The planner
uses the same pieces to re-spread what is left of a plan in progress.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from psi.goals.drafts import (
    GoalDraft,
    HabitDraft,
    IfThenDraft,
    MetricDraft,
    MilestoneDraft,
    PlanDraft,
    TaskDraft,
)

MIN_MILESTONES = 2
MAX_MILESTONES = 8
DAYS_PER_MILESTONE = 30.44  # about monthly
_TITLE_CHARS = 200
REVIEW_RULE = "FREQ=WEEKLY;BYDAY=SU"
WORK_RULE = "FREQ=WEEKLY;BYDAY=MO,WE,FR"
_CURRENCIES = ("€", "$", "£")
# A habit that moves each kind of metric; anything else gets "Work on <title>".
_HABITS = {
    **dict.fromkeys(("km", "miles"), ("Go for a run", "FREQ=WEEKLY;BYDAY=TU,TH,SA")),
    **dict.fromkeys(("kg", "lb"), ("Weigh in and log it", "FREQ=WEEKLY;BYDAY=MO")),
    **dict.fromkeys(("books", "pages", "chapters"), ("Read for 20 minutes", "FREQ=DAILY")),
    **dict.fromkeys(_CURRENCIES, ("Put money aside", "FREQ=MONTHLY;BYMONTHDAY=1")),
    "steps": ("Go for a walk", "FREQ=DAILY"),
    "hours": ("Put in an hour", WORK_RULE),
}
_FRACTIONS = {
    (1, 4): "Quarter of the way",
    (1, 3): "A third of the way",
    (1, 2): "Halfway",
    (2, 3): "Two thirds of the way",
    (3, 4): "Three quarters of the way",
}


def deterministic_plan(goal: GoalDraft, *, today: date) -> PlanDraft:
    """Milestones evenly to the target date, a weekly review, a habit and an if-then plan."""
    start = plan_start(goal, today)
    days = (goal.target_date - start).days
    count = min(MAX_MILESTONES, max(MIN_MILESTONES, round(days / DAYS_PER_MILESTONE)))
    level = goal.metric.baseline if goal.metric else None
    return PlanDraft(
        milestones=even_milestones(goal, start, min(count, days), level, titles=None),
        tasks=[TaskDraft(title=_clip(f"Review progress on {goal.title}"), rule=REVIEW_RULE)],
        habits=[_habit(goal)],
        if_then=[IfThenDraft(situation="I miss a session", action="I do a short one the next day")],
    )


def plan_start(goal: GoalDraft, today: date) -> date:
    """Today, inside the goal's span; its start when today is outside it."""
    return today if goal.starts_on <= today < goal.target_date else goal.starts_on


def _dates(start: date, end: date, count: int) -> list[date]:
    """`count` dates evenly after `start`, the last on `end`; strictly increasing when
    `count` is at most the days between (each step is at least a day, rounded half up)."""
    days = (end - start).days
    return [
        start + timedelta(days=(2 * days * i + count) // (2 * count)) for i in range(1, count + 1)
    ]


def _ramp(level: float, target: float, count: int) -> list[float | None]:
    """`count` values on a straight line from `level` (excluded) to `target` (the last,
    exactly), rounded to a power of ten no larger than a step so they stay strictly
    monotone; unrounded if floats cannot keep them apart, None if nothing can."""
    step = abs(target - level) / count
    exact = [level + (target - level) * (i / count) for i in range(1, count)] + [target]
    candidates = [exact]
    if step > 0 and math.isfinite(step):
        quantum = 10.0 ** math.floor(math.log10(step))
        decimals = max(0, -math.floor(math.log10(quantum)))
        rounded = [round(math.floor(v / quantum + 0.5) * quantum, decimals) for v in exact[:-1]]
        candidates.insert(0, [*rounded, target])
    for values in candidates:
        if _monotone(level, values, target):
            return list(values)
    return [None] * count


def _monotone(level: float, values: Sequence[float], target: float) -> bool:
    sign = 1 if target > level else -1
    chain = [level, *values]
    return all(sign * (b - a) > 0 for a, b in pairwise(chain)) and (values[-1] == target)


def even_milestones(
    goal: GoalDraft,
    start: date,
    count: int,
    level: float | None,
    *,
    titles: Sequence[str | None] | None,
) -> list[MilestoneDraft]:
    """`count` milestones from `start` to the target date; metric values ramp from `level`.

    `titles` keeps given titles (None: make one); without it every title is made."""
    count = max(1, count)
    metric = goal.metric
    values: list[float | None] = [None] * count
    if metric is not None and level is not None:
        values = _ramp(level, metric.target, count)
    out = []
    for i, (due, value) in enumerate(
        zip(_dates(start, goal.target_date, count), values, strict=True)
    ):
        given = titles[i] if titles is not None else None
        if given is not None:
            title = given
        elif metric is not None and value is not None:
            title = _value_title(metric, value)
        elif i + 1 == count:
            title = goal.title
        else:
            title = _FRACTIONS.get(
                _reduced(i + 1, count), f"{round(100 * (i + 1) / count)}% of the way"
            )
        out.append(MilestoneDraft(title=_clip(title), due=due, value=value))
    return out


def _reduced(numerator: int, denominator: int) -> tuple[int, int]:
    common = math.gcd(numerator, denominator)
    return numerator // common, denominator // common


def _value_title(metric: MetricDraft, value: float) -> str:
    level = amount(value, metric.unit)
    if metric.aggregate == "sum":
        return f"{level} in total"
    return f"Reach {level}" if metric.direction == "increase" else f"Down to {level}"


def amount(value: float, unit: str) -> str:
    """`value` with its unit, as a title shows it: "€2,500", "42.2 km", "15%"."""
    number = f"{value:,.6f}".rstrip("0").rstrip(".")
    if unit in _CURRENCIES:
        return f"{unit}{number}"
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def _habit(goal: GoalDraft) -> HabitDraft:
    unit = goal.metric.unit.lower() if goal.metric else ""
    title, rule = _HABITS.get(unit, (f"Work on {goal.title}", WORK_RULE))
    return HabitDraft(title=_clip(title), rule=rule)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1].rstrip() + "…"


__all__ = ["amount", "deterministic_plan", "even_milestones", "plan_start"]
