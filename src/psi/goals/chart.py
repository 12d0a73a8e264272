"""The weekly review as a picture: one panel per measured goal, saved as a PNG.

    review_chart(review, chart_path(settings.home, review))

Each panel shows the goal's values over time (the running total for a
cumulative metric), the ideal straight line from the baseline at the start to
the target at the target date, the trend with its projection to the target date
and the 95% interval of that projection shaded, milestones (filled once reached)
and the reviewed days. Goals beyond MAX_PANELS are left out, in the review's
order (priority first).

matplotlib is imported when a chart is drawn, never at start-up, and drawn
through its Agg canvas directly: no pyplot, no global backend switch. The size
is fixed (PANEL_SIZE inches per panel at DPI), so the file's pixels are known.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from psi.goals.forecast import series
from psi.goals.review import GoalReview, Review, num

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_PANELS = 6
PANEL_SIZE = (5.0, 3.5)  # inches
DPI = 100
_STATUS_COLOUR = {
    "on_track": "tab:green",
    "at_risk": "tab:orange",
    "off_track": "tab:red",
    "not_enough_data": "tab:gray",
    "done": "tab:green",
}


def chart_path(home: Path, review: Review) -> Path:
    """$PSI_HOME/reviews/review-YYYY-MM-DD.png, dated by the review's last day."""
    return home / "reviews" / f"review-{review.day(review.now)}.png"


def grid(panels: int) -> tuple[int, int]:
    """(rows, columns) for `panels` panels: one column for one, else two."""
    columns = 1 if panels == 1 else 2
    return math.ceil(panels / columns), columns


def review_chart(review: Review, path: Path) -> Path:
    """Draw the measured goals of `review` into the PNG at `path`; returns `path`.

    ValueError when no goal in the review is measured: there is nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    measured = review.measured[:MAX_PANELS]
    if not measured:
        raise ValueError("no measured goal to chart")
    rows, columns = grid(len(measured))
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, panel in enumerate(axes.flat):
        if index >= len(measured):
            panel.set_axis_off()
            continue
        _panel(panel, review, measured[index])
        # matplotlib.dates has no type hints.
        locator = AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
        panel.xaxis.set_major_locator(locator)
        panel.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    figure.suptitle(f"Week of {review.day(review.start)} to {review.day(review.now)}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _panel(axes: Axes, review: Review, goal: GoalReview) -> None:
    from matplotlib.dates import date2num

    metric = goal.goal.metric
    assert metric is not None

    def local(moment: datetime) -> float:
        # Naive local time, so that matplotlib labels days as the user lives them.
        naive = moment.astimezone(review.zone).replace(tzinfo=None)
        return float(date2num(naive))  # type: ignore[no-untyped-call]

    start, target_date = goal.goal.starts_at, goal.goal.target_date
    axes.plot(
        [local(start), local(target_date)],
        [metric.baseline, metric.target],
        linestyle="--",
        color="tab:gray",
        linewidth=1,
        label="ideal",
    )
    values = series(metric, [p for p in goal.points if p.at <= review.now], start=start)
    if values:
        axes.plot(
            [local(p.at) for p in values],
            [p.value for p in values],
            marker="o",
            markersize=3,
            color="tab:blue",
            label="running total" if metric.aggregate == "sum" else "check-ins",
        )
    f = goal.forecast
    if f is not None and f.trend is not None and values and values[-1].at < target_date:
        last = values[-1].at
        pivot = f.trend.at(last)
        days = (target_date - last).total_seconds() / 86400
        ends = [pivot + f.trend.slope_low * days, pivot + f.trend.slope_high * days]
        colour = _STATUS_COLOUR[f.status]
        axes.plot(
            [local(values[0].at), local(last)],
            [f.trend.at(values[0].at), pivot],
            color=colour,
            linewidth=1,
        )
        axes.plot(
            [local(last), local(target_date)],
            [pivot, pivot + f.trend.slope * days],
            color=colour,
            linestyle=":",
            label="projection",
        )
        axes.fill_between(
            [local(last), local(target_date)],
            [pivot, min(ends)],
            [pivot, max(ends)],
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
    for milestone in goal.milestones:
        reached = milestone.done_at is not None
        if milestone.value is None:
            axes.axvline(local(milestone.due), color="tab:purple", linestyle=":", linewidth=1)
            continue
        axes.plot(
            [local(milestone.due)],
            [milestone.value],
            marker="D",
            markersize=6,
            color="tab:purple",
            markerfacecolor="tab:purple" if reached else "none",
            linestyle="none",
        )
    axes.plot([local(target_date)], [metric.target], marker="*", markersize=11, color="gold")
    axes.axvspan(local(review.start), local(review.now), color="gold", alpha=0.15, linewidth=0)
    status = f.status.replace("_", " ") if f is not None else ""
    title = goal.goal.title if len(goal.goal.title) <= 40 else goal.goal.title[:39] + "…"
    axes.set_title(f"{title}\n{status}", fontsize=9)
    axes.set_ylabel(metric.unit, fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if f is not None:
        axes.annotate(
            f"{num(f.current)} {metric.unit}",
            xy=(local(review.now), f.current),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
        )
    axes.legend(fontsize=6, loc="best")
