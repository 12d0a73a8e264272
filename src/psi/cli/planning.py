"""The dialogue behind `psi goal add` and `psi goal replan`: which model drafts, asking
what a sentence lacks, and showing a plan to save, edit or drop."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import err, out
from psi.errors import PsiError

if TYPE_CHECKING:
    from psi.goals.drafts import GoalDraft, PlanDraft
    from psi.goals.planner import PlanOutcome
    from psi.goals.store import Goals
    from psi.llm.base import ChatModel


def planning_model(name: str | None, notes: list[str]) -> ChatModel | None:
    """The model that drafts plans and suggests in reviews (psi.agent.planning), loaded
    behind a spinner; None, with a note saying why, when psi's own rules do it."""
    from psi.agent import planning
    from psi.config import load_settings
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return planning.planning_model(
        settings,
        store,
        store.ensure_user(settings.user),
        name=name,
        notes=notes,
        loading=lambda text: err.status(text, spinner="dots"),
    )


def drafted_plan(goals: Goals, draft: GoalDraft, *, model: str | None, today: date) -> PlanOutcome:
    from dataclasses import replace

    from psi.goals.planner import deterministic_plan, draft_plan, plan_context

    notes: list[str] = []
    chat_model = None if model is None else planning_model(model or None, notes)
    if chat_model is None:
        from psi.goals.planner import PlanOutcome

        return PlanOutcome(deterministic_plan(draft, today=today), "fallback", notes)
    with err.status("Drafting a plan…", spinner="dots"):
        outcome = draft_plan(
            draft,
            chat_model,
            today=today,
            context=plan_context(goals.store, goals.user_id, now=goals.clock(), zone=goals.zone),
        )
    return replace(outcome, notes=[*notes, *outcome.notes])


def ask(question: str, *, option: str | None, number: bool = False) -> str:
    """Ask on the terminal; without one, explain how to say it on the command line."""
    import sys

    from psi.errors import GoalError

    if not sys.stdin.isatty():
        hint = f"Say it in the text, or pass {option}." if option else "Say it in the text."
        raise GoalError(question, hint=hint)
    while True:
        answer = str(typer.prompt(question)).strip()
        if not number:
            if answer:
                return answer
            continue
        try:
            return str(float(answer.replace(",", ".")))
        except ValueError:
            err.print("A number, please.")


def confirm(
    title: str,
    plan: PlanDraft,
    notes: list[str],
    source: str,
    *,
    yes: bool,
    goal: GoalDraft,
) -> PlanDraft | None:
    """Show the plan; save it, edit it (as JSON in $EDITOR) or drop it."""
    import sys

    import click
    from pydantic import ValidationError

    from psi.errors import GoalError

    while True:
        show_plan(title, plan, notes, source)
        if yes:
            return plan
        if not sys.stdin.isatty():
            raise GoalError(
                "Not saved: psi asks before it saves a plan.",
                hint="Run it in a terminal, or pass --yes to save the plan shown.",
            )
        choice = typer.prompt("[s]ave, [e]dit or [d]rop", default="s").strip().lower()[:1]
        if choice == "d":
            return None
        if choice == "s":
            return plan
        edited = click.edit(plan.model_dump_json(indent=2), extension=".json")
        if edited is None:
            continue
        try:
            candidate = PlanDraft.model_validate_json(edited)
        except ValidationError as exc:
            err.print(f"[red]That plan is not valid:[/] {escape(str(exc.errors()[0]['msg']))}")
            continue
        problems = candidate.problems(goal)
        if problems:
            err.print(f"[red]That plan does not fit the goal:[/] {escape('; '.join(problems))}")
            continue
        plan, notes, source = candidate, [], "edited"


def show_plan(title: str, plan: PlanDraft, notes: list[str], source: str) -> None:
    from psi.cli.goals_cmd import open_goals
    from psi.goals.recurrence import describe

    goals = open_goals()
    today = goals.local_day(goals.clock())

    def spoken(rule: str) -> str:
        try:
            return describe(goals.rule(rule, today))
        except PsiError:
            return rule

    how = {"model": "drafted by the model", "fallback": "spread evenly", "edited": "as edited"}
    out.print(f"[bold]Plan for {escape(title)}[/] [dim]({how.get(source, source)})[/]")
    for m in plan.milestones:
        value = f" ({m.value:g})" if m.value is not None else ""
        out.print(f"  ◆ {m.due} {escape(m.title)}{value}")
    for t in plan.tasks:
        when = spoken(t.rule) if t.rule else str(t.due)
        out.print(f"  □ {escape(t.title)} [dim]{escape(str(when))}[/]")
    for h in plan.habits:
        how_often = f"{h.per_period}× a {h.period}" if h.per_period else spoken(h.rule)
        out.print(f"  ↻ {escape(h.title)} [dim]{escape(str(how_often))}[/]")
    for p in plan.if_then:
        out.print(f"  ⇢ If {escape(p.situation)}, then {escape(p.action)}.")
    for note in notes:
        out.print(f"  [dim]{escape(note)}[/]")
