"""psi.goals.forecast: values, trend, forecast status, adherence, sparkline."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import theilslopes

from psi.errors import GoalError
from psi.goals.forecast import (
    Goalpost,
    Metric,
    Point,
    adherence,
    current_value,
    forecast,
    forecast_arrays,
    forecast_many,
    percent_complete,
    period_adherence,
    series,
    sparkline,
    trend,
)

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
WEIGHT = Metric(unit="kg", baseline=90, target=80, direction="decrease", aggregate="last")
BOOKS = Metric(unit="books", baseline=0, target=24, direction="increase", aggregate="sum")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def points(*pairs: tuple[float, float]) -> list[Point]:
    return [Point(day(d), v) for d, v in pairs]


def test_metric_and_point_refuse_what_cannot_work() -> None:
    with pytest.raises(GoalError, match="points the wrong way") as caught:
        Metric(unit="kg", baseline=80, target=90, direction="decrease", aggregate="last")
    assert caught.value.hint
    with pytest.raises(GoalError, match="finite"):
        Metric(unit="kg", baseline=math.nan, target=90, direction="increase", aggregate="last")
    with pytest.raises(ValueError, match="direction"):
        Metric(unit="kg", baseline=0, target=1, direction="up", aggregate="last")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        Point(datetime(2026, 1, 1), 1.0)
    with pytest.raises(ValueError, match="finite"):
        Point(T0, math.inf)


def test_current_value() -> None:
    assert current_value(WEIGHT, []) == 90
    assert current_value(WEIGHT, points((1, 80), (3, 78), (2, 79))) == 78
    assert current_value(WEIGHT, points((3, 78), (3, 77.5), (2, 79))) == 77.5
    assert current_value(BOOKS, []) == 0
    shelf = Metric(unit="books", baseline=5, target=24, direction="increase", aggregate="sum")
    assert current_value(shelf, points((1, 1), (5, 2), (3, 3))) == 11


def test_percent_complete_both_ways() -> None:
    assert percent_complete(BOOKS, 6) == 25
    assert percent_complete(WEIGHT, 85) == 50
    assert percent_complete(WEIGHT, 95) == 0
    assert percent_complete(WEIGHT, 70) == 100
    flat = Metric(unit="km", baseline=10, target=10, direction="increase", aggregate="last")
    assert (percent_complete(flat, 10), percent_complete(flat, 9)) == (100, 0)


def test_series_is_the_running_total_for_a_sum() -> None:
    got = series(BOOKS, points((20, 1), (10, 1), (20, 2)), start=day(0))
    assert [(p.at, p.value) for p in got] == [(day(0), 0), (day(10), 1), (day(20), 4)]
    assert [p.value for p in series(WEIGHT, points((2, 88), (1, 89)), start=day(0))] == [89, 88]


def test_trend_of_a_line_and_of_too_little() -> None:
    line = trend(points((0, 2), (4, 4), (10, 7), (12, 8)))
    assert line is not None
    assert (line.slope, line.slope_low, line.slope_high) == pytest.approx((0.5, 0.5, 0.5))
    assert line.intercept == pytest.approx(2)
    assert line.at(day(20)) == pytest.approx(12)
    assert trend([]) is None
    assert trend(points((3, 1))) is None
    assert trend(points((3, 1), (3, 2))) is None


@pytest.mark.parametrize("n", [2, 3, 7, 20, 50])
@pytest.mark.parametrize("rounded", [False, True])
def test_trend_agrees_with_scipy(n: int, rounded: bool) -> None:
    rng = np.random.default_rng(n)
    days = np.sort(rng.uniform(0, 100, n))
    values = 0.3 * days + rng.normal(0, 2, n)
    if rounded:  # ties in the values
        values = np.round(values / 3)
    got = trend([Point(day(d), v) for d, v in zip(days, values, strict=True)])
    want = theilslopes(values, days, method="joint")
    assert got is not None
    assert got.slope == pytest.approx(want.slope)
    assert (got.slope_low, got.slope_high) == pytest.approx((want.low_slope, want.high_slope))
    # scipy's intercept is at day 0, psi's at the first check-in.
    assert got.intercept == pytest.approx(want.intercept + want.slope * days[0])


def test_forecast_statuses_by_hand() -> None:
    start, target_date, now = day(0), day(100), day(50)
    losing = points((0, 90), (10, 89), (20, 88), (30, 87), (40, 86), (50, 85))
    on_track = forecast(WEIGHT, losing, start, target_date, now)
    assert on_track.status == "on_track"
    assert on_track.projected == pytest.approx(80)
    assert on_track.current == 85
    assert on_track.percent == pytest.approx(50)
    assert on_track.expected_now == pytest.approx(85)

    slower = points((0, 90), (10, 89.5), (20, 89), (30, 88.5), (40, 88), (50, 87.5))
    off = forecast(WEIGHT, slower, start, target_date, now)
    assert (off.status, off.projected) == ("off_track", pytest.approx(85))

    assert forecast(WEIGHT, points((1, 89)), start, target_date, now).status == "not_enough_data"
    done = forecast(WEIGHT, [*losing, Point(day(50.5), 79.9)], start, target_date, day(51))
    assert (done.status, done.percent) == ("done", 100)
    # After the target date the outcome is what was reached.
    late = forecast(WEIGHT, losing, start, target_date, day(120))
    assert (late.status, late.projected, late.expected_now) == ("off_track", 85, 80)
    # Check-ins after now are not known yet.
    early = forecast(WEIGHT, losing, start, target_date, day(25))
    assert early.current == 88


def test_at_risk_when_only_the_hopeful_bound_meets_the_target() -> None:
    rng = np.random.default_rng(3)
    noisy = [Point(day(d), 90 - 0.1 * d + rng.normal(0, 1)) for d in range(0, 50, 2)]
    base = forecast(WEIGHT, noisy, day(0), day(100), day(50))
    assert base.projected is not None and base.projected_low is not None
    assert base.projected_low < base.projected
    between = Metric(
        unit="kg",
        baseline=90,
        target=(base.projected + base.projected_low) / 2,
        direction="decrease",
        aggregate="last",
    )
    assert forecast(between, noisy, day(0), day(100), day(50)).status == "at_risk"
    beyond = Metric(
        unit="kg",
        baseline=90,
        target=base.projected_low - 1,
        direction="decrease",
        aggregate="last",
    )
    assert forecast(beyond, noisy, day(0), day(100), day(50)).status == "off_track"


def test_a_sum_goal_counts_from_its_start() -> None:
    read = forecast(BOOKS, points((10, 1), (20, 1)), day(0), day(240), day(20))
    assert read.trend is not None and read.trend.slope == pytest.approx(0.1)
    assert read.projected == pytest.approx(24)
    assert read.status == "on_track"
    assert forecast(BOOKS, [], day(0), day(240), day(20)).status == "not_enough_data"


def test_forecast_refuses_naive_times_and_a_target_before_the_start() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        forecast(WEIGHT, [], day(0), day(10), datetime(2026, 1, 2))
    with pytest.raises(GoalError, match="not after the start"):
        forecast(WEIGHT, [], day(10), day(10), day(5))


def test_daily_adherence_by_local_day() -> None:
    due = [datetime(2026, 3, d, 7, tzinfo=BERLIN) for d in range(1, 6)]
    done = [
        datetime(2026, 3, 1, 6, tzinfo=BERLIN),  # before the 07:00, same day: counts
        datetime(2026, 3, 2, 21, tzinfo=BERLIN),
        datetime(2026, 3, 2, 22, tzinfo=BERLIN),  # twice in one day counts once
        datetime(2026, 3, 4, 5, 30, tzinfo=UTC),  # 06:30 in Berlin
    ]
    now = datetime(2026, 3, 5, 10, tzinfo=BERLIN)  # the 5th is still open
    got = adherence(due, done, now)
    assert (got.rate, got.current_streak, got.best_streak) == (0.75, 1, 2)
    assert (got.due_count, got.done_count) == (4, 3)
    later = adherence(due, [*done, datetime(2026, 3, 5, 9, tzinfo=BERLIN)], now)
    assert (later.current_streak, later.due_count, later.done_count) == (2, 5, 4)
    assert got.missed == later.missed == (2,)  # the 3rd
    assert adherence([], done, now).rate is None


def test_a_completion_between_occurrences_counts_for_the_earlier() -> None:
    mon_wed_fri = [datetime(2026, 3, d, 7, tzinfo=BERLIN) for d in (2, 4, 6)]
    tuesday = datetime(2026, 3, 3, 12, tzinfo=BERLIN)
    got = adherence(mon_wed_fri, [tuesday], datetime(2026, 3, 6, 9, tzinfo=BERLIN))
    # Monday done on Tuesday, Wednesday missed, Friday still open.
    assert (got.due_count, got.done_count, got.current_streak) == (2, 1, 0)
    assert got.missed == (1,)
    # The last occurrence stays open: Wednesday's period has not ended by Thursday.
    got = adherence(mon_wed_fri[:2], [tuesday], datetime(2026, 3, 5, 23, tzinfo=BERLIN))
    assert (got.due_count, got.done_count) == (1, 1)
    twice_a_day = [datetime(2026, 3, 2, 7, tzinfo=BERLIN), datetime(2026, 3, 2, 19, tzinfo=BERLIN)]
    noon = datetime(2026, 3, 2, 12, 59, tzinfo=BERLIN)  # before the 13:00 half-way mark
    got = adherence(twice_a_day, [noon], datetime(2026, 3, 3, 12, tzinfo=BERLIN))
    assert (got.due_count, got.done_count, got.current_streak) == (1, 1, 1)


def test_three_times_a_week() -> None:
    weeks = [datetime(2026, 3, 2, tzinfo=BERLIN) + timedelta(weeks=w) for w in range(3)]
    done = [weeks[0] + timedelta(days=d) for d in (0, 2, 4)]
    done += [weeks[1] + timedelta(days=d) for d in (1, 5)]
    done += [weeks[2] + timedelta(days=1)]
    got = period_adherence(done, weeks, 3, weeks[2] + timedelta(days=2))
    assert (got.rate, got.current_streak, got.best_streak) == (0.5, 0, 1)
    assert (got.due_count, got.done_count) == (2, 1)
    with pytest.raises(ValueError, match="at least 1"):
        period_adherence(done, weeks, 0, weeks[2])


def test_sparkline() -> None:
    assert sparkline([], 10) == ""
    assert sparkline([3, 3, 3], 3) == "▄▄▄"
    assert sparkline(range(8), 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 0, 10, 10], 2) == "▁█"
    assert sparkline([0, 1], 4) == "▁▁██"
    with pytest.raises(ValueError, match="width"):
        sparkline([1], 0)


FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    baseline=FINITE,
    span=st.floats(min_value=1e-3, max_value=1e6),
    direction=st.sampled_from(["increase", "decrease"]),
    a=FINITE,
    b=FINITE,
)
def test_percent_complete_is_bounded_and_moves_with_progress(
    baseline: float, span: float, direction: str, a: float, b: float
) -> None:
    sign = 1 if direction == "increase" else -1
    metric = Metric(
        unit="u",
        baseline=baseline,
        target=baseline + sign * span,
        direction=direction,  # type: ignore[arg-type]
        aggregate="last",
    )
    worse, better = sorted((a, b), key=lambda v: sign * v)
    assert 0 <= percent_complete(metric, worse) <= percent_complete(metric, better) <= 100


@settings(deadline=None)
@given(
    slope=st.floats(min_value=-5, max_value=5).filter(lambda s: abs(s) > 1e-3),
    intercept=st.floats(min_value=-100, max_value=100),
    minutes=st.lists(
        st.integers(min_value=0, max_value=90 * 1440), min_size=2, max_size=40, unique=True
    ),
)
def test_noiseless_lines_project_exactly(
    slope: float, intercept: float, minutes: list[int]
) -> None:
    days = [m / 1440 for m in minutes]  # whole minutes: exact as datetimes
    target_day = 120.0
    exact = intercept + slope * target_day
    metric = Metric(
        unit="u",
        baseline=intercept - slope,
        target=exact,
        direction="increase" if slope > 0 else "decrease",
        aggregate="last",
    )
    checkins = [Point(day(d), intercept + slope * d) for d in days]
    got = forecast(metric, checkins, day(-1), day(target_day), day(max(days)))
    if got.status == "done":
        return
    assert got.projected == pytest.approx(exact, rel=1e-9, abs=1e-6)
    assert got.projected_low == pytest.approx(exact, rel=1e-9, abs=1e-6)
    assert got.projected_high == pytest.approx(exact, rel=1e-9, abs=1e-6)


@given(
    slope=st.floats(min_value=-5, max_value=5),
    days=st.lists(st.integers(min_value=0, max_value=365), min_size=5, max_size=40, unique=True),
    which=st.integers(min_value=0),
    outlier=st.floats(min_value=-1e6, max_value=1e6),
)
def test_one_outlier_does_not_move_the_trend(
    slope: float, days: list[int], which: int, outlier: float
) -> None:
    values = [10 + slope * d for d in days]
    values[which % len(values)] = outlier
    got = trend([Point(day(d), v) for d, v in zip(days, values, strict=True)])
    assert got is not None
    assert got.slope == pytest.approx(slope, abs=1e-9)


MOMENTS = st.integers(min_value=0, max_value=60 * 24 * 60).map(lambda m: day(m / (24 * 60)))


@given(due=st.lists(MOMENTS, max_size=40), done=st.lists(MOMENTS, max_size=40), now=MOMENTS)
def test_adherence_is_consistent(due: list[datetime], done: list[datetime], now: datetime) -> None:
    got = adherence(due, done, now)
    assert got.current_streak <= got.best_streak <= got.done_count <= got.due_count
    assert got.due_count <= len(set(due))
    if got.rate is None:
        assert got.due_count == 0
    else:
        assert 0 <= got.rate <= 1


@given(values=st.lists(FINITE, max_size=200), width=st.integers(min_value=1, max_value=80))
def test_sparkline_has_the_width_asked_for(values: list[float], width: int) -> None:
    line = sparkline(values, width)
    assert len(line) == (width if values else 0)
    assert set(line) <= set("▁▂▃▄▅▆▇█")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=6),  # how many check-ins (equal sizes meet)
            st.integers(min_value=0, max_value=2**31),  # seed
            st.booleans(),  # cumulative
            st.booleans(),  # repeated times and values
        ),
        min_size=1,
        max_size=12,
    )
)
def test_forecast_many_gives_what_forecast_arrays_gives(
    goals: list[tuple[int, int, bool, bool]],
) -> None:
    now_ts = 1_780_000_000.0
    posts = []
    for count, seed, cumulative, repeats in goals:
        rng = np.random.default_rng(seed)
        times = now_ts - rng.uniform(0, 90, count).round(0 if repeats else 6) * 86_400
        values = rng.uniform(0, 20, count).round(0 if repeats else 3)
        metric = Metric(
            unit="km", baseline=0.0, target=100.0, direction="increase",
            aggregate="sum" if cumulative else "last",
        )  # fmt: skip
        posts.append(Goalpost(metric, times, values, now_ts - 100 * 86_400, now_ts + 50 * 86_400))
    together = forecast_many(posts, now_ts)
    alone = [
        forecast_arrays(p.metric, p.times, p.values, p.start_ts, p.target_ts, now_ts) for p in posts
    ]
    for one, other in zip(together, alone, strict=True):
        assert one.status == other.status and one.current == other.current
        if other.trend is None:
            assert one.trend is None
        else:
            assert one.trend is not None
            assert one.trend.slope == pytest.approx(other.trend.slope, rel=1e-9, abs=1e-12)
            assert one.trend.slope_low == pytest.approx(other.trend.slope_low, abs=1e-12)
            assert one.trend.slope_high == pytest.approx(other.trend.slope_high, abs=1e-12)
            assert one.trend.intercept == pytest.approx(other.trend.intercept, abs=1e-9)
