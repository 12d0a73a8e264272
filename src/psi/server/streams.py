"""Replies in flight, which the server stops from outside: at the request's deadline, and
when `psi serve` shuts down. However a reply ends, what arrived is stored.

    live = streams.start(turn, deadline=time.monotonic() + 300)
    for piece in live:         # the turn's text; RequestTimeout once past the deadline
        ...
    live.finish()              # stored, marked interrupted, unless it was stored whole
    streams.end(live)
    streams.stop_all()         # at shutdown: every reply still running is stored, interrupted

A turn is advanced under its own lock, so `stop_all` (on another thread) never stores a
turn while a thread is inside it; the deadline and a stop are checked between pieces, so
a model that sends nothing for a long time is bounded by its profile's `timeout`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from psi.errors import PsiError, RequestTimeout

# How long `stop_all` waits for a thread to come out of a turn before it goes on.
STOP_WAIT = 30.0


class LiveTurn:
    def __init__(self, turn: Any, *, deadline: float | None, seconds: float | None) -> None:
        self.turn = turn
        self.deadline = deadline
        self.seconds = seconds
        self._pieces = iter(turn)
        # Re-entrant: storing a turn can run the garbage collector, which may close the
        # response's generator on this same thread, and its `finally` calls finish().
        self._lock = threading.RLock()
        self._stop: PsiError | None = None
        self._finished = False

    def __iter__(self) -> LiveTurn:
        return self

    def __next__(self) -> str:
        with self._lock:
            late = self.deadline is not None and time.monotonic() >= self.deadline
            if self._stop is None and late:
                self._stop = timed_out(self.seconds)
            if self._stop is None:
                piece: str = next(self._pieces)
            if self._stop is not None:  # past the deadline, or stopped while it waited
                self._finish()
                raise self._stop
            return piece

    def stop(self, reason: PsiError) -> None:
        self._stop = self._stop or reason

    def finish(self, wait: float = -1) -> None:
        """Store what arrived, marked interrupted, unless the turn is stored already."""
        if self._lock.acquire(timeout=wait):
            try:
                self._finish()
            finally:
                self._lock.release()

    def _finish(self) -> None:
        if self._finished:  # once, however many ways a reply ends at the same time
            return
        self._finished = True
        if self.turn.message_id is None:
            self.turn.interrupt()
        self._pieces.close()


class LiveTurns:
    def __init__(self) -> None:
        self._live: set[LiveTurn] = set()
        self._lock = threading.Lock()

    def start(self, turn: Any, *, deadline: float | None, seconds: float | None) -> LiveTurn:
        live = LiveTurn(turn, deadline=deadline, seconds=seconds)
        with self._lock:
            self._live.add(live)
        return live

    def end(self, live: LiveTurn) -> None:
        with self._lock:
            self._live.discard(live)

    def stop_all(self) -> int:
        """Stop every reply still running and store it as far as it came; returns how many."""
        reason = PsiError(
            "psi serve is shutting down; the reply so far is kept, marked interrupted.",
            hint="Send the message again when psi serve is back.",
        )
        with self._lock:
            live = list(self._live)
        for each in live:
            each.stop(reason)
        for each in live:
            each.finish(wait=STOP_WAIT)
            self.end(each)
        return len(live)


def timed_out(seconds: float | None) -> RequestTimeout:
    limit = f" ({seconds:g} s)" if seconds is not None else ""
    return RequestTimeout(
        f"The request took longer than server.request_timeout{limit}; psi stopped it. "
        "A reply cut short is kept as far as it came, marked interrupted.",
        hint="Ask for less, or raise server.request_timeout.",
    )
