"""The web app's pure helpers: replies' markdown is safe, the progress chart escapes what
it draws and says in words what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from psi.goals.forecast import Metric, Point, forecast
from psi.goals.views import GoalView
from psi.web.chart import progress_svg, ticks
from psi.web.render import markdown


def test_markdown_renders_but_never_passes_html_or_script_links() -> None:
    html = str(markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1))\n\n- a"))
    assert "<strong>bold</strong>" in html and "<li>a</li>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_ticks_are_round() -> None:
    assert ticks(0, 100) == [0, 25, 50, 75, 100]
    assert ticks(3.2, 4.1) == [3.25, 3.5, 3.75, 4.0]


def test_the_chart_escapes_titles_and_describes_the_forecast() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    goal = GoalView(
        id=7, title="Run <100> km & more", why=None, area="fitness", starts_at=start,
        target_date=start + timedelta(days=100),
        metric=Metric("km", 0, 100, "increase", "sum"), status="active", priority=2,
        created_at=start, updated_at=start,
    )  # fmt: skip
    points = [Point(start + timedelta(days=d), 10) for d in (5, 10, 15, 20)]
    now = start + timedelta(days=21)
    seen = forecast(goal.metric, points, goal.starts_at, goal.target_date, now)  # type: ignore[arg-type]
    svg = str(progress_svg(goal, points, seen, [], now=now, zone=ZoneInfo("UTC")))
    assert "Run &lt;100&gt; km &amp; more" in svg and "<100>" not in svg
    assert "95% forecast band" in svg
    assert "40 of 100 km (40%)" in svg and "Forecast at 2026-04-11" in svg
