"""What psi reaches out with, and when: the plan of notices for a moment, with its policies.

    drafts = due_notices(goals, settings.goals, now, last_run, made=made)

Four kinds of notice, each with a `key` that names what it is about, so it is
made once (the notices table keeps keys unique per user):

    kind     when (local time)                       key
    review   weekly_review ("SUN 18:00")             review:2026-11-29
    agenda   morning_agenda ("08:00")                agenda:2026-11-28
    task     a recurring task's occurrence;          task:12:2026-11-28T09:00
             a one-off task due today, at REMIND_AT  task:12:2026-11-28
    habit    a scheduled habit's occurrence          habit:3:2026-11-28T07:00

Only what is still relevant is planned: a task or habit occurrence already
done, habits counted per week or month (they have no time of their own; the
agenda lists them), and an agenda or review for someone with no goal in
progress make no notice.

Policies, in the order they apply:

1. Quiet hours. A notice that falls in quiet hours is deferred to their end
   if that is still the local day the notice is about; otherwise it is
   dropped, because a habit prompt, a task reminder or a morning agenda is
   stale the next day. A weekly review is always deferred (it keeps a day).
2. Missed runs. Each run looks back to its last run, but never further than
   GRACE: what fell due earlier while psi was not running (the machine off,
   the daemon stopped) is skipped, so a restart never sends a burst of old
   reminders. One exception: today's morning agenda, if missed and not made
   yet, goes out at once (after the quiet-hours rule), as long as it is still
   the agenda's day.
3. Per-day cap. At most `max_per_day` notices go out per local day, counting
   those made already. The day's remaining notices (those still to come
   today, too) are ranked, and only the best fit; lowest value is left out
   first. Value, highest first: the weekly review (rare, and nothing else
   points at it), the morning agenda (it sums up the rest), a one-off task
   due today, a recurring task, a habit prompt; among equals, the goal's
   priority, then the earlier time.

Planning reads the goals (through `build_agenda`) and nothing else; the
policies are plain functions over `NoticeDraft`s. Delivery is in
psi.goals.delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from psi.config import GoalSettings
from psi.goals.agenda import Agenda, build_agenda
from psi.goals.store import Goals

Kind = Literal["review", "agenda", "task", "habit"]

# How far back a run looks for what it missed (see policy 2).
GRACE = timedelta(hours=1)
# A one-off task is due on a day, not at a time: the morning agenda lists it, and this
# reminder nudges if it is still open by midday.
REMIND_AT = time(12, 0)
# Lines of items in the morning agenda's text before "and N more".
AGENDA_LINES = 8

_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# Value order for the per-day cap: lower sorts first and is kept first.
_VALUE = {"review": 0, "agenda": 1, "task": 2, "recurring": 3, "habit": 4}


@dataclass(frozen=True)
class NoticeDraft:
    """A notice psi means to make: `at` is when it falls due, `day` the local day it is
    about, `send_at` when it may go out (after quiet hours), `rank` its place in the
    per-day cap (lower is kept first)."""

    kind: Kind
    key: str
    text: str
    day: date
    at: datetime
    send_at: datetime
    rank: tuple[int, int, datetime]


def due_notices(
    goals: Goals,
    rules: GoalSettings,
    now: datetime,
    last_run: datetime | None,
    *,
    made: Mapping[str, datetime] | None = None,
) -> list[NoticeDraft]:
    """The notices to make at `now`, oldest first, given the previous run at `last_run`
    (None: never ran) and `made`, the keys made already with when (from the day before
    the window on, which is all the cap and the quiet-hours deferral look at)."""
    since = window_start(now, last_run)
    first = goals.local_day(since) - timedelta(days=1)  # a review deferred overnight
    planned: list[NoticeDraft] = []
    day = first
    while day <= goals.local_day(now):
        planned += candidates(goals, rules, day, now=now)
        day += timedelta(days=1)
    return apply_policies(planned, rules, zone=goals.zone, now=now, since=since, made=made or {})


def window_start(now: datetime, last_run: datetime | None) -> datetime:
    """Where a run at `now` starts looking: its last run, at most GRACE ago."""
    if last_run is None:
        return now - GRACE
    return max(last_run, now - GRACE)


# -- what could be sent on a day ---------------------------------------------------


def candidates(goals: Goals, rules: GoalSettings, day: date, *, now: datetime) -> list[NoticeDraft]:
    """Every notice about local `day` that is relevant as of `now`, before any policy."""
    agenda = build_agenda(goals, day, now=now)
    priority = {s.goal.id: s.goal.priority for s in agenda.standings}
    found: list[NoticeDraft] = []

    def add(kind: Kind, value: str, key: str, text: str, at: datetime, goal: int | None) -> None:
        rank = (_VALUE[value], priority.get(goal, 2) if goal is not None else 2, at)
        found.append(NoticeDraft(kind, key, text, day, at, at, rank))

    if agenda.standings:
        weekday, clock = rules.weekly_review.split()
        if _WEEKDAYS.index(weekday) == day.weekday():
            add("review", "review", f"review:{day}", review_text(), _at(goals, day, clock), None)
        if agenda.open_count or agenda.milestones or agenda.overdue_milestones:
            at = _at(goals, day, rules.morning_agenda)
            add("agenda", "agenda", f"agenda:{day}", agenda_text(agenda, goals), at, None)
    for due in agenda.tasks:
        if due.done:
            continue
        task, of = due.task, _of(due.goal)
        if task.rule is not None:
            local = due.due.astimezone(goals.zone)
            text = f"Due at {local:%H:%M}: {task.title}{of}. Done? psi done t{task.id}"
            key = f"task:{task.id}:{local:%Y-%m-%dT%H:%M}"
            add("task", "recurring", key, text, due.due, task.goal_id)
        else:
            text = f"Still open today: {task.title}{of}. Done? psi done t{task.id}"
            at = datetime.combine(day, REMIND_AT, tzinfo=goals.zone)
            add("task", "task", f"task:{task.id}:{day}", text, at, task.goal_id)
    for habit in agenda.habits:
        if habit.done or habit.so_far is not None:
            continue
        local, item = habit.due.astimezone(goals.zone), habit.habit
        text = f"Time for {item.title} ({local:%H:%M}){_of(habit.goal)}. Done? psi done h{item.id}"
        key = f"habit:{item.id}:{local:%Y-%m-%dT%H:%M}"
        add("habit", "habit", key, text, habit.due, item.goal_id)
    return found


def agenda_text(agenda: Agenda, goals: Goals) -> str:
    """The morning agenda as a few lines of plain text."""
    items: list[str] = []
    for due in agenda.tasks:
        if not due.done:
            items.append(f"- {_time(goals, due.due)}{due.task.title}{_of(due.goal)}")
    for habit in agenda.habits:
        if habit.done:
            continue
        if habit.so_far is not None:
            count = f" ({habit.so_far}/{habit.habit.per_period} this {habit.habit.period})"
            items.append(f"- {habit.habit.title}{count}{_of(habit.goal)}")
        else:
            items.append(f"- {_time(goals, habit.due)}{habit.habit.title}{_of(habit.goal)}")
    items += [f"- milestone: {m.title}" for m in agenda.milestones]
    items += [f"- overdue: {t.task.title} (due {goals.local_day(t.due)})" for t in agenda.overdue]
    items += [
        f"- overdue milestone: {m.title} (due {goals.local_day(m.due)})"
        for m in agenda.overdue_milestones
    ]
    items += [f"- check-in owed: {g.title} (psi log {g.id} VALUE)" for g in agenda.owed]
    if len(items) > AGENDA_LINES:
        rest = len(items) - AGENDA_LINES + 1
        items = [*items[: AGENDA_LINES - 1], f"- and {rest} more"]
    head = f"Today, {agenda.start:%a %d %b}:"
    return "\n".join([head, *items, "psi today shows it all."])


def review_text() -> str:
    return "Time for your weekly review: look back at the week and plan the next. Run psi review."


# -- policies ------------------------------------------------------------------------


def apply_policies(
    drafts: Iterable[NoticeDraft],
    rules: GoalSettings,
    *,
    zone: ZoneInfo,
    now: datetime,
    since: datetime,
    made: Mapping[str, datetime],
) -> list[NoticeDraft]:
    """The drafts to send in the window (since, now], after quiet hours, the missed-run
    rule and the per-day cap (see the module docstring), ordered by send time."""
    quiet = quiet_hours(rules.quiet_hours)
    today = now.astimezone(zone).date()
    by_day: dict[date, list[NoticeDraft]] = defaultdict(list)
    for draft in drafts:
        if draft.key in made:
            continue
        placed = place(draft, draft.at, quiet, zone)
        if placed is not None and placed.send_at <= since:
            # Missed: only today's morning agenda is worth sending late.
            late = draft.kind == "agenda" and draft.day == today
            placed = place(draft, now, quiet, zone) if late else None
        if placed is not None:
            by_day[placed.send_at.astimezone(zone).date()].append(placed)
    spent: dict[date, int] = defaultdict(int)
    for moment in made.values():
        spent[moment.astimezone(zone).date()] += 1
    chosen: list[NoticeDraft] = []
    for day, waiting in by_day.items():
        room = max(0, rules.max_per_day - spent[day])
        kept = sorted(waiting, key=lambda d: (d.rank, d.key))[:room]
        chosen += [d for d in kept if d.send_at <= now]
    return sorted(chosen, key=lambda d: (d.send_at, d.rank, d.key))


def place(
    draft: NoticeDraft, moment: datetime, quiet: tuple[time, time] | None, zone: ZoneInfo
) -> NoticeDraft | None:
    """`draft` to go out at `moment`, or at the end of the quiet hours `moment` falls in;
    None when that end is past the draft's day (reviews excepted)."""
    end = quiet_end(moment, quiet, zone)
    if end is None:
        return replace(draft, send_at=moment)
    if draft.kind != "review" and end.astimezone(zone).date() != draft.day:
        return None
    return replace(draft, send_at=end)


def quiet_hours(text: str) -> tuple[time, time] | None:
    """ "22:00-07:00" as (start, end); None when start equals end (no quiet hours)."""
    start, end = (time.fromisoformat(part) for part in text.split("-"))
    return None if start == end else (start, end)


def quiet_end(moment: datetime, quiet: tuple[time, time] | None, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet period `moment` falls in, or None when it falls in none."""
    if quiet is None:
        return None
    start, end = quiet
    local = moment.astimezone(zone)
    now, day = local.time().replace(tzinfo=None), local.date()
    if start < end:
        inside, end_day = start <= now < end, day
    elif now >= start:
        inside, end_day = True, day + timedelta(days=1)
    else:
        inside, end_day = now < end, day
    return datetime.combine(end_day, end, tzinfo=zone) if inside else None


def _at(goals: Goals, day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=goals.zone)


def _time(goals: Goals, moment: datetime) -> str:
    local = moment.astimezone(goals.zone)
    return "" if (local.hour, local.minute) == (0, 0) else f"{local:%H:%M} "


def _of(goal: str | None) -> str:
    return f" ({goal})" if goal else ""


__all__ = [
    "GRACE",
    "NoticeDraft",
    "agenda_text",
    "apply_policies",
    "candidates",
    "due_notices",
    "place",
    "quiet_end",
    "quiet_hours",
    "window_start",
]
