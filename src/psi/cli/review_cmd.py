"""`psi review`: the weekly review of every active goal, with a suggestion each and a chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from psi.cli.goals_cmd import _STATUS_STYLE, open_goals
from psi.cli.output import err, friendly, out
from psi.cli.planning import planning_model

if TYPE_CHECKING:
    from psi.goals.review import Review, Suggestion


@friendly
def review(
    days: int = typer.Option(
        7, "--days", min=1, max=366, help="How many days back, today included."
    ),
    path: Path | None = typer.Option(
        None, "--out", help="Where to save the chart (PNG); default $PSI_HOME/reviews/."
    ),
    no_chart: bool = typer.Option(False, "--no-chart", help="Skip the chart."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model profile for the suggestions. Default: the default model, unless it is the "
        "embedded one, in which case psi's own rules suggest.",
    ),
) -> None:
    """Review the past week: what moved, what slipped, the forecast and one suggestion per goal."""
    from psi.config import load_settings
    from psi.goals.review import suggest, weekly_review

    settings = load_settings()
    goals = open_goals()
    result = weekly_review(goals, now=goals.clock(), days=days)
    if not result.goals:
        out.print(
            'No active goals to review. Add one: psi goal add "Run a marathon by October 2027"'
        )
        return
    notes: list[str] = []
    chosen = planning_model(model, notes)
    if chosen is None:
        suggestions = suggest(result, None)
    else:
        with err.status(f"Asking {chosen.name} for suggestions…", spinner="dots"):
            suggestions = suggest(result, chosen, notes=notes)
    render(result, suggestions)
    for note in notes:
        out.print(f"[dim]{escape(note)}[/]")
    if no_chart:
        return
    if not result.measured:
        out.print("[dim]No chart: none of these goals has a metric.[/]")
        return
    from psi.goals.chart import chart_path, review_chart

    with err.status("Drawing the chart…", spinner="dots"):
        saved = review_chart(result, path or chart_path(settings.home, result))
    out.print(f"Chart: {escape(str(saved))}")


def render(review: Review, suggestions: dict[int, Suggestion]) -> None:
    from psi.goals.review import forecast_text, moved_text, slipped_text

    out.print(f"[bold]Review of {review.day(review.start)} to {review.day(review.now)}[/]")
    for goal in review.goals:
        f = goal.forecast
        status = f"  {_STATUS_STYLE[f.status]}" if f is not None else ""
        out.print(
            f"\n[bold]{goal.goal.id}. {escape(goal.goal.title)}[/]{status}  "
            f"[dim]target {review.day(goal.goal.target_date)}[/]"
        )
        moved = moved_text(review, goal)
        slipped = slipped_text(review, goal)
        out.print(
            f"  [green]moved[/]      {escape('; '.join(moved)) if moved else '[dim]nothing[/]'}"
        )
        out.print(
            f"  [red]slipped[/]    {escape('; '.join(slipped)) if slipped else '[dim]nothing[/]'}"
        )
        heading = forecast_text(review, goal)
        if heading is not None:
            out.print(f"  [bold]forecast[/]   {escape(heading)}")
        suggestion = suggestions.get(goal.goal.id)
        if suggestion is not None:
            source = "" if suggestion.source == "model" else " [dim](psi's rule)[/]"
            out.print(f"  [cyan]suggestion[/] {escape(suggestion.text)}{source}")
