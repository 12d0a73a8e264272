"""Goals out to iCalendar and read back field by field; calendars in as busy time, updated
on re-import, refused whole when broken."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, vRecur
from sqlalchemy import func, select
from typer.testing import CliRunner

from psi.clock import FrozenClock
from psi.config import load_settings
from psi.errors import InputError
from psi.goals.calendar import export_calendar, import_calendar, uid_for
from psi.goals.commitments import busy_between
from psi.goals.drafts import GoalDraft, HabitDraft, MilestoneDraft, PlanDraft, TaskDraft
from psi.goals.recurrence import occurrences, parse_rule
from psi.goals.store import Goals
from psi.store.db import Store
from psi.store.models import Commitment

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def goals(store: Store, clock: FrozenClock) -> Goals:
    user = store.ensure_user(load_settings().user)
    return Goals(store, user_id=user, zone=BERLIN, clock=clock)


def marathon(goals: Goals) -> int:
    return goals.add(
        GoalDraft(
            title="Run a marathon",
            why="To prove I can",
            area="fitness",
            starts_on=date(2026, 3, 2),
            target_date=date(2026, 10, 11),
        ),
        PlanDraft(
            milestones=[MilestoneDraft(title="Half marathon distance", due=date(2026, 6, 1))],
            tasks=[
                TaskDraft(title="Buy running shoes", due=date(2026, 3, 7)),
                TaskDraft(title="Book a physio", due=date(2026, 3, 4)),
                TaskDraft(title="Long run", rule="FREQ=WEEKLY;BYDAY=SU", estimate_minutes=90),
            ],
            habits=[HabitDraft(title="Stretch", rule="FREQ=DAILY;BYHOUR=7")],
        ),
    )


def parsed(data: bytes) -> Calendar:
    calendar = Calendar.from_ical(data)
    assert isinstance(calendar, Calendar)
    return calendar


def by_uid(calendar: Calendar) -> dict[str, Any]:
    return {str(c["UID"]): c for c in [*calendar.events, *calendar.todos]}


# -- export ----------------------------------------------------------------------------


def test_export_reads_back_field_by_field(goals: Goals, clock: FrozenClock) -> None:
    goal_id = marathon(goals)
    plan = goals.plan(goal_id)
    shoes, physio, long_run = plan.tasks
    clock.advance(days=1)
    goals.complete_task(physio.id)
    done_at = clock()
    clock.advance(hours=1)

    calendar = parsed(export_calendar(goals, now=clock()))

    assert str(calendar["VERSION"]) == "2.0"
    assert "psi" in str(calendar["PRODID"])
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Europe/Berlin"]
    user = goals.user_id
    items = by_uid(calendar)
    assert set(items) == {
        f"goal-{goal_id}@psi.{user}.local",
        f"milestone-{plan.milestones[0].id}@psi.{user}.local",
        f"task-{shoes.id}@psi.{user}.local",
        f"task-{physio.id}@psi.{user}.local",
        f"task-{long_run.id}@psi.{user}.local",
        f"habit-{plan.habits[0].id}@psi.{user}.local",
    }
    for item in items.values():
        assert item["DTSTAMP"].dt == clock()
        assert item.get("LAST-MODIFIED") is not None and int(item["SEQUENCE"]) > 0

    goal = items[uid_for("goal", goal_id, user_id=user)]
    assert goal.name == "VEVENT" and goal.start == date(2026, 10, 11)
    assert goal.end == date(2026, 10, 12)
    assert str(goal["TRANSP"]) == "TRANSPARENT"
    assert str(goal["SUMMARY"]) == "Goal: Run a marathon"

    milestone = items[uid_for("milestone", plan.milestones[0].id, user_id=user)]
    assert milestone.name == "VEVENT"
    assert milestone.start == date(2026, 6, 1) and not isinstance(milestone.start, datetime)
    assert "Run a marathon" in str(milestone["DESCRIPTION"])

    open_task = items[uid_for("task", shoes.id, user_id=user)]
    assert open_task.name == "VTODO"
    assert open_task["DUE"].dt == date(2026, 3, 7)
    assert str(open_task["STATUS"]) == "NEEDS-ACTION" and "COMPLETED" not in open_task
    assert "Run a marathon" in str(open_task["DESCRIPTION"])
    done_task = items[uid_for("task", physio.id, user_id=user)]
    assert str(done_task["STATUS"]) == "COMPLETED"
    assert done_task["COMPLETED"].dt == done_at

    habit = items[uid_for("habit", plan.habits[0].id, user_id=user)]
    assert habit.name == "VEVENT"
    assert habit["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert habit.start == datetime(2026, 3, 2, 7, 0, tzinfo=BERLIN)
    assert habit["RRULE"] == vRecur.from_ical("FREQ=DAILY;BYHOUR=7")
    assert habit.duration == timedelta(minutes=30)

    run = items[uid_for("task", long_run.id, user_id=user)]
    assert run["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert run.start.astimezone(BERLIN).hour == 9
    assert run["RRULE"] == vRecur.from_ical("FREQ=WEEKLY;BYDAY=SU")
    assert run.duration == timedelta(minutes=90)


def test_exports_keep_their_uids_and_a_change_raises_the_sequence(
    goals: Goals, clock: FrozenClock
) -> None:
    goal_id = marathon(goals)
    first = by_uid(parsed(export_calendar(goals, now=clock())))
    clock.advance(days=2)
    shoes = goals.plan(goal_id).tasks[0]
    goals.complete_task(shoes.id)
    second = by_uid(parsed(export_calendar(goals, now=clock())))
    assert set(first) == set(second)
    changed = uid_for("task", shoes.id, user_id=goals.user_id)
    assert int(second[changed]["SEQUENCE"]) > int(first[changed]["SEQUENCE"])
    for uid in set(first) - {changed}:
        assert int(second[uid]["SEQUENCE"]) == int(first[uid]["SEQUENCE"])


def test_archived_goals_are_left_out_and_paused_ones_keep_only_their_dates(
    goals: Goals,
) -> None:
    archived = marathon(goals)
    paused = marathon(goals)
    goals.set_status(archived, "archived")
    goals.set_status(paused, "paused")
    items = by_uid(parsed(export_calendar(goals, now=NOW)))
    assert not any(f"goal-{archived}@" in uid for uid in items)
    plan = goals.plan(paused)
    kept = {uid_for("goal", paused, user_id=goals.user_id)}
    kept |= {uid_for("milestone", m.id, user_id=goals.user_id) for m in plan.milestones}
    kept |= {uid_for("task", t.id, user_id=goals.user_id) for t in plan.tasks if t.rule is None}
    assert set(items) == kept


def test_a_habit_at_seven_stays_at_seven_across_dst(goals: Goals) -> None:
    marathon(goals)
    calendar = parsed(export_calendar(goals, now=NOW))
    habit = next(e for e in calendar.events if str(e["SUMMARY"]) == "Stretch")
    rule = parse_rule(habit["RRULE"].to_ical().decode(), habit.start)
    # Berlin moves its clocks on 29 March 2026.
    found = occurrences(
        rule, datetime(2026, 3, 27, tzinfo=BERLIN), datetime(2026, 4, 1, tzinfo=BERLIN)
    )
    assert [m.astimezone(BERLIN).hour for m in found] == [7] * 5
    assert [m.astimezone(UTC).hour for m in found] == [6, 6, 5, 5, 5]


# -- import ----------------------------------------------------------------------------


def meeting_calendar(*, title: str = "Team meeting", with_lunch: bool = True) -> bytes:
    calendar = Calendar.new(prodid="-//tests//work calendar//EN")
    meeting = Event.new(
        uid="meeting-1@work.example",
        summary=title,
        start=datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN),
        end=datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN),
        stamp=NOW,
    )
    meeting.add("RRULE", vRecur.from_ical("FREQ=WEEKLY;BYDAY=MO"))
    meeting.add("EXDATE", datetime(2026, 3, 16, 9, 0, tzinfo=BERLIN))
    calendar.add_component(meeting)
    moved = Event.new(
        uid="meeting-1@work.example",
        summary=f"{title} (moved)",
        recurrence_id=datetime(2026, 3, 9, 9, 0, tzinfo=BERLIN),
        start=datetime(2026, 3, 10, 11, 0, tzinfo=BERLIN),
        end=datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN),
        stamp=NOW,
    )
    calendar.add_component(moved)
    if with_lunch:
        lunch = Event.new(
            uid="lunch-7@work.example",
            summary="Lunch with Ana",
            start=datetime(2026, 3, 25, 12, 0, tzinfo=UTC),
            end=datetime(2026, 3, 25, 13, 30, tzinfo=UTC),
            stamp=NOW,
        )
        calendar.add_component(lunch)
    birthday = Event.new(
        uid="birthday@work.example",
        summary="Ana's birthday",
        start=date(2026, 3, 26),
        end=date(2026, 3, 27),
        transparency="TRANSPARENT",  # type: ignore[arg-type]
        stamp=NOW,
    )
    calendar.add_component(birthday)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


def spans(goals: Goals, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    return [
        (b.summary, b.starts_at.astimezone(BERLIN), b.ends_at.astimezone(BERLIN))
        for b in busy_between(goals.store, goals.user_id, start, end)
    ]


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def test_imported_events_become_busy_blocks(goals: Goals) -> None:
    done = import_calendar(meeting_calendar(), goals, source="work.ics", now=NOW)
    assert (done.events, done.added, done.updated, done.removed) == (4, 3, 0, 0)
    assert done.free == 1 and done.skipped == []

    assert spans(goals, at(2, 0), at(17, 0)) == [
        ("Team meeting", at(2, 9), at(2, 10)),
        ("Team meeting (moved)", at(10, 11), at(10, 12)),
    ]
    # The meeting keeps 09:00 local over the change to summer time (29 March).
    assert spans(goals, at(23, 0), at(6, 0, month=4)) == [
        ("Team meeting", at(23, 9), at(23, 10)),
        ("Lunch with Ana", at(25, 13), at(25, 14, 30)),
        ("Team meeting", at(30, 9), at(30, 10)),
    ]
    # A block running into the window counts; one that ended before it does not.
    assert spans(goals, at(23, 9, 30), at(23, 12)) == [("Team meeting", at(23, 9), at(23, 10))]
    assert spans(goals, at(23, 10), at(23, 12)) == []


def test_reimport_updates_by_uid_and_drops_what_left_the_file(goals: Goals) -> None:
    import_calendar(meeting_calendar(), goals, source="work.ics", now=NOW)
    again = import_calendar(
        meeting_calendar(title="Team sync", with_lunch=False),
        goals,
        source="work.ics",
        now=NOW + timedelta(days=1),
    )
    assert (again.added, again.updated, again.removed) == (0, 2, 1)
    with goals.store.session() as session:
        rows = session.scalars(select(Commitment).order_by(Commitment.uid)).all()
        assert [(r.uid, r.summary) for r in rows] == [
            ("meeting-1@work.example", "Team sync"),
            ("meeting-1@work.example#20260309T080000Z", "Team sync (moved)"),
        ]
        assert all(r.imported_at == NOW + timedelta(days=1) for r in rows)


def test_psi_own_export_is_not_busy_time(goals: Goals) -> None:
    marathon(goals)
    done = import_calendar(export_calendar(goals, now=NOW), goals, source="psi.ics", now=NOW)
    assert done.events == 4 and done.own == 4 and done.added == 0
    assert busy_between(goals.store, goals.user_id, at(1, 0), at(1, 0, month=12)) == []


def test_a_rule_psi_cannot_expand_skips_that_event_only(goals: Goals) -> None:
    calendar = Calendar.new(prodid="-//tests//EN")
    pings = Event.new(uid="p", summary="Pings", start=at(2, 9), end=at(2, 9, 5), stamp=NOW)
    pings.add("RRULE", vRecur.from_ical("FREQ=MINUTELY;INTERVAL=15"))
    calendar.add_component(pings)
    twice = Event.new(uid="t", summary="Gym", start=at(2, 18), end=at(2, 19), stamp=NOW)
    twice.add("RRULE", vRecur.from_ical("FREQ=WEEKLY;BYDAY=MO"))
    twice.add("RRULE", vRecur.from_ical("FREQ=WEEKLY;BYDAY=TH"))
    calendar.add_component(twice)
    calendar.add_component(Event.new(uid="d", summary="Dentist", start=at(3, 8), stamp=NOW))
    done = import_calendar(calendar.to_ical(), goals, source="x.ics", now=NOW)
    assert done.added == 1 and len(done.skipped) == 2
    assert "Pings" in done.skipped[0] and "MINUTELY" in done.skipped[0]
    assert "Gym" in done.skipped[1] and "several RRULEs" in done.skipped[1]
    assert spans(goals, at(3, 0), at(4, 0)) == [("Dentist", at(3, 8), at(3, 8))]


def no_start() -> bytes:
    calendar = Calendar.new(prodid="-//tests//EN")
    calendar.add_component(Event.new(uid="ok", summary="Fine", start=at(4, 8), stamp=NOW))
    calendar.add_component(Event.new(uid="bad", summary="Broken", stamp=NOW))
    data: bytes = calendar.to_ical()
    return data


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "is empty"),
        (b"  \r\n", "is empty"),
        (b"Dear diary, today I ran 5 km.", "is not an iCalendar file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not an iCalendar file"),
        (b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "holds no calendar"),
        (no_start(), "'Broken', UID bad) has no start"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(goals: Goals, data: bytes, says: str) -> None:
    import_calendar(meeting_calendar(), goals, source="work.ics", now=NOW)
    before = spans(goals, at(1, 0), at(1, 0, month=5))
    with pytest.raises(InputError) as refused:
        import_calendar(data, goals, source="work.ics", now=NOW + timedelta(days=1))
    assert says in refused.value.message and refused.value.hint
    assert spans(goals, at(1, 0), at(1, 0, month=5)) == before
    with goals.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Commitment)) == 3


def test_commitments_are_per_user(store: Store, goals: Goals) -> None:
    import_calendar(meeting_calendar(), goals, source="work.ics", now=NOW)
    other = Goals(store, user_id=store.ensure_user("someone-else"), zone=BERLIN)
    assert busy_between(store, other.user_id, at(1, 0), at(1, 0, month=5)) == []
    assert busy_between(store, goals.user_id, at(1, 0), at(1, 0, month=5))


# -- CLI -------------------------------------------------------------------------------

runner = CliRunner()


def psi(*args: str) -> tuple[int, str, str]:
    from psi.cli.main import app

    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_export_then_import(goals: Goals, tmp_path: Path) -> None:
    marathon(goals)
    target = tmp_path / "goals.ics"
    code, out, _ = psi("calendar", "export", str(target))
    assert code == 0 and "Exported 4 events and 2 to-dos" in out
    assert len(parsed(target.read_bytes()).events) == 4

    work = tmp_path / "work.ics"
    work.write_bytes(meeting_calendar())
    code, out, _ = psi("calendar", "import", str(work))
    assert code == 0 and "3 new, 0 updated, 0 removed" in out
    code, out, _ = psi("calendar", "import", str(work))
    assert code == 0 and "0 new, 3 updated, 0 removed" in out
    code, out, _ = psi("calendar", "import", str(target))
    assert code == 0 and "4 of psi's own items" in out


def test_cli_refuses_a_bad_file_without_a_traceback(goals: Goals, tmp_path: Path) -> None:
    bad = tmp_path / "notes.ics"
    bad.write_text("just some notes")
    code, _, err = psi("calendar", "import", str(bad))
    assert code == 2
    assert "notes.ics is not an iCalendar file" in err and "Traceback" not in err
    code, _, err = psi("calendar", "import", str(tmp_path / "missing.ics"))
    assert code == 2 and "Cannot read" in err


def test_floating_times_and_all_day_series_are_in_the_users_zone(goals: Goals) -> None:
    calendar = Calendar.new(prodid="-//tests//EN")
    calendar.add_component(
        Event.new(uid="f", summary="Call", start=datetime(2026, 3, 30, 18, 0), stamp=NOW)
    )
    office = Event.new(
        uid="o", summary="Office day", start=date(2026, 3, 23), end=date(2026, 3, 24), stamp=NOW
    )
    office.add("RRULE", vRecur.from_ical("FREQ=WEEKLY"))
    office.add("EXDATE", date(2026, 4, 6))
    calendar.add_component(office)
    import_calendar(calendar.to_ical(), goals, source="home.ics", now=NOW)
    assert spans(goals, at(23, 12), at(14, 0, month=4)) == [
        ("Office day", at(23, 0), at(24, 0)),
        ("Office day", at(30, 0), at(31, 0)),
        ("Call", at(30, 18), at(30, 18)),
        ("Office day", at(13, 0, month=4), at(14, 0, month=4)),
    ]
    assert all(b.all_day for b in busy_between(goals.store, goals.user_id, at(23, 0), at(24, 0)))


def test_commitments_go_into_the_planning_context(goals: Goals) -> None:
    from psi.goals.planner import plan_context

    assert plan_context(goals.store, goals.user_id, now=NOW, zone=BERLIN) == ""
    import_calendar(meeting_calendar(), goals, source="work.ics", now=NOW)
    context = plan_context(goals.store, goals.user_id, now=NOW, zone=BERLIN)
    # Two weeks ahead: the weekly meeting once (one week is cancelled, one moved).
    assert "- Busy Mon 09:00-10:00: Team meeting" in context
    assert "- Busy Tue 11:00-12:00: Team meeting (moved)" in context
    assert "birthday" not in context  # free time is not busy
