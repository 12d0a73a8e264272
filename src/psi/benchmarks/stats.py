"""Summaries of timing samples (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def p90(samples: Sequence[float]) -> float:
    """The 90th percentile by nearest rank, so it is always one of the samples.

    With fewer than ten samples that is the slowest one, which is what a
    reader of "p90 of 5 runs" should expect rather than an interpolated value.
    """
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank (always one of the samples)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
