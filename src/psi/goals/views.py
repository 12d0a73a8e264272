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
from psi.store.models import CheckIn


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


def goal_view(row: Any) -> GoalView:
    metric = None
    if row.unit is not None and row.baseline is not None and row.target is not None:
        metric = Metric(
            unit=row.unit,
            baseline=row.baseline,
            target=row.target,
            direction=row.direction,
            aggregate=row.aggregate,
        )
    return GoalView(
        id=row.id,
        title=row.title,
        why=row.why,
        area=row.area,
        starts_at=row.starts_at,
        target_date=row.target_date,
        metric=metric,
        status=row.status,
        priority=row.priority,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def milestone_view(row: Any) -> MilestoneView:
    return MilestoneView(
        id=row.id,
        goal_id=row.goal_id,
        title=row.title,
        due=row.due,
        value=row.value,
        done_at=row.done_at,
    )


def task_view(row: Any) -> TaskView:
    rule = None
    if row.rule is not None and row.zone is not None and row.starts_at is not None:
        rule = rule_of(row.rule, row.zone, row.starts_at)
    return TaskView(
        id=row.id,
        goal_id=row.goal_id,
        title=row.title,
        due=row.due,
        rule=rule,
        estimate_minutes=row.estimate_minutes,
        done_at=row.done_at,
        created_at=row.created_at,
    )


def habit_view(row: Any) -> HabitView:
    return HabitView(
        id=row.id,
        goal_id=row.goal_id,
        title=row.title,
        rule=rule_of(row.rule, row.zone, row.starts_at),
        per_period=row.per_period,
        period=row.period,
        active=row.active,
        created_at=row.created_at,
    )


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
