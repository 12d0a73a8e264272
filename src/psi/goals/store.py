"""Goals in the database: one user's goals, plans and check-ins, read as plain values.

    goals = Goals(store, user_id=1, zone=ZoneInfo("Europe/Berlin"))
    goal_id = goals.add(goal_draft, plan_draft)
    goals.log(goal_id, 12, note="ran 12 km this morning")

Dates in drafts are calendar days in the user's zone; they are stored as the
UTC instant of that day's local midnight, so a date reads back as the same
day in that zone. A recurring item keeps the zone its rule is written in, so
its wall time survives DST; when the user's zone changes, `move_zone`
re-expresses every rule in the new zone at the same wall time.

Every write checks what it touches belongs to this user and validates before
it changes anything; a refused write leaves the stored goals as they were.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from psi.clock import Clock, system_clock
from psi.errors import GoalError, NotFound, StoreError
from psi.goals.drafts import GoalDraft, PlanDraft
from psi.goals.forecast import Fitted, Trend
from psi.goals.recurrence import Rule, in_zone, parse_rule
from psi.goals.views import (
    CheckInTable,
    CheckInView,
    Digest,
    GoalView,
    HabitView,
    IfThenView,
    MilestoneView,
    PlanView,
    TaskView,
    check_in_view,
    goal_of,
    goal_view,
    habit_of,
    habit_view,
    milestone_of,
    milestone_view,
    posix_seconds,
    rule_of,
    task_of,
    task_view,
)
from psi.store.db import Store
from psi.store.models import MAX_ROW_ID, CheckIn, Goal, GoalTrend, Habit, IfThen, Milestone, Task

# Recurring items without a time of their own fall due at this local time.
DEFAULT_TIME = time(9, 0)
OPEN = ("active", "paused")
_RULE_HOUR = re.compile(r"BYHOUR=(\d{1,2})", re.IGNORECASE)
_RULE_MINUTE = re.compile(r"BYMINUTE=(\d{1,2})", re.IGNORECASE)
# Longest id list put in one IN (...); longer ones read everything and filter.
_IN_LIST = 500
log = logging.getLogger(__name__)


class Goals:
    def __init__(
        self, store: Store, *, user_id: int, zone: ZoneInfo, clock: Clock = system_clock
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.zone = zone
        self.clock = clock

    # -- days and instants ---------------------------------------------------------

    def day_start(self, day: date) -> datetime:
        """The instant `day` begins in the user's zone."""
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def rule(self, text: str, starts_on: date) -> Rule:
        """`text` parsed as a rule starting on `starts_on` at DEFAULT_TIME local (or the
        time its BYHOUR/BYMINUTE name)."""
        hour = _RULE_HOUR.search(text)
        minute = _RULE_MINUTE.search(text)
        at = DEFAULT_TIME
        if hour and int(hour.group(1)) < 24:
            at = time(int(hour.group(1)))
        if minute and int(minute.group(1)) < 60:
            at = at.replace(minute=int(minute.group(1)))
        return parse_rule(text, datetime.combine(starts_on, at, tzinfo=self.zone))

    # -- reading -------------------------------------------------------------------

    def get(self, goal_id: int) -> GoalView:
        with self.store.session() as session:
            return goal_view(self._goal(session, goal_id))

    def all(self, statuses: Iterable[str] = ("active", "paused", "done")) -> list[GoalView]:
        wanted = list(statuses)
        query = (
            select(*Goal.__table__.columns)
            .where(Goal.user_id == self.user_id, Goal.status.in_(wanted))
            .order_by(Goal.priority, Goal.target_date, Goal.id)
        )
        with self.store.engine.connect() as connection:
            return [goal_of(row) for row in connection.execute(query).cursor.fetchall()]

    def find(self, reference: str, *, statuses: Iterable[str] = ("active",)) -> GoalView:
        """A goal by id, or by words of its title among goals in `statuses`."""
        if reference.strip().isdigit():
            return self.get(_row_id(reference))
        words = reference.casefold().split()
        found = [g for g in self.all(statuses) if all(w in g.title.casefold() for w in words)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise GoalError(
                f"No goal matches {reference!r}.",
                hint="psi goal list shows your goals and their ids.",
            )
        listed = ", ".join(f"{g.id} ({g.title})" for g in found[:5])
        raise GoalError(f"{reference!r} could mean {listed}.", hint="Give the goal's id.")

    def find_item(self, reference: str) -> tuple[str, int]:
        """("t", 12) for "t12" (a task; h a habit, m a milestone); words of a title find
        the one open task, habit or milestone they name."""
        text = reference.strip()
        if text[:1].lower() in ("t", "h", "m") and text[1:].isdigit():
            return text[0].lower(), _row_id(text[1:])
        words = text.casefold().split()
        found: list[tuple[str, int, str]] = [
            *(("t", t.id, t.title) for t in self.tasks()),
            *(("h", h.id, h.title) for h in self.habits()),
            *(("m", m.id, m.title) for m in self.milestones()),
        ]
        matches = [f for f in found if words and all(w in f[2].casefold() for w in words)]
        if len(matches) == 1:
            return matches[0][0], matches[0][1]
        if not matches:
            raise GoalError(
                f"Nothing open matches {reference!r}.", hint="psi today lists items with ids."
            )
        listed = ", ".join(f"{k}{n} ({title})" for k, n, title in matches[:5])
        raise GoalError(f"{reference!r} could mean {listed}.", hint="Give the id, like t12.")

    def plan(self, goal_id: int) -> PlanView:
        with self.store.session() as session:
            goal = goal_view(self._goal(session, goal_id))
            return PlanView(
                goal=goal,
                milestones=[
                    milestone_view(m)
                    for m in session.scalars(
                        select(Milestone)
                        .where(Milestone.goal_id == goal_id)
                        .order_by(Milestone.due, Milestone.id)
                    )
                ],
                tasks=[
                    task_view(t)
                    for t in session.scalars(
                        select(Task).where(Task.goal_id == goal_id).order_by(Task.id)
                    )
                ],
                habits=[
                    habit_view(h)
                    for h in session.scalars(
                        select(Habit).where(Habit.goal_id == goal_id).order_by(Habit.id)
                    )
                ],
                if_then=[
                    IfThenView(id=p.id, goal_id=p.goal_id, situation=p.situation, action=p.action)
                    for p in session.scalars(
                        select(IfThen).where(IfThen.goal_id == goal_id).order_by(IfThen.id)
                    )
                ],
            )

    def milestones(self, *, open_only: bool = True) -> list[MilestoneView]:
        query = (
            select(*Milestone.__table__.columns)
            .join(Goal, Goal.id == Milestone.goal_id)
            .where(Milestone.user_id == self.user_id, Goal.status == "active")
            .order_by(Milestone.due)
        )
        if open_only:
            query = query.where(Milestone.done_at.is_(None))
        with self.store.engine.connect() as connection:
            return [milestone_of(m) for m in connection.execute(query).cursor.fetchall()]

    def tasks(self, *, open_only: bool = True) -> list[TaskView]:
        """Tasks of active goals and tasks of no goal; with `open_only`, those not done
        (a recurring task is never done as a whole)."""
        query = (
            select(*Task.__table__.columns)
            .outerjoin(Goal, Goal.id == Task.goal_id)
            .where(Task.user_id == self.user_id)
            .where((Task.goal_id.is_(None)) | (Goal.status == "active"))
            .order_by(Task.id)
        )
        if open_only:
            query = query.where(Task.done_at.is_(None))
        with self.store.engine.connect() as connection:
            return [task_of(t) for t in connection.execute(query).cursor.fetchall()]

    def habits(self) -> list[HabitView]:
        """Active habits of active goals, and active habits of no goal."""
        query = (
            select(*Habit.__table__.columns)
            .outerjoin(Goal, Goal.id == Habit.goal_id)
            .where(Habit.user_id == self.user_id, Habit.active.is_(True))
            .where((Habit.goal_id.is_(None)) | (Goal.status == "active"))
            .order_by(Habit.id)
        )
        with self.store.engine.connect() as connection:
            return [habit_of(h) for h in connection.execute(query).cursor.fetchall()]

    def check_in_table(self, goal_ids: Collection[int] | None = None) -> CheckInTable:
        """This user's check-ins arranged for the agenda: goal values as arrays of POSIX
        seconds and values per goal (only `goal_ids`' when given), completions of habits
        and recurring tasks as datetimes."""
        values = (
            select(CheckIn.goal_id, CheckIn.at, CheckIn.value)
            .where(
                CheckIn.user_id == self.user_id,
                CheckIn.goal_id.is_not(None),
                CheckIn.value.is_not(None),
            )
            .order_by(CheckIn.goal_id, CheckIn.at)
        )
        wanted = None if goal_ids is None else set(goal_ids)
        if wanted is not None and len(wanted) <= _IN_LIST:
            values = values.where(CheckIn.goal_id.in_(sorted(wanted)))
        # Completions through the user's habits and tasks: by user_id alone SQLite would
        # visit every check-in row (a goal's values too) to find the few that are these.
        habits_done = (
            select(CheckIn.habit_id, CheckIn.at)
            .join(Habit, Habit.id == CheckIn.habit_id)
            .where(Habit.user_id == self.user_id)
        )
        tasks_done = (
            select(CheckIn.task_id, CheckIn.occurrence)
            .join(Task, Task.id == CheckIn.task_id)
            .where(Task.user_id == self.user_id, CheckIn.occurrence.is_not(None))
        )
        table = CheckInTable()
        with self.store.engine.connect() as connection:
            # The driver's own tuples: turning 50,000 rows into SQLAlchemy rows and
            # datetimes costs more than the query.
            rows = connection.execute(values).cursor.fetchall() if wanted != set() else []
            for habit_id, at in connection.execute(habits_done).all():
                table.habits.setdefault(int(habit_id or 0), []).append(at)
            for task_id, occurrence in connection.execute(tasks_done).all():
                if occurrence is not None:
                    table.tasks.setdefault(int(task_id or 0), set()).add(occurrence)
        if rows:
            ids_read, moments, amounts = zip(*rows, strict=True)
            ids = np.array(ids_read, dtype=np.int64)
            times = posix_seconds(moments)
            numbers = np.array(amounts, dtype=np.float64)
            cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
            for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ids)], strict=True):
                goal_id = int(ids[start])
                if wanted is None or goal_id in wanted:
                    table.values[goal_id] = (times[start:end], numbers[start:end])
        return table

    def check_in_digest(self) -> dict[int, Digest]:
        """Per goal with logged values: how many, the newest id, their sum and the latest
        time. Enough to see that a goal's values changed (psi.goals.progress), in one
        pass over an index instead of reading them."""
        query = (
            select(
                CheckIn.goal_id,
                func.count(),
                func.max(CheckIn.id),
                func.sum(CheckIn.value),
                func.max(CheckIn.at),
            )
            .where(
                CheckIn.user_id == self.user_id,
                CheckIn.goal_id.is_not(None),
                CheckIn.value.is_not(None),
            )
            .group_by(CheckIn.goal_id)
        )
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).cursor.fetchall()
        if not rows:
            return {}
        latest = posix_seconds([row[4] for row in rows]).tolist()
        return {
            int(goal_id): Digest(int(count), int(last_id), float(total), last_ts)
            for (goal_id, count, last_id, total, _), last_ts in zip(rows, latest, strict=True)
        }

    def trends(self) -> dict[int, tuple[str, Fitted]]:
        """The kept fits (psi.goals.progress), by goal: (key, fit)."""
        query = select(
            GoalTrend.goal_id,
            GoalTrend.key,
            GoalTrend.current,
            GoalTrend.last_ts,
            GoalTrend.slope,
            GoalTrend.slope_low,
            GoalTrend.slope_high,
            GoalTrend.intercept,
            GoalTrend.origin_ts,
        ).where(GoalTrend.user_id == self.user_id)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).cursor.fetchall()
        kept = {}
        for goal_id, key, current, last_ts, slope, low, high, intercept, origin in rows:
            line = None
            if None not in (slope, low, high, intercept, origin):
                line = Trend(slope, low, high, intercept, datetime.fromtimestamp(origin, UTC))
            kept[int(goal_id)] = (str(key), Fitted(current, last_ts, line))
        return kept

    def keep_trends(self, fits: Mapping[int, tuple[str, Fitted]]) -> bool:
        """Keep fits for later agendas, replacing older ones of the same goals. A cache:
        when the database will not take the write (locked, read-only) nothing is kept,
        and False says so; the caller has its figures either way."""
        if not fits:
            return True
        rows = []
        for goal_id, (key, fit) in fits.items():
            line = fit.trend
            rows.append(
                {
                    "goal_id": goal_id,
                    "user_id": self.user_id,
                    "key": key,
                    "current": fit.current,
                    "last_ts": fit.last_ts,
                    "slope": None if line is None else line.slope,
                    "slope_low": None if line is None else line.slope_low,
                    "slope_high": None if line is None else line.slope_high,
                    "intercept": None if line is None else line.intercept,
                    "origin_ts": None if line is None else line.origin.timestamp(),
                }
            )
        try:
            with self.store.session() as session:
                ids = list(fits)
                for first in range(0, len(ids), _IN_LIST):
                    chunk = ids[first : first + _IN_LIST]
                    session.execute(delete(GoalTrend).where(GoalTrend.goal_id.in_(chunk)))
                session.execute(insert(GoalTrend), rows)
        except (StoreError, SQLAlchemyError) as exc:
            log.info("goal trends not kept: %s", exc)
            return False
        return True

    def check_ins(
        self,
        *,
        goal_ids: Sequence[int] | None = None,
        since: datetime | None = None,
    ) -> list[CheckInView]:
        """This user's check-ins, oldest first; only those of `goal_ids` (their metric
        values, habits and tasks) and from `since` on, when given."""
        query = select(CheckIn).where(CheckIn.user_id == self.user_id).order_by(CheckIn.at)
        if goal_ids is not None:
            ids = list(goal_ids)
            query = query.where(
                CheckIn.goal_id.in_(ids)
                | CheckIn.habit_id.in_(select(Habit.id).where(Habit.goal_id.in_(ids)))
                | CheckIn.task_id.in_(select(Task.id).where(Task.goal_id.in_(ids)))
            )
        if since is not None:
            query = query.where(CheckIn.at >= since)
        with self.store.session() as session:
            return [check_in_view(c) for c in session.scalars(query)]

    # -- writing -------------------------------------------------------------------

    def add(self, goal: GoalDraft, plan: PlanDraft | None = None) -> int:
        """Save a goal and its plan in one transaction. Returns the goal's id."""
        plan = plan or PlanDraft()
        self._check_plan(goal, plan)
        now = self.clock()
        with self.store.session() as session:
            row = Goal(user_id=self.user_id, status="active", created_at=now, updated_at=now)
            self._fill(row, goal)
            session.add(row)
            session.flush()
            self._add_plan(session, row.id, goal, plan, now)
            return row.id

    def replace_plan(self, goal_id: int, plan: PlanDraft) -> None:
        """Put `plan` in place of the open part of the goal's plan: milestones and
        one-off tasks not done yet, habits, recurring tasks and if-then plans. What was
        done stays, with its check-ins; so do check-ins of a habit kept by title."""
        with self.store.session() as session:
            row = self._goal(session, goal_id)
            draft = goal_view(row).draft(self.zone)
            self._check_plan(draft, plan)
            now = self.clock()
            kept_habits = {
                h.title.casefold(): h
                for h in session.scalars(select(Habit).where(Habit.goal_id == goal_id))
            }
            session.execute(
                delete(Milestone).where(Milestone.goal_id == goal_id, Milestone.done_at.is_(None))
            )
            session.execute(
                delete(Task).where(
                    Task.goal_id == goal_id, Task.done_at.is_(None), Task.rule.is_(None)
                )
            )
            recurring_done = set(
                session.scalars(
                    select(CheckIn.task_id).where(
                        CheckIn.task_id.in_(
                            select(Task.id).where(Task.goal_id == goal_id, Task.rule.is_not(None))
                        )
                    )
                )
            )
            for task in session.scalars(
                select(Task).where(Task.goal_id == goal_id, Task.rule.is_not(None))
            ):
                if task.id in recurring_done:
                    task.done_at = now  # retired: its history stays with it
                else:
                    session.delete(task)
            session.execute(delete(IfThen).where(IfThen.goal_id == goal_id))
            new_habits = []
            for habit in plan.habits:
                old = kept_habits.pop(habit.title.casefold(), None)
                if old is None:
                    new_habits.append(habit)
                    continue
                rule = self.rule(habit.rule, self.local_day(now))
                old.rule, old.zone, old.starts_at = rule.text, rule.zone, rule.start
                old.per_period, old.period, old.active = habit.per_period, habit.period, True
            for old in kept_habits.values():
                old.active = False
            rest = plan.model_copy(update={"habits": new_habits})
            self._add_plan(session, goal_id, draft, rest, now)
            row.updated_at = now

    def edit(self, goal_id: int, changes: dict[str, Any]) -> GoalView:
        """Change fields of a goal (names as in GoalDraft; `metric` as a dict or None),
        validated as a whole before anything is written."""
        with self.store.session() as session:
            row = self._goal(session, goal_id)
            current = goal_view(row).draft(self.zone).model_dump()
            unknown = set(changes) - set(current)
            if unknown:
                raise GoalError(
                    f"A goal has no {', '.join(sorted(unknown))}.",
                    hint=f"Fields: {', '.join(sorted(current))}.",
                )
            try:
                draft = GoalDraft.model_validate({**current, **changes})
            except ValidationError as exc:
                raise GoalError(
                    f"That edit does not make a valid goal: {_first_error(exc)}",
                    hint="Nothing was changed.",
                ) from exc
            self._fill(row, draft)
            row.updated_at = self.clock()
            return goal_view(row)

    def set_status(self, goal_id: int, status: str) -> GoalView:
        if status not in ("active", "paused", "done", "archived"):
            raise GoalError(f"No goal status {status!r}.", hint="active, paused, done, archived")
        with self.store.session() as session:
            row = self._goal(session, goal_id)
            row.status = status
            row.updated_at = self.clock()
            return goal_view(row)

    def log(
        self,
        goal_id: int,
        value: float,
        *,
        note: str | None = None,
        at: datetime | None = None,
        energy: int | None = None,
        mood: int | None = None,
        source_message_id: int | None = None,
    ) -> CheckInView:
        """Record a value of the goal's metric (a level, or an amount to add)."""
        for name, score in (("energy", energy), ("mood", mood)):
            if score is not None and not 1 <= score <= 5:
                raise GoalError(f"{name} is a score from 1 to 5, not {score}.")
        with self.store.session() as session:
            goal = self._goal(session, goal_id)
            if goal.status in ("archived", "done"):
                raise GoalError(
                    f"Goal {goal_id} ({goal.title}) is {goal.status}; "
                    "check-ins go to goals in progress.",
                    hint=f"Reopen it first: psi goal edit {goal_id} --status active",
                )
            if goal.unit is None:
                raise GoalError(
                    f"Goal {goal_id} ({goal.title}) has no metric to log a value against.",
                    hint=f'Give it one: psi goal edit {goal_id} --metric "km 0 42"',
                )
            now = self.clock()
            row = CheckIn(
                user_id=self.user_id,
                at=at or now,
                goal_id=goal_id,
                value=float(value),
                note=note,
                energy=energy,
                mood=mood,
                source_message_id=source_message_id,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return check_in_view(row)

    def complete_task(
        self, task_id: int, *, at: datetime | None = None, occurrence: datetime | None = None
    ) -> TaskView:
        """Mark a one-off task done, or one occurrence of a recurring task (the one given,
        else the latest due by `at`)."""
        now = self.clock()
        when = at or now
        with self.store.session() as session:
            task = session.get(Task, task_id)
            if task is None or task.user_id != self.user_id:
                raise NotFound(f"No task {task_id}.", hint="psi today lists them with their ids.")
            if task.rule is None:
                if task.done_at is not None:
                    raise GoalError(f"Task {task_id} ({task.title}) is done already.")
                task.done_at = when
            else:
                view = task_view(task)
                assert view.rule is not None
                session.add(
                    CheckIn(
                        user_id=self.user_id,
                        at=when,
                        task_id=task_id,
                        occurrence=occurrence or _latest(view.rule, when),
                        created_at=now,
                    )
                )
            session.flush()
            return task_view(task)

    def check_habit(
        self,
        habit_id: int,
        *,
        at: datetime | None = None,
        note: str | None = None,
        source_message_id: int | None = None,
    ) -> CheckInView:
        now = self.clock()
        when = at or now
        with self.store.session() as session:
            habit = session.get(Habit, habit_id)
            if habit is None or habit.user_id != self.user_id:
                raise NotFound(f"No habit {habit_id}.", hint="psi today lists them with their ids.")
            row = CheckIn(
                user_id=self.user_id,
                at=when,
                habit_id=habit_id,
                occurrence=_latest(habit_view(habit).rule, when),
                note=note,
                source_message_id=source_message_id,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return check_in_view(row)

    def complete_milestone(self, milestone_id: int, *, at: datetime | None = None) -> None:
        with self.store.session() as session:
            milestone = session.get(Milestone, milestone_id)
            if milestone is None or milestone.user_id != self.user_id:
                raise NotFound(f"No milestone {milestone_id}.")
            milestone.done_at = at or self.clock()

    def move_zone(self, zone: str) -> int:
        """Re-express every recurring item in `zone` at the same wall time (the user
        moved). Returns how many changed."""
        changed = 0
        with self.store.session() as session:
            for row in [
                *session.scalars(select(Habit).where(Habit.user_id == self.user_id)),
                *session.scalars(
                    select(Task).where(Task.user_id == self.user_id, Task.rule.is_not(None))
                ),
            ]:
                assert row.rule is not None and row.zone is not None and row.starts_at is not None
                moved = in_zone(rule_of(row.rule, row.zone, row.starts_at), zone)
                row.rule, row.zone, row.starts_at = moved.text, moved.zone, moved.start
                changed += 1
        self.zone = ZoneInfo(zone)
        return changed

    # -- helpers ---------------------------------------------------------------------

    def _goal(self, session: Session, goal_id: int) -> Goal:
        row = session.get(Goal, goal_id)
        if row is None or row.user_id != self.user_id:
            raise NotFound(f"No goal {goal_id}.", hint="psi goal list shows your goals.")
        return row

    def _fill(self, row: Goal, goal: GoalDraft) -> None:
        row.title = goal.title
        row.why = goal.why
        row.area = goal.area
        row.starts_at = self.day_start(goal.starts_on)
        row.target_date = self.day_start(goal.target_date)
        row.priority = goal.priority
        metric = goal.metric
        row.unit = metric.unit if metric else None
        row.baseline = metric.baseline if metric else None
        row.target = metric.target if metric else None
        row.direction = metric.direction if metric else None
        row.aggregate = metric.aggregate if metric else None

    def _check_plan(self, goal: GoalDraft, plan: PlanDraft) -> None:
        problems = plan.problems(goal)
        if problems:
            raise GoalError("The plan does not fit the goal: " + "; ".join(problems) + ".")
        rules = [task.rule for task in plan.tasks] + [habit.rule for habit in plan.habits]
        for text in rules:
            if text is not None:
                self.rule(text, goal.starts_on)  # raises InvalidRule

    def _add_plan(
        self, session: Session, goal_id: int, goal: GoalDraft, plan: PlanDraft, now: datetime
    ) -> None:
        starts_on = max(goal.starts_on, self.local_day(now))
        for milestone in plan.milestones:
            session.add(
                Milestone(
                    user_id=self.user_id,
                    goal_id=goal_id,
                    title=milestone.title,
                    due=self.day_start(milestone.due),
                    value=milestone.value,
                )
            )
        for task in plan.tasks:
            rule = self.rule(task.rule, starts_on) if task.rule else None
            session.add(
                Task(
                    user_id=self.user_id,
                    goal_id=goal_id,
                    title=task.title,
                    due=self.day_start(task.due) if task.due else None,
                    rule=rule.text if rule else None,
                    zone=rule.zone if rule else None,
                    starts_at=rule.start if rule else None,
                    estimate_minutes=task.estimate_minutes,
                    created_at=now,
                )
            )
        for habit in plan.habits:
            rule = self.rule(habit.rule, starts_on)
            session.add(
                Habit(
                    user_id=self.user_id,
                    goal_id=goal_id,
                    title=habit.title,
                    rule=rule.text,
                    zone=rule.zone,
                    starts_at=rule.start,
                    per_period=habit.per_period,
                    period=habit.period,
                    active=True,
                    created_at=now,
                )
            )
        for intention in plan.if_then:
            session.add(
                IfThen(
                    user_id=self.user_id,
                    goal_id=goal_id,
                    situation=intention.situation,
                    action=intention.action,
                    created_at=now,
                )
            )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _latest(rule: Rule, moment: datetime) -> datetime | None:
    """The latest occurrence at or before `moment`, looking back up to a year."""
    from psi.goals.recurrence import occurrences

    found = occurrences(rule, moment - timedelta(days=366), moment + timedelta(seconds=1))
    return found[-1] if found else None


__all__ = [
    "CheckInView",
    "GoalView",
    "Goals",
    "HabitView",
    "IfThenView",
    "MilestoneView",
    "PlanView",
    "TaskView",
]


def move_every_zone(store: Store, zone: str) -> int:
    """The timezone in config.toml changed: every user's habits and recurring tasks keep
    their wall times ("07:00") in `zone`. Returns how many items changed. One function
    for `psi config set timezone`, the API's settings and the web app's."""
    from psi.store.models import User

    with store.session() as session:
        user_ids = list(session.scalars(select(User.id)))
    return sum(
        Goals(store, user_id=user_id, zone=ZoneInfo(zone)).move_zone(zone) for user_id in user_ids
    )


def _row_id(digits: str) -> int:
    """An id typed by someone; a number no row can have is found nowhere."""
    if len(digits.strip()) > 10 or int(digits) > MAX_ROW_ID:
        raise NotFound(f"No goal or item has the id {digits.strip()}.",
                       hint="psi goal list and psi today show the ids.")  # fmt: skip
    return int(digits)
