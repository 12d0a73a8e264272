"""Running outreach on a schedule: one pass (`Outreach.run_once`) and the job that repeats it.

    outreach = Outreach(settings, store, user_id=1, echo=show)
    outreach.run_once(now)             # plan what is due since the last run, deliver it
    scheduler = start_scheduler(outreach)   # a catch-up pass now, then one a minute
    ...
    stop_scheduler(scheduler)

A pass remembers when it ran (`scheduler_state`, per user), so the next one,
minutes or days later, knows what it missed; psi.goals.outreach decides what
of that is still worth sending. Everything a pass needs comes in through
`now`, so tests run it across days without waiting.

The scheduler is APScheduler 3 with its job in psi's own database
(SQLAlchemyJobStore on the store's engine; APScheduler creates its
`apscheduler_jobs` table). A persisted job names its function by import path,
so the job is `run_job(job_id)`, which finds the live `Outreach` registered
under that id in this process. One process per database should run the
scheduler: `psi daemon` now, `psi serve` later, through `start_scheduler`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from psi.clock import Clock, system_clock
from psi.config import Settings
from psi.goals.delivery import Echo, NoticeView, deliver, made_since, webhook_client
from psi.goals.outreach import due_notices, window_start
from psi.goals.store import Goals
from psi.store.db import Store
from psi.store.models import SchedulerState

if TYPE_CHECKING:
    import httpx2
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

JOB = "outreach"
# A pass late by more than this (the process was suspended) is left to the next one,
# which catches up by itself.
MISFIRE_GRACE_SECONDS = 120

# The live Outreach of each scheduled job in this process (see the module docstring).
_RUNNING: dict[str, Outreach] = {}


class Outreach:
    """One user's outreach: each pass plans what fell due since the last and delivers it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        user_id: int,
        clock: Clock = system_clock,
        echo: Echo | None = None,
        egress: httpx2.Client | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.user_id = user_id
        self.zone = settings.zone()
        self.clock = clock
        self.echo = echo
        self._egress = egress
        self._own_egress = False

    @property
    def job_id(self) -> str:
        return f"{JOB}:{self.user_id}"

    def run_once(self, now: datetime | None = None) -> list[NoticeView]:
        """Plan what is due at `now` (default: the clock) since the last pass, deliver it,
        and remember this pass. Returns the notices made."""
        now = now or self.clock()
        last = self.last_run()
        goals = Goals(self.store, user_id=self.user_id, zone=self.zone, clock=lambda: now)
        # The cap and deferred reviews look back to the day before the window.
        since = window_start(now, last) - timedelta(days=2)
        made = made_since(self.store, self.user_id, since)
        sent = []
        for draft in due_notices(goals, self.settings.goals, now, last, made=made):
            notice = deliver(
                draft,
                self.settings,
                self.store,
                user_id=self.user_id,
                now=now,
                egress=self._client(),
                echo=self.echo,
            )
            if notice is not None:
                sent.append(notice)
        self._remember(now)
        return sent

    def last_run(self) -> datetime | None:
        with self.store.session() as session:
            return session.scalar(
                select(SchedulerState.last_run).where(
                    SchedulerState.user_id == self.user_id, SchedulerState.job == JOB
                )
            )

    def close(self) -> None:
        if self._own_egress and self._egress is not None:
            self._egress.close()
            self._egress, self._own_egress = None, False

    def _client(self) -> httpx2.Client | None:
        if self._egress is None and self.settings.goals.webhook_url:
            self._egress, self._own_egress = webhook_client(self.settings), True
        return self._egress

    def _remember(self, now: datetime) -> None:
        with self.store.session() as session:
            row = session.scalar(
                select(SchedulerState).where(
                    SchedulerState.user_id == self.user_id, SchedulerState.job == JOB
                )
            )
            if row is None:
                session.add(SchedulerState(user_id=self.user_id, job=JOB, last_run=now))
            elif now > row.last_run:
                row.last_run = now


def run_job(job_id: str) -> None:
    """What the scheduled job calls: a pass of the Outreach registered under `job_id`."""
    outreach = _RUNNING.get(job_id)
    if outreach is None:
        log.warning("no outreach registered for job %s in this process", job_id)
        return
    try:
        outreach.run_once()
    except Exception:
        # The next pass tries again and catches up; a bad minute must not end the daemon.
        log.exception("outreach pass failed")


def build_scheduler(outreach: Outreach) -> BaseScheduler:
    """A background scheduler (not started) whose one job, persisted in psi's database,
    runs a pass of `outreach` at the start of every minute."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=outreach.store.engine)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        # Minutes are the same in UTC as anywhere; the passes themselves use the user's zone.
        timezone="UTC",
    )
    _RUNNING[outreach.job_id] = outreach
    scheduler.add_job(
        run_job,
        CronTrigger(second=0, timezone="UTC"),
        args=[outreach.job_id],
        id=outreach.job_id,
        name="psi outreach",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
    )
    return scheduler


def start_scheduler(outreach: Outreach) -> BaseScheduler:
    """Catch up once on what was missed while psi was not running, then start the job."""
    outreach.run_once()
    scheduler = build_scheduler(outreach)
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BaseScheduler, outreach: Outreach) -> None:
    """Stop without waiting for a pass in progress (the next start catches up)."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
    _RUNNING.pop(outreach.job_id, None)


__all__ = ["Outreach", "build_scheduler", "run_job", "start_scheduler", "stop_scheduler"]
