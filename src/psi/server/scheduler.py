"""The goal scheduler inside `psi serve`: in exactly one process, however many serve.

    runner = ServerScheduler(settings, store)
    runner.start()      # a thread: every `every`, take or renew the lease, then one
                        # outreach pass per user if this process holds it
    runner.stop()

Several workers (or servers) on one database each run this; the lease
(psi.store.lease, "scheduler") lets one of them do the passes, and when that one stops
or dies, another takes over within the lease's time. A pass that ran twice would still
not send twice: each notice has a unique key per user (psi.goals.delivery).
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import uuid
from datetime import timedelta

from sqlalchemy import select

from psi.config import Settings
from psi.store.db import Store
from psi.store.lease import Lease
from psi.store.models import User

log = logging.getLogger(__name__)


class ServerScheduler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        every: float = 60.0,
        ttl: timedelta = timedelta(seconds=150),
    ) -> None:
        self.settings = settings
        self.store = store
        self.every = every
        holder = f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = Lease(store, "scheduler", holder=holder, ttl=ttl)
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="psi-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.lease.release()

    def tick(self) -> bool:
        """One round: the passes for every user if this process holds the lease."""
        from psi.goals.scheduler import Outreach

        if not self.lease.acquire():
            return False
        with self.store.session() as session:
            users = list(session.scalars(select(User.id)))
        for user_id in users:
            outreach = Outreach(self.settings, self.store, user_id=user_id)
            try:
                outreach.run_once()
            except Exception:  # one user's failure must not stop the others' reminders
                log.exception("outreach pass failed for user %s", user_id)
            finally:
                outreach.close()
        self.passes += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler round failed")
            self._stop.wait(self.every)
