"""Goals as `psi goal`, `psi today`, `psi done`, `psi log` and `psi review` see them:
`/api/goals` (list, create, show, check in, plan, forecast), `/api/items/{ref}/done`,
`/api/agenda`, `/api/review`.

Plans and review suggestions come from the model `psi goal replan` and `psi review` would
use (psi.agent.planning), or from psi's own rules; `notes` says which and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field

from psi.goals.conversation import CreateGoal as CreateGoalBody
from psi.goals.drafts import PlanDraft
from psi.server.deps import (
    CurrentUser,
    Limit,
    Offset,
    Principal,
    Psi,
    RowId,
    check_deadline,
    page,
)
from psi.server.state import Services

router = APIRouter(prefix="/api")


class CheckIn(BaseModel):
    value: float
    note: str | None = Field(default=None, max_length=2000)


class Redraft(BaseModel):
    """Draft the rest of a goal's plan again, from where it stands (`psi goal replan`)."""

    model: str | None = Field(
        default=None, max_length=100, description="Model profile; default as psi goal replan."
    )
    no_model: bool = Field(default=False, description="Re-spread by psi's own rules.")
    save: bool = Field(default=False, description="Save the new plan (else only shown).")


def _goals(psi: Services, who: Principal) -> Any:
    from psi.goals.store import Goals

    return Goals(psi.store, user_id=who.user_id, zone=psi.settings.zone())


def _chat(psi: Services, who: Principal) -> Any:
    from psi.goals.conversation import GoalChat

    return GoalChat(_goals(psi, who))


@router.get("/goals")
def goals(
    who: CurrentUser,
    psi: Psi,
    archived: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Your goals (archived ones too with `archived=true`), as `psi goal list`."""
    statuses = (
        ("active", "paused", "done", "archived") if archived else ("active", "paused", "done")
    )
    rows = _goals(psi, who).all(statuses=statuses)[offset : offset + limit + 1]
    return page(rows, limit=limit, offset=offset, render=_goal)


@router.post("/goals", status_code=201)
def create_goal(body: CreateGoalBody, who: CurrentUser, psi: Psi) -> Any:
    """A goal with a starting plan psi drafts (as the chat's create_goal tool does)."""
    return _chat(psi, who).handle("create_goal", body)


@router.get("/goals/{goal_id}")
def goal(goal_id: RowId, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    chat = _chat(psi, who)
    found = chat.goals.get(goal_id)
    return {**_goal(found), "standing": chat.standing_text(goal_id)}


@router.post("/goals/{goal_id}/checkins", status_code=201)
def check_in(goal_id: RowId, body: CheckIn, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    chat = _chat(psi, who)
    chat.goals.log(goal_id, body.value, note=body.note)
    return {"goal": goal_id, "logged": body.value, "standing": chat.standing_text(goal_id)}


@router.get("/goals/{goal_id}/plan")
def plan(goal_id: RowId, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """The goal's plan: milestones, tasks, habits and if-then plans, done ones too."""
    goals = _goals(psi, who)
    return _plan(goals, goals.plan(goal_id))


@router.post("/goals/{goal_id}/plan")
def redraft_plan(
    goal_id: RowId, body: Redraft, who: CurrentUser, psi: Psi, request: Request
) -> dict[str, Any]:
    """Draft the open part of the plan again from the progress so far (done items stay);
    with `save`, it replaces the open part at once, else PUT saves it (edited or not)."""
    from psi.agent.planning import planning_model
    from psi.goals.planner import replan_goal

    goals = _goals(psi, who)
    goals.get(goal_id)  # 404 before any model is loaded
    notes: list[str] = []
    model = None
    if not body.no_model:
        model = planning_model(psi.settings, psi.store, who.user_id, name=body.model, notes=notes)
    with psi.models.lock_for(model):
        outcome = replan_goal(goals, goal_id, model)
    if body.save:
        check_deadline(request)
        goals.replace_plan(goal_id, outcome.plan)
    return {
        "goal": goal_id,
        "plan": outcome.plan.model_dump(mode="json"),
        "source": outcome.source,
        "notes": [*notes, *outcome.notes],
        "saved": body.save,
    }


@router.put("/goals/{goal_id}/plan")
def save_plan(goal_id: RowId, body: PlanDraft, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Put `body` in place of the open part of the plan (what was done stays); a plan
    that does not fit the goal is refused whole."""
    goals = _goals(psi, who)
    goals.replace_plan(goal_id, body)
    return _plan(goals, goals.plan(goal_id))


@router.get("/goals/{goal_id}/forecast")
def forecast(goal_id: RowId, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Where a measured goal stands and where it is heading at its target date (with its
    interval), and the values logged; `forecast` is null for a goal without a metric."""
    from psi.goals.progress import goal_progress

    goals = _goals(psi, who)
    found = goals.get(goal_id)
    now = goals.clock()
    progress = goal_progress(goals, [found], now)[goal_id]
    f = progress.forecast
    times, values = goals.check_in_table(goal_ids=(goal_id,)).values.get(goal_id, ((), ()))
    return {
        **_goal(found),
        "now": now.isoformat(),
        "forecast": None
        if f is None
        else {
            "status": f.status,
            "current": f.current,
            "percent": f.percent,
            "expected_now": f.expected_now,
            "projected": f.projected,
            "projected_low": f.projected_low,
            "projected_high": f.projected_high,
        },
        "last_check_in": progress.last_check_in.isoformat() if progress.last_check_in else None,
        "values": [
            {"at": datetime.fromtimestamp(float(t), UTC).isoformat(), "value": float(v)}
            for t, v in zip(times, values, strict=True)
        ],
    }


@router.post("/items/{item}/done")
def done(item: Annotated[str, FastAPIPath(max_length=200)], who: CurrentUser, psi: Psi) -> Any:
    """A task (t12), today's habit (h3) or a milestone (m4) done."""
    from psi.goals.conversation import CompleteTask

    return _chat(psi, who).handle("complete_task", CompleteTask(item=item))


@router.get("/agenda")
def agenda(who: CurrentUser, psi: Psi, days: Annotated[int, Query(ge=1, le=14)] = 1) -> Any:
    from psi.goals.conversation import GetAgenda

    return _chat(psi, who).handle("get_agenda", GetAgenda(days=days))


@router.get("/review")
def review(
    who: CurrentUser,
    psi: Psi,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    model: Annotated[str | None, Query(max_length=100)] = None,
    no_model: bool = False,
) -> dict[str, Any]:
    """The weekly review (`psi review`, without its chart): per active goal what moved,
    what slipped, the forecast, and one suggestion (the model's, or psi's rule)."""
    from psi.agent.planning import planning_model
    from psi.goals.review import forecast_text, moved_text, slipped_text, suggest, weekly_review

    goals = _goals(psi, who)
    result = weekly_review(goals, now=goals.clock(), days=days)
    notes: list[str] = []
    chosen = None
    if result.goals and not no_model:
        chosen = planning_model(psi.settings, psi.store, who.user_id, name=model, notes=notes)
    with psi.models.lock_for(chosen):
        suggestions = suggest(result, chosen, notes=notes)
    return {
        "start": result.day(result.start).isoformat(),
        "end": result.day(result.now).isoformat(),
        "days": result.days,
        "goals": [
            {
                **_goal(g.goal),
                "forecast_status": g.forecast.status if g.forecast else None,
                "check_ins": g.check_ins,
                "value_before": g.value_before,
                "value_now": g.value_now,
                "moved": moved_text(result, g),
                "slipped": slipped_text(result, g),
                "forecast": forecast_text(result, g),
                "suggestion": {
                    "text": suggestions[g.goal.id].text,
                    "source": "model" if suggestions[g.goal.id].source == "model" else "rule",
                },
            }
            for g in result.goals
        ],
        "notes": notes,
    }


def _goal(g: Any) -> dict[str, Any]:
    metric = g.metric
    return {
        "id": g.id,
        "title": g.title,
        "status": g.status,
        "target_date": g.target_date.isoformat(),
        "metric": None
        if metric is None
        else {
            "unit": metric.unit,
            "baseline": metric.baseline,
            "target": metric.target,
            "direction": metric.direction,
            "aggregate": metric.aggregate,
        },
    }


def _plan(goals: Any, plan: Any) -> dict[str, Any]:
    def day(moment: datetime | None) -> str | None:
        return None if moment is None else goals.local_day(moment).isoformat()

    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "goal": plan.goal.id,
        "milestones": [
            {
                "id": f"m{m.id}",
                "title": m.title,
                "due": day(m.due),
                "value": m.value,
                "done_at": when(m.done_at),
            }
            for m in plan.milestones
        ],
        "tasks": [
            {
                "id": f"t{t.id}",
                "title": t.title,
                "due": day(t.due),
                "rule": t.rule.text if t.rule else None,
                "done_at": when(t.done_at),
            }
            for t in plan.tasks
        ],
        "habits": [
            {
                "id": f"h{h.id}",
                "title": h.title,
                "rule": h.rule.text,
                "per_period": h.per_period,
                "period": h.period,
                "active": h.active,
            }
            for h in plan.habits
        ],
        "if_then": [{"situation": p.situation, "action": p.action} for p in plan.if_then],
    }
