"""A lease in the database: one holder at a time, for `ttl`, renewed by holding on.

    lease = Lease(store, "scheduler", holder="host:pid:uuid", ttl=timedelta(seconds=90))
    if lease.acquire():        # taken, or renewed by its holder; False while another holds it
        ...                    # the work only one process may do
    lease.release()

Taking and renewing are one conditional UPDATE (holder is me, or the lease has expired),
or an INSERT when no row exists yet, whose primary key lets only one of two racing
processes through. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from psi.clock import Clock, system_clock
from psi.store.db import Store
from psi.store.models import LeaseRow


class Lease:
    def __init__(
        self,
        store: Store,
        name: str,
        *,
        holder: str,
        ttl: timedelta = timedelta(seconds=90),
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.clock = clock

    def acquire(self) -> bool:
        now = self.clock()
        with self.store.session() as session:
            result = session.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.name == self.name,
                    or_(LeaseRow.holder == self.holder, LeaseRow.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            if getattr(result, "rowcount", 0):
                return True
        try:
            with self.store.session() as session:
                if session.get(LeaseRow, self.name) is not None:
                    return False
                session.add(LeaseRow(name=self.name, holder=self.holder,
                                     expires_at=now + self.ttl))  # fmt: skip
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        """Let the lease go now (if this holder has it), so another can take it at once."""
        with self.store.session() as session:
            session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
                .values(expires_at=self.clock() - timedelta(seconds=1))
            )
