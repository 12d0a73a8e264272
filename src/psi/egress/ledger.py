"""The ledger of what left the machine: one row per request the egress point let out.

    ledger = Ledger(store, user_id=1)
    row_id = ledger.record(host="api.openai.com", method="POST", path="/v1/chat/completions",
                           purpose="chat", model="gpt-5", payload=body, redactions={...})
    ledger.charge([row_id], tokens_in=812, tokens_out=95, cost_usd=0.0031)

Every row keeps the payload's size and SHA-256, so a user can check a copy of
what was sent against it; the payload itself only when they opted in
(`egress.keep_payloads`). `psi egress log | show ID | stats` reads it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from psi.clock import Clock, system_clock
from psi.errors import NotFound
from psi.store.db import Store
from psi.store.models import EgressRecord


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    host: str
    method: str
    path: str
    purpose: str
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: float | None
    redactions: dict[str, int]
    payload_bytes: int
    payload_sha256: str
    payload: str | None


@dataclass(frozen=True)
class Totals:
    """What left, summed: over everything and per destination host."""

    requests: int = 0
    payload_bytes: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    redactions: dict[str, int] = field(default_factory=dict)
    by_host: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)


class Ledger:
    def __init__(self, store: Store, *, user_id: int, clock: Clock = system_clock) -> None:
        self.store = store
        self.user_id = user_id
        self.clock = clock

    def record(
        self,
        *,
        host: str,
        method: str,
        path: str,
        purpose: str,
        payload: bytes,
        model: str | None = None,
        redactions: dict[str, int] | None = None,
        keep_payload: bool = False,
    ) -> int:
        """A row for a request about to leave; returns its id."""
        row = EgressRecord(
            user_id=self.user_id,
            at=self.clock(),
            host=host,
            method=method,
            path=path[:500],
            purpose=purpose[:200],
            model=model,
            redactions=dict(redactions or {}),
            payload_bytes=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload.decode("utf-8", errors="replace") if keep_payload else None,
        )
        with self.store.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def charge(
        self, ids: list[int], *, tokens_in: int, tokens_out: int, cost_usd: float | None
    ) -> None:
        """Put a finished call's usage on the last of its rows (earlier ones were retries
        whose answers were not used)."""
        if not ids:
            return
        with self.store.session() as session:
            session.execute(
                update(EgressRecord)
                .where(EgressRecord.id == ids[-1], EgressRecord.user_id == self.user_id)
                .values(tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost_usd)
            )

    def recent(self, limit: int = 20, *, offset: int = 0) -> list[Entry]:
        query = (
            select(EgressRecord)
            .where(EgressRecord.user_id == self.user_id)
            .order_by(EgressRecord.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.store.session() as session:
            return [_entry(row) for row in session.scalars(query)]

    def get(self, entry_id: int) -> Entry:
        with self.store.session() as session:
            row = session.get(EgressRecord, entry_id)
            if row is None or row.user_id != self.user_id:
                raise NotFound(
                    f"No egress record {entry_id}.", hint="psi egress log lists the records."
                )
            return _entry(row)

    def totals(self, *, since: datetime | None = None) -> Totals:
        query = select(EgressRecord).where(EgressRecord.user_id == self.user_id)
        if since is not None:
            query = query.where(EgressRecord.at >= since)
        redactions: Counter[str] = Counter()
        hosts: Counter[str] = Counter()
        models: Counter[str] = Counter()
        requests = size = tokens_in = tokens_out = 0
        cost = 0.0
        with self.store.session() as session:
            for row in session.scalars(query):
                requests += 1
                size += row.payload_bytes
                tokens_in += row.tokens_in or 0
                tokens_out += row.tokens_out or 0
                cost += row.cost_usd or 0.0
                redactions.update(row.redactions)
                hosts[row.host] += 1
                if row.model:
                    models[row.model] += 1
        return Totals(
            requests, size, tokens_in, tokens_out, cost, dict(redactions), dict(hosts), dict(models)
        )

    def spent(self, *, since: datetime) -> float:
        """US dollars charged since `since` (for the monthly budget)."""
        query = select(func.coalesce(func.sum(EgressRecord.cost_usd), 0.0)).where(
            EgressRecord.user_id == self.user_id, EgressRecord.at >= since
        )
        with self.store.session() as session:
            return float(session.scalar(query) or 0.0)


def _entry(row: Any) -> Entry:
    return Entry(
        id=row.id,
        at=row.at,
        host=row.host,
        method=row.method,
        path=row.path,
        purpose=row.purpose,
        model=row.model,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        cost_usd=row.cost_usd,
        redactions=dict(row.redactions),
        payload_bytes=row.payload_bytes,
        payload_sha256=row.payload_sha256,
        payload=row.payload,
    )
