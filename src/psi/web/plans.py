"""A goal and its drafted plan as an editable form, and back.

The page shows what psi drafted as rows of plain fields: milestones (title, due, value),
tasks (title, and a date or a recurrence rule), habits (title, rule, or so many times a
week or month) and if-then plans. Clearing a row's title drops it; the blank rows at the
end add one. What comes back is checked whole (psi.goals.drafts) before anything is
saved, and a problem is said in words with the rows kept as typed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from psi.errors import InputError
from psi.goals.drafts import GoalDraft, PlanDraft
from psi.web.forms import Fields

BLANK_ROWS = 1


def raw_form(goal: GoalDraft, plan: PlanDraft) -> dict[str, Any]:
    """What the form shows for a draft: every value as the text in its field."""
    metric = goal.metric
    return {
        "title": goal.title,
        "why": goal.why or "",
        "area": goal.area,
        "priority": str(goal.priority),
        "starts_on": goal.starts_on.isoformat(),
        "target_date": goal.target_date.isoformat(),
        "measured": metric is not None,
        "unit": metric.unit if metric else "",
        "baseline": f"{metric.baseline:g}" if metric else "",
        "target": f"{metric.target:g}" if metric else "",
        "aggregate": metric.aggregate if metric else "last",
        "milestones": [
            {"title": m.title, "due": m.due.isoformat(), "value": _g(m.value)}
            for m in plan.milestones
        ],
        "tasks": [
            {"title": t.title, "when": t.rule or (t.due.isoformat() if t.due else "")}
            for t in plan.tasks
        ],
        "habits": [
            {
                "title": h.title,
                "rule": h.rule,
                "times": str(h.per_period or ""),
                "period": h.period or "week",
            }
            for h in plan.habits
        ],
        "if_then": [{"situation": p.situation, "action": p.action} for p in plan.if_then],
    }


def raw_from(form: Fields) -> dict[str, Any]:
    """The form as it was submitted, to show again with a problem."""

    def rows(prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
        columns = [form.all(f"{prefix}_{name}") for name in names]
        count = max((len(c) for c in columns), default=0)
        found = [
            {
                name: (column[i] if i < len(column) else "")
                for name, column in zip(names, columns, strict=True)
            }
            for i in range(count)
        ]
        return [row for row in found if row[names[0]]]

    return {
        "title": form.text("title", limit=200),
        "why": form.text("why"),
        "area": form.text("area", limit=40) or "other",
        "priority": form.text("priority", limit=2) or "2",
        "starts_on": form.text("starts_on", limit=20),
        "target_date": form.text("target_date", limit=20),
        "measured": form.flag("measured"),
        "unit": form.text("unit", limit=40),
        "baseline": form.text("baseline", limit=40),
        "target": form.text("target", limit=40),
        "aggregate": "sum" if form.text("aggregate") == "sum" else "last",
        "milestones": rows("m", ("title", "due", "value")),
        "tasks": rows("t", ("title", "when")),
        "habits": rows("h", ("title", "rule", "times", "period")),
        "if_then": rows("i", ("situation", "action")),
    }


def drafts(raw: dict[str, Any], *, today: date) -> tuple[GoalDraft, PlanDraft]:
    """The goal and plan the submitted form describes; InputError saying what is wrong."""
    metric = None
    if raw["measured"]:
        baseline = _number(raw["baseline"], "The baseline")
        target = _number(raw["target"], "The target")
        metric = {
            "unit": raw["unit"],
            "baseline": baseline,
            "target": target,
            "direction": "increase" if target > baseline else "decrease",
            "aggregate": raw["aggregate"],
        }
    goal = _valid(
        GoalDraft,
        {
            "title": raw["title"],
            "why": raw["why"] or None,
            "area": raw["area"],
            "priority": raw["priority"],
            "starts_on": raw["starts_on"] or today.isoformat(),
            "target_date": raw["target_date"],
            "metric": metric,
        },
        "The goal",
    )
    tasks = []
    for row in raw["tasks"]:
        when = row["when"].strip()
        dated = _is_date(when)
        tasks.append({"title": row["title"], "due": when if dated else None,
                      "rule": None if dated or not when else when.upper()})  # fmt: skip
    habits = [
        {
            "title": row["title"],
            "rule": row["rule"].strip().upper() or "FREQ=DAILY",
            "per_period": row["times"] or None,
            "period": (row["period"] or "week") if row["times"] else None,
        }
        for row in raw["habits"]
    ]
    plan = _valid(
        PlanDraft,
        {
            "milestones": [
                {"title": r["title"], "due": r["due"], "value": r["value"] or None}
                for r in raw["milestones"]
            ],
            "tasks": tasks,
            "habits": habits,
            "if_then": raw["if_then"],
        },
        "The plan",
    )
    problems = plan.problems(goal)
    if problems:
        raise InputError("The plan does not fit the goal: " + "; ".join(problems) + ".")
    return goal, plan


def _valid(model: Any, data: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"{what}: {where}{message}.") from None


_NAMES = {"milestones": "milestone", "tasks": "task", "habits": "habit", "if_then": "if-then"}


def _where(loc: tuple[Any, ...]) -> str:
    parts = []
    for index, part in enumerate(loc):
        if part in _NAMES and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            parts.append(f"{_NAMES[part]} {loc[index + 1] + 1}")
        elif isinstance(part, str) and part not in _NAMES:
            parts.append(part.replace("_", " "))
    return (", ".join(parts) + ": ") if parts else ""


def _number(text: str, what: str) -> float:
    from psi.web.base import number

    return number(text, what)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
