"""Time psi.goals for a busy user: forecasts and today's agenda over many goals.

    .venv/bin/python bench/goals_forecast.py [--goals 1000] [--points 50] [--runs 7]

Builds `--goals` synthetic goals (half level metrics, half cumulative, each
with `--points` noisy check-ins over 100 days in UTC and a schedule rule), then times,
in-process and after one warm-up run, `forecast` over every goal and
`occurrences` of every rule over one local day. Prints the median and best of
`--runs` runs in milliseconds; the target is <= 100 ms for both together at
1,000 goals x 50 check-ins.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from psi.goals.forecast import Metric, Point, forecast
from psi.goals.recurrence import occurrences, parse_rule

RULES = ("FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=DAILY;BYHOUR=7,19", "FREQ=MONTHLY")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 1, 5, 7, tzinfo=zone)
    now = start + timedelta(days=100)
    target_date = start + timedelta(days=180)
    # Check-ins come back from the store in UTC; zoned ones cost more to read
    # (datetime.timestamp() consults the zone), about 15 ms more here.
    checkins_start = start.astimezone(UTC)
    rng = np.random.default_rng(7)
    goals = []
    for i in range(args.goals):
        cumulative = i % 2 == 1
        metric = Metric(
            unit="km" if cumulative else "kg",
            baseline=0.0 if cumulative else 90.0,
            target=300.0 if cumulative else 80.0,
            direction="increase" if cumulative else "decrease",
            aggregate="sum" if cumulative else "last",
        )
        days = np.sort(rng.uniform(0, 100, args.points))
        if cumulative:
            values = rng.uniform(0.5, 3.5, args.points)
        else:
            values = 90 - rng.uniform(0.02, 0.08) * days + rng.normal(0, 0.4, args.points)
        points = [
            Point(checkins_start + timedelta(days=float(d)), float(v))
            for d, v in zip(days, values, strict=True)
        ]
        goals.append((metric, points, parse_rule(RULES[i % len(RULES)], start)))

    day_start = now.replace(hour=0, minute=0)
    day_end = day_start + timedelta(days=1)

    def run_forecasts() -> dict[str, int]:
        statuses: dict[str, int] = {}
        for metric, points, _ in goals:
            status = forecast(metric, points, start, target_date, now).status
            statuses[status] = statuses.get(status, 0) + 1
        return statuses

    def run_agenda() -> int:
        return sum(len(occurrences(rule, day_start, day_end)) for _, _, rule in goals)

    statuses, due_today = run_forecasts(), run_agenda()
    for name, work in (("forecast", run_forecasts), ("agenda", run_agenda)):
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            work()
            times.append((time.perf_counter() - began) * 1000)
        print(
            f"{name:9} {args.goals} goals x {args.points} check-ins: "
            f"median {statistics.median(times):.1f} ms, best {min(times):.1f} ms"
        )
    print(f"statuses {dict(sorted(statuses.items()))}, occurrences due today {due_today}")


if __name__ == "__main__":
    main()
