"""What is on the user's plate: the agenda for a day or a week, and each goal's standing.

    agenda = build_agenda(goals, date(2026, 3, 2), days=1, now=clock())

An agenda lists, for the local days [start, start + days):
  - tasks due: one-off tasks due in the span, and each occurrence of a
    recurring task in it (done when a check-in names that occurrence);
  - habits due: each occurrence of a scheduled habit, done when a check-in
    for the habit falls on the occurrence's local day; a "N times a week" habit
    shows while the current week (month) still lacks completions;
  - overdue: one-off tasks and milestones due before the span and not done;
  - milestones due in the span;
  - check-ins owed: measured goals with no value logged for `OWED_AFTER`;
  - every active goal's standing: forecast, next milestone, habit adherence
    over the last `ADHERENCE_DAYS`.

Everything is read in a handful of queries and computed by the pure functions of
psi.goals.forecast and psi.goals.recurrence; the forecasts come through
psi.goals.progress, which keeps each goal's fit until its check-ins change (the
only write an agenda makes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from psi.goals.forecast import Adherence, Forecast, adherence, period_adherence
from psi.goals.progress import goal_progress
from psi.goals.recurrence import occurrences
from psi.goals.store import Goals, GoalView, HabitView, MilestoneView, TaskView

OWED_AFTER = timedelta(days=7)
ADHERENCE_DAYS = 28


@dataclass(frozen=True)
class DueTask:
    task: TaskView
    goal: str | None
    due: datetime
    done: bool = False


@dataclass(frozen=True)
class DueHabit:
    habit: HabitView
    goal: str | None
    due: datetime
    done: bool
    # For "N times a period" habits: completions so far this period.
    so_far: int | None = None


@dataclass(frozen=True)
class Standing:
    """A goal's standing: its forecast (None without a metric), next milestone, habits'
    adherence (when asked for) and the time of its latest logged value."""

    goal: GoalView
    forecast: Forecast | None
    next_milestone: MilestoneView | None
    habits: list[tuple[HabitView, Adherence]] = field(default_factory=list)
    last_check_in: datetime | None = None


@dataclass(frozen=True)
class Agenda:
    start: date
    days: int
    now: datetime
    tasks: list[DueTask]
    habits: list[DueHabit]
    overdue: list[DueTask]
    overdue_milestones: list[MilestoneView]
    milestones: list[MilestoneView]
    owed: list[GoalView]
    standings: list[Standing]

    @property
    def open_count(self) -> int:
        return (
            sum(not t.done for t in self.tasks)
            + sum(not h.done for h in self.habits)
            + len(self.overdue)
            + len(self.owed)
        )


def build_agenda(
    goals: Goals, start: date, *, days: int = 1, now: datetime, with_adherence: bool = False
) -> Agenda:
    """The agenda for `days` local days from `start`; `with_adherence` scores each goal's habits
    over the last ADHERENCE_DAYS too (a schedule expanded per habit: `psi goal
    show` and reviews want it, `psi today` does not)."""
    if days < 1:
        raise ValueError("an agenda spans at least a day")
    span_start = goals.day_start(start)
    span_end = goals.day_start(start + timedelta(days=days))
    active = goals.all(statuses=("active",))
    titles = {g.id: g.title for g in active}
    table = goals.check_in_table(goal_ids=())

    tasks: list[DueTask] = []
    overdue: list[DueTask] = []
    for task in goals.tasks(open_only=False):
        title = titles.get(task.goal_id) if task.goal_id else None
        if task.rule is not None:
            if task.done_at is not None:
                continue  # retired by a re-plan
            done = table.tasks.get(task.id, set())
            tasks += [
                DueTask(task, title, moment, moment in done)
                for moment in occurrences(task.rule, span_start, span_end)
            ]
        elif task.due is not None:
            if span_start <= task.due < span_end:
                tasks.append(DueTask(task, title, task.due, task.done_at is not None))
            elif task.due < span_start and task.done_at is None:
                overdue.append(DueTask(task, title, task.due))

    habits: list[DueHabit] = []
    adherence_by_goal: dict[int, list[tuple[HabitView, Adherence]]] = defaultdict(list)
    for habit in goals.habits():
        title = titles.get(habit.goal_id) if habit.goal_id else None
        done_at = table.habits.get(habit.id, [])
        habits += _due_habit(goals, habit, title, done_at, span_start, span_end, now)
        if with_adherence and habit.goal_id is not None:
            adherence_by_goal[habit.goal_id].append((habit, _adherence(goals, habit, done_at, now)))

    milestones = goals.milestones()
    standings = []
    owed = []
    progress = goal_progress(goals, active, now)
    for goal in active:
        upcoming = [m for m in milestones if m.goal_id == goal.id and m.due >= span_start]
        last = progress[goal.id].last_check_in
        standings.append(
            Standing(
                goal=goal,
                forecast=progress[goal.id].forecast,
                next_milestone=upcoming[0] if upcoming else None,
                habits=adherence_by_goal.get(goal.id, []),
                last_check_in=last,
            )
        )
        if goal.metric is not None and (last or goal.created_at) <= now - OWED_AFTER:
            owed.append(goal)
    return Agenda(
        start=start,
        days=days,
        now=now,
        tasks=sorted(tasks, key=lambda t: (t.due, t.task.id)),
        habits=sorted(habits, key=lambda h: (h.due, h.habit.id)),
        overdue=sorted(overdue, key=lambda t: (t.due, t.task.id)),
        overdue_milestones=[m for m in milestones if m.due < span_start],
        milestones=[m for m in milestones if span_start <= m.due < span_end],
        owed=owed,
        standings=standings,
    )


def _due_habit(
    goals: Goals,
    habit: HabitView,
    goal: str | None,
    done_at: list[datetime],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[DueHabit]:
    if habit.per_period is not None and habit.period is not None:
        period_start = _period_start(goals, habit.period, max(start, min(now, end)))
        so_far = sum(period_start <= moment <= now for moment in done_at)
        if so_far >= habit.per_period:
            return [DueHabit(habit, goal, start, True, so_far)]
        return [DueHabit(habit, goal, start, False, so_far)]
    done_days = {goals.local_day(moment) for moment in done_at}
    return [
        DueHabit(habit, goal, moment, goals.local_day(moment) in done_days)
        for moment in occurrences(habit.rule, start, end)
    ]


def _adherence(goals: Goals, habit: HabitView, done_at: list[datetime], now: datetime) -> Adherence:
    since = max(now - timedelta(days=ADHERENCE_DAYS), habit.rule.start)
    if habit.per_period is not None and habit.period is not None:
        return period_adherence(
            done_at, period_starts(goals, habit.period, since, now), habit.per_period, now
        )
    due = occurrences(habit.rule, since, now + timedelta(seconds=1))
    return adherence(due, done_at, now)


def period_starts(goals: Goals, period: str, since: datetime, now: datetime) -> list[datetime]:
    """Starts of the local weeks (Monday) or months from the one holding `since` to `now`."""
    starts = []
    moment = _period_start(goals, period, since)
    while moment <= now:
        starts.append(moment)
        moment = _next_period(goals, period, moment)
    return starts


def _period_start(goals: Goals, period: str, moment: datetime) -> datetime:
    day = goals.local_day(moment)
    if period == "week":
        return goals.day_start(day - timedelta(days=day.weekday()))
    return goals.day_start(day.replace(day=1))


def _next_period(goals: Goals, period: str, start: datetime) -> datetime:
    day = goals.local_day(start)
    if period == "week":
        return goals.day_start(day + timedelta(days=7))
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return goals.day_start(following)
