"""Goals as the rest of psi reads them: frozen views of the rows, and the check-ins
arranged as arrays for the agenda. Made by psi.goals.store; nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from psi.goals.drafts import GoalDraft, MetricDraft
from psi.goals.forecast import Metric
from psi.goals.recurrence import Rule, parse_rule
from psi.store.models import CheckIn, utc_from_store


@dataclass(frozen=True)
class GoalView:
    id: int
    title: str
    why: str | None
    area: str | None
    starts_at: datetime
    target_date: datetime
    metric: Metric | None
    status: str
    priority: int
    created_at: datetime
    updated_at: datetime

    def draft(self, zone: ZoneInfo) -> GoalDraft:
        metric = self.metric
        return GoalDraft(
            title=self.title,
            why=self.why,
            area=self.area or "other",  # type: ignore[arg-type]
            starts_on=self.starts_at.astimezone(zone).date(),
            target_date=self.target_date.astimezone(zone).date(),
            metric=None
            if metric is None
            else MetricDraft(
                unit=metric.unit,
                baseline=metric.baseline,
                target=metric.target,
                direction=metric.direction,
                aggregate=metric.aggregate,
            ),
            priority=self.priority,
        )


@dataclass(frozen=True)
class MilestoneView:
    id: int
    goal_id: int
    title: str
    due: datetime
    value: float | None
    done_at: datetime | None


@dataclass(frozen=True)
class TaskView:
    id: int
    goal_id: int | None
    title: str
    due: datetime | None
    rule: Rule | None
    estimate_minutes: int | None
    done_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class HabitView:
    id: int
    goal_id: int | None
    title: str
    rule: Rule
    per_period: int | None
    period: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class IfThenView:
    id: int
    goal_id: int
    situation: str
    action: str


@dataclass(frozen=True)
class CheckInView:
    id: int
    at: datetime
    goal_id: int | None
    habit_id: int | None
    task_id: int | None
    occurrence: datetime | None
    value: float | None
    note: str | None
    energy: int | None
    mood: int | None
    source_message_id: int | None


@dataclass
class CheckInTable:
    """Check-ins arranged for the agenda: per goal, (POSIX seconds, values) in time order;
    per habit, when it was done; per recurring task, the occurrences done."""

    values: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=dict)
    habits: dict[int, list[datetime]] = field(default_factory=dict)
    tasks: dict[int, set[datetime]] = field(default_factory=dict)


@dataclass(frozen=True)
class Digest:
    """A goal's logged values in brief: how many, the newest id, their sum and the
    latest time (POSIX seconds)."""

    count: int
    last_id: int
    total: float
    last_ts: float


@dataclass(frozen=True)
class PlanView:
    goal: GoalView
    milestones: list[MilestoneView]
    tasks: list[TaskView]
    habits: list[HabitView]
    if_then: list[IfThenView]


def posix_seconds(moments: Sequence[Any]) -> NDArray[np.float64]:
    """Stored UTC times as POSIX seconds, the same floats datetime.timestamp() gives:
    SQLite hands back "YYYY-MM-DD HH:MM:SS.ffffff" text (parsed by numpy, in C), other
    drivers datetimes."""
    if moments and isinstance(moments[0], str):
        micros = np.array(moments, dtype="datetime64[us]").astype(np.int64)
        return micros / 1e6
    return np.array(
        [(m if m.tzinfo else m.replace(tzinfo=UTC)).timestamp() for m in moments],
        dtype=np.float64,
    )


@lru_cache(maxsize=4096)
def rule_of(text: str, zone: str, starts_at: datetime) -> Rule:
    return parse_rule(text, starts_at.astimezone(ZoneInfo(zone)))


# Views are made from a row's values in table order: the driver's own tuples where many
# rows are read (SQLAlchemy's rows and type processing cost more than the query), or an
# ORM object's attributes (`*_view`). Times come as datetimes or SQLite's stored text.


def goal_of(values: Sequence[Any]) -> GoalView:
    (
        goal_id, _user, title, why, area, starts_at, target_date, unit, baseline, target,
        direction, aggregate, status, priority, created_at, updated_at,
    ) = values  # fmt: skip
    metric = None
    if unit is not None and baseline is not None and target is not None:
        metric = Metric(unit, baseline, target, direction, aggregate)
    return GoalView(
        goal_id, title, why, area, stored_time(starts_at), stored_time(target_date), metric,
        status, priority, stored_time(created_at), stored_time(updated_at),
    )  # fmt: skip


def milestone_of(values: Sequence[Any]) -> MilestoneView:
    milestone_id, _user, goal_id, title, due, value, done_at = values
    return MilestoneView(
        milestone_id, goal_id, title, stored_time(due), value, optional_time(done_at)
    )


def task_of(values: Sequence[Any]) -> TaskView:
    (
        task_id, _user, goal_id, title, due, text, zone, starts_at, estimate, done_at,
        created_at,
    ) = values  # fmt: skip
    rule = None
    if text is not None and zone is not None and starts_at is not None:
        rule = rule_of(text, zone, stored_time(starts_at))
    return TaskView(
        task_id, goal_id, title, optional_time(due), rule, estimate, optional_time(done_at),
        stored_time(created_at),
    )  # fmt: skip


def habit_of(values: Sequence[Any]) -> HabitView:
    (
        habit_id, _user, goal_id, title, text, zone, starts_at, per_period, period, active,
        created_at,
    ) = values  # fmt: skip
    rule = rule_of(text, zone, stored_time(starts_at))
    return HabitView(
        habit_id, goal_id, title, rule, per_period, period, bool(active), stored_time(created_at)
    )


def goal_view(row: Any) -> GoalView:
    return goal_of(_values(row))


def milestone_view(row: Any) -> MilestoneView:
    return milestone_of(_values(row))


def task_view(row: Any) -> TaskView:
    return task_of(_values(row))


def habit_view(row: Any) -> HabitView:
    return habit_of(_values(row))


def _values(row: Any) -> list[Any]:
    """An ORM object's column values in table order."""
    return [getattr(row, column.key) for column in row.__table__.columns]


def stored_time(value: Any) -> datetime:
    moment = utc_from_store(value)
    if moment is None:
        raise ValueError("a required time is missing")
    return moment


def optional_time(value: Any) -> datetime | None:
    return utc_from_store(value)


def check_in_view(row: CheckIn) -> CheckInView:
    return CheckInView(
        id=row.id,
        at=row.at,
        goal_id=row.goal_id,
        habit_id=row.habit_id,
        task_id=row.task_id,
        occurrence=row.occurrence,
        value=row.value,
        note=row.note,
        energy=row.energy,
        mood=row.mood,
        source_message_id=row.source_message_id,
    )
