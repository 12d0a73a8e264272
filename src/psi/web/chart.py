"""A goal's progress as an inline SVG: what the review's PNG chart (psi.goals.chart) shows,
drawn for the browser, so it scales to any screen and needs no image file.

    progress_svg(goal, points, forecast, milestones, now=now, zone=zone)   # Markup

The values over time (the running total for a cumulative metric), the ideal straight
line from the baseline at the start to the target at the target date, the trend's
projection to the target date with its 95% band shaded, milestones (filled once
reached), today, and the target. Colours follow the status. The picture carries a
title and a description in words for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup

from psi.goals.forecast import Forecast, Point, series
from psi.goals.review import num
from psi.goals.views import GoalView, MilestoneView

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36
COLOUR = {
    "on_track": "#15803d",
    "at_risk": "#b45309",
    "off_track": "#b42318",
    "not_enough_data": "#6b7280",
    "done": "#15803d",
}
STATUS_WORDS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "not_enough_data": "not enough data yet",
    "done": "done",
}


def ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values from `low` to `high`, about `count` of them."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def summary(goal: GoalView, forecast: Forecast | None, zone: ZoneInfo) -> str:
    """The chart in one sentence."""
    metric = goal.metric
    if metric is None or forecast is None:
        return f"{goal.title}: not measured."
    text = (
        f"{goal.title}: {num(forecast.current)} of {num(metric.target)} {metric.unit} "
        f"({forecast.percent:.0f}%), {STATUS_WORDS[forecast.status]}."
    )
    if forecast.projected is not None:
        day = goal.target_date.astimezone(zone).date()
        text += f" Forecast at {day}: {num(forecast.projected)}"
        if forecast.projected_low is not None and forecast.projected_high is not None:
            text += f" ({num(forecast.projected_low)} to {num(forecast.projected_high)})"
        text += "."
    return text


def progress_svg(
    goal: GoalView,
    points: Sequence[Point],
    forecast: Forecast | None,
    milestones: Sequence[MilestoneView],
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Markup:
    metric = goal.metric
    if metric is None:
        return Markup("")
    start, end = goal.starts_at, max(goal.target_date, now)
    values = series(metric, [p for p in points if p.at <= now], start=start)
    band: tuple[float, float, float] | None = None  # (pivot, low end, high end)
    last = values[-1].at if values else None
    if forecast is not None and forecast.trend is not None and last and last < goal.target_date:
        days = (goal.target_date - last).total_seconds() / 86400
        pivot = forecast.trend.at(last)
        ends = (pivot + forecast.trend.slope_low * days, pivot + forecast.trend.slope_high * days)
        band = (pivot, min(ends), max(ends))
    ys = [metric.baseline, metric.target, *(p.value for p in values)]
    ys += [m.value for m in milestones if m.value is not None]
    low, high = min(ys), max(ys)
    if band is not None:
        # A trend from a few close check-ins can point anywhere: the band is drawn up to
        # half the goal's span beyond it, and cut there.
        reach = (high - low) / 2 or 1.0
        low, high = max(min(low, band[1]), low - reach), min(max(high, band[2]), high + reach)
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / span
        return LEFT + max(0.0, min(1.0, share)) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        value = max(low, min(high, value))
        return TOP + (high - value) / (high - low) * (HEIGHT - TOP - BOTTOM)

    colour = COLOUR[forecast.status] if forecast is not None else COLOUR["not_enough_data"]
    said = summary(goal, forecast, zone)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-{goal.id}-t '
        f'chart-{goal.id}-d" xmlns="http://www.w3.org/2000/svg" font-size="12" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="chart-{goal.id}-t">Progress of {escape(goal.title)}</title>',
        f'<desc id="chart-{goal.id}-d">{escape(said)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for tick in ticks(low, high):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#e5e7eb"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'fill="#4b5060">{escape(num(tick))}</text>'
        )
    axis = HEIGHT - BOTTOM
    for moment, anchor in ((start, "start"), (goal.target_date, "end")):
        label = moment.astimezone(zone).strftime("%d %b %Y")
        parts.append(
            f'<text x="{x(moment):.1f}" y="{axis + 18}" text-anchor="{anchor}" '
            f'fill="#4b5060">{label}</text>'
        )
    parts.append(
        f'<line x1="{x(now):.1f}" x2="{x(now):.1f}" y1="{TOP}" y2="{axis}" stroke="#9ca3af" '
        f'stroke-dasharray="2 3"/><text x="{x(now) + 4:.1f}" y="{TOP + 10}" text-anchor="start" '
        f'fill="#4b5060">today</text>'
    )
    parts.append(
        f'<line x1="{x(start):.1f}" y1="{y(metric.baseline):.1f}" '
        f'x2="{x(goal.target_date):.1f}" y2="{y(metric.target):.1f}" stroke="#6b7280" '
        f'stroke-dasharray="6 4"><title>ideal pace</title></line>'
    )
    if band is not None and last is not None:
        pivot, bottom, top = band
        x0, x1 = x(last), x(goal.target_date)
        assert forecast is not None and forecast.trend is not None
        days = (goal.target_date - last).total_seconds() / 86400
        middle = pivot + forecast.trend.slope * days
        parts.append(
            f'<polygon points="{x0:.1f},{y(pivot):.1f} {x1:.1f},{y(top):.1f} '
            f'{x1:.1f},{y(bottom):.1f}" fill="{colour}" fill-opacity="0.15">'
            f"<title>95% forecast band</title></polygon>"
            f'<line x1="{x0:.1f}" y1="{y(pivot):.1f}" x2="{x1:.1f}" y2="{y(middle):.1f}" '
            f'stroke="{colour}" stroke-dasharray="2 3" stroke-width="2"/>'
        )
    if values:
        line = " ".join(f"{x(p.at):.1f},{y(p.value):.1f}" for p in values)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
        parts += [
            f'<circle cx="{x(p.at):.1f}" cy="{y(p.value):.1f}" r="3.5" fill="#1d4ed8">'
            f"<title>{p.at.astimezone(zone):%d %b}: {escape(num(p.value))}</title></circle>"
            for p in values
        ]
    for m in milestones:
        if m.value is None:
            continue
        cx, cy = x(m.due), y(m.value)
        fill = "#7c3aed" if m.done_at else "#fff"
        parts.append(
            f'<polygon points="{cx:.1f},{cy - 6:.1f} {cx + 6:.1f},{cy:.1f} {cx:.1f},{cy + 6:.1f} '
            f'{cx - 6:.1f},{cy:.1f}" fill="{fill}" stroke="#7c3aed" stroke-width="1.5">'
            f"<title>{escape(m.title)}</title></polygon>"
        )
    tx, ty = x(goal.target_date), y(metric.target)
    parts.append(
        f'<circle cx="{tx:.1f}" cy="{ty:.1f}" r="6" fill="#eab308" stroke="#854d0e">'
        f"<title>target: {escape(num(metric.target))} {escape(metric.unit)}</title></circle>"
    )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 2}" fill="#4b5060">{escape(metric.unit)}</text></svg>'
    )
    return Markup("".join(parts))  # every text in it is escaped above
