"""psi reaching out: what is sent when across days (DST included), quiet hours, the daily
cap, a restart after days off, and delivery to a webhook, the desktop and the next chat."""

from __future__ import annotations

import http.server
import os
import stat
import threading
import time as wall
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text

from psi.agent.chat import ChatService
from psi.clock import FrozenClock
from psi.config import GoalSettings, Settings, load_settings
from psi.goals.delivery import NoticeView, pending_notices
from psi.goals.drafts import GoalDraft, HabitDraft, MetricDraft, PlanDraft, TaskDraft
from psi.goals.outreach import place, quiet_end, quiet_hours
from psi.goals.scheduler import Outreach, build_scheduler, start_scheduler, stop_scheduler
from psi.goals.store import Goals
from psi.llm.scripted import ScriptedModel
from psi.store.db import Store
from psi.store.models import Notice

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

BERLIN = ZoneInfo("Europe/Berlin")
# Every time in these tests is on the hour or half hour.
STEP = timedelta(minutes=30)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def settings_with(**goals: Any) -> Settings:
    return load_settings(timezone="Europe/Berlin", goals=GoalSettings(desktop=False, **goals))


STRETCH = HabitDraft(title="Stretch", rule="FREQ=DAILY;BYHOUR=7;BYMINUTE=30")


def add_goal(
    store: Store,
    starts: date,
    *,
    tasks: list[TaskDraft] | None = None,
    habits: list[HabitDraft] | None = None,
) -> Goals:
    goals = Goals(
        store,
        user_id=store.ensure_user("local"),
        zone=BERLIN,
        clock=FrozenClock(at(starts, 0).astimezone(UTC)),
    )
    goals.add(
        GoalDraft(
            title="Run a marathon",
            area="fitness",
            starts_on=starts,
            target_date=starts + timedelta(days=300),
            metric=MetricDraft(
                unit="km", baseline=10, target=42.2, direction="increase", aggregate="last"
            ),
        ),
        PlanDraft(
            tasks=tasks or [],
            habits=[STRETCH] if habits is None else habits,
        ),
    )
    return goals


def outreach(store: Store, settings: Settings) -> Outreach:
    return Outreach(settings, store, user_id=store.ensure_user("local"))


def run(
    runner: Outreach, start: datetime, end: datetime, step: timedelta = STEP
) -> list[NoticeView]:
    """A pass at every `step` in [start, end), as the daemon would make once a minute."""
    sent = []
    moment = start
    while moment < end:
        sent += runner.run_once(moment)
        moment += step
    return sent


def local_times(notices: list[NoticeView], kind: str) -> list[str]:
    return [f"{n.created_at.astimezone(BERLIN):%Y-%m-%d %H:%M}" for n in notices if n.kind == kind]


# -- when ------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [date(2026, 3, 28), date(2026, 10, 24)])
def test_the_morning_agenda_goes_out_once_a_day_at_08_local_across_dst(
    store: Store, first: date
) -> None:
    add_goal(store, first)
    runner = outreach(store, settings_with(weekly_review="MON 18:00"))
    sent = run(runner, at(first, 0), at(first + timedelta(days=3), 0))
    days = [first + timedelta(days=n) for n in range(3)]
    assert local_times(sent, "agenda") == [f"{d} 08:00" for d in days]
    assert [n.key for n in sent if n.kind == "agenda"] == [f"agenda:{d}" for d in days]
    # The DST change moves 08:00 Berlin by an hour in UTC.
    hours_utc = {n.created_at.astimezone(UTC).hour for n in sent if n.kind == "agenda"}
    assert hours_utc == {6, 7}
    agenda = next(n for n in sent if n.kind == "agenda")
    assert agenda.text.startswith(f"Today, {first:%a %d %b}:")
    assert "07:30 Stretch (Run a marathon)" in agenda.text
    # A second pass at the same moment makes nothing new.
    assert runner.run_once(at(first + timedelta(days=2), 8)) == []


def test_habit_prompts_at_habit_times_unless_done(store: Store) -> None:
    first = date(2026, 3, 28)
    goals = add_goal(store, first)
    runner = outreach(store, settings_with())
    sent = run(runner, at(first, 0), at(first, 12))
    assert local_times(sent, "habit") == ["2026-03-28 07:30"]
    habit = next(n for n in sent if n.kind == "habit")
    assert habit.key == "habit:1:2026-03-28T07:30"
    assert "Time for Stretch (07:30)" in habit.text and "psi done h1" in habit.text
    # Done before its time on the next day (the DST day): no prompt.
    goals.check_habit(1, at=at(first + timedelta(days=1), 7, 10))
    sent = run(runner, at(first, 12), at(first + timedelta(days=2), 12))
    assert local_times(sent, "habit") == ["2026-03-30 07:30"]


def test_task_reminders_for_recurring_occurrences_and_one_offs_due_today(store: Store) -> None:
    first = date(2026, 11, 27)  # a Friday
    goals = add_goal(
        store,
        first,
        tasks=[
            TaskDraft(title="Long run", rule="FREQ=WEEKLY;BYDAY=SA;BYHOUR=10"),
            TaskDraft(title="Buy running shoes", due=date(2026, 11, 28)),
            TaskDraft(title="Book physio", due=date(2026, 11, 29)),
        ],
    )
    goals.complete_task(3, at=at(date(2026, 11, 28), 9))
    sent = run(outreach(store, settings_with()), at(first, 0), at(first + timedelta(days=3), 0))
    tasks = {n.key: f"{n.created_at.astimezone(BERLIN):%Y-%m-%d %H:%M}" for n in sent}
    assert tasks["task:1:2026-11-28T10:00"] == "2026-11-28 10:00"
    assert tasks["task:2:2026-11-28"] == "2026-11-28 12:00"
    assert "task:3:2026-11-29" not in tasks  # done the day before it was due
    reminder = next(n for n in sent if n.key == "task:2:2026-11-28")
    assert (
        reminder.text == "Still open today: Buy running shoes (Run a marathon). Done? psi done t2"
    )


def test_the_weekly_review_points_to_psi_review(store: Store) -> None:
    first = date(2026, 11, 27)
    add_goal(store, first)
    sent = run(outreach(store, settings_with()), at(first, 0), at(first + timedelta(days=4), 0))
    assert local_times(sent, "review") == ["2026-11-29 18:00"]
    review = next(n for n in sent if n.kind == "review")
    assert review.key == "review:2026-11-29" and "psi review" in review.text


def test_nothing_for_someone_without_goals(store: Store) -> None:
    first = date(2026, 11, 27)
    sent = run(outreach(store, settings_with()), at(first, 0), at(first + timedelta(days=3), 0))
    assert sent == []


# -- policies --------------------------------------------------------------------------


def test_nothing_goes_out_in_quiet_hours(store: Store) -> None:
    first = date(2026, 11, 27)
    add_goal(
        store,
        first,
        habits=[
            STRETCH,
            HabitDraft(title="Meditate", rule="FREQ=DAILY;BYHOUR=6;BYMINUTE=15"),
            HabitDraft(title="Journal", rule="FREQ=DAILY;BYHOUR=23"),
        ],
    )
    runner = outreach(store, settings_with(weekly_review="SUN 23:30", morning_agenda="06:30"))
    sent = run(runner, at(first, 0), at(first + timedelta(days=4), 0))
    for notice in sent:
        moment = notice.created_at.astimezone(BERLIN).time()
        assert moment.hour >= 7 and moment.hour < 22, notice
    # Early ones wait for the quiet hours to end; late ones would be stale tomorrow.
    assert local_times(sent, "agenda")[0] == "2026-11-27 07:00"
    meditate = [n for n in sent if "Meditate" in n.text]
    assert local_times(meditate, "habit")[:2] == ["2026-11-27 07:00", "2026-11-28 07:00"]
    assert not [n for n in sent if n.kind == "habit" and "Journal" in n.text]
    # A review keeps overnight: Sunday 23:30 goes out on Monday at 07:00.
    assert local_times(sent, "review") == ["2026-11-30 07:00"]


def test_quiet_hours_rules() -> None:
    night = quiet_hours("22:00-07:00")
    assert quiet_end(at(date(2026, 3, 28), 23), night, BERLIN) == at(date(2026, 3, 29), 7)
    assert quiet_end(at(date(2026, 3, 29), 3), night, BERLIN) == at(date(2026, 3, 29), 7)
    assert quiet_end(at(date(2026, 3, 29), 7), night, BERLIN) is None
    lunch = quiet_hours("12:00-13:00")
    assert quiet_end(at(date(2026, 3, 29), 12, 30), lunch, BERLIN) == at(date(2026, 3, 29), 13)
    assert quiet_end(at(date(2026, 3, 29), 13), lunch, BERLIN) is None
    assert quiet_hours("00:00-00:00") is None


def test_place_defers_within_the_day_and_drops_past_it() -> None:
    from psi.goals.outreach import NoticeDraft

    day = date(2026, 3, 28)
    night = quiet_hours("22:00-07:00")

    def draft(kind: Any, hour: int) -> NoticeDraft:
        moment = at(day, hour)
        return NoticeDraft(kind, f"{kind}:{hour}", "x", day, moment, moment, (0, 2, moment))

    habit = place(draft("habit", 6), at(day, 6), night, BERLIN)
    assert habit is not None and habit.send_at == at(day, 7)
    assert place(draft("habit", 23), at(day, 23), night, BERLIN) is None
    review = place(draft("review", 23), at(day, 23), night, BERLIN)
    assert review is not None and review.send_at == at(day + timedelta(days=1), 7)


def test_the_daily_cap_keeps_the_most_valuable(store: Store) -> None:
    first = date(2026, 11, 28)  # Saturday; Sunday has the review
    add_goal(
        store,
        first,
        tasks=[
            TaskDraft(title="Long run", rule="FREQ=DAILY;BYHOUR=10"),
            TaskDraft(title="Buy running shoes", due=date(2026, 11, 29)),
        ],
    )
    runner = outreach(store, settings_with(max_per_day=2))
    sent = run(runner, at(first, 0), at(first + timedelta(days=2), 0))
    by_day: dict[str, list[str]] = {}
    for notice in sent:
        by_day.setdefault(f"{notice.created_at.astimezone(BERLIN):%a}", []).append(notice.kind)
    # Saturday: agenda, then the recurring task beats the 07:30 habit prompt.
    assert by_day["Sat"] == ["agenda", "task"]
    # Sunday: the review and the agenda; the tasks and the habit are left out.
    assert sorted(by_day["Sun"]) == ["agenda", "review"]
    assert runner.run_once(at(first + timedelta(days=1), 23)) == []


def test_a_cap_of_zero_sends_nothing(store: Store) -> None:
    first = date(2026, 11, 28)
    add_goal(store, first)
    runner = outreach(store, settings_with(max_per_day=0))
    assert run(runner, at(first, 0), at(first + timedelta(days=1), 0)) == []


def test_three_days_off_then_one_agenda_for_today_and_no_burst(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(
        store, first, tasks=[TaskDraft(title="Long run", rule="FREQ=DAILY;BYHOUR=9;BYMINUTE=45")]
    )
    runner = outreach(store, settings_with())
    before = run(runner, at(first, 7), at(first, 8, 15), step=timedelta(minutes=15))
    assert [n.kind for n in before] == ["habit", "agenda"]
    # The machine sleeps from 08:15 on the 25th until 10:20 on the 28th.
    back = runner.run_once(at(date(2026, 11, 28), 10, 20))
    # Today's agenda, late, and the task from within the grace hour; nothing older.
    assert [n.key for n in back] == ["task:1:2026-11-28T09:45", "agenda:2026-11-28"]
    assert runner.last_run() == at(date(2026, 11, 28), 10, 20)
    assert runner.run_once(at(date(2026, 11, 28), 10, 21)) == []


def test_the_first_run_ever_sends_todays_agenda_only(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(store, first - timedelta(days=2))
    sent = outreach(store, settings_with()).run_once(at(first, 15))
    assert [n.key for n in sent] == ["agenda:2026-11-25"]


def test_a_late_agenda_is_dropped_when_the_day_is_over_in_quiet_hours(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(store, first - timedelta(days=2))
    assert outreach(store, settings_with()).run_once(at(first, 23)) == []


# -- delivery --------------------------------------------------------------------------


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], str]]
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode("utf-8")
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[Callable[[int], tuple[str, list[tuple[str, dict[str, str], str]]]]]:
    servers: list[http.server.HTTPServer] = []

    def start(status: int) -> tuple[str, list[tuple[str, dict[str, str], str]]]:
        received: list[tuple[str, dict[str, str], str]] = []
        handler = type("Handler", (Hook,), {"received": received, "status": status})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/psi-goals", received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_webhook_receives_the_text(store: Store, webhook: Any) -> None:
    url, received = webhook(200)
    first = date(2026, 11, 25)
    add_goal(store, first)
    runner = outreach(store, settings_with(webhook_url=url))
    try:
        sent = runner.run_once(at(first, 9))
    finally:
        runner.close()
    assert [n.kind for n in sent] == ["agenda"]
    assert sent[0].channels == ["webhook"]
    path, headers, body = received[0]
    assert path == "/psi-goals" and body == sent[0].text
    assert headers["Title"] == "psi: agenda"


def test_webhook_failures_are_recorded_not_raised(store: Store, webhook: Any) -> None:
    url, received = webhook(500)
    first = date(2026, 11, 25)
    add_goal(store, first)
    runner = outreach(store, settings_with(webhook_url=url))
    sent = runner.run_once(at(first, 9))
    runner.close()
    assert sent[0].channels == ["webhook failed: HTTP 500"] and len(received) == 1
    closed = outreach(store, settings_with(webhook_url="http://127.0.0.1:9/nothing"))
    sent = closed.run_once(at(first + timedelta(days=1), 9))
    closed.close()
    assert [n.channels for n in sent] == [["webhook failed: ConnectError"]]


def test_offline_mode_refuses_the_webhook_and_records_it(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(store, first)
    settings = load_settings(
        timezone="Europe/Berlin",
        offline=True,
        goals=GoalSettings(desktop=False, webhook_url="https://ntfy.example.org/psi"),
    )
    runner = outreach(store, settings)
    sent = runner.run_once(at(first, 9))
    runner.close()
    assert [n.channels for n in sent] == [["webhook refused: offline mode"]]
    with store.session() as session:
        row = session.scalar(select(Notice).where(Notice.key == "agenda:2026-11-25"))
        assert row is not None and row.channels == ["webhook refused: offline mode"]


def fake_notify_send(folder: Path, *, exit_code: int) -> Path:
    folder.mkdir()
    log = folder / "calls.txt"
    script = folder / "notify-send"
    script.write_text(
        f'#!/bin/sh\nprintf "%s|" "$@" >> "{log}"\necho >> "{log}"\nexit {exit_code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_a_desktop_notification_through_notify_send(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_notify_send(tmp_path / "bin", exit_code=0)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    first = date(2026, 11, 25)
    add_goal(store, first)
    settings = load_settings(timezone="Europe/Berlin", goals=GoalSettings(desktop=True))
    shown: list[str] = []
    runner = Outreach(
        settings, store, user_id=store.ensure_user("local"), echo=lambda n: shown.append(n.key)
    )
    sent = runner.run_once(at(first, 9))
    assert sent[0].channels == ["terminal", "desktop"]
    assert shown == ["agenda:2026-11-25"]
    call = log.read_text()
    assert call.startswith("--app-name=psi|Today, Wed 25 Nov:|") and "Stretch" in call


def test_a_failing_notify_send_does_not_fail_the_run(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_notify_send(tmp_path / "bin", exit_code=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    first = date(2026, 11, 25)
    add_goal(store, first)
    settings = load_settings(timezone="Europe/Berlin", goals=GoalSettings(desktop=True))
    sent = outreach(store, settings).run_once(at(first, 9))
    assert sent[0].channels == ["desktop failed: exit 1"]


def test_pending_notices_appear_once_in_the_next_chat(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(store, first)
    run(outreach(store, settings_with()), at(first, 7), at(first, 9))
    chat = ChatService(
        settings=load_settings(),
        store=store,
        user_id=store.ensure_user("local"),
        model=ScriptedModel(["Hi."]),
        clock=FrozenClock(at(first, 10).astimezone(UTC)),
    )
    shown = chat.take_notices()
    assert [n.kind for n in shown] == ["habit", "agenda"]
    assert chat.take_notices() == []
    assert pending_notices(store, store.ensure_user("local")) == []


# -- the scheduler ---------------------------------------------------------------------


def test_the_scheduler_keeps_its_job_in_psis_database(store: Store) -> None:
    first = date(2026, 11, 25)
    add_goal(store, first)
    runner = Outreach(
        settings_with(),
        store,
        user_id=store.ensure_user("local"),
        clock=FrozenClock(at(first, 9).astimezone(UTC)),
    )
    scheduler = build_scheduler(runner)
    scheduler.start(paused=True)
    try:
        assert "apscheduler_jobs" in inspect(store.engine).get_table_names()
        with store.engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
        assert ids == ["outreach:1"]
        job = scheduler.get_job("outreach:1")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 120
        # Run it now rather than at the next whole minute.
        job.modify(next_run_time=datetime.now(UTC))
        scheduler.resume()
        deadline = wall.monotonic() + 10
        while runner.last_run() is None and wall.monotonic() < deadline:
            wall.sleep(0.05)
        assert runner.last_run() == at(first, 9)
        assert [n.key for n in pending_notices(store, 1)] == ["agenda:2026-11-25"]
    finally:
        stop_scheduler(scheduler, runner)
    assert not scheduler.running
    # A second start replaces the stored job instead of failing on its id, and catches up.
    runner.clock = FrozenClock(at(first, 12).astimezone(UTC))
    again = start_scheduler(runner)
    try:
        assert [job.id for job in again.get_jobs()] == ["outreach:1"]
        assert runner.last_run() == at(first, 12)
    finally:
        stop_scheduler(again, runner)


# -- the command line ------------------------------------------------------------------

# Whenever the tests run, today's agenda is due and nothing is quiet.
ALWAYS = """
timezone = "Europe/Berlin"
[goals]
morning_agenda = "00:00"
quiet_hours = "00:00-00:00"
desktop = false
"""

SCRIPTED = """
[models.demo]
backend = "scripted"
model = "demo"
local = true
replies = ["Hello from psi.", "Second answer."]
"""


def psi(*args: str, input: str | None = None) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from psi.cli.main import app

    result = CliRunner().invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_daemon_once_sends_what_is_due_then_nothing(
    store: Store, write_config: Callable[[str], Path]
) -> None:
    write_config(ALWAYS)
    add_goal(store, datetime.now(BERLIN).date())
    code, out, _ = psi("daemon", "--once")
    assert code == 0
    assert "agenda" in out and "Today, " in out and "Stretch" in out
    code, out, err = psi("daemon", "--once")
    assert code == 0 and out == "" and "Nothing to send." in err


def test_the_next_chat_shows_what_psi_sent_once(
    store: Store, write_config: Callable[[str], Path]
) -> None:
    write_config('default_model = "demo"\n' + ALWAYS + SCRIPTED)
    add_goal(store, datetime.now(BERLIN).date())
    psi("daemon", "--once")
    code, out, err = psi("chat", input="hello\n")
    assert code == 0 and out == "Hello from psi.\n"
    assert "While you were away" in err and "Today, " in err
    code, out, err = psi("chat", input="again\n")
    assert code == 0 and "While you were away" not in err


def test_daemon_runs_in_the_foreground_until_ctrl_c(
    store: Store, write_config: Callable[[str], Path]
) -> None:
    import shutil
    import signal
    import subprocess
    import sys

    write_config(ALWAYS)
    add_goal(store, datetime.now(BERLIN).date())
    program = shutil.which("psi", path=str(Path(sys.executable).parent)) or "psi"
    process = subprocess.Popen(
        [program, "daemon"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C to stop" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    shown = "".join(lines) + rest
    assert "agenda" in shown and "Today, " in shown  # the catch-up pass at start
    assert shown.rstrip().endswith("Stopped.")
    assert "apscheduler_jobs" in inspect(store.engine).get_table_names()
