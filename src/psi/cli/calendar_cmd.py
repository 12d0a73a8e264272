"""`psi calendar export|import`: your goals into your calendar app, your calendar's
busy time into psi's planning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.output import friendly, out

if TYPE_CHECKING:
    from psi.goals.store import Goals

app = typer.Typer(
    help="Goals to your calendar app (.ics), and your calendar's busy time to psi.",
    no_args_is_help=True,
)


def _goals() -> Goals:
    from psi.config import load_settings
    from psi.goals.store import Goals
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return Goals(store, user_id=store.ensure_user(settings.user), zone=settings.zone())


@app.command("export")
@friendly
def export(
    path: Path = typer.Argument(..., help="The .ics file to write.", dir_okay=False),
) -> None:
    """Write your goals in progress to an iCalendar file: target dates and milestones as
    all-day events, one-off tasks as to-dos, habits and recurring tasks as repeating
    events. Import it again after changes: the items update rather than double."""
    from psi.errors import InputError
    from psi.goals.calendar import build_calendar

    goals = _goals()
    calendar = build_calendar(goals, now=goals.clock())
    try:
        path.write_bytes(calendar.to_ical())
    except OSError as exc:
        raise InputError(
            f"Cannot write {path}: {exc.strerror}.", hint="Choose a folder you can write to."
        ) from None
    events, todos = len(calendar.events), len(calendar.todos)
    out.print(f"Exported {events} events and {todos} to-dos to {escape(str(path))}.")


@app.command("import")
@friendly
def import_(
    path: Path = typer.Argument(..., help="An .ics file exported from your calendar app."),
) -> None:
    """Read the events of an iCalendar file as your busy time, for planning around it.
    Importing the same file again replaces what it brought the last time."""
    from psi.errors import InputError
    from psi.goals.calendar import import_calendar

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror}.", hint="Check the file's name and path."
        ) from None
    goals = _goals()
    done = import_calendar(data, goals, source=path.name, now=goals.clock())
    out.print(
        f"Imported {escape(path.name)}: {done.added} new, {done.updated} updated, "
        f"{done.removed} removed busy times."
    )
    if done.free or done.own:
        out.print(
            f"[dim]Not busy time: {done.free} events marked free or cancelled, "
            f"{done.own} of psi's own items.[/]"
        )
    for reason in done.skipped:
        out.print(f"[yellow]Skipped[/] {escape(reason)}")
