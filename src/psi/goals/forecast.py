"""How a goal is going: current value, trend, forecast, habit adherence, sparkline.

A `Metric` says what a goal measures and which way is better; check-ins are
`Point`s. A "last" metric is a level (weight, longest run): its value is the
latest check-in. A "sum" metric is cumulative (books read, km this year): each
check-in adds to the baseline, and its series is the running total.

`forecast` fits a Theil–Sen line (the median of the slopes between every pair
of check-ins, robust to a wrong entry or two) to the series, in value per day,
with the 95% interval of the slope from Kendall's S (Sen 1968, ties counted).
The projection pivots on the fitted value at the last check-in and runs to the
target date; the slope interval gives its low and high. The status, first rule
that applies:

    done             the current value meets the target
    off_track        the target date has passed (the projection is the current value)
    not_enough_data  fewer than two check-in times (a sum metric counts its start)
    on_track         the projection meets the target
    at_risk          only the hopeful end of the interval does
    off_track        otherwise

"Meets" is >= target for a metric to increase, <= for one to decrease.

Habits: `adherence` scores the occurrences of a schedule and
`period_adherence` a "so many times per period" habit, both from completion
times. `sparkline` draws a series in eight block characters.

Every datetime is timezone-aware (naive ones raise ValueError); `now` is
passed in, never read from the clock. Check-ins after `now` are ignored.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from psi.errors import GoalError

Direction = Literal["increase", "decrease"]
Aggregate = Literal["last", "sum"]
Status = Literal["on_track", "at_risk", "off_track", "not_enough_data", "done"]
Floats = npt.NDArray[np.float64]

_DAY = 86400.0
# The two-sided 95% quantile of the standard normal distribution.
_Z_95 = 1.959963984540054
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Metric:
    """What a goal measures: from `baseline` towards `target`, in `unit`."""

    unit: str
    baseline: float
    target: float
    direction: Direction
    aggregate: Aggregate

    def __post_init__(self) -> None:
        if self.direction not in ("increase", "decrease"):
            raise ValueError(f"direction must be 'increase' or 'decrease', not {self.direction!r}")
        if self.aggregate not in ("last", "sum"):
            raise ValueError(f"aggregate must be 'last' or 'sum', not {self.aggregate!r}")
        if not (math.isfinite(self.baseline) and math.isfinite(self.target)):
            raise GoalError(
                f"A goal needs a finite baseline and target, "
                f"not {self.baseline} and {self.target}.",
                hint="Give both as plain numbers.",
            )
        wrong_way = (
            self.target < self.baseline
            if self.direction == "increase"
            else (self.target > self.baseline)
        )
        if wrong_way:
            raise GoalError(
                f"A goal to {self.direction} from {self.baseline:g} to {self.target:g} "
                f"{self.unit} points the wrong way.",
                hint="Swap the direction, or check the baseline and the target.",
            )

    def meets(self, value: float) -> bool:
        """Whether `value` reaches the target."""
        return value >= self.target if self.direction == "increase" else value <= self.target


@dataclass(frozen=True)
class Point:
    """One check-in: the value measured (last) or added (sum) at `at`."""

    at: datetime
    value: float

    def __post_init__(self) -> None:
        _require_aware(self.at, "at")
        if not math.isfinite(self.value):
            raise ValueError(f"a check-in value must be finite, not {self.value}")


@dataclass(frozen=True)
class Trend:
    """A robust straight line through a series, in value per day.

    `intercept` is the fitted value at `origin`; `slope_low` and `slope_high`
    bound the slope at 95%.
    """

    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    origin: datetime

    def at(self, moment: datetime) -> float:
        """The fitted value at `moment`."""
        _require_aware(moment, "moment")
        return self.intercept + self.slope * (moment - self.origin).total_seconds() / _DAY


@dataclass(frozen=True)
class Forecast:
    """Where a goal stands and where it is heading; see the module docstring for `status`.

    `expected_now` is the value a straight line from the baseline at the start
    to the target at the target date gives for `now`. `projected`,
    `projected_low` and `projected_high` are values at the target date (low and
    high as numbers, whichever way the goal points), None without a trend.
    """

    status: Status
    current: float
    percent: float
    expected_now: float
    projected: float | None
    projected_low: float | None
    projected_high: float | None
    trend: Trend | None


@dataclass(frozen=True)
class Adherence:
    """How faithfully a habit was kept.

    `due_count` counts the occurrences (or periods) that are settled: done, or
    over by `now`. The one still open and not yet done is left out, so it
    neither lowers the rate nor breaks the streak. `rate` is None while nothing
    is settled. Streaks count consecutive settled occurrences that were done.
    `missed` holds the positions (in time order, duplicates dropped) of the
    settled occurrences or periods that were not done, for saying which.
    """

    rate: float | None
    current_streak: int
    best_streak: int
    due_count: int
    done_count: int
    missed: tuple[int, ...] = ()


def current_value(metric: Metric, points: Sequence[Point]) -> float:
    """The latest check-in (last) or the baseline plus every check-in (sum).

    With no check-ins, the baseline. Of check-ins at the same moment, the
    later in `points` is the latest.
    """
    if metric.aggregate == "sum":
        return metric.baseline + math.fsum(point.value for point in points)
    if not points:
        return metric.baseline
    latest = max(range(len(points)), key=lambda i: (points[i].at, i))
    return points[latest].value


def percent_complete(metric: Metric, current: float) -> float:
    """How far `current` is from the baseline to the target, in [0, 100]."""
    span = metric.target - metric.baseline
    if span == 0:
        return 100.0 if metric.meets(current) else 0.0
    return min(100.0, max(0.0, 100.0 * (current - metric.baseline) / span))


def series(
    metric: Metric, points: Sequence[Point], *, start: datetime | None = None
) -> list[Point]:
    """The values the metric took, in time order: what `trend` and `sparkline` are given.

    For a last metric, the check-ins sorted by time. For a sum metric, the
    running total after each moment with check-ins, and the baseline at
    `start` when that comes before them (by definition the total then).
    """
    times, values = _series(metric, points, start, None)
    return [
        Point(datetime.fromtimestamp(t, UTC), float(v))
        for t, v in zip(times.tolist(), values.tolist(), strict=True)
    ]


def trend(points: Sequence[Point]) -> Trend | None:
    """The Theil–Sen line through `points` (value over time), or None with < 2 distinct times.

    Give it `series(metric, points)` for a sum metric, so that the line runs
    through the running total rather than the single check-ins.
    """
    if not points:
        return None
    times = np.array([p.at.timestamp() for p in points], dtype=np.float64)
    values = np.array([p.value for p in points], dtype=np.float64)
    order = np.argsort(times, kind="stable")
    return _trend(times[order], values[order])


def forecast(
    metric: Metric,
    points: Sequence[Point],
    start: datetime,
    target_date: datetime,
    now: datetime,
) -> Forecast:
    """The goal's status, current value and projection at `target_date` (see the module doc)."""
    for moment, name in ((start, "start"), (target_date, "target_date"), (now, "now")):
        _require_aware(moment, name)
    if target_date <= start:
        raise GoalError(
            f"The target date {target_date:%Y-%m-%d} is not after the start {start:%Y-%m-%d}.",
            hint="Set a target date later than the start.",
        )
    times, values = _arrays(points)
    return forecast_arrays(
        metric, times, values, start.timestamp(), target_date.timestamp(), now.timestamp()
    )


def forecast_arrays(
    metric: Metric,
    times: Floats,
    values: Floats,
    start_ts: float,
    target_ts: float,
    now_ts: float,
) -> Forecast:
    """`forecast` over check-ins as arrays: POSIX seconds (any order) and values. For
    callers that read many goals' check-ins at once; the moments are not checked."""
    times, values = _series_of(metric, times, values, start_ts, now_ts)
    fitted = Fitted(None, None, None)
    if times.size:
        fitted = Fitted(float(values[-1]), float(times[-1]), _trend(times, values))
    return forecast_fitted(metric, fitted, start_ts, target_ts, now_ts)


@dataclass(frozen=True)
class Goalpost:
    """One goal for `forecast_many`: its metric, check-ins as arrays, start and target
    date as POSIX seconds."""

    metric: Metric
    times: Floats
    values: Floats
    start_ts: float
    target_ts: float


@dataclass(frozen=True)
class Fitted:
    """All a forecast needs of a goal's check-ins: the series' last value and time (None
    for an empty series) and its Theil–Sen line. Everything else in a `Forecast` comes
    from the metric, the dates and `now`, so a caller may keep a `Fitted` until the
    check-ins change (psi.goals.progress does)."""

    current: float | None
    last_ts: float | None
    trend: Trend | None


def fit_many(goals: Sequence[Goalpost], now_ts: float) -> list[Fitted]:
    """Each goal's series (check-ins to `now_ts`) reduced to a `Fitted`. Series of equal
    length have their lines fitted together: one sort of every pair's slope per group
    instead of a round of numpy calls per goal, with the same figures."""
    series = [_series_of(g.metric, g.times, g.values, g.start_ts, now_ts) for g in goals]
    fits: list[Trend | None] = [None] * len(goals)
    by_size: dict[int, list[int]] = {}
    for index, (times, _) in enumerate(series):
        by_size.setdefault(times.size, []).append(index)
    for size, members in by_size.items():
        if size < 2:
            continue
        times = np.stack([series[i][0] for i in members])
        values = np.stack([series[i][1] for i in members])
        for index, fit in zip(members, _trends(times, values), strict=True):
            fits[index] = fit
    return [
        Fitted(float(v[-1]), float(t[-1]), fit) if t.size else Fitted(None, None, None)
        for (t, v), fit in zip(series, fits, strict=True)
    ]


def forecast_many(goals: Sequence[Goalpost], now_ts: float) -> list[Forecast]:
    """`forecast_arrays` for many goals at once (fitted together by `fit_many`)."""
    return [
        forecast_fitted(g.metric, fitted, g.start_ts, g.target_ts, now_ts)
        for g, fitted in zip(goals, fit_many(goals, now_ts), strict=True)
    ]


def forecast_fitted(
    metric: Metric, fitted: Fitted, start_ts: float, target_ts: float, now_ts: float
) -> Forecast:
    """The forecast of a goal whose series `fitted` describes (see the module doc)."""
    current = metric.baseline if fitted.current is None else fitted.current
    share = min(1.0, max(0.0, (now_ts - start_ts) / (target_ts - start_ts)))
    expected_now = metric.baseline + share * (metric.target - metric.baseline)
    percent = percent_complete(metric, current)
    status, projected, low, high = _project(metric, current, fitted, now_ts, target_ts)
    return Forecast(status, current, percent, expected_now, projected, low, high, fitted.trend)


def _project(
    metric: Metric, current: float, fitted: Fitted, now_ts: float, target_ts: float
) -> tuple[Status, float | None, float | None, float | None]:
    """(status, projected, low, high) at the target date, by the rule in the module doc."""
    if metric.meets(current):
        return "done", current, current, current
    if now_ts >= target_ts:
        return "off_track", current, current, current
    fit = fitted.trend
    if fit is None or fitted.last_ts is None:
        return "not_enough_data", None, None, None
    last_ts = fitted.last_ts
    pivot = fit.intercept + fit.slope * (last_ts - fit.origin.timestamp()) / _DAY
    days = (target_ts - last_ts) / _DAY
    projected = pivot + fit.slope * days
    one, other = pivot + fit.slope_low * days, pivot + fit.slope_high * days
    low, high = min(one, other), max(one, other)
    if metric.meets(projected):
        return "on_track", projected, low, high
    if metric.meets(high if metric.direction == "increase" else low):
        return "at_risk", projected, low, high
    return "off_track", projected, low, high


def adherence(due: Sequence[datetime], done: Sequence[datetime], now: datetime) -> Adherence:
    """Adherence of a habit over its scheduled occurrences `due` (from `occurrences`).

    A completion counts for the occurrence whose period holds it. An
    occurrence's period starts at the beginning of its local day (in the zone
    of its datetime) and runs to the start of the next occurrence's period;
    the last one stays open. Two occurrences on the same local day split it
    half-way between their times. So for a daily habit at 07:00 the period is
    the local day, and a Monday-Wednesday-Friday habit done on Tuesday counts
    for Monday. A period with several completions is done once. Pass the
    occurrences up to `now` at least; completions after `now` are ignored.
    """
    for moment in due:
        _require_aware(moment, "due")
    ordered = sorted(set(due))
    boundaries: list[datetime] = []
    for i, moment in enumerate(ordered):
        day_start = _local_midnight(moment)
        if i and ordered[i - 1] >= day_start:
            day_start = ordered[i - 1] + (moment - ordered[i - 1]) / 2
        boundaries.append(day_start)
    return period_adherence(done, boundaries, 1, now)


def period_adherence(
    done: Sequence[datetime],
    period_starts: Sequence[datetime],
    target_per_period: int,
    now: datetime,
) -> Adherence:
    """Adherence of a "`target_per_period` times per period" habit (3x a week, say).

    Period i runs from `period_starts[i]` to the next start; the last stays
    open. A period is done once it holds `target_per_period` completions and
    counts as missed once it is over without them. Completions before the
    first start or after `now` are ignored.
    """
    _require_aware(now, "now")
    if target_per_period < 1:
        raise ValueError(f"target_per_period must be at least 1, not {target_per_period}")
    for moment in (*done, *period_starts):
        _require_aware(moment, "done and period_starts")
    starts = sorted(set(period_starts))
    counts = [0] * len(starts)
    for moment in done:
        index = bisect_right(starts, moment) - 1
        if index >= 0 and moment <= now:
            counts[index] += 1
    met = [count >= target_per_period for count in counts]
    settled = [met[i] or (i + 1 < len(starts) and starts[i + 1] <= now) for i in range(len(starts))]

    due_count = done_count = run = best = 0
    missed: list[int] = []
    for index, (is_settled, is_met) in enumerate(zip(settled, met, strict=True)):
        if not is_settled:
            continue
        due_count += 1
        done_count += is_met
        run = run + 1 if is_met else 0
        best = max(best, run)
        if not is_met:
            missed.append(index)
    rate = done_count / due_count if due_count else None
    return Adherence(rate, run, best, due_count, done_count, tuple(missed))


def sparkline(values: Sequence[float], width: int) -> str:
    """`values` as `width` block characters (▁ lowest to █ highest); "" for no values.

    More values than `width` are averaged in equal runs; fewer are repeated.
    A constant series is a row of ▄.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, not {width}")
    if not values:
        return ""
    data = np.asarray(values, dtype=np.float64)
    if not np.isfinite(data).all():
        raise ValueError("sparkline values must be finite")
    n = data.size
    edges = np.arange(width) * n // width
    if n > width:
        sizes = np.diff(np.append(edges, n))
        data = np.add.reduceat(data, edges) / sizes
    else:
        data = data[edges]
    low, high = float(data.min()), float(data.max())
    if high - low <= 1e-12 * max(abs(low), abs(high), 1.0):
        return _BARS[3] * width
    levels = np.rint((data - low) / (high - low) * (len(_BARS) - 1)).astype(int)
    return "".join(_BARS[level] for level in levels)


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {moment!r}")


def _local_midnight(moment: datetime) -> datetime:
    """The start of `moment`'s local day; a midnight that does not exist moves forward."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return midnight.astimezone(UTC).astimezone(moment.tzinfo)


def _arrays(points: Sequence[Point]) -> tuple[Floats, Floats]:
    times = np.array([p.at.timestamp() for p in points], dtype=np.float64)
    values = np.array([p.value for p in points], dtype=np.float64)
    return times, values


def _series(
    metric: Metric, points: Sequence[Point], start: datetime | None, until: float | None
) -> tuple[Floats, Floats]:
    """(POSIX seconds, values) of the metric's series in time order, check-ins to `until`."""
    times, values = _arrays(points)
    return _series_of(metric, times, values, None if start is None else start.timestamp(), until)


def _series_of(
    metric: Metric, times: Floats, values: Floats, start_ts: float | None, until: float | None
) -> tuple[Floats, Floats]:
    n = times.size
    if n > 1 and (times[1:] < times[:-1]).any():
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
    if until is not None and n and times[-1] > until:
        keep = times <= until
        times, values = times[keep], values[keep]
    if metric.aggregate == "last":
        return times, values
    values = metric.baseline + np.cumsum(values)
    if times.size:
        last_at_time = np.append(times[1:] != times[:-1], True)
        times, values = times[last_at_time], values[last_at_time]
    if (
        start_ts is not None
        and (until is None or start_ts <= until)
        and (not times.size or start_ts < times[0])
    ):
        times = np.concatenate(([start_ts], times))
        values = np.concatenate(([metric.baseline], values))
    return times, values


def _trend(times: Floats, values: Floats) -> Trend | None:
    """Theil–Sen over (days since the first time, value); None with < 2 distinct times.

    `times` (POSIX seconds) must be in order.
    """
    if times.size < 2:
        return None
    origin = float(times[0])
    days = (times - origin) / _DAY
    later, earlier = _pairs(days.size)
    dx = days.take(later) - days.take(earlier)
    dy = values.take(later) - values.take(earlier)
    distinct_times = bool(dx.min() > 0)
    if distinct_times:
        slopes = dy / dx
    else:  # pairs at the same time have no slope
        apart = dx > 0
        slopes = dy[apart] / dx[apart]
    m = slopes.size
    if m == 0:
        return None
    # Sen's interval: order statistics (m -/+ z * sd(S)) / 2 of the sorted slopes,
    # where S is Kendall's statistic, its variance less the ties in either axis.
    n = days.size
    time_ties = 0 if distinct_times else _tie_term(days)
    variance = n * (n - 1) * (2 * n + 5) - time_ties - _tie_term(values)
    reach = _Z_95 * math.sqrt(max(variance, 0) / 18.0)
    low_rank = min(max(round((m - reach) / 2) - 1, 0), m - 1)
    high_rank = min(max(round((m + reach) / 2), 0), m - 1)
    ranks = sorted({low_rank, high_rank, (m - 1) // 2, m // 2})
    ordered = np.partition(slopes, ranks)
    slope = float(ordered[(m - 1) // 2] + ordered[m // 2]) / 2
    residuals = values - slope * days
    k = n // 2
    middle = np.partition(residuals, sorted({(n - 1) // 2, k}))
    intercept = float(middle[(n - 1) // 2] + middle[k]) / 2
    return Trend(
        slope=slope,
        slope_low=float(ordered[low_rank]),
        slope_high=float(ordered[high_rank]),
        intercept=intercept,
        origin=datetime.fromtimestamp(origin, UTC),
    )


def _trends(times: npt.NDArray[np.float64], values: npt.NDArray[np.float64]) -> list[Trend | None]:
    """`_trend` for each row of equal-length series (rows of times in order). Rows with
    two check-ins at the same time go through `_trend` itself."""
    rows, n = times.shape
    fits: list[Trend | None] = [None] * rows
    origin = times[:, 0]
    days = (times - origin[:, None]) / _DAY
    later, earlier = _pairs(n)
    dx = days[:, later] - days[:, earlier]
    apart = (dx > 0).all(axis=1)
    for row in np.flatnonzero(~apart).tolist():
        fits[row] = _trend(times[row], values[row])
    keep = np.flatnonzero(apart)
    if keep.size == 0:
        return fits
    days, values, origin = days[keep], values[keep], origin[keep]
    slopes = np.sort((values[:, later] - values[:, earlier]) / dx[keep], axis=1)
    m = slopes.shape[1]
    ties = np.zeros(keep.size)
    ordered_values = np.sort(values, axis=1)
    tied = (ordered_values[:, 1:] == ordered_values[:, :-1]).any(axis=1)
    for index in np.flatnonzero(tied).tolist():
        ties[index] = _tie_term(values[index])
    variance = n * (n - 1) * (2 * n + 5) - ties
    reach = _Z_95 * np.sqrt(np.maximum(variance, 0) / 18.0)
    low_rank = np.clip(np.round((m - reach) / 2).astype(np.int64) - 1, 0, m - 1)
    high_rank = np.clip(np.round((m + reach) / 2).astype(np.int64), 0, m - 1)
    picked = np.arange(keep.size)
    slope = (slopes[:, (m - 1) // 2] + slopes[:, m // 2]) / 2
    intercept = np.median(values - slope[:, None] * days, axis=1)
    for i, row in enumerate(keep.tolist()):
        fits[row] = Trend(
            slope=float(slope[i]),
            slope_low=float(slopes[picked[i], low_rank[i]]),
            slope_high=float(slopes[picked[i], high_rank[i]]),
            intercept=float(intercept[i]),
            origin=datetime.fromtimestamp(float(origin[i]), UTC),
        )
    return fits


@lru_cache(maxsize=256)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices (later, earlier) of every pair of n items."""
    earlier, later = np.triu_indices(n, 1)
    return later, earlier


def _tie_term(values: Floats) -> int:
    """Sum of t(t-1)(2t+5) over groups of t equal values (0 without ties)."""
    ordered = np.sort(values)
    if not (ordered[1:] == ordered[:-1]).any():
        return 0
    _, counts = np.unique(ordered, return_counts=True)
    return int((counts * (counts - 1) * (2 * counts + 5)).sum())
