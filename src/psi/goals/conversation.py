"""Goals in conversation: "ran 12 km this morning" becomes a check-in on the right goal.

Two ways in, both ending in the same `Goals` writes:

  - Structure, for every model (the embedded 135M one cannot call tools):
    `GoalChat.intercept` reads a first-person statement of progress, a number
    with a unit, and matches the unit against active measured goals. One match
    is logged and answered with the updated standing; several get a question
    back ("Which goal is 12 km for?") and the next message settles it; none
    leaves the message to the model. Questions ("how far is 12 km?") and
    other people's doings are not progress.
  - Tools, for models that call them natively: `create_goal`, `log_progress`,
    `complete_task` and `get_agenda` (`GoalChat.tools()`, `GoalChat.run`).
    `log_progress` with an unclear goal answers with the candidates, so the
    model asks the user rather than guessing.

Every write records the message it came from (`source_message_id`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from psi.errors import PsiError
from psi.goals.agenda import Standing, build_agenda
from psi.goals.store import Goals, GoalView
from psi.llm.types import ToolCall, ToolSpec

# Unit words people say, by the unit a goal is measured in (lower case).
UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "km": ("km", "k", "kms", "kilometer", "kilometers", "kilometre", "kilometres"),
    "mi": ("mi", "mile", "miles"),
    "miles": ("mi", "mile", "miles"),
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"),
    "lb": ("lb", "lbs", "pound", "pounds"),
    "books": ("book", "books"),
    "pages": ("page", "pages"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "minutes": ("min", "mins", "minute", "minutes"),
    "€": ("€", "eur", "euro", "euros"),
    "eur": ("€", "eur", "euro", "euros"),
    "$": ("$", "usd", "dollar", "dollars"),
    "usd": ("$", "usd", "dollar", "dollars"),
    "words": ("word", "words"),
    "steps": ("step", "steps"),
    "sessions": ("session", "sessions"),
}
_AMOUNT = re.compile(
    r"(?P<pre>[€$])?\s*(?P<number>\d+(?:[.,]\d+)?)\s*(?P<unit>[€$]|[a-zA-Z]+)?", re.UNICODE
)
_QUESTION_START = re.compile(
    r"^\s*(how|what|when|where|why|who|which|can|could|should|would|is|are|do|does)\b", re.I
)
_FIRST_PERSON = re.compile(r"\b(i|i've|i'm|i'd|me|my|myself)\b", re.I)
_PAST_START = re.compile(
    r"^\s*(just\s+)?(ran|run|read|swam|did|done|wrote|saved|lost|walked|rode|biked|cycled|"
    r"lifted|practi[cs]ed|studied|finished|completed|logged|hit|reached|weighed|weigh|"
    r"managed|covered|put|paid|spent|meditated|slept|cleared)\b",
    re.I,
)
_CHOICE = re.compile(r"^\s*(\d+)\s*[.)]?\s*$")


@dataclass(frozen=True)
class Progress:
    """A value said in a message, and the unit it was said in."""

    value: float
    unit: str


@dataclass
class Pending:
    """A value waiting for the user to say which goal it belongs to."""

    progress: Progress
    note: str
    candidates: list[GoalView]
    source_message_id: int | None


def said_progress(text: str) -> Progress | None:
    """The first amount with a unit in a first-person statement (not a question)."""
    stripped = text.strip()
    if not stripped or stripped.endswith("?") or _QUESTION_START.match(stripped):
        return None
    if not (_FIRST_PERSON.search(stripped) or _PAST_START.match(stripped)):
        return None
    for match in _AMOUNT.finditer(stripped):
        unit = match.group("pre") or match.group("unit")
        if unit:
            number = float(match.group("number").replace(",", "."))
            return Progress(value=number, unit=unit.lower())
    return None


def _names(text: str, title: str) -> bool:
    """Whether `text` names `title`: a topical word of it, allowing for other endings
    ("the cycling one" names "Cycle 2000 km")."""
    from psi.memory.episodes import STOPWORDS

    said = {w[:4] for w in re.findall(r"[^\W\d]{4,}", text.casefold()) if w not in STOPWORDS}
    return bool(said & {w[:4] for w in re.findall(r"[^\W\d]{4,}", title.casefold())})


def goal_unit_matches(goal: GoalView, unit: str) -> bool:
    if goal.metric is None:
        return False
    own = goal.metric.unit.lower()
    return unit == own or unit in UNIT_WORDS.get(own, (own, own.rstrip("s")))


class CreateGoal(BaseModel):
    title: str = Field(description="What the user wants to reach, in a few words.")
    target_date: date = Field(description="By when, YYYY-MM-DD.")
    unit: str | None = Field(default=None, description="Unit of the metric, if measured.")
    baseline: float | None = Field(default=None, description="Where the user starts.")
    target: float | None = Field(default=None, description="The value to reach.")
    cumulative: bool = Field(
        default=False, description="True when each check-in adds up (books read, km this year)."
    )
    why: str | None = None


class LogProgress(BaseModel):
    value: float = Field(description="The amount or level the user reported.")
    goal: str | None = Field(
        default=None, description="Goal id or words of its title; leave out if unsure."
    )
    unit: str | None = Field(default=None, description="The unit the user said.")
    note: str | None = None


class CompleteTask(BaseModel):
    item: str = Field(description="Task id like t12, habit id like h3, or words of its title.")


class GetAgenda(BaseModel):
    days: int = Field(default=1, ge=1, le=14, description="1 for today, 7 for the week.")


class GoalChat:
    def __init__(self, goals: Goals) -> None:
        self.goals = goals
        self.pending: Pending | None = None

    # -- structure ---------------------------------------------------------------------

    def intercept(self, text: str, *, store_message: Callable[[], int]) -> str | None:
        """psi's answer when `text` reports progress on a goal (or settles which goal a
        value was for); None leaves the message to the model. `store_message()` stores
        the user's message and gives its id, called only when psi answers itself."""
        if self.pending is not None:
            answer = self._settle(text, store_message)
            if answer is not None:
                return answer
        progress = said_progress(text)
        if progress is None:
            return None
        active = self.goals.all(statuses=("active",))
        candidates = [g for g in active if goal_unit_matches(g, progress.unit)]
        if not candidates:
            return None
        source_message_id = store_message()
        if len(candidates) == 1:
            return self._log(candidates[0], progress.value, text, source_message_id)
        self.pending = Pending(progress, text, candidates, source_message_id)
        listed = "\n".join(f"{n}. {g.title}" for n, g in enumerate(candidates, start=1))
        return (
            f"Which goal is {progress.value:g} {progress.unit} for?\n{listed}\n"
            "Reply with its number or name."
        )

    def _settle(self, text: str, store_message: Callable[[], int]) -> str | None:
        pending = self.pending
        assert pending is not None
        self.pending = None
        choice = _CHOICE.match(text)
        chosen: list[GoalView]
        if choice is not None and 1 <= int(choice.group(1)) <= len(pending.candidates):
            chosen = [pending.candidates[int(choice.group(1)) - 1]]
        else:
            chosen = [g for g in pending.candidates if _names(text, g.title)]
        if len(chosen) != 1:
            return None
        store_message()
        return self._log(chosen[0], pending.progress.value, pending.note, pending.source_message_id)

    def _log(self, goal: GoalView, value: float, note: str, source: int | None) -> str:
        self.goals.log(goal.id, value, note=note, source_message_id=source)
        unit = goal.metric.unit if goal.metric else ""
        return f"Logged {value:g} {unit} for “{goal.title}”. {self.standing_text(goal.id)}"

    def standing_text(self, goal_id: int) -> str:
        standing = self._standing(goal_id)
        if standing is None or standing.forecast is None:
            return ""
        f = standing.forecast
        words = {
            "on_track": "you are on track",
            "at_risk": "you are at risk of missing it",
            "off_track": "at this pace you will miss it",
            "not_enough_data": "one more check-in and I can forecast it",
            "done": "you reached it!",
        }[f.status]
        text = f"That is {f.percent:.0f}% of the way; {words}."
        if standing.next_milestone is not None:
            due = self.goals.local_day(standing.next_milestone.due)
            text += f" Next milestone: {standing.next_milestone.title} by {due}."
        return text

    def _standing(self, goal_id: int) -> Standing | None:
        now = self.goals.clock()
        agenda = build_agenda(self.goals, self.goals.local_day(now), now=now)
        return next((s for s in agenda.standings if s.goal.id == goal_id), None)

    # -- tools -------------------------------------------------------------------------

    @staticmethod
    def tools() -> list[ToolSpec]:
        return [
            ToolSpec.from_model(
                "create_goal",
                "Save a new goal the user wants to reach, with a plan psi drafts.",
                CreateGoal,
            ),
            ToolSpec.from_model(
                "log_progress",
                "Record progress the user reports on one of their goals.",
                LogProgress,
            ),
            ToolSpec.from_model(
                "complete_task", "Mark a task or today's habit done.", CompleteTask
            ),
            ToolSpec.from_model(
                "get_agenda", "What is due today or this week, and how each goal stands.", GetAgenda
            ),
        ]

    def run(self, call: ToolCall, *, source_message_id: int | None = None) -> str:
        """Run a tool call; the result is JSON for the model. Bad arguments and refused
        writes come back as {"error": ...} so the model can put them right."""
        handlers: dict[str, tuple[type[BaseModel], Any]] = {
            "create_goal": (CreateGoal, self._create_goal),
            "log_progress": (LogProgress, self._log_progress),
            "complete_task": (CompleteTask, self._complete_task),
            "get_agenda": (GetAgenda, self._get_agenda),
        }
        if call.name not in handlers:
            return json.dumps({"error": f"no tool {call.name!r}"})
        model, _ = handlers[call.name]
        try:
            arguments = model.model_validate(call.arguments)
            result = self.handle(call.name, arguments, source_message_id)
        except ValidationError as exc:
            return json.dumps({"error": f"bad arguments: {exc.errors()[0]['msg']}"})
        except PsiError as exc:
            return json.dumps({"error": exc.message, "hint": exc.hint})
        return json.dumps(result, ensure_ascii=False, default=str)

    def handle(self, name: str, args: Any, source: int | None = None) -> dict[str, Any]:
        """Run the goal tool `name` on validated arguments (psi.tools wraps these)."""
        handlers = {
            "create_goal": self._create_goal,
            "log_progress": self._log_progress,
            "complete_task": self._complete_task,
            "get_agenda": self._get_agenda,
        }
        return handlers[name](args, source)

    def _create_goal(self, args: Any, source: int | None) -> dict[str, Any]:
        from psi.goals.drafts import GoalDraft, MetricDraft
        from psi.goals.planner import deterministic_plan

        today = self.goals.local_day(self.goals.clock())
        metric = None
        if args.unit and args.target is not None:
            baseline = args.baseline if args.baseline is not None else 0.0
            metric = MetricDraft(
                unit=args.unit,
                baseline=baseline,
                target=args.target,
                direction="increase" if args.target > baseline else "decrease",
                aggregate="sum" if args.cumulative else "last",
            )
        goal = GoalDraft(
            title=args.title, why=args.why, starts_on=today, target_date=args.target_date,
            metric=metric,
        )  # fmt: skip
        plan = deterministic_plan(goal, today=today)
        goal_id = self.goals.add(goal, plan)
        return {
            "goal_id": goal_id,
            "milestones": [f"{m.due}: {m.title}" for m in plan.milestones],
            "habits": [h.title for h in plan.habits],
            "note": "A starting plan; `psi goal replan` or `psi goal show` to refine it.",
        }

    def _log_progress(self, args: Any, source: int | None) -> dict[str, Any]:
        active = self.goals.all(statuses=("active",))
        if args.goal and args.goal.strip().isdigit():
            # An id names one goal: "1" is not the "1" in "Read 12 books".
            candidates = [g for g in active if str(g.id) == args.goal.strip()]
        elif args.goal:
            words = args.goal.casefold().split()
            candidates = [g for g in active if all(w in g.title.casefold() for w in words)]
        elif args.unit:
            candidates = [g for g in active if goal_unit_matches(g, args.unit.lower())]
        else:
            candidates = [g for g in active if g.metric is not None]
        if len(candidates) != 1:
            return {
                "unsure": "Ask the user which goal this is for.",
                "candidates": [{"id": g.id, "title": g.title} for g in candidates or active],
            }
        goal = candidates[0]
        self.goals.log(goal.id, args.value, note=args.note, source_message_id=source)
        return {"logged": args.value, "goal": goal.title, "standing": self.standing_text(goal.id)}

    def _complete_task(self, args: Any, source: int | None) -> dict[str, Any]:
        kind, number = self.goals.find_item(args.item)
        if kind == "t":
            task = self.goals.complete_task(number)
            return {"done": task.title}
        if kind == "h":
            self.goals.check_habit(number, source_message_id=source)
            return {"done": f"habit h{number} for today"}
        self.goals.complete_milestone(number)
        return {"done": f"milestone m{number}"}

    def _get_agenda(self, args: Any, source: int | None) -> dict[str, Any]:
        now = self.goals.clock()
        agenda = build_agenda(self.goals, self.goals.local_day(now), days=args.days, now=now)
        return {
            "tasks": [
                {"id": f"t{t.task.id}", "title": t.task.title, "due": t.due, "done": t.done}
                for t in agenda.tasks
            ],
            "habits": [
                {"id": f"h{h.habit.id}", "title": h.habit.title, "done": h.done}
                for h in agenda.habits
            ],
            "overdue": [{"id": f"t{t.task.id}", "title": t.task.title} for t in agenda.overdue],
            "goals": [
                {
                    "id": s.goal.id,
                    "title": s.goal.title,
                    "status": s.forecast.status if s.forecast else None,
                    "percent": round(s.forecast.percent) if s.forecast else None,
                }
                for s in agenda.standings
            ],
        }
