"""Semantic facts: what psi holds true about the user and the people in their life.

    facts = Facts(store, user_id=user_id)
    facts.add_all(extract_facts(model, messages))   # psi.memory.extraction; merges, supersedes
    facts.add(explicit_draft("my dog is Rex", at=said_at))
    facts.current()                                 # what is true now, newest first
    facts.history(fact_id)                          # every version of it, oldest first
    facts.forget(fact_id)                           # gone, with every version

How facts change, in rules simple enough to tell the user (the word rules
are in psi.memory.wording):
- Duplicate: the same subject and polarity and (nearly) the same content words
  as a current fact. It is merged into that fact: sources joined, the highest
  confidence kept, no second row.
- Slot: a fact with a `key` ("home_city", "dog_name") holds one value at a
  time. The facts of one subject and key, ordered by when they were said,
  form a chain: each is valid until the next one starts and points to it with
  `superseded_by`; the last is current. A fact said before the current one
  (an old conversation imported late) goes into the history behind it.
- Negation: without a key, "You don't eat meat" supersedes "You eat meat"
  (the same words but for a not, no or never).
Forgetting deletes a fact with every version of it and scrubs them from an
edited profile. The messages it was learnt from stay: they are episodic
memory's, forgotten through psi.memory.control (`source_message_ids` says which).

Left out: inference across facts, and embeddings of facts (search is by words).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Select, bindparam, delete, select
from sqlalchemy.orm import Session

from psi.clock import Clock
from psi.errors import InputError, NotFound
from psi.memory.wording import (
    best_matches,
    content_stems,
    contradicts,
    is_duplicate,
    overlap,
    scrub,
    sentence,
    subject_key,
    words,
)
from psi.store.db import Store
from psi.store.models import Fact as FactRow
from psi.store.models import UserProfile

Category = Literal["profile", "preference", "relationship", "event", "plan"]
Origin = Literal["extracted", "explicit", "edited"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
MAX_STATEMENT_CHARS = 300

# Keys that name a kind of fact rather than a slot: were they kept, every "likes"
# fact would supersede the one before.
_GENERIC_KEYS = {
    *CATEGORIES,
    *(c + "s" for c in CATEGORIES),
    *words(
        """fact facts info information statement note notes other misc general detail details
        hobby hobbies interest interests like likes dislike dislikes activity activities
        thing things none null"""
    ),
}


def normalise_key(key: str | None) -> str | None:
    """A slot name in snake_case; None for empty or generic keys ("fact", "likes")."""
    if not key:
        return None
    cleaned = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")[:100]
    return None if not cleaned or cleaned in _GENERIC_KEYS else cleaned


@dataclass(frozen=True)
class FactDraft:
    """A fact before it is stored. `valid_from` is when it was said (None: when stored)."""

    subject: str
    statement: str
    category: Category
    key: str | None = None
    event_at: datetime | None = None
    confidence: float = 1.0
    source_message_ids: tuple[int, ...] = ()
    valid_from: datetime | None = None
    origin: Origin = "extracted"


@dataclass(frozen=True)
class Fact:
    id: int
    subject: str
    key: str | None
    statement: str
    category: Category
    event_at: datetime | None
    confidence: float
    source_message_ids: tuple[int, ...]
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: int | None
    origin: Origin
    created_at: datetime
    updated_at: datetime

    @property
    def current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True)
class Change:
    """What `Facts.add` did: "added" a current fact, "merged" into an existing one, or
    filed it as "history" behind a newer fact; `replaced` are the facts it superseded."""

    action: Literal["added", "merged", "history"]
    fact: Fact
    replaced: tuple[Fact, ...] = ()


@cache
def _current(by_category: bool) -> Select[Any]:
    """What is true now for :user, newest first (:categories only, `by_category`); built
    once, since every reply asks it."""
    query = select(*FactRow.__table__.columns).where(
        FactRow.user_id == bindparam("user"), FactRow.valid_to.is_(None)
    )
    if by_category:
        query = query.where(FactRow.category.in_(bindparam("categories", expanding=True)))
    return query.order_by(FactRow.valid_from.desc(), FactRow.id.desc())


def _fact(row: Any) -> Fact:
    """A fact from its stored row (an ORM object or a plain row of its columns)."""
    return Fact(
        id=row.id,
        subject=row.subject,
        key=row.key,
        statement=row.statement,
        category=row.category,  # checked on the way in
        event_at=row.event_at,
        confidence=row.confidence,
        source_message_ids=tuple(row.source_message_ids or ()),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        superseded_by=row.superseded_by,
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# -- the repository ------------------------------------------------------------------


class Facts:
    """One user's facts. Every query filters by `user_id`."""

    def __init__(self, store: Store, *, user_id: int, clock: Clock | None = None) -> None:
        self.store = store
        self.user_id = user_id
        self.clock = clock or store.clock

    # -- reading -----------------------------------------------------------------

    def _rows(self, session: Session) -> list[FactRow]:
        return list(
            session.scalars(
                select(FactRow).where(FactRow.user_id == self.user_id).order_by(FactRow.id)
            )
        )

    def all(self) -> list[Fact]:
        """Every fact, current and history, in the order they were stored."""
        with self.store.session() as session:
            return [_fact(row) for row in self._rows(session)]

    def current(
        self,
        *,
        categories: Iterable[Category] | None = None,
        connection: Connection | None = None,
    ) -> list[Fact]:
        """What is true now, newest first (read in `connection`'s transaction when given)."""
        params: dict[str, Any] = {"user": self.user_id}
        if categories is not None:
            params["categories"] = list(categories)
        query = _current(categories is not None)
        if connection is not None:
            return [_fact(row) for row in connection.execute(query, params)]
        with self.store.transaction() as own:
            return [_fact(row) for row in own.execute(query, params)]

    def get(self, fact_id: int) -> Fact:
        with self.store.session() as session:
            return _fact(self._get(session, fact_id))

    def _get(self, session: Session, fact_id: int) -> FactRow:
        row = session.scalar(
            select(FactRow).where(FactRow.id == fact_id, FactRow.user_id == self.user_id)
        )
        if row is None:
            raise NotFound(f"No fact {fact_id}.", hint="`psi memory show` lists facts and ids.")
        return row

    def history(self, fact_id: int) -> list[Fact]:
        """Every version of a fact (those it superseded and those that superseded it), oldest
        first; the current one, if any, is last."""
        with self.store.session() as session:
            rows = self._rows(session)
            start = self._get(session, fact_id)
            return [_fact(r) for r in sorted(_chain(rows, start), key=_order)]

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        history: bool = False,
        among: Sequence[Fact] | None = None,
    ) -> list[Fact]:
        """Facts sharing words with `query`, the most words first, then the newest; among
        the current ones (or `among`, when they were read already), or all with `history`."""
        wanted = content_stems(query)
        if not wanted:
            return []
        scored = []
        facts = self.all() if history else among if among is not None else self.current()
        for fact in facts:
            have = content_stems(
                f"{fact.subject} {fact.statement} {(fact.key or '')}".replace("_", " ")
            )
            shared = len(wanted & have)
            if shared:
                scored.append(
                    (-shared, -overlap(wanted, have), -fact.valid_from.timestamp(), -fact.id, fact)
                )
        return [item[-1] for item in sorted(scored, key=lambda s: s[:4])[:limit]]

    # -- writing -----------------------------------------------------------------

    def add(self, draft: FactDraft) -> Change:
        return self.add_all([draft])[0]

    def add_all(self, drafts: Iterable[FactDraft]) -> list[Change]:
        """Store drafts in one transaction: merge duplicates, supersede old values."""
        now = self.clock()
        with self.store.session() as session:
            rows = self._rows(session)
            return [self._add(session, rows, draft, now) for draft in drafts]

    def _add(
        self, session: Session, rows: list[FactRow], draft: FactDraft, now: datetime
    ) -> Change:
        said_at = draft.valid_from or now
        twin = next((r for r in rows if r.valid_to is None and is_duplicate(r, draft)), None)
        if twin is None and draft.source_message_ids:
            # The same words from the same message again (a re-run): one row, wherever it is.
            sources = set(draft.source_message_ids)
            twin = next(
                (r for r in rows if sources & set(r.source_message_ids) and is_duplicate(r, draft)),
                None,
            )
        if twin is not None:
            twin.source_message_ids = list(
                dict.fromkeys([*twin.source_message_ids, *draft.source_message_ids])
            )
            twin.confidence = max(twin.confidence, draft.confidence)
            twin.event_at = twin.event_at or draft.event_at
            twin.key = twin.key or normalise_key(draft.key)
            twin.valid_from = min(twin.valid_from, said_at)
            if draft.origin == "explicit" and twin.origin == "extracted":
                twin.origin = "explicit"
            twin.updated_at = now
            replaced = _settle(rows, twin, now)
            session.flush()
            return Change("merged", _fact(twin), replaced)
        row = FactRow(
            user_id=self.user_id,
            subject=draft.subject.strip() or "user",
            key=normalise_key(draft.key),
            statement=draft.statement,
            category=draft.category,
            event_at=draft.event_at,
            confidence=draft.confidence,
            source_message_ids=list(draft.source_message_ids),
            valid_from=said_at,
            valid_to=None,
            superseded_by=None,
            origin=draft.origin,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        rows.append(row)
        replaced = _settle(rows, row, now)
        session.flush()
        return Change("added" if row.valid_to is None else "history", _fact(row), replaced)

    def edit(
        self, fact_id: int, statement: str | None = None, *, category: Category | None = None
    ) -> Fact:
        """The user's correction, in place: the fact becomes theirs (origin "edited")."""
        if category is not None and category not in CATEGORIES:
            raise InputError(
                f"Unknown category {category!r}.", hint=f"Use one of: {', '.join(CATEGORIES)}."
            )
        with self.store.session() as session:
            row = self._get(session, fact_id)
            if statement is not None:
                text = sentence(statement)
                if not content_stems(text) or len(text) > MAX_STATEMENT_CHARS:
                    raise InputError(
                        "A fact needs a statement of one sentence.",
                        hint=f"Write at most {MAX_STATEMENT_CHARS} characters.",
                    )
                row.statement = text
            if category is not None:
                row.category = category
            row.origin = "edited"
            row.confidence = 1.0
            row.updated_at = self.clock()
            session.flush()
            return _fact(row)

    # -- forgetting ----------------------------------------------------------------

    def forget(self, fact_id: int) -> int:
        """Delete a fact and every version of it; returns rows deleted."""
        with self.store.session() as session:
            rows = self._rows(session)
            return self._delete(session, _chain(rows, self._get(session, fact_id)))

    def forget_matching(self, description: str) -> list[Fact]:
        """Forget the current facts that "forget that <description>" names; returns them."""
        with self.store.session() as session:
            rows = self._rows(session)
            by_id = {r.id: r for r in rows}
            named = best_matches(description, [_fact(r) for r in rows if r.valid_to is None])
            doomed: dict[int, FactRow] = {}
            for fact in named:
                doomed.update((r.id, r) for r in _chain(rows, by_id[fact.id]))
            self._delete(session, list(doomed.values()))
            return named

    def forget_derived(self, message_ids: Iterable[int]) -> int:
        """Delete the facts (with their versions) learnt from any of these messages, for when
        the messages themselves are forgotten. Returns rows deleted."""
        wanted = set(message_ids)
        with self.store.session() as session:
            rows = self._rows(session)
            doomed: dict[int, FactRow] = {}
            for row in rows:
                if wanted & set(row.source_message_ids):
                    doomed.update((r.id, r) for r in _chain(rows, row))
            return self._delete(session, list(doomed.values()))

    def forget_all(self) -> int:
        """Delete every fact of the user and their edited profile. Returns facts deleted."""
        with self.store.session() as session:
            result = session.execute(delete(FactRow).where(FactRow.user_id == self.user_id))
            session.execute(delete(UserProfile).where(UserProfile.user_id == self.user_id))
            return int(getattr(result, "rowcount", 0) or 0)

    def _delete(self, session: Session, doomed: Sequence[FactRow]) -> int:
        if not doomed:
            return 0
        ids = [r.id for r in doomed]
        statements = [r.statement for r in doomed]
        session.execute(delete(FactRow).where(FactRow.user_id == self.user_id, FactRow.id.in_(ids)))
        profile = session.scalar(select(UserProfile).where(UserProfile.user_id == self.user_id))
        if profile is not None:
            cleaned = scrub(profile.text, statements)
            if cleaned != profile.text:
                profile.text = cleaned
                profile.updated_at = self.clock()
        return len(ids)

    # -- export and import ---------------------------------------------------------

    def dump(self) -> list[dict[str, Any]]:
        """Every fact as JSON-ready data, links and provenance included."""
        return [
            {
                "id": f.id,
                "subject": f.subject,
                "key": f.key,
                "statement": f.statement,
                "category": f.category,
                "event_at": f.event_at.isoformat() if f.event_at else None,
                "confidence": f.confidence,
                "source_message_ids": list(f.source_message_ids),
                "valid_from": f.valid_from.isoformat(),
                "valid_to": f.valid_to.isoformat() if f.valid_to else None,
                "superseded_by": f.superseded_by,
                "origin": f.origin,
                "created_at": f.created_at.isoformat(),
                "updated_at": f.updated_at.isoformat(),
            }
            for f in self.all()
        ]

    @staticmethod
    def check(records: Sequence[Mapping[str, Any]]) -> None:
        """Raise InputError if `load` would refuse these records; writes nothing."""
        for number, record in enumerate(records, start=1):
            _record(record, number)

    def load(
        self, records: Sequence[Mapping[str, Any]], *, message_ids: Mapping[int, int] | None = None
    ) -> int:
        """Add facts from `dump()` output. Ids are new; links follow them. With `message_ids`
        (old id -> new id, from importing the conversations) provenance follows too, and
        sources not in it are dropped. Checked whole before anything is written."""
        parsed = [_record(r, n) for n, r in enumerate(records, start=1)]
        with self.store.session() as session:
            new_ids: dict[int, int] = {}
            rows = []
            for record in parsed:
                old_id = record.pop("id")
                sources = record["source_message_ids"]
                if message_ids is not None:
                    record["source_message_ids"] = [
                        message_ids[m] for m in sources if m in message_ids
                    ]
                link = record.pop("superseded_by")
                row = FactRow(user_id=self.user_id, superseded_by=None, **record)
                session.add(row)
                session.flush()
                new_ids[old_id] = row.id
                rows.append((row, link))
            for row, link in rows:
                row.superseded_by = new_ids.get(link) if link is not None else None
            return len(rows)


def _record(raw: Mapping[str, Any], number: int) -> dict[str, Any]:
    where = f"fact {number}"

    def moment(name: str, *, optional: bool = False) -> datetime | None:
        value = raw.get(name)
        if value is None and optional:
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise InputError(f"{where}: {name} {value!r} is not an ISO-8601 time.") from None
        if parsed.tzinfo is None:
            raise InputError(f"{where}: {name} {value!r} has no timezone.")
        return parsed

    if not isinstance(raw, Mapping) or not isinstance(raw.get("statement"), str):
        raise InputError(f"{where} has no statement.")
    if not isinstance(raw.get("id"), int):
        raise InputError(f"{where} has no numeric id.")
    if raw.get("superseded_by") is not None and not isinstance(raw["superseded_by"], int):
        raise InputError(f"{where}: superseded_by must be a fact id or null.")
    if raw.get("category") not in CATEGORIES:
        raise InputError(f"{where}: unknown category {raw.get('category')!r}.")
    if raw.get("origin") not in get_args(Origin):
        raise InputError(f"{where}: unknown origin {raw.get('origin')!r}.")
    sources = raw.get("source_message_ids") or []
    if not isinstance(sources, list) or not all(isinstance(m, int) for m in sources):
        raise InputError(f"{where}: source_message_ids must be a list of numbers.")
    return {
        "id": raw["id"],
        "subject": str(raw.get("subject") or "user"),
        "key": normalise_key(raw.get("key")),
        "statement": raw["statement"],
        "category": raw["category"],
        "event_at": moment("event_at", optional=True),
        "confidence": float(raw.get("confidence", 1.0)),
        "source_message_ids": sources,
        "valid_from": moment("valid_from"),
        "valid_to": moment("valid_to", optional=True),
        "superseded_by": raw.get("superseded_by"),
        "origin": raw["origin"],
        "created_at": moment("created_at"),
        "updated_at": moment("updated_at"),
    }


def _order(row: FactRow | Fact) -> tuple[datetime, int]:
    return (row.valid_from, row.id)


def _chain(rows: Sequence[FactRow], start: FactRow) -> list[FactRow]:
    """`start` and every row linked to it by `superseded_by`, either way."""
    by_id = {r.id: r for r in rows}
    before: dict[int, list[FactRow]] = {}
    for row in rows:
        if row.superseded_by is not None:
            before.setdefault(row.superseded_by, []).append(row)
    seen: dict[int, FactRow] = {}
    todo = [start]
    while todo:
        row = todo.pop()
        if row.id in seen:
            continue
        seen[row.id] = row
        if row.superseded_by is not None and row.superseded_by in by_id:
            todo.append(by_id[row.superseded_by])
        todo.extend(before.get(row.id, []))
    return list(seen.values())


def _settle(rows: Sequence[FactRow], changed: FactRow, now: datetime) -> tuple[Fact, ...]:
    """Re-apply the supersession rules around `changed`; returns the facts it replaced."""
    if changed.key is not None:
        slot = sorted(
            (
                r
                for r in rows
                if r.key == changed.key and subject_key(r.subject) == subject_key(changed.subject)
            ),
            key=_order,
        )
    else:
        opposite = [
            r for r in rows if r is not changed and r.valid_to is None and contradicts(r, changed)
        ]
        if not opposite:
            return ()
        slot = sorted([*opposite, changed], key=_order)
    was_current = {r.id for r in slot if r.valid_to is None}
    for older, newer in itertools.pairwise(slot):
        if older.superseded_by != newer.id or older.valid_to != newer.valid_from:
            older.valid_to, older.superseded_by, older.updated_at = newer.valid_from, newer.id, now
    last = slot[-1]
    if last.valid_to is not None and changed.key is not None:
        last.valid_to, last.superseded_by, last.updated_at = None, None, now
    return tuple(
        _fact(r)
        for r in slot
        if r.id in was_current and r.valid_to is not None and r is not changed
    )
