"""The user's commitments elsewhere as busy blocks, for planning to keep clear of.

    busy_between(store, user_id, start, end) -> [Busy(summary="Team meeting", ...), ...]

`psi calendar import` (psi.goals.calendar) fills the `commitments` table from
the user's calendar files. A recurring commitment is expanded by
psi.goals.recurrence on its zone's wall time, as habits are, so a 09:00
meeting in Berlin is 09:00 in winter and in summer; the occurrences its
calendar cancelled (EXDATE) or moved (a moved one is a commitment of its own)
are left out. Every occurrence lasts as long as the first; all-day ones last
whole local days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from psi.goals.recurrence import Rule, occurrences, parse_rule
from psi.store.db import Store
from psi.store.models import Commitment


@dataclass(frozen=True)
class Busy:
    """One block of busy time: [starts_at, ends_at), UTC."""

    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    all_day: bool


def busy_between(store: Store, user_id: int, start: datetime, end: datetime) -> list[Busy]:
    """Every busy block of the user that overlaps [start, end), sorted by start.

    A block of no length (an event with a start and no end) counts when it
    starts inside the window.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("busy_between takes timezone-aware start and end")
    if end <= start:
        return []
    mine = select(Commitment).where(Commitment.user_id == user_id, Commitment.starts_at < end)
    with store.session() as session:
        once = list(
            session.scalars(
                mine.where(
                    Commitment.rule.is_(None),
                    (Commitment.ends_at > start) | (Commitment.starts_at >= start),
                )
            )
        )
        recurring = list(session.scalars(mine.where(Commitment.rule.is_not(None))))
    blocks = [
        Busy(
            uid=row.uid,
            summary=row.summary,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            all_day=row.all_day,
        )
        for row in once
    ]
    for row in recurring:
        blocks.extend(_expand(row, start, end))
    return sorted(blocks, key=lambda block: (block.starts_at, block.ends_at, block.uid))


def commitment_rule(row: Commitment) -> Rule:
    """The rule of a recurring commitment, anchored at its start in its zone."""
    assert row.rule is not None
    return parse_rule(row.rule, row.starts_at.astimezone(ZoneInfo(row.zone)))


def _expand(row: Commitment, start: datetime, end: datetime) -> list[Busy]:
    zone = ZoneInfo(row.zone)
    rule = commitment_rule(row)
    cancelled = {datetime.fromisoformat(moment) for moment in row.exdates}
    days = (row.ends_at.astimezone(zone).date() - row.starts_at.astimezone(zone).date()).days
    length = row.ends_at - row.starts_at
    # Occurrences that began before the window may still run into it.
    lookback = timedelta(days=days + 1) if row.all_day else length
    found = []
    for moment in occurrences(rule, start - lookback, end):
        if moment in cancelled:
            continue
        if row.all_day:
            last_day = moment.astimezone(zone).date() + timedelta(days=days)
            finish = datetime.combine(last_day, time(0), tzinfo=zone)
        else:
            finish = moment + length
        if finish > start or moment >= start:
            found.append(
                Busy(
                    uid=row.uid,
                    summary=row.summary,
                    starts_at=moment.astimezone(UTC),
                    ends_at=finish.astimezone(UTC),
                    all_day=row.all_day,
                )
            )
    return found


__all__ = ["Busy", "busy_between", "commitment_rule"]
