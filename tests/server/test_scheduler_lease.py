"""The goal scheduler runs in one process of several: a lease in the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from psi.clock import FrozenClock
from psi.config import load_settings
from psi.server.app import create_app
from psi.server.scheduler import ServerScheduler
from psi.store.db import Store
from psi.store.lease import Lease

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL


def test_one_holder_at_a_time_and_a_takeover_after_expiry(store: Store) -> None:
    clock = FrozenClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    ttl = timedelta(seconds=90)
    first = Lease(store, "scheduler", holder="a", ttl=ttl, clock=clock)
    second = Lease(store, "scheduler", holder="b", ttl=ttl, clock=clock)
    assert first.acquire() and not second.acquire()
    clock.advance(seconds=60)
    assert first.acquire()  # renewed by its holder
    clock.advance(seconds=80)
    assert not second.acquire()  # renewed 80 s ago: still held
    clock.advance(seconds=11)
    assert second.acquire() and not first.acquire()  # a holder that stopped renewing
    second.release()
    assert first.acquire()


def test_of_two_servers_on_one_database_only_one_runs_the_passes(store: Store) -> None:
    settings = load_settings()
    store.ensure_user("ada")
    store.ensure_user("bo")
    a, b = ServerScheduler(settings, store), ServerScheduler(settings, store)
    rounds = [(a.tick(), b.tick()) for _ in range(3)]
    assert rounds == [(True, False)] * 3 and (a.passes, b.passes) == (3, 0)
    a.stop()  # stopping lets go of the lease
    assert b.tick() and b.passes == 1


def test_psi_serve_runs_the_scheduler_while_it_is_up(store: Store) -> None:
    app = create_app(load_settings(), store=store, schedule=True)
    with TestClient(app):
        runner = app.state.scheduler
        assert runner is not None
        for _ in range(200):
            if runner.passes:
                break
            time.sleep(0.01)
        assert runner.passes >= 1
    assert not runner._thread.is_alive()
