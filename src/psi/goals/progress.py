"""Each active goal's forecast and latest check-in, for agendas, fitted once per change.

    progress = goal_progress(goals, active_goals, now)
    progress[goal_id].forecast.status     # "on_track", ...

A forecast needs every value a goal has logged and the slope between every pair
of them (Theil–Sen): for a thousand goals with fifty check-ins each, the bulk of
an agenda's time. Yet the fit (psi.goals.forecast.Fitted) changes only when the
check-ins, the metric or the start change; the rest of a forecast follows from
the dates and `now` in microseconds. So the fit is kept in `goal_trends` under a
key naming what it came from:

    v1 : count : newest id : sum : latest time | aggregate : baseline : start

The check-in part comes from one grouped read of an index
(`Goals.check_in_digest`); a goal whose key differs, or that has no kept fit, is
fitted again from its check-ins and kept. A new check-in, a deleted one or a
changed value changes its goal's key. What does not: moving a check-in in time
without making it the latest; nothing in psi edits a check-in in place.

A fit is kept only once it cannot change with time: when no check-in lies after
`now` and the goal has started (a cumulative goal's series begins at its start).
Keeping is best effort; a database that will not take the write (locked,
read-only) costs a re-fit next time, never a wrong or missing figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from psi.goals.forecast import Fitted, Forecast, Goalpost, fit_many, forecast_fitted
from psi.goals.store import Goals
from psi.goals.views import Digest, GoalView

# Bump when fitting changes, so fits kept by an older psi are fitted again.
FIT_VERSION = 1
_EMPTY = np.zeros(0)


@dataclass(frozen=True)
class Progress:
    """`forecast` is None for a goal without a metric; `last_check_in` is the latest
    logged value's time, None before the first."""

    forecast: Forecast | None
    last_check_in: datetime | None


def goal_progress(goals: Goals, active: Sequence[GoalView], now: datetime) -> dict[int, Progress]:
    """Progress of each goal in `active`, by id (see the module doc)."""
    now_ts = now.timestamp()
    digest = goals.check_in_digest()
    kept = goals.trends()
    keys: dict[int, str] = {}
    fits: dict[int, Fitted] = {}
    stale: list[GoalView] = []
    for goal in active:
        if goal.metric is None:
            continue
        keys[goal.id] = fit_key(goal, digest.get(goal.id))
        have = kept.get(goal.id)
        if have is not None and have[0] == keys[goal.id] and _settled(goal, digest, now_ts):
            fits[goal.id] = have[1]
        else:
            stale.append(goal)
    if stale:
        table = goals.check_in_table([g.id for g in stale if g.id in digest])
        posts = [
            Goalpost(
                g.metric,
                *table.values.get(g.id, (_EMPTY, _EMPTY)),
                g.starts_at.timestamp(),
                g.target_date.timestamp(),
            )
            for g in stale
            if g.metric is not None
        ]
        fresh = dict(zip([g.id for g in stale], fit_many(posts, now_ts), strict=True))
        fits.update(fresh)
        goals.keep_trends(
            {g.id: (keys[g.id], fresh[g.id]) for g in stale if _settled(g, digest, now_ts)}
        )
    progress = {}
    for goal in active:
        brief = digest.get(goal.id)
        last = None if brief is None else datetime.fromtimestamp(brief.last_ts, UTC)
        forecast = None
        if goal.metric is not None:
            forecast = forecast_fitted(
                goal.metric,
                fits[goal.id],
                goal.starts_at.timestamp(),
                goal.target_date.timestamp(),
                now_ts,
            )
        progress[goal.id] = Progress(forecast, last)
    return progress


def fit_key(goal: GoalView, brief: Digest | None) -> str:
    """What a goal's fit came from (the module doc's key)."""
    metric = goal.metric
    assert metric is not None
    logged = "0"
    if brief is not None:
        logged = f"{brief.count}:{brief.last_id}:{brief.total!r}:{brief.last_ts!r}"
    start = goal.starts_at.timestamp()
    return f"v{FIT_VERSION}:{logged}|{metric.aggregate}:{metric.baseline!r}:{start!r}"


def _settled(goal: GoalView, digest: dict[int, Digest], now_ts: float) -> bool:
    """Whether the goal's fit can no longer change with time alone."""
    brief = digest.get(goal.id)
    return goal.starts_at.timestamp() <= now_ts and (brief is None or brief.last_ts <= now_ts)
