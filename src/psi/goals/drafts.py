"""What a goal and its plan look like before they are saved: validated pydantic models.

The planner asks a model for a `PlanDraft` through its JSON schema and the
deterministic planner builds one directly; `psi goal add` shows it, lets the
user edit it, and `Goals.add` saves it. Dates are calendar days in the user's
timezone (a model writes "2027-03-01", not instants); times of day for
recurring items come from the rule's start.

Validation here is what "no garbage plan" means: titles are short and not
blank, every date falls between the goal's start and its target date
(`PlanDraft.problems`), and counts are bounded so a runaway model cannot
flood the agenda. Whether a rule parses and ever fires depends on the user's
timezone and the start, so `Goals.add` and `Goals.replace_plan` check that
(psi.goals.recurrence) before they write anything.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Area = Literal[
    "health", "fitness", "career", "learning", "finance", "relationships", "creativity", "home",
    "other",
]  # fmt: skip
Status = Literal["active", "paused", "done", "archived"]
Period = Literal["week", "month"]

MAX_MILESTONES = 12
MAX_TASKS = 20
MAX_HABITS = 6
MAX_IF_THEN = 3


def _title(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


# No goal measures beyond a trillion of its unit; past that, a plan's arithmetic (steps
# between baseline and target) would overflow floats.
METRIC_LIMIT = 1e12


class MetricDraft(BaseModel):
    """A measured goal: from `baseline` to `target` in `unit`."""

    model_config = ConfigDict(extra="forbid")

    unit: str = Field(min_length=1, max_length=40)
    baseline: float
    target: float
    direction: Literal["increase", "decrease"]
    aggregate: Literal["last", "sum"] = Field(
        description="'last': each check-in is the current level (weight, longest run); "
        "'sum': each check-in adds to the total (books read, km run)."
    )

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        return _title(value)

    @model_validator(mode="after")
    def _sensible(self) -> MetricDraft:
        if not (math.isfinite(self.baseline) and math.isfinite(self.target)):
            raise ValueError("baseline and target must be finite numbers")
        if max(abs(self.baseline), abs(self.target)) > METRIC_LIMIT:
            raise ValueError(f"baseline and target must be within ±{METRIC_LIMIT:g}")
        if self.baseline == self.target:
            raise ValueError("the target must differ from the baseline")
        if (self.target > self.baseline) != (self.direction == "increase"):
            raise ValueError(
                f"a goal to {self.direction} cannot go from {self.baseline:g} to {self.target:g}"
            )
        return self


class GoalDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    why: str | None = Field(default=None, max_length=2000)
    area: Area = "other"
    starts_on: date
    target_date: date
    metric: MetricDraft | None = None
    priority: int = Field(default=2, ge=1, le=3)

    @field_validator("title")
    @classmethod
    def _clean_title(cls, value: str) -> str:
        return _title(value)

    @model_validator(mode="after")
    def _dates(self) -> GoalDraft:
        if self.target_date <= self.starts_on:
            raise ValueError(
                f"the target date {self.target_date} is not after the start {self.starts_on}"
            )
        return self


class MilestoneDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    due: date
    value: float | None = Field(
        default=None, description="The metric's value this milestone stands for, if measured."
    )

    @field_validator("title")
    @classmethod
    def _clean_title(cls, value: str) -> str:
        return _title(value)


class TaskDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    due: date | None = Field(default=None, description="For a one-off task.")
    rule: str | None = Field(
        default=None,
        description="For a recurring task: an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=SA.",
    )
    estimate_minutes: int | None = Field(default=None, ge=1, le=24 * 60)

    @field_validator("title")
    @classmethod
    def _clean_title(cls, value: str) -> str:
        return _title(value)

    @model_validator(mode="after")
    def _when(self) -> TaskDraft:
        if (self.due is None) == (self.rule is None):
            raise ValueError("a task has either a due date or a recurrence rule")
        return self


class HabitDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    rule: str = Field(
        description="When it is due: an RFC 5545 RRULE such as FREQ=DAILY or "
        "FREQ=WEEKLY;BYDAY=MO,WE,FR."
    )
    per_period: int | None = Field(
        default=None, ge=1, le=31, description="Or: so many times each `period`."
    )
    period: Period | None = None

    @field_validator("title")
    @classmethod
    def _clean_title(cls, value: str) -> str:
        return _title(value)

    @model_validator(mode="after")
    def _period(self) -> HabitDraft:
        if (self.per_period is None) != (self.period is None):
            raise ValueError("per_period and period go together")
        return self


class IfThenDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    situation: str = Field(min_length=3, max_length=300, description="If ...")
    action: str = Field(min_length=3, max_length=300, description="then I will ...")

    @field_validator("situation", "action")
    @classmethod
    def _clean(cls, value: str) -> str:
        return _title(value)


class PlanDraft(BaseModel):
    """Milestones spread to the target date, recurring tasks, habits, if-then plans."""

    model_config = ConfigDict(extra="forbid")

    milestones: list[MilestoneDraft] = Field(default_factory=list, max_length=MAX_MILESTONES)
    tasks: list[TaskDraft] = Field(default_factory=list, max_length=MAX_TASKS)
    habits: list[HabitDraft] = Field(default_factory=list, max_length=MAX_HABITS)
    if_then: list[IfThenDraft] = Field(default_factory=list, max_length=MAX_IF_THEN)

    def problems(self, goal: GoalDraft) -> list[str]:
        """What does not fit `goal` (dates outside its span); empty when the plan fits."""
        found = []
        for milestone in self.milestones:
            if not goal.starts_on <= milestone.due <= goal.target_date:
                found.append(
                    f"milestone {milestone.title!r} is due {milestone.due}, outside "
                    f"{goal.starts_on} to {goal.target_date}"
                )
        for task in self.tasks:
            if task.due is not None and not goal.starts_on <= task.due <= goal.target_date:
                found.append(f"task {task.title!r} is due {task.due}, outside the goal's span")
        return found
