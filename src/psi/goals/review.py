"""The weekly review: for each active goal, what moved, what slipped, where it is heading,
and one suggested adjustment.

    review = weekly_review(goals, now=clock())        # the last 7 local days, today included
    suggestions = suggest(review, model)               # {goal_id: Suggestion}; model may be None

The window is the last `days` local days up to `now`, so a review on Sunday
evening covers Monday 00:00 to now. Per goal:

  moved    metric check-ins in the window and the value before and now; tasks
           (and occurrences of recurring ones) done; milestones reached; each
           habit's completions against the occurrences (or periods) settled;
  slipped  one-off tasks due before today and not done, occurrences of recurring
           tasks in the window before today not done, habit occurrences missed,
           milestones whose day has passed unreached;
  forecast psi.goals.forecast's status and projection at the target date.

Habit counts follow psi.goals.forecast.adherence, as the agenda's standings do:
an occurrence still open today is neither kept nor missed.

Suggestions come from rules over these numbers (`template`), or from one model
call whose answers are checked one by one: the goal must be in the review and
the text a short sentence, not JSON, markup or an echo of the prompt. A goal
whose model answer is dropped, and every goal when the call fails, keeps its
rule-based suggestion, so a review never lacks one.

Which model: the embedded SmolLM2-135M cannot reason over a week of numbers and
would make the rules' sound advice worse, so `is_capable` says no to it and the
CLI uses the rules unless `--model` names a profile (any, even that one). Every
other default profile is asked: the user picked it for chatting, where goals and
their data reach it anyway. The chart lives in psi.goals.chart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from psi.config import ModelProfile
from psi.errors import PsiError
from psi.goals.agenda import period_starts
from psi.goals.forecast import (
    Forecast,
    Metric,
    Point,
    adherence,
    current_value,
    forecast,
    period_adherence,
)
from psi.goals.recurrence import occurrences
from psi.goals.store import CheckInView, Goals, GoalView, HabitView, MilestoneView, TaskView
from psi.llm.base import ChatModel, prompt_text
from psi.llm.types import ChatOptions, Message

WEAK_HABIT = 0.6  # a habit kept less often than this gets the "make it smaller" advice
MAX_SUGGESTION_CHARS = 200
MAX_GOALS_ASKED = 12  # goals in one model call; the rest keep their rule-based suggestion
ECHO_WORDS = 5  # this many words in a row from the prompt make a suggestion an echo
_RULE = "- psi's rule of thumb: "
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Item:
    """A task or milestone by title, with when it was done or due."""

    title: str
    at: datetime


@dataclass(frozen=True)
class HabitWeek:
    """A habit over the window: settled occurrences (or periods), those done, those missed."""

    habit: HabitView
    due: int
    done: int
    # The missed occurrences, or the starts of the missed periods of an "N times a week" habit.
    missed: list[datetime]

    @property
    def rate(self) -> float | None:
        return self.done / self.due if self.due else None


@dataclass(frozen=True)
class GoalReview:
    goal: GoalView
    # What moved.
    check_ins: int
    value_before: float | None  # measured goals: the value when the window opened
    value_now: float | None
    done: list[Item]
    milestones_reached: list[MilestoneView]
    habits: list[HabitWeek]
    # What slipped.
    overdue: list[Item]
    milestones_missed: list[MilestoneView]
    # Where it is heading, and what the chart draws.
    forecast: Forecast | None
    points: list[Point]
    milestones: list[MilestoneView]

    @property
    def change(self) -> float | None:
        if self.value_before is None or self.value_now is None:
            return None
        return self.value_now - self.value_before

    @property
    def missed_habits(self) -> list[HabitWeek]:
        return [h for h in self.habits if h.missed]


@dataclass(frozen=True)
class Review:
    start: datetime
    now: datetime
    days: int
    zone: ZoneInfo
    goals: list[GoalReview]

    @property
    def measured(self) -> list[GoalReview]:
        return [g for g in self.goals if g.goal.metric is not None]

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


@dataclass(frozen=True)
class Suggestion:
    text: str
    source: Literal["model", "template"]


# -- the review -----------------------------------------------------------------------


def weekly_review(goals: Goals, *, now: datetime, days: int = 7) -> Review:
    """Every active goal's last `days` local days up to `now` (see the module doc)."""
    if days < 1:
        raise ValueError("a review spans at least a day")
    today = goals.local_day(now)
    start = goals.day_start(today - timedelta(days=days - 1))
    active = goals.all(statuses=("active",))
    logged = goals.check_ins(goal_ids=[g.id for g in active]) if active else []
    by_goal: dict[int, list[CheckInView]] = defaultdict(list)
    by_habit: dict[int, list[CheckInView]] = defaultdict(list)
    by_task: dict[int, list[CheckInView]] = defaultdict(list)
    for check_in in logged:
        if check_in.at > now:
            continue
        if check_in.goal_id is not None and check_in.value is not None:
            by_goal[check_in.goal_id].append(check_in)
        if check_in.habit_id is not None:
            by_habit[check_in.habit_id].append(check_in)
        if check_in.task_id is not None:
            by_task[check_in.task_id].append(check_in)

    reviews = []
    for goal in active:
        plan = goals.plan(goal.id)
        points = [Point(c.at, c.value) for c in by_goal[goal.id] if c.value is not None]
        done, overdue = _tasks(plan.tasks, by_task, start, goals.day_start(today), now)
        habits = [
            _habit_week(goals, h, [c.at for c in by_habit[h.id]], start, now)
            for h in plan.habits
            if h.active
        ]
        metric = goal.metric
        reviews.append(
            GoalReview(
                goal=goal,
                check_ins=sum(p.at >= start for p in points),
                value_before=_value(metric, [p for p in points if p.at < start]),
                value_now=_value(metric, points),
                done=done,
                milestones_reached=[
                    m for m in plan.milestones if m.done_at is not None and start <= m.done_at
                ],
                habits=habits,
                overdue=overdue,
                milestones_missed=[
                    m
                    for m in plan.milestones
                    if m.done_at is None and m.due < goals.day_start(today)
                ],
                forecast=(
                    forecast(metric, points, goal.starts_at, goal.target_date, now)
                    if metric is not None
                    else None
                ),
                points=points,
                milestones=plan.milestones,
            )
        )
    return Review(start=start, now=now, days=days, zone=goals.zone, goals=reviews)


def _value(metric: Metric | None, points: list[Point]) -> float | None:
    return None if metric is None else current_value(metric, points)


def _tasks(
    tasks: list[TaskView],
    by_task: dict[int, list[CheckInView]],
    start: datetime,
    today: datetime,
    now: datetime,
) -> tuple[list[Item], list[Item]]:
    """(done in the window, overdue) among a goal's tasks."""
    done: list[Item] = []
    overdue: list[Item] = []
    for task in tasks:
        if task.rule is None:
            if task.done_at is not None and start <= task.done_at <= now:
                done.append(Item(task.title, task.done_at))
            elif task.done_at is None and task.due is not None and task.due < today:
                overdue.append(Item(task.title, task.due))
            continue
        check_ins = by_task.get(task.id, [])
        done += [Item(task.title, c.at) for c in check_ins if c.at >= start]
        if task.done_at is None:  # a retired recurring task owes nothing more
            kept = {c.occurrence for c in check_ins}
            overdue += [
                Item(task.title, moment)
                for moment in occurrences(task.rule, start, today)
                if moment not in kept
            ]
    return sorted(done, key=lambda i: i.at), sorted(overdue, key=lambda i: i.at)


def _habit_week(
    goals: Goals, habit: HabitView, done_at: list[datetime], start: datetime, now: datetime
) -> HabitWeek:
    since = max(start, habit.rule.start)
    if habit.per_period is not None and habit.period is not None:
        slots = period_starts(goals, habit.period, since, now)
        kept = period_adherence(done_at, slots, habit.per_period, now)
    else:
        slots = occurrences(habit.rule, since, now + timedelta(seconds=1))
        kept = adherence(slots, done_at, now)
    ordered = sorted(set(slots))
    return HabitWeek(habit, kept.due_count, kept.done_count, [ordered[i] for i in kept.missed])


# -- the review in words (for the terminal and for the model) -----------------------------


def moved_text(review: Review, goal: GoalReview) -> list[str]:
    """What moved, a phrase each; empty when nothing did."""
    parts = []
    metric, before, now = goal.goal.metric, goal.value_before, goal.value_now
    if metric is not None and before is not None and now is not None and goal.check_ins:
        times = "1 check-in" if goal.check_ins == 1 else f"{goal.check_ins} check-ins"
        sign = "+" if now >= before else "−"
        parts.append(
            f"{times}: {num(before)} → {num(now)} {metric.unit} ({sign}{num(abs(now - before))})"
        )
    if goal.done:
        parts.append("done: " + ", ".join(_titled(review, goal.done)))
    parts += [f"milestone reached: {m.title}" for m in goal.milestones_reached]
    for habit in goal.habits:
        if habit.due or habit.done:
            parts.append(f"{habit.habit.title} {habit.done} of {habit.due}")
    return parts


def slipped_text(review: Review, goal: GoalReview) -> list[str]:
    """What slipped, a phrase each; empty when nothing did."""
    parts = []
    if goal.overdue:
        parts.append("overdue: " + ", ".join(_titled(review, goal.overdue)))
    for habit in goal.missed_habits:
        if habit.habit.per_period is not None:
            weeks = ", ".join(f"{habit.habit.period} of {review.day(m)}" for m in habit.missed)
            parts.append(f"{habit.habit.title} short of {habit.habit.per_period}× ({weeks})")
        else:
            when = ", ".join(f"{m.astimezone(review.zone):%a %d}" for m in habit.missed)
            parts.append(f"{habit.habit.title} missed {when}")
    parts += [
        f"milestone missed: {m.title} (due {review.day(m.due)})" for m in goal.milestones_missed
    ]
    return parts


def forecast_text(review: Review, goal: GoalReview) -> str | None:
    """Where a measured goal is heading, without its status; None for an unmeasured one."""
    f, metric = goal.forecast, goal.goal.metric
    if f is None or metric is None:
        return None
    target = review.day(goal.goal.target_date)
    text = f"{f.percent:.0f}%, now {num(f.current)} of {num(metric.target)} {metric.unit}"
    if f.status == "done" or f.projected is None:
        return text
    if review.now >= goal.goal.target_date:
        return f"{text}; the target date {target} has passed"
    interval = ""
    if f.projected_low is not None and f.projected_high is not None:
        interval = f" ({num(f.projected_low)} to {num(f.projected_high)})"
    return f"{text}; heading for {num(f.projected)}{interval} by {target}"


def _titled(review: Review, items: list[Item]) -> list[str]:
    return [f"{i.title} ({i.at.astimezone(review.zone):%a %d})" for i in items]


def num(value: float) -> str:
    """A number as a person writes it: 42.2, 1250, 0.35."""
    if abs(value) >= 1000:
        return f"{round(value):,}"
    if abs(value) >= 1 or value == 0:
        return f"{round(value, 1):g}"
    return f"{value:.2g}"


# -- suggestions ------------------------------------------------------------------------


def is_capable(profile: ModelProfile) -> bool:
    """Whether a review asks this default profile for suggestions: any but the embedded
    SmolLM2-135M (see the module doc)."""
    return not profile.embedded_default


def template(review: Review, goal: GoalReview) -> str:
    """The rule-based suggestion for one goal; the first rule that applies wins."""
    f, metric = goal.forecast, goal.goal.metric
    if f is not None and f.status == "done":
        return (
            f"You reached the target: mark it done (psi goal edit {goal.goal.id} --status done) "
            "or set a new one."
        )
    if metric is not None and (f is None or f.status == "not_enough_data"):
        return "Log progress at least twice a week, so the forecast has something to go on."
    if f is not None and f.status in ("off_track", "at_risk"):
        return _catch_up(review, goal, f)
    weak = [h for h in goal.habits if h.rate is not None and h.rate < WEAK_HABIT]
    if weak:
        habit = min(weak, key=lambda h: (h.rate, h.habit.id))
        return (
            f'Make "{habit.habit.title}" smaller or move it to a better time: '
            f"kept {habit.done} of {habit.due} this week."
        )
    if metric is None and not goal.done and not any(h.due for h in goal.habits):
        return "Log progress at least twice a week: mark tasks and habits done with psi done."
    return "On track: keep the current pace."


def _catch_up(review: Review, goal: GoalReview, f: Forecast) -> str:
    """Off track or at risk: a later target date the trend reaches, or the weekly pace
    that reaches the target in time."""
    metric = goal.goal.metric
    assert metric is not None
    status = "At risk" if f.status == "at_risk" else "Off track"
    target_date = goal.goal.target_date
    days_left = (target_date - review.now).total_seconds() / 86400
    reach = _reach(metric, f, target_date, review.now)
    later = (
        f"extend the target date to {review.day(reach)}"
        if reach is not None
        else "set a later target date"
    )
    if days_left < 1:
        return f"{status}: the target date has passed; {later}."
    needed = (metric.target - f.current) / days_left * 7
    pace = f.trend.slope * 7 if f.trend is not None else 0.0
    if metric.aggregate == "sum":
        volume = f"raise the weekly volume to {num(abs(needed))} {metric.unit} (now {num(pace)})"
    else:
        verb = "add" if metric.direction == "increase" else "take off"
        volume = f"{verb} {num(abs(needed))} {metric.unit} a week (now {num(abs(pace))})"
    return f"{status}: {later} or {volume}."


def _reach(metric: Metric, f: Forecast, target_date: datetime, now: datetime) -> datetime | None:
    """When the trend meets the target, if it heads there within ten years."""
    trend = f.trend
    if trend is None or f.projected is None:
        return None
    toward = metric.target - f.current
    if trend.slope == 0 or (trend.slope > 0) != (toward > 0):
        return None
    # Before the target date the projection is the trend's value there; after it, the current.
    base_at, base = (target_date, f.projected) if now < target_date else (now, f.current)
    days = (metric.target - base) / trend.slope
    if days > 3650:
        return None
    return base_at + timedelta(days=max(days, 0.0))


class _Proposed(BaseModel):
    goal_id: int = 0
    suggestion: str = Field(
        default="", description=f"One sentence, at most {MAX_SUGGESTION_CHARS} characters."
    )

    # Required in the schema so a constrained model writes both; defaulted when validating,
    # so one incomplete item is dropped rather than the whole reply.
    model_config = ConfigDict(json_schema_extra={"required": ["goal_id", "suggestion"]})


class _Proposals(BaseModel):
    suggestions: list[_Proposed] = Field(
        default_factory=list, json_schema_extra={"maxItems": MAX_GOALS_ASKED}
    )

    model_config = ConfigDict(json_schema_extra={"required": ["suggestions"]})


# What a suggestion is not: markup, JSON, the prompt or the model talking about itself.
_GARBAGE = re.compile(
    r"[{}<>`|\[\]]|https?://|\bjson\b|\bschema\b|goal_id|as an ai|language model|"
    r"\bsystem\b.*\bprompt\b|ignore (all |the )?(previous|above)|\b(user|assistant|system):",
    re.IGNORECASE,
)


def check_suggestion(text: str, *, given: str = "") -> str | None:
    """`text` tidied if it can stand as a suggestion, else None. `given` is what the model
    was shown: a suggestion that repeats ECHO_WORDS words of it in a row is an echo."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > MAX_SUGGESTION_CHARS:
        return None
    if len(re.findall(r"[^\W\d_]{2,}", cleaned)) < 3 or _GARBAGE.search(cleaned):
        return None
    if _runs(cleaned) & _runs(given):
        return None
    return cleaned


def _runs(text: str) -> set[tuple[str, ...]]:
    """Every ECHO_WORDS consecutive words of `text`, lower-cased."""
    found = re.findall(r"\w+", text.casefold())
    return {tuple(found[i : i + ECHO_WORDS]) for i in range(len(found) - ECHO_WORDS + 1)}


def suggest(
    review: Review,
    model: ChatModel | None,
    *,
    options: ChatOptions | None = None,
    notes: list[str] | None = None,
) -> dict[int, Suggestion]:
    """One suggestion per goal of the review: the model's where it gave a usable one, the
    rule-based one otherwise. Why model answers were not used goes to `notes`."""
    found = {g.goal.id: Suggestion(template(review, g), "template") for g in review.goals}
    asked = review.goals[:MAX_GOALS_ASKED]
    if model is None or not asked:
        return found
    said = notes if notes is not None else []
    instructions, brief = prompt_text("review.md").strip(), _brief(review, asked)
    prompt = [Message.system(instructions), Message.user(brief)]
    # Taking up psi's own rule of thumb is fine; copying the data or the instructions is not.
    given = "\n".join(
        [instructions, *(line for line in brief.splitlines() if not line.startswith(_RULE))]
    )
    ask = options or ChatOptions(max_tokens=60 + 80 * len(asked), temperature=0.2, schema_retries=1)
    try:
        parsed = model.chat(prompt, schema=_Proposals, options=ask).parsed
    except PsiError as error:
        said.append(f"The model's suggestions could not be used: {error.message}")
        return found
    assert isinstance(parsed, _Proposals)
    wanted = {g.goal.id for g in asked}
    for item in parsed.suggestions:
        text = check_suggestion(item.suggestion, given=given)
        if item.goal_id not in wanted:
            said.append(f"Dropped a suggestion for goal {item.goal_id}, which is not reviewed.")
        elif text is None:
            said.append(f"Dropped the model's suggestion for goal {item.goal_id}: unusable text.")
        elif found[item.goal_id].source == "template":
            found[item.goal_id] = Suggestion(text, "model")
    return found


def _brief(review: Review, goals: list[GoalReview]) -> str:
    """The review as data for the model: one block per goal."""
    blocks = [f"The week {review.day(review.start)} to {review.day(review.now)}."]
    for goal in goals:
        metric = goal.goal.metric
        aim = (
            f"from {num(metric.baseline)} to {num(metric.target)} {metric.unit}"
            if metric is not None
            else "not measured"
        )
        lines = [
            f"Goal {goal.goal.id}: {goal.goal.title} ({aim}, "
            f"by {review.day(goal.goal.target_date)})",
            "- moved: " + ("; ".join(moved_text(review, goal)) or "nothing"),
            "- slipped: " + ("; ".join(slipped_text(review, goal)) or "nothing"),
        ]
        heading = forecast_text(review, goal)
        if heading is not None and goal.forecast is not None:
            lines.append(f"- forecast: {goal.forecast.status.replace('_', ' ')}, {heading}")
        lines.append(f"{_RULE}{template(review, goal)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
