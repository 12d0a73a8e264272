"""`psi bench goals`: today's agenda with every goal's forecast, read from the database.

A synthetic busy user: `goals` measured goals (half level metrics, half
cumulative), each with a daily or weekly habit, a recurring task and a one-off
task, and `check_ins` values spread over the 120 days before now. Each run is
one `build_agenda` call as `psi today` makes it: every query, every forecast
and every occurrence, from a fresh read of the database (the SQLite page cache
is warm after the first run, as it is for a user who opens psi daily).

Three figures, each a median over its runs:
  - `agenda_ms`, the headline: the day's agenda again, each goal's fit kept
    (psi.goals.progress) and each rule's day expanded before, as in a psi that
    runs on (daemon, server) or a second `psi today`;
  - `after_logging_ms`: the same after a new value for `CHANGED` of the goals,
    whose fits are made again;
  - `refit_ms`: with no fit kept (the first agenda after an upgrade or import),
    every goal's check-ins read and fitted;
  - `fresh_process_ms`: the first agenda in a new Python process (fits kept, no
    rule parsed yet), as a one-shot `psi today` makes it, modules imported.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert

from psi.clock import FrozenClock
from psi.goals.agenda import build_agenda
from psi.goals.drafts import GoalDraft, HabitDraft, MetricDraft, PlanDraft, TaskDraft
from psi.goals.store import Goals
from psi.store.db import open_store
from psi.store.models import CheckIn, GoalTrend

TARGET_MS = 100.0
# Share of goals with a new value before each `after_logging` run: a day's logging.
CHANGED = 0.05
REFIT_RUNS = 3
FRESH_RUNS = 3
# Run in a new interpreter: the database path, the zone and now come as arguments.
_FRESH = """
import sys, time
from datetime import datetime
from zoneinfo import ZoneInfo
from psi.clock import FrozenClock
from psi.goals.agenda import build_agenda
from psi.goals.store import Goals
from psi.store.db import open_store
store = open_store("sqlite:///" + sys.argv[1])
now = datetime.fromisoformat(sys.argv[3])
goals = Goals(store, user_id=int(sys.argv[4]), zone=ZoneInfo(sys.argv[2]), clock=FrozenClock(now))
start = time.perf_counter()
build_agenda(goals, goals.local_day(now), now=now)
print((time.perf_counter() - start) * 1000)
"""
ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 5, 20, 7, 30, tzinfo=UTC)


@dataclass(frozen=True)
class GoalsResult:
    goals: int
    check_ins: int
    runs_ms: list[float]
    after_logging_ms: list[float]
    refit_ms: list[float]
    fresh_process_ms: list[float]
    setup_s: float
    items_due: int

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.runs_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def as_json(self) -> dict[str, Any]:
        return {
            "goals": self.goals,
            "check_ins": self.check_ins,
            "runs": len(self.runs_ms),
            "agenda_ms": {
                "median": round(self.median_ms, 2),
                "p95": round(self.p95_ms, 2),
                "min": round(min(self.runs_ms), 2),
            },
            "after_logging_ms": {
                "median": round(statistics.median(self.after_logging_ms), 2),
                "goals_changed": changed_goals(self.goals),
            },
            "refit_ms": {"median": round(statistics.median(self.refit_ms), 2)},
            "fresh_process_ms": {"median": round(statistics.median(self.fresh_process_ms), 2)},
            "items_due_today": self.items_due,
            "setup_s": round(self.setup_s, 1),
            "target_ms": TARGET_MS,
        }


def fill(goals: Goals, count: int, check_ins: int, *, seed: int = 0) -> None:
    """`count` goals with plans and `check_ins` values in all, spread evenly."""
    rng = random.Random(seed)
    today = goals.local_day(NOW)
    ids = []
    for n in range(count):
        cumulative = n % 2 == 1
        metric = MetricDraft(
            unit="km" if cumulative else "kg",
            baseline=0 if cumulative else 90,
            target=1000 if cumulative else 75,
            direction="increase" if cumulative else "decrease",
            aggregate="sum" if cumulative else "last",
        )
        goal = GoalDraft(
            title=f"Goal {n}",
            starts_on=today - timedelta(days=120),
            target_date=today + timedelta(days=rng.randint(30, 400)),
            metric=metric,
        )
        plan = PlanDraft(
            habits=[HabitDraft(title="Practice", rule=rng.choice(["FREQ=DAILY", "FREQ=WEEKLY"]))],
            tasks=[
                TaskDraft(title="Weekly review", rule="FREQ=WEEKLY;BYDAY=SU"),
                TaskDraft(title="Book a check-up", due=today + timedelta(days=rng.randint(-3, 20))),
            ],
        )
        ids.append(goals.add(goal, plan))
    rows = []
    per_goal = max(1, check_ins // max(1, count))
    for n, goal_id in enumerate(ids):
        level = 90.0
        for k in range(per_goal):
            at = NOW - timedelta(days=120 * (per_goal - k) / per_goal, minutes=rng.randint(0, 600))
            if n % 2 == 1:
                value = rng.uniform(2, 12)
            else:
                level -= rng.uniform(-0.2, 0.35)
                value = level
            rows.append(
                {"user_id": goals.user_id, "at": at, "goal_id": goal_id, "value": value,
                 "created_at": at}
            )  # fmt: skip
    with goals.store.session() as session:
        session.execute(insert(CheckIn), rows)


def changed_goals(count: int) -> int:
    return max(1, round(count * CHANGED))


def log_some(goals: Goals, count: int, *, seed: int) -> None:
    """A new value, an hour before now, for `count` goals picked at random."""
    rng = random.Random(seed)
    ids = [g.id for g in goals.all(statuses=("active",))]
    at = NOW - timedelta(hours=1)
    rows = [
        {"user_id": goals.user_id, "at": at, "goal_id": goal_id, "value": rng.uniform(2, 12),
         "created_at": at}
        for goal_id in rng.sample(ids, min(count, len(ids)))
    ]  # fmt: skip
    with goals.store.session() as session:
        session.execute(insert(CheckIn), rows)


def measure_goals(
    goals_count: int = 1000, check_ins: int = 50_000, *, runs: int = 15, workdir: Path | None = None
) -> GoalsResult:
    with tempfile.TemporaryDirectory(prefix="psi-bench-goals-") as scratch:
        path = (workdir or Path(scratch)) / "goals.db"
        store = open_store(f"sqlite:///{path}")
        try:
            goals = Goals(
                store, user_id=store.ensure_user("bench"), zone=ZONE, clock=FrozenClock(NOW)
            )
            start = time.perf_counter()
            fill(goals, goals_count, check_ins)
            setup_s = time.perf_counter() - start
            today: date = goals.local_day(NOW)
            build_agenda(goals, today, now=NOW)  # warm-up: imports, page cache
            times = []
            agenda = None
            for _ in range(runs):
                start = time.perf_counter()
                agenda = build_agenda(goals, today, now=NOW)
                times.append((time.perf_counter() - start) * 1000)
            assert agenda is not None
            stored = len(goals.check_ins())
            after_logging = []
            for run in range(runs):
                log_some(goals, changed_goals(goals_count), seed=run)
                start = time.perf_counter()
                build_agenda(goals, today, now=NOW)
                after_logging.append((time.perf_counter() - start) * 1000)
            refit = []
            for _ in range(REFIT_RUNS):
                with store.session() as session:
                    session.execute(delete(GoalTrend))
                start = time.perf_counter()
                build_agenda(goals, today, now=NOW)
                refit.append((time.perf_counter() - start) * 1000)
            command = [sys.executable, "-c", _FRESH, str(path), ZONE.key, NOW.isoformat()]
            command.append(str(goals.user_id))
            fresh = [
                float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
                for _ in range(FRESH_RUNS)
            ]
        finally:
            store.dispose()
    return GoalsResult(
        goals=goals_count,
        check_ins=stored,
        runs_ms=times,
        after_logging_ms=after_logging,
        refit_ms=refit,
        fresh_process_ms=fresh,
        setup_s=setup_s,
        items_due=len(agenda.tasks) + len(agenda.habits),
    )
