"""What `psi mcp` offers an agent: seven tools over one user's memory and goals, each a thin
call into what the chat and the CLI already do.

| tool         | what it does                                                  | risk         |
|--------------|---------------------------------------------------------------|--------------|
| recall       | known facts, then said turns, for a query (as the chat does)  | read         |
| remember     | a fact from the user's words ("remember that ...")            | write        |
| forget       | the facts and said turns a description names, for good        | irreversible |
| agenda       | what is due today (days=1) or this week (days=7)              | read         |
| goal_status  | one goal: metric, forecast, milestones, habits                | read         |
| log_progress | a value on a goal (psi.goals.conversation.GoalChat)           | write        |
| create_goal  | a goal with a starting plan (GoalChat)                        | write        |

They are psi.tools.base.Tool subclasses, the seam the agent's own tools use: a pydantic
model is the schema, `risk` says what a call can do; log_progress and create_goal are
the agent's tools themselves. recall and forget share one long-lived `Memory` (its
embedder and caches) with the server that holds them.

A fact remembered here has no source message: the user's words are in the client's
conversation, not in psi's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from psi.agent.chat import RECALL_FACTS, RECALL_ITEMS
from psi.agent.remembering import forget_described
from psi.goals.agenda import Standing, build_agenda
from psi.goals.conversation import GetAgenda, GoalChat
from psi.goals.forecast import Forecast
from psi.goals.store import Goals
from psi.memory.extraction import explicit_draft, parse_explicit
from psi.memory.facts import Facts
from psi.memory.service import BackgroundIndexer, Memory
from psi.memory.wording import sentence
from psi.tools.base import Risk, Tool, ToolContext
from psi.tools.builtin import CreateGoalTool, LogProgressTool

EVERY_STATUS = ("active", "paused", "done", "archived")


def _goals(ctx: ToolContext) -> Goals:
    return Goals(ctx.store, user_id=ctx.user_id, zone=ctx.settings.zone(), clock=ctx.clock)


def _own_words(text: str, action: str) -> str:
    """`text` without a leading "remember that" / "forget that", which an agent may pass on."""
    said = parse_explicit(text)
    return said.text if said is not None and said.action == action else text.strip()


# -- memory ---------------------------------------------------------------------------


class Recall(BaseModel):
    query: str = Field(min_length=1, description="What to look for, e.g. 'my sister's job'.")
    limit: int = Field(
        default=RECALL_ITEMS, ge=1, le=20, description="At most this many said turns."
    )


class RecallTool(Tool):
    name = "recall"
    description = (
        "Search what psi knows about the user: facts (told to psi or learnt from chats), "
        "then things the user said in earlier conversations, best match first."
    )
    Args = Recall
    risk = Risk.read
    output = "memory"
    private = True

    def __init__(self, memory: Memory, indexer: BackgroundIndexer | None = None) -> None:
        self.memory = memory
        self.indexer = indexer

    def run(self, args: Any, ctx: ToolContext) -> dict[str, Any]:
        zone = ctx.settings.zone()
        known = Facts(ctx.store, user_id=ctx.user_id).search(args.query, limit=RECALL_FACTS)
        # Turns said in a chat since the last call: in the keyword index now, embedded later.
        if self.memory.index_pending(embed=False) and self.indexer is not None:
            self.indexer.notify()
        found = self.memory.recall(args.query, limit=args.limit, now=ctx.clock())
        return {
            "facts": [
                {
                    "id": f"f{f.id}",
                    "statement": f.statement,
                    "since": f"{f.valid_from.astimezone(zone):%Y-%m-%d}",
                }
                for f in known
            ],
            "said": [
                {
                    "id": r.episode.id,
                    "at": f"{r.episode.at.astimezone(zone):%Y-%m-%d %H:%M}",
                    "speaker": r.episode.speaker,
                    "text": r.episode.text,
                }
                for r in found
            ],
        }


class Remember(BaseModel):
    statement: str = Field(
        min_length=1,
        description="The fact in the user's words, e.g. 'my sister Ana lives in Lisbon'.",
    )


class RememberTool(Tool):
    name = "remember"
    description = (
        "Remember a fact about the user, in their words, as true from now on; "
        "a new value for the same thing replaces the old one, which is kept as history."
    )
    Args = Remember
    risk = Risk.write

    def run(self, args: Any, ctx: ToolContext) -> dict[str, Any]:
        draft = explicit_draft(_own_words(args.statement, "remember"), at=ctx.clock())
        change = Facts(ctx.store, user_id=ctx.user_id).add(draft)
        return {
            "id": f"f{change.fact.id}",
            "remembered": sentence(change.fact.statement),
            "action": change.action,
            "replaced": [sentence(f.statement) for f in change.replaced],
        }


class Forget(BaseModel):
    description: str = Field(
        min_length=1, description="What to forget, e.g. 'my old address in Leeds'."
    )


class ForgetTool(Tool):
    name = "forget"
    description = (
        "Forget for good the facts and the things the user said that a description names. "
        "It cannot be undone."
    )
    Args = Forget
    risk = Risk.irreversible

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def run(self, args: Any, ctx: ToolContext) -> dict[str, Any]:
        gone = forget_described(
            _own_words(args.description, "forget"),
            memory=self.memory,
            facts=Facts(ctx.store, user_id=ctx.user_id),
        )
        return {
            "facts": [sentence(f.statement) for f in gone.facts],
            "messages": gone.turns,
            "answer": gone.answer,
        }


# -- goals ------------------------------------------------------------------------------


class AgendaTool(Tool):
    name = "agenda"
    description = (
        "What is due today (days=1) or this week (days=7): tasks, habits, overdue tasks, "
        "and how each active goal stands."
    )
    Args = GetAgenda
    risk = Risk.read
    private = True

    def run(self, args: Any, ctx: ToolContext) -> dict[str, Any]:
        return GoalChat(_goals(ctx)).handle("get_agenda", args)


class GoalStatus(BaseModel):
    goal: str = Field(min_length=1, description="Goal id (from agenda) or words of its title.")


class GoalStatusTool(Tool):
    name = "goal_status"
    description = (
        "One goal in full: its metric, progress and forecast, milestones, open tasks and "
        "how well its habits are kept."
    )
    Args = GoalStatus
    risk = Risk.read
    private = True

    def run(self, args: Any, ctx: ToolContext) -> dict[str, Any]:
        return goal_status(_goals(ctx), args.goal)


def _forecast(forecast: Forecast | None) -> dict[str, Any] | None:
    if forecast is None:
        return None
    return {
        "status": forecast.status,
        "percent": round(forecast.percent, 1),
        "current": forecast.current,
        "expected_now": round(forecast.expected_now, 2),
        "projected_at_target_date": forecast.projected,
        "projected_range": (
            [forecast.projected_low, forecast.projected_high]
            if forecast.projected_low is not None and forecast.projected_high is not None
            else None
        ),
    }


def goal_status(goals: Goals, reference: str) -> dict[str, Any]:
    """What `psi goal show` prints, as data. GoalError or NotFound for no such goal."""
    found = goals.find(reference, statuses=EVERY_STATUS)
    plan = goals.plan(found.id)
    now = goals.clock()
    today = goals.local_day(now)
    agenda = build_agenda(goals, today, now=now, with_adherence=True)
    standing = next((s for s in agenda.standings if s.goal.id == found.id), None)
    target = goals.local_day(found.target_date)
    metric = found.metric
    kept = {h.id: a for h, a in standing.habits} if standing is not None else {}
    return {
        "id": found.id,
        "title": found.title,
        "status": found.status,
        "why": found.why,
        "starts": str(goals.local_day(found.starts_at)),
        "target_date": str(target),
        "days_left": (target - today).days,
        "metric": None
        if metric is None
        else {
            "unit": metric.unit,
            "baseline": metric.baseline,
            "target": metric.target,
            "direction": metric.direction,
            "cumulative": metric.aggregate == "sum",
        },
        "forecast": _forecast(standing.forecast if standing is not None else None),
        "summary": GoalChat(goals).standing_text(found.id) or None,
        "milestones": [
            {
                "id": f"m{m.id}",
                "title": m.title,
                "due": str(goals.local_day(m.due)),
                "done": m.done_at is not None,
            }
            for m in plan.milestones
        ],
        "open_tasks": [
            {"id": f"t{t.id}", "title": t.title} for t in plan.tasks if t.done_at is None
        ],
        "habits": [
            {
                "id": f"h{h.id}",
                "title": h.title,
                "kept": kept[h.id].rate if h.id in kept else None,
                "streak": kept[h.id].current_streak if h.id in kept else None,
            }
            for h in plan.habits
            if h.active
        ],
    }


def _overview(standing: Standing, goals: Goals) -> dict[str, Any]:
    goal, forecast, upcoming = standing.goal, standing.forecast, standing.next_milestone
    return {
        "id": goal.id,
        "title": goal.title,
        "target_date": str(goals.local_day(goal.target_date)),
        "standing": forecast.status if forecast is not None else None,
        "percent": round(forecast.percent) if forecast is not None else None,
        "next_milestone": None
        if upcoming is None
        else {"title": upcoming.title, "due": str(goals.local_day(upcoming.due))},
    }


def active_goals(goals: Goals) -> list[dict[str, Any]]:
    """Every active goal with its standing, as `psi today` lists them."""
    now = goals.clock()
    agenda = build_agenda(goals, goals.local_day(now), now=now)
    return [_overview(s, goals) for s in agenda.standings]


def mcp_tools(memory: Memory, indexer: BackgroundIndexer | None = None) -> list[Tool]:
    return [
        RecallTool(memory, indexer),
        RememberTool(),
        ForgetTool(memory),
        AgendaTool(),
        GoalStatusTool(),
        LogProgressTool(),
        CreateGoalTool(),
    ]
