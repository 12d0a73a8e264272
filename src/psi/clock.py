"""Injectable time: logic takes `now` from a Clock, never from datetime.now()."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware in UTC."""
    return datetime.now(UTC)


class FrozenClock:
    """A clock for tests and replays: returns `at`, moved on by `advance()`."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
