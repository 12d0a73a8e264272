"""Kept fits (psi.goals.progress): an agenda built from kept fits says exactly what one
built from scratch says, after every kind of change a user makes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from psi.clock import FrozenClock
from psi.goals.agenda import Agenda, build_agenda
from psi.goals.drafts import GoalDraft, MetricDraft
from psi.goals.store import Goals
from psi.store.db import Store
from psi.store.models import GoalTrend

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)


def weight() -> GoalDraft:
    return GoalDraft(
        title="Lose weight",
        starts_on=date(2026, 3, 1),
        target_date=date(2026, 9, 1),
        metric=MetricDraft(
            unit="kg", baseline=90, target=80, direction="decrease", aggregate="last"
        ),
    )


def running() -> GoalDraft:
    return GoalDraft(
        title="Run 500 km",
        starts_on=date(2026, 3, 1),
        target_date=date(2026, 12, 31),
        metric=MetricDraft(
            unit="km", baseline=0, target=500, direction="increase", aggregate="sum"
        ),
    )


@pytest.fixture
def goals(store: Store) -> Goals:
    return Goals(store, user_id=store.ensure_user("local"), zone=BERLIN, clock=FrozenClock(NOW))


def figures(agenda: Agenda) -> dict[int, tuple[object, ...]]:
    out: dict[int, tuple[object, ...]] = {}
    for s in agenda.standings:
        f = s.forecast
        out[s.goal.id] = (
            s.last_check_in,
            None if f is None else (f.status, f.current, f.projected, f.projected_low, f.trend),
        )
    return out


def from_scratch(goals: Goals, now: datetime) -> dict[int, tuple[object, ...]]:
    with goals.store.session() as session:
        session.execute(delete(GoalTrend))
    return figures(build_agenda(goals, goals.local_day(now), now=now))


def kept_rows(goals: Goals) -> dict[int, str]:
    with goals.store.session() as session:
        rows = session.execute(select(GoalTrend.goal_id, GoalTrend.key)).all()
        return {goal_id: key for goal_id, key in rows}


def test_kept_fits_follow_every_change(goals: Goals) -> None:
    lose, run = goals.add(weight()), goals.add(running())
    for day, kg, km in ((2, 89.5, 5), (5, 89.0, 8), (9, 88.8, 3), (12, 88.1, 10)):
        at = datetime(2026, 3, day, 7, 0, tzinfo=UTC)
        goals.log(lose, kg, at=at)
        goals.log(run, km, at=at)

    def agenda_now(now: datetime = NOW) -> dict[int, tuple[object, ...]]:
        return figures(build_agenda(goals, goals.local_day(now), now=now))

    first = agenda_now()
    assert set(kept_rows(goals)) == {lose, run}
    assert agenda_now() == first == from_scratch(goals, NOW)

    # A new value: the goal's fit is made again, the other's kept.
    before = kept_rows(goals)
    goals.log(lose, 86.0, at=NOW - timedelta(hours=1))
    after = agenda_now()
    assert after[lose] != first[lose] and after[run] == first[run]
    assert kept_rows(goals)[lose] != before[lose] and kept_rows(goals)[run] == before[run]
    assert after == from_scratch(goals, NOW)

    # A changed baseline changes a cumulative goal's running total.
    goals.edit(
        run,
        {
            "metric": {
                "unit": "km",
                "baseline": 100,
                "target": 500,
                "direction": "increase",
                "aggregate": "sum",
            }
        },
    )
    assert agenda_now() == from_scratch(goals, NOW)

    # A value logged at a time not yet reached: asked earlier, the agenda leaves it out
    # and keeps no fit that would hide it later.
    goals.log(run, 50, at=NOW + timedelta(days=2))
    assert agenda_now() == from_scratch(goals, NOW)
    later = NOW + timedelta(days=3)
    assert agenda_now(later) == from_scratch(goals, later)


def test_a_stale_or_foreign_row_is_never_believed(goals: Goals) -> None:
    lose = goals.add(weight())
    goals.log(lose, 89.0, at=datetime(2026, 3, 5, tzinfo=UTC))
    goals.log(lose, 88.0, at=datetime(2026, 3, 10, tzinfo=UTC))
    truth = from_scratch(goals, NOW)
    assert figures(build_agenda(goals, goals.local_day(NOW), now=NOW)) == truth
    # A row left by an older psi (another fit version) or whose key no longer matches
    # is fitted again, whatever its figures say.
    with goals.store.session() as session:
        session.execute(update(GoalTrend).values(key="v0:stale", current=1.0, slope=-9.0))
    assert figures(build_agenda(goals, goals.local_day(NOW), now=NOW)) == truth
    assert kept_rows(goals)[lose].startswith("v1:")


def test_agenda_stands_when_fits_cannot_be_kept(goals: Goals, store: Store, psi_home: Path) -> None:
    lose = goals.add(weight())
    goals.log(lose, 89.0, at=datetime(2026, 3, 5, tzinfo=UTC))
    goals.log(lose, 88.0, at=datetime(2026, 3, 10, tzinfo=UTC))
    truth = from_scratch(goals, NOW)
    with store.session() as session:
        session.execute(delete(GoalTrend))
    # Another process holds the write lock: keeping the fit gives up after the busy
    # timeout, and the agenda is still complete and right.
    impatient = Store(store.url, busy_timeout=0.2)
    blocker = sqlite3.connect(psi_home / "psi.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        hurried = Goals(impatient, user_id=goals.user_id, zone=BERLIN, clock=FrozenClock(NOW))
        assert figures(build_agenda(hurried, hurried.local_day(NOW), now=NOW)) == truth
        assert kept_rows(goals) == {}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        impatient.dispose()
    assert figures(build_agenda(goals, goals.local_day(NOW), now=NOW)) == truth
    assert set(kept_rows(goals)) == {lose}
