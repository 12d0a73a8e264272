"""`psi goal ...`, `psi today`, `psi week`, `psi done`, `psi log`: goals as data you can see,
plan, work through and measure.

Item ids name their kind: t12 a task, h3 a habit, m5 a milestone; goals are
plain numbers. Where a command takes a goal, words from its title work too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import err, friendly, out
from psi.cli.planning import ask, confirm, drafted_plan, planning_model

if TYPE_CHECKING:
    from psi.goals.agenda import Agenda, Standing
    from psi.goals.store import Goals, GoalView

app = typer.Typer(help="Your goals: add, plan, see and change them.", no_args_is_help=True)

ALL = ("active", "paused", "done", "archived")
_STATUS_STYLE = {
    "on_track": "[green]on track[/]",
    "at_risk": "[yellow]at risk[/]",
    "off_track": "[red]off track[/]",
    "not_enough_data": "[dim]not enough data yet[/]",
    "done": "[bold green]done[/]",
}


def open_goals() -> Goals:
    from psi.clock import system_clock
    from psi.config import load_settings
    from psi.goals.store import Goals
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return Goals(
        store, user_id=store.ensure_user(settings.user), zone=settings.zone(), clock=system_clock
    )


# -- goal ... ---------------------------------------------------------------------


@app.command("add")
@friendly
def add(
    text: str = typer.Argument(..., help='What you want, e.g. "Run a marathon by October 2027".'),
    by: str | None = typer.Option(None, "--by", help="The target date, if the text has none."),
    baseline: float | None = typer.Option(
        None, "--baseline", help="Where you start, for a measured goal."
    ),
    why: str | None = typer.Option(None, "--why", help="Why it matters to you."),
    priority: int = typer.Option(2, "--priority", min=1, max=3, help="1 highest."),
    model: str | None = typer.Option(None, "--model", help="Model profile that drafts the plan."),
    no_model: bool = typer.Option(
        False, "--no-model", help="Spread the plan evenly, without asking a model."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Save the plan without asking."),
) -> None:
    """Turn a sentence into a goal with a plan: milestones, recurring tasks, habits and
    if-then plans, shown for you to save, edit or drop."""
    from psi.goals.parse import Question, parse_goal_text

    goals = open_goals()
    today = goals.local_day(goals.clock())
    sentence = f"{text} by {by}" if by else text
    parsed = parse_goal_text(sentence, today=today)
    while isinstance(parsed, Question):
        answer = ask(parsed.text, option="--by" if parsed.about == "target_date" else None)
        joined = f"{sentence} by {answer}" if parsed.about == "target_date" else None
        if parsed.about == "unit":
            joined = f"{sentence} {answer}"
        parsed = parse_goal_text(joined or answer, today=today)
        sentence = joined or answer
    if parsed.metric is not None and baseline is None:
        baseline = float(
            ask(f"Where do you start, in {parsed.metric.unit}?", option="--baseline", number=True)
        )
    draft = parsed.draft(starts_on=today, baseline=baseline, why=why, priority=priority)
    outcome = drafted_plan(goals, draft, model=None if no_model else (model or ""), today=today)
    plan = confirm(draft.title, outcome.plan, outcome.notes, outcome.source, yes=yes, goal=draft)
    if plan is None:
        out.print("Nothing saved.")
        return
    goal_id = goals.add(draft, plan)
    out.print(
        f"Saved goal {goal_id}: {escape(draft.title)} by {draft.target_date}. "
        f"psi today shows what is due; psi goal show {goal_id} the whole plan."
    )


@app.command("replan")
@friendly
def replan_goal(
    goal: str = typer.Argument(..., help="Goal id or words of its title."),
    model: str | None = typer.Option(None, "--model", help="Model profile that re-plans."),
    no_model: bool = typer.Option(False, "--no-model", help="Re-spread without a model."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Save the new plan without asking."),
) -> None:
    """Adapt what is left of a goal's plan to the progress so far (done items stay)."""
    from psi.goals import planner

    goals = open_goals()
    found = goals.find(goal)
    notes: list[str] = []
    chat_model = None if no_model else planning_model(model, notes)
    with err.status("Re-planning…", spinner="dots"):
        outcome = planner.replan_goal(goals, found.id, chat_model)
    draft = found.draft(goals.zone)
    notes += outcome.notes
    chosen = confirm(found.title, outcome.plan, notes, outcome.source, yes=yes, goal=draft)
    if chosen is None:
        out.print("The plan stays as it was.")
        return
    goals.replace_plan(found.id, chosen)
    out.print(f"Saved the new plan for goal {found.id}. psi goal show {found.id} shows it.")


@app.command("list")
@friendly
def list_goals(
    every: bool = typer.Option(False, "--all", help="Archived goals too."),
) -> None:
    """Your goals with their standing."""
    from psi.goals.agenda import build_agenda

    goals = open_goals()
    statuses = ("active", "paused", "done", "archived") if every else ("active", "paused", "done")
    listed = goals.all(statuses=statuses)
    if not listed:
        out.print('No goals yet. Add one: psi goal add "Run a marathon by October 2027"')
        return
    now = goals.clock()
    standings = {s.goal.id: s for s in build_agenda(goals, goals.local_day(now), now=now).standings}
    for goal in listed:
        standing = standings.get(goal.id)
        state = _standing_text(standing) if standing else f"[dim]{goal.status}[/]"
        out.print(
            f"[bold]{goal.id:>4}[/] {escape(goal.title)} [dim]by "
            f"{goals.local_day(goal.target_date)}[/]  {state}"
        )


@app.command("show")
@friendly
def show(goal: str = typer.Argument(..., help="Goal id or words of its title.")) -> None:
    """A goal with its plan, progress, forecast and habits."""
    from psi.goals.agenda import build_agenda
    from psi.goals.forecast import sparkline
    from psi.goals.recurrence import describe

    goals = open_goals()
    found = goals.find(goal, statuses=ALL)
    plan = goals.plan(found.id)
    now = goals.clock()
    agenda = build_agenda(goals, goals.local_day(now), now=now, with_adherence=True)
    standing = next((s for s in agenda.standings if s.goal.id == found.id), None)
    out.print(f"[bold]{found.id}. {escape(found.title)}[/]  [dim]{found.status}, {found.area}[/]")
    if found.why:
        out.print(f"  why: {escape(found.why)}")
    start, target = goals.local_day(found.starts_at), goals.local_day(found.target_date)
    out.print(f"  {start} → {target} ({(target - goals.local_day(now)).days} days left)")
    metric = found.metric
    if metric is not None:
        out.print(
            f"  metric: {metric.baseline:g} → {metric.target:g} {escape(metric.unit)} "
            f"({metric.direction}, {'cumulative' if metric.aggregate == 'sum' else 'level'})"
        )
    if standing is not None and standing.forecast is not None:
        f = standing.forecast
        out.print(f"  progress: {f.percent:.0f}%  now {f.current:g}  {_STATUS_STYLE[f.status]}")
        if f.projected is not None:
            low, high = f.projected_low, f.projected_high
            interval = f" ({low:.1f} to {high:.1f})" if low is not None and high is not None else ""
            out.print(f"  forecast at {target}: {f.projected:.1f}{interval}")
        logged = goals.check_in_table(goal_ids=(found.id,)).values.get(found.id)
        if logged is not None:
            values = logged[1].tolist()
            out.print(f"  {sparkline(values, min(40, max(8, len(values))))}")
    if plan.milestones:
        out.print("[bold]Milestones[/]")
        for m in plan.milestones:
            tick = "[green]✓[/]" if m.done_at else " "
            value = f" ({m.value:g})" if m.value is not None else ""
            out.print(f"  {tick} m{m.id} {goals.local_day(m.due)} {escape(m.title)}{value}")
    if plan.tasks:
        out.print("[bold]Tasks[/]")
        for t in plan.tasks:
            when = describe(t.rule) if t.rule else str(goals.local_day(t.due)) if t.due else ""
            tick = "[green]✓[/]" if t.done_at else " "
            out.print(f"  {tick} t{t.id} {escape(t.title)} [dim]{escape(when)}[/]")
    if plan.habits:
        out.print("[bold]Habits[/]")
        adherence = dict((h.id, a) for h, a in standing.habits) if standing else {}
        for h in plan.habits:
            how = f"{h.per_period}× a {h.period}" if h.per_period else describe(h.rule)
            kept = adherence.get(h.id)
            record = (
                f" [dim]kept {kept.rate:.0%}, streak {kept.current_streak}[/]"
                if kept is not None and kept.rate is not None
                else ""
            )
            state = "" if h.active else " [dim](retired)[/]"
            out.print(f"    h{h.id} {escape(h.title)} [dim]{escape(how)}[/]{record}{state}")
    if plan.if_then:
        out.print("[bold]If-then plans[/]")
        for p in plan.if_then:
            out.print(f"    If {escape(p.situation)}, then {escape(p.action)}.")


@app.command("edit")
@friendly
def edit(
    goal: str = typer.Argument(..., help="Goal id or words of its title."),
    title: str | None = typer.Option(None, "--title"),
    why: str | None = typer.Option(None, "--why"),
    area: str | None = typer.Option(None, "--area"),
    by: str | None = typer.Option(None, "--by", help="New target date (YYYY-MM-DD)."),
    priority: int | None = typer.Option(None, "--priority", min=1, max=3),
    metric: str | None = typer.Option(
        None, "--metric", help='"UNIT BASELINE TARGET", e.g. "km 10 42.2"; "none" to drop it.'
    ),
    status: str | None = typer.Option(None, "--status", help="active, paused, done, archived"),
) -> None:
    """Change a goal; the whole goal is checked before anything is saved."""
    from psi.errors import GoalError

    goals = open_goals()
    found = goals.find(goal, statuses=ALL)
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = title
    if why is not None:
        changes["why"] = why
    if area is not None:
        changes["area"] = area
    if by is not None:
        changes["target_date"] = _date(by)
    if priority is not None:
        changes["priority"] = priority
    if metric is not None:
        changes["metric"] = _metric(metric, found)
    if not changes and status is None:
        raise GoalError("Nothing to change.", hint="psi goal edit --help lists the options.")
    if changes:
        found = goals.edit(found.id, changes)
    if status is not None:
        found = goals.set_status(found.id, status)
    out.print(f"Saved goal {found.id}: {escape(found.title)} ({found.status}).")


@app.command("pause")
@friendly
def pause(goal: str = typer.Argument(..., help="Goal id or words of its title.")) -> None:
    """Pause a goal: it leaves the agenda and reminders until resumed."""
    _set_status(goal, "paused")


@app.command("resume")
@friendly
def resume(goal: str = typer.Argument(..., help="Goal id or words of its title.")) -> None:
    """Bring a paused or archived goal back."""
    _set_status(goal, "active")


@app.command("archive")
@friendly
def archive(goal: str = typer.Argument(..., help="Goal id or words of its title.")) -> None:
    """Archive a goal: kept with its history, out of every list but `psi goal list --all`."""
    _set_status(goal, "archived")


def _set_status(reference: str, status: str) -> None:
    goals = open_goals()
    found = goals.find(reference, statuses=ALL)
    saved = goals.set_status(found.id, status)
    out.print(f"Goal {saved.id} ({escape(saved.title)}) is {saved.status}.")


# -- today, week, done, log -------------------------------------------------------


@friendly
def today() -> None:
    """What is due today: tasks, habits, overdue items, check-ins owed, each goal's standing."""
    from psi.goals.agenda import build_agenda

    goals = open_goals()
    now = goals.clock()
    render_agenda(build_agenda(goals, goals.local_day(now), now=now), goals)


@friendly
def week() -> None:
    """The next seven days."""
    from psi.goals.agenda import build_agenda

    goals = open_goals()
    now = goals.clock()
    render_agenda(build_agenda(goals, goals.local_day(now), days=7, now=now), goals)


@friendly
def done(
    item: str = typer.Argument(..., help="t12, h3, m5 (from psi today), or words of a title."),
) -> None:
    """Mark a task, a habit for today, or a milestone done."""
    goals = open_goals()
    kind, number = goals.find_item(item)
    if kind == "t":
        task = goals.complete_task(number)
        out.print(f"Done: {escape(task.title)}.")
    elif kind == "h":
        goals.check_habit(number)
        title = next((h.title for h in goals.habits() if h.id == number), f"habit {number}")
        out.print(f"Done for today: {escape(title)}.")
    else:
        goals.complete_milestone(number)
        out.print(f"Milestone m{number} reached.")


@friendly
def log(
    goal: str = typer.Argument(..., help="Goal id or words of its title."),
    value: float = typer.Argument(..., help="The value: a level, or an amount to add."),
    note: str | None = typer.Argument(None, help="A note to keep with it."),
    energy: int | None = typer.Option(None, "--energy", min=1, max=5),
    mood: int | None = typer.Option(None, "--mood", min=1, max=5),
) -> None:
    """Log progress on a goal by hand."""
    from psi.goals.agenda import build_agenda

    goals = open_goals()
    found = goals.find(goal, statuses=ALL)
    goals.log(found.id, value, note=note, energy=energy, mood=mood)
    now = goals.clock()
    standing = next(
        s for s in build_agenda(goals, goals.local_day(now), now=now).standings
        if s.goal.id == found.id
    )  # fmt: skip
    out.print(f"Logged {value:g} for {escape(found.title)}. {_standing_text(standing)}")


# -- rendering --------------------------------------------------------------------


def render_agenda(agenda: Agenda, goals: Goals) -> None:
    from psi.goals.recurrence import describe

    end = agenda.start + timedelta(days=agenda.days - 1)
    span = str(agenda.start) if agenda.days == 1 else f"{agenda.start} to {end}"
    out.print(f"[bold]Agenda for {span}[/]")
    if agenda.overdue or agenda.overdue_milestones:
        out.print("[bold red]Overdue[/]")
        for t in agenda.overdue:
            out.print(f"  t{t.task.id} {escape(t.task.title)} [dim]due {goals.local_day(t.due)}[/]")
        for m in agenda.overdue_milestones:
            out.print(f"  m{m.id} {escape(m.title)} [dim]due {goals.local_day(m.due)}[/]")
    if agenda.tasks or agenda.milestones:
        out.print("[bold]Tasks[/]")
        for t in agenda.tasks:
            tick = "[green]✓[/]" if t.done else "□"
            when = _when(goals, t.due, agenda.days)
            how = f" [dim]{escape(describe(t.task.rule))}[/]" if t.task.rule else ""
            out.print(f"  {tick} t{t.task.id} {when}{escape(t.task.title)}{how}{_of(t.goal)}")
        for m in agenda.milestones:
            out.print(f"  ◆ m{m.id} {_when(goals, m.due, agenda.days)}{escape(m.title)}")
    if agenda.habits:
        out.print("[bold]Habits[/]")
        for h in agenda.habits:
            tick = "[green]✓[/]" if h.done else "□"
            count = (
                f" [dim]{h.so_far}/{h.habit.per_period} this {h.habit.period}[/]"
                if h.so_far is not None
                else ""
            )
            when = "" if h.so_far is not None else _when(goals, h.due, agenda.days)
            out.print(f"  {tick} h{h.habit.id} {when}{escape(h.habit.title)}{count}{_of(h.goal)}")
    if agenda.owed:
        out.print("[bold]Check-ins owed[/]")
        for g in agenda.owed:
            out.print(f'  {escape(g.title)} [dim]psi log {g.id} VALUE "note"[/]')
    if agenda.standings:
        out.print("[bold]Goals[/]")
        for s in agenda.standings:
            out.print(f"  {s.goal.id:>3} {escape(s.goal.title)}  {_standing_text(s)}")
    if agenda.open_count == 0 and not agenda.standings:
        out.print('Nothing due. Add a goal: psi goal add "Read 12 books by December"')


def _standing_text(standing: Standing) -> str:
    f = standing.forecast
    parts = []
    if f is not None:
        parts.append(f"{f.percent:.0f}%")
        parts.append(_STATUS_STYLE[f.status])
    if standing.next_milestone is not None:
        parts.append(f"[dim]next: {escape(standing.next_milestone.title)}[/]")
    return "  ".join(parts) if parts else f"[dim]{standing.goal.status}[/]"


def _when(goals: Goals, moment: datetime, days: int) -> str:
    local = moment.astimezone(goals.zone)
    day = "" if days == 1 else f"{local:%a %d} "
    hour = "" if (local.hour, local.minute) == (0, 0) else f"{local:%H:%M} "
    return f"[dim]{day}{hour}[/]" if day or hour else ""


def _of(goal: str | None) -> str:
    return f" [dim]· {escape(goal)}[/]" if goal else ""


def _date(raw: str) -> date:
    from psi.errors import InputError

    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(f"{raw!r} is not a date.", hint="Write it as YYYY-MM-DD.") from None


def _metric(raw: str, goal: GoalView) -> dict[str, object] | None:
    from psi.errors import InputError

    if raw.strip().lower() == "none":
        return None
    parts = raw.split()
    try:
        unit, baseline, target = " ".join(parts[:-2]), float(parts[-2]), float(parts[-1])
    except (ValueError, IndexError):
        unit, baseline, target = "", 0.0, 0.0
    if not unit:
        raise InputError(
            f"{raw!r} is not a metric.", hint='Write UNIT BASELINE TARGET, e.g. "km 10 42.2".'
        )
    aggregate = goal.metric.aggregate if goal.metric else "last"
    return {
        "unit": unit,
        "baseline": baseline,
        "target": target,
        "direction": "increase" if target > baseline else "decrease",
        "aggregate": aggregate,
    }
