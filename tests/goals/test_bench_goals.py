"""bench/goals_forecast.py runs and reports both figures; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "goals_forecast.py"


def test_the_goals_bench_runs_on_a_few_goals() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--goals", "8", "--points", "5", "--runs", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("forecast  8 goals x 5 check-ins: median ")
    assert lines[1].startswith("agenda    8 goals x 5 check-ins: median ")
    assert "occurrences due today" in lines[2]
