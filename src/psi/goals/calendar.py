"""psi's goals as an iCalendar file, and the user's own calendar read in as busy time.

Export (`export_calendar`) writes one VCALENDAR of the goals in progress, active
or paused (done and archived goals are finished business), and of the tasks and
habits that belong to no goal:

    goal's target date      all-day VEVENT, marked free (TRANSP:TRANSPARENT)
    milestone               all-day VEVENT, marked free; "Done" in its description
    one-off task            VTODO with DUE (a date) and STATUS, COMPLETED once done
    recurring task, habit   VEVENT at DTSTART;TZID=<its zone> with its RRULE and a
                            DURATION: the task's estimate, else 30 minutes

Milestones are events rather than to-dos because calendar apps show events on
their day, while several drop VTODO altogether. Recurring items of a paused goal
are left out, as psi does not ask for them while the goal rests. Every TZID
comes with its VTIMEZONE, built by icalendar from the zone database, so a 07:00
habit in Europe/Berlin stays at 07:00 across DST in any app.

UIDs are `<kind>-<id>@psi.<user id>.local` (`task-12@psi.1.local`), the same on
every export, so importing a newer file into a calendar app updates its items
instead of adding them again. LAST-MODIFIED is the latest change psi knows of
(the goal edited, the item made or done), and SEQUENCE is that instant in
seconds since 2020, so it grows with every such change.

Import (`import_calendar`) reads a file's VEVENTs as commitments
(psi.goals.commitments) in one transaction: a re-import of the same source
(file name) updates rows by UID, adds new ones and removes those no longer in
the file. Not read as busy: events marked free (TRANSP:TRANSPARENT), cancelled
ones, and psi's own exported items. Times with a TZID keep that zone; floating
times and all-day dates are in the user's zone. A moved or cancelled occurrence
(RECURRENCE-ID) drops out of its series, and a moved one becomes a commitment
of its own. A series whose rule psi cannot expand (see psi.goals.recurrence:
no MINUTELY, no several RRULEs) is skipped and named in the result; RDATE and
EXRULE are not read. A file that is not iCalendar, or an event without a
start, refuses the whole import and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import STATUS, TRANSP, Calendar, Component, Event, Todo, vRecur
from sqlalchemy import select

from psi.errors import InputError, InvalidRule
from psi.goals.recurrence import Rule, parse_rule
from psi.goals.store import Goals, GoalView, HabitView, MilestoneView, TaskView
from psi.store.models import Commitment

PRODID = "-//psi//psi goals//EN"
DEFAULT_DURATION = timedelta(minutes=30)
_SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_OWN_UID = r"(goal|milestone|task|habit)-\d+@psi\.{user}\.local"
_ICS_HINT = "Export the calendar from your calendar app as an .ics file and import that."


def uid_for(kind: str, item_id: int, *, user_id: int) -> str:
    """The UID psi gives an exported item: `task-12@psi.1.local`."""
    return f"{kind}-{item_id}@psi.{user_id}.local"


# -- export --------------------------------------------------------------------------


def export_calendar(goals: Goals, *, now: datetime) -> bytes:
    """The goals in progress as iCalendar bytes (see the module docstring for what goes in)."""
    data: bytes = build_calendar(goals, now=now).to_ical()
    return data


def build_calendar(goals: Goals, *, now: datetime) -> Calendar:
    user = goals.user_id
    calendar = Calendar.new(
        prodid=PRODID, name="psi goals", uid=f"calendar@psi.{user}.local", calscale="GREGORIAN"
    )
    for goal in goals.all(("active", "paused")):
        plan = goals.plan(goal.id)
        calendar.add_component(_goal_event(goal, goals, now=now))
        for milestone in plan.milestones:
            calendar.add_component(_milestone_event(milestone, goal, goals, now=now))
        for task in plan.tasks:
            if task.rule is None:
                calendar.add_component(_task_todo(task, goal, goals, now=now))
            elif goal.status == "active" and task.done_at is None:
                calendar.add_component(_task_event(task, task.rule, goal, goals, now=now))
        for habit in plan.habits:
            if goal.status == "active" and habit.active:
                calendar.add_component(_habit_event(habit, goal, goals, now=now))
    for task in goals.tasks(open_only=False):
        if task.goal_id is not None:
            continue
        if task.rule is None:
            calendar.add_component(_task_todo(task, None, goals, now=now))
        elif task.done_at is None:
            calendar.add_component(_task_event(task, task.rule, None, goals, now=now))
    for habit in goals.habits():
        if habit.goal_id is None:
            calendar.add_component(_habit_event(habit, None, goals, now=now))
    calendar.add_missing_timezones()
    return calendar


def _goal_event(goal: GoalView, goals: Goals, *, now: datetime) -> Event:
    day = goals.local_day(goal.target_date)
    lines = [goal.why or "", "Paused in psi." if goal.status == "paused" else ""]
    event = Event.new(
        summary=f"Goal: {goal.title}",
        start=day,
        end=day + timedelta(days=1),
        transparency=TRANSP.TRANSPARENT,
        categories=_categories(goal),
        description="\n".join(line for line in lines if line) or None,
        **_identity("goal", goal.id, goals, [goal.updated_at], now=now),
    )
    return event


def _milestone_event(
    milestone: MilestoneView, goal: GoalView, goals: Goals, *, now: datetime
) -> Event:
    day = goals.local_day(milestone.due)
    lines = [f"Milestone of the goal: {goal.title}"]
    if milestone.value is not None and goal.metric is not None:
        lines.append(f"Reach {milestone.value:g} {goal.metric.unit}.")
    if milestone.done_at is not None:
        lines.append(f"Done on {goals.local_day(milestone.done_at)}.")
    return Event.new(
        summary=f"Milestone: {milestone.title}",
        start=day,
        end=day + timedelta(days=1),
        transparency=TRANSP.TRANSPARENT,
        categories=_categories(goal),
        description="\n".join(lines),
        **_identity(
            "milestone", milestone.id, goals, [goal.updated_at, milestone.done_at], now=now
        ),
    )


def _task_todo(task: TaskView, goal: GoalView | None, goals: Goals, *, now: datetime) -> Todo:
    changes = [task.created_at, task.done_at, goal.updated_at if goal else None]
    todo = Todo.new(
        summary=task.title,
        status=STATUS.COMPLETED if task.done_at else STATUS.NEEDS_ACTION,
        categories=_categories(goal),
        description=_of_goal(goal),
        **_identity("task", task.id, goals, changes, now=now),
    )
    if task.due is not None:
        todo.add("DUE", goals.local_day(task.due))
    if task.done_at is not None:
        todo.add("COMPLETED", task.done_at.astimezone(UTC))
    return todo


def _task_event(
    task: TaskView, rule: Rule, goal: GoalView | None, goals: Goals, *, now: datetime
) -> Event:
    changes = [task.created_at, goal.updated_at if goal else None]
    minutes = task.estimate_minutes
    return _recurring(
        task.title,
        rule,
        timedelta(minutes=minutes) if minutes else DEFAULT_DURATION,
        goal,
        _of_goal(goal),
        _identity("task", task.id, goals, changes, now=now),
    )


def _habit_event(habit: HabitView, goal: GoalView | None, goals: Goals, *, now: datetime) -> Event:
    changes = [habit.created_at, goal.updated_at if goal else None]
    lines = [_of_goal(goal) or ""]
    if habit.per_period is not None:
        lines.append(f"Aim: {habit.per_period} times a {habit.period}.")
    return _recurring(
        habit.title,
        habit.rule,
        DEFAULT_DURATION,
        goal,
        "\n".join(line for line in lines if line) or None,
        _identity("habit", habit.id, goals, changes, now=now),
    )


def _recurring(
    title: str,
    rule: Rule,
    duration: timedelta,
    goal: GoalView | None,
    description: str | None,
    identity: dict[str, Any],
) -> Event:
    event = Event.new(
        summary=title,
        start=rule.start,  # in the rule's ZoneInfo: icalendar writes it with TZID
        categories=_categories(goal),
        description=description,
        **identity,
    )
    event.add("DURATION", duration)
    event.add("RRULE", vRecur.from_ical(rule.text))
    return event


def _identity(
    kind: str, item_id: int, goals: Goals, changes: Iterable[datetime | None], *, now: datetime
) -> dict[str, Any]:
    modified = max(moment for moment in changes if moment is not None).astimezone(UTC)
    return {
        "uid": uid_for(kind, item_id, user_id=goals.user_id),
        "stamp": now.astimezone(UTC),
        "last_modified": modified,
        "sequence": max(0, int((modified - _SEQUENCE_EPOCH).total_seconds())),
    }


def _categories(goal: GoalView | None) -> list[str]:
    return ["psi", goal.area] if goal is not None and goal.area else ["psi"]


def _of_goal(goal: GoalView | None) -> str | None:
    return f"For the goal: {goal.title}" if goal is not None else None


# -- import --------------------------------------------------------------------------


@dataclass
class CalendarImport:
    """What an import did: rows added, updated and removed; events not taken as busy."""

    events: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    free: int = 0  # marked free or cancelled
    own: int = 0  # items psi exported itself
    skipped: list[str] = field(default_factory=list)  # events psi cannot read, and why


@dataclass
class _Read:
    """One busy event as it will be stored."""

    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    rule: str | None
    zone: str
    all_day: bool
    exdates: list[str]


def import_calendar(data: bytes, goals: Goals, *, source: str, now: datetime) -> CalendarImport:
    """Store the events of iCalendar `data` as the user's commitments from `source`.

    Raises InputError, with nothing changed, for data that is not iCalendar,
    holds no calendar, or has an event without a start.
    """
    calendars = _parse(data, source)
    result = CalendarImport()
    own = re.compile(_OWN_UID.format(user=goals.user_id))
    found: dict[str, _Read] = {}
    # The occurrences changed one by one (RECURRENCE-ID), by the UID of their series.
    moved: dict[str, list[date | datetime]] = {}
    for number, event in enumerate(
        (event for calendar in calendars for event in calendar.events), start=1
    ):
        result.events += 1
        uid = str(event.get("UID") or "") or _made_up_uid(event)
        if own.fullmatch(uid):
            result.own += 1
            continue
        read = _read_event(event, number, uid, goals.zone)
        recurrence_id = event.get("RECURRENCE-ID")
        if recurrence_id is not None:
            moved.setdefault(uid, []).append(recurrence_id.dt)
            read.uid = f"{uid}#{_instant(recurrence_id.dt, read):%Y%m%dT%H%M%SZ}"
            read.rule, read.exdates = None, []
        if _is_free(event):
            result.free += 1
            continue
        if len(event.rrules) > 1:
            result.skipped.append(f"{read.summary!r}: it repeats by several RRULEs, psi reads one")
            continue
        if read.rule is not None:
            problem = _check_rule(read)
            if problem:
                result.skipped.append(f"{read.summary!r}: {problem}")
                continue
        found[read.uid] = read
    for uid, changes in moved.items():
        series = found.get(uid)
        if series is not None and series.rule is not None:
            gone = {_instant(moment, series).isoformat() for moment in changes}
            series.exdates = sorted({*series.exdates, *gone})
    _store(goals, found, source=source, now=now, result=result)
    return result


def _parse(data: bytes, source: str) -> list[Calendar]:
    if not data.strip():
        raise InputError(f"{source} is empty.", hint=_ICS_HINT)
    try:
        components = Calendar.from_ical(data, multiple=True)
    except ValueError as exc:
        raise InputError(f"{source} is not an iCalendar file ({exc}).", hint=_ICS_HINT) from None
    calendars = [c for c in components if isinstance(c, Calendar) and c.name == "VCALENDAR"]
    if not calendars:
        raise InputError(f"{source} holds no calendar (no BEGIN:VCALENDAR).", hint=_ICS_HINT)
    return calendars


def _read_event(event: Event, number: int, uid: str, zone: ZoneInfo) -> _Read:
    summary = str(event.get("SUMMARY") or "(no title)")
    where = f"Event {number} ({summary!r}, UID {uid})"
    if "DTSTART" not in event:
        raise InputError(
            f"{where} has no start (DTSTART); nothing was imported.",
            hint="Fix or remove that event in your calendar app and export again.",
        )
    try:
        start, end = event.start, event.end
    except ValueError as exc:
        raise InputError(
            f"{where} has times psi cannot read ({exc}); nothing was imported.",
            hint="Fix or remove that event in your calendar app and export again.",
        ) from None
    rules = event.rrules
    rule = rules[0].to_ical().decode() if rules else None
    if not isinstance(start, datetime):
        end_day = end if isinstance(end, date) and not isinstance(end, datetime) else start
        starts_at = datetime.combine(start, time(0), tzinfo=zone)
        ends_at = datetime.combine(max(end_day, start + timedelta(days=1)), time(0), tzinfo=zone)
        read = _Read(uid, summary, starts_at, ends_at, rule, zone.key, True, [])
    else:
        own_zone = _zone(start, event, zone)
        starts_at = _placed(start, own_zone)
        ends_at = _placed(end, own_zone) if isinstance(end, datetime) else starts_at
        read = _Read(
            uid, summary, starts_at, max(ends_at, starts_at), rule, own_zone.key, False, []
        )
    read.exdates = sorted({_instant(moment, read).isoformat() for moment in event.exdates})
    return read


def _zone(moment: datetime, event: Event, fallback: ZoneInfo) -> ZoneInfo:
    """The IANA zone a time is written in: its ZoneInfo, its TZID if that names one, or
    `fallback` (floating times, and zones the file defines under a name of its own)."""
    if isinstance(moment.tzinfo, ZoneInfo):
        return moment.tzinfo
    if moment.tzinfo is UTC:
        return ZoneInfo("UTC")
    tzid = event["DTSTART"].params.get("TZID")
    if moment.tzinfo is not None and tzid:
        try:
            return ZoneInfo(str(tzid))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback


def _placed(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` in `zone`: a floating time gets the zone, an aware one is converted."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _instant(moment: date | datetime, read: _Read) -> datetime:
    """An EXDATE or RECURRENCE-ID of `read` as the UTC instant of the occurrence it names
    (a date names the occurrence at the series' wall time that day)."""
    own_zone = ZoneInfo(read.zone)
    if not isinstance(moment, datetime):
        wall = read.starts_at.astimezone(own_zone).time()
        moment = datetime.combine(moment, wall, tzinfo=own_zone)
    return _placed(moment, own_zone).astimezone(UTC)


def _is_free(event: Event) -> bool:
    transparency = str(event.get("TRANSP") or "OPAQUE").upper()
    status = str(event.get("STATUS") or "").upper()
    return transparency == "TRANSPARENT" or status == "CANCELLED"


def _check_rule(read: _Read) -> str | None:
    """Why psi cannot expand the event's rule, or None when it can (and then `read.rule`
    becomes the rule as psi stores it)."""
    assert read.rule is not None
    try:
        rule = parse_rule(read.rule, read.starts_at.astimezone(ZoneInfo(read.zone)))
    except InvalidRule as exc:
        return exc.message
    read.rule = rule.text
    return None


def _made_up_uid(event: Component) -> str:
    """A UID for an event without one, the same for the same event in the next export."""
    digest = hashlib.sha256()
    for name in ("SUMMARY", "DTSTART", "DTEND", "RRULE"):
        value = event.get(name)
        digest.update(value.to_ical() if hasattr(value, "to_ical") else str(value).encode())
    return f"no-uid-{digest.hexdigest()[:20]}"


def _store(
    goals: Goals, found: dict[str, _Read], *, source: str, now: datetime, result: CalendarImport
) -> None:
    user = goals.user_id
    with goals.store.session() as session:
        existing = {
            row.uid: row
            for row in session.scalars(
                select(Commitment).where(
                    Commitment.user_id == user,
                    Commitment.uid.in_(list(found)) | (Commitment.source == source),
                )
            )
        }
        for uid, read in found.items():
            row = existing.pop(uid, None)
            if row is None:
                row = Commitment(user_id=user, uid=uid)
                session.add(row)
                result.added += 1
            else:
                result.updated += 1
            row.summary, row.starts_at, row.ends_at = read.summary, read.starts_at, read.ends_at
            row.rule, row.zone, row.all_day = read.rule, read.zone, read.all_day
            row.exdates, row.source, row.imported_at = read.exdates, source, now
        for row in existing.values():  # from this source before, gone from it now
            session.delete(row)
            result.removed += 1


__all__ = [
    "DEFAULT_DURATION",
    "PRODID",
    "CalendarImport",
    "build_calendar",
    "export_calendar",
    "import_calendar",
    "uid_for",
]
