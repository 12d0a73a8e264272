"""The profile: a short "about you" text, built from current facts, editable by the user.

    profiles = Profiles(store, user_id=user_id)
    profiles.get().text          # the user's edit if they made one, else built from facts
    profiles.set("About you: ...")   # the user's own words win from now on
    profiles.rebuild()           # drop the edit; back to the text built from facts
    profile_block(profiles.get().text)   # for the system message, every turn

The built text is deterministic: facts of the profile, preference and
relationship categories, one line per category, the user's own (explicit,
edited) facts first and then the newest, cut at PROFILE_WORDS words. It is
not stored: building it is one query, and a stored copy would be one more
place where forgotten text could linger. Only an edit is stored (table
`profiles`), and forgetting a fact scrubs its sentences from that edit.

Left out: summarising with a model (a model could rephrase; this text must
say only what the facts say).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from psi.clock import Clock
from psi.errors import InputError
from psi.llm.base import prompt_text
from psi.memory.facts import Category, Fact, Facts
from psi.memory.wording import sentence
from psi.store.db import Store
from psi.store.models import UserProfile

PROFILE_WORDS = 120
MAX_PROFILE_CHARS = 4000
SECTIONS: tuple[tuple[Category, str], ...] = (
    ("profile", "About you"),
    ("preference", "Likes and dislikes"),
    ("relationship", "People in your life"),
)


def build_profile(facts: Iterable[Fact], *, words: int = PROFILE_WORDS) -> str:
    """The "about you" text for current `facts`: one "Heading: ..." line per category."""
    wanted = {category for category, _heading in SECTIONS}
    candidates = [f for f in facts if f.current and f.category in wanted]
    # The user's own words first, then the newest; ids break ties, so the text is stable.
    candidates.sort(key=lambda f: (f.origin == "extracted", -f.valid_from.timestamp(), -f.id))
    chosen: dict[str, list[Fact]] = {}
    used = 0
    for fact in candidates:
        cost = len(fact.statement.split())
        if used + cost > words:
            break
        chosen.setdefault(fact.category, []).append(fact)
        used += cost
    lines = []
    for category, heading in SECTIONS:
        if category in chosen:
            newest_first = sorted(
                chosen[category], key=lambda f: (-f.valid_from.timestamp(), -f.id)
            )
            lines.append(f"{heading}: " + " ".join(sentence(f.statement) for f in newest_first))
    return "\n".join(lines)


def profile_block(text: str) -> str | None:
    """The profile as a block for the system message, or None when there is nothing to say."""
    if not text.strip():
        return None
    return f"{prompt_text('profile.md').strip()}\n{text.strip()}"


@dataclass(frozen=True)
class Profile:
    text: str
    edited_by_user: bool
    updated_at: datetime | None  # of the edit, or of the newest fact in a built profile


_SECTIONED = [category for category, _ in SECTIONS]

# The user's own profile text, if they wrote one (built once: every reply asks).
_EDITED = select(UserProfile.text, UserProfile.updated_at).where(
    UserProfile.user_id == bindparam("user")
)


def _profile_of(current: Sequence[Fact]) -> Profile:
    """The profile built from `current` facts (of the sections' categories), newest first."""
    newest = max((f.updated_at for f in current), default=None)
    return Profile(build_profile(current), edited_by_user=False, updated_at=newest)


class Profiles:
    """One user's profile. Every query filters by `user_id`."""

    def __init__(self, store: Store, *, user_id: int, clock: Clock | None = None) -> None:
        self.store = store
        self.user_id = user_id
        self.clock = clock or store.clock
        self.facts = Facts(store, user_id=user_id, clock=self.clock)

    def get(
        self, *, current: Sequence[Fact] | None = None, connection: Connection | None = None
    ) -> Profile:
        """The user's own text, or the profile built from the current facts (`current`,
        when they were read already); read in `connection`'s transaction when given."""
        if connection is None:
            with self.store.transaction() as own:
                return self.get(current=current, connection=own)
        edited = connection.execute(_EDITED, {"user": self.user_id}).first()
        if edited is not None:
            return Profile(edited.text, edited_by_user=True, updated_at=edited.updated_at)
        if current is not None:
            return _profile_of([f for f in current if f.category in _SECTIONED])
        return self._built(connection)

    def built(self) -> Profile:
        """The profile built from current facts, whether or not the user edited theirs."""
        with self.store.transaction() as connection:
            return self._built(connection)

    def _built(self, connection: Connection) -> Profile:
        return _profile_of(self.facts.current(categories=_SECTIONED, connection=connection))

    def set(self, text: str) -> Profile:
        """Store the user's own profile text; it is what psi sees from now on."""
        text = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if len(text) > MAX_PROFILE_CHARS:
            raise InputError(
                f"The profile is {len(text):,} characters; the limit is {MAX_PROFILE_CHARS:,}.",
                hint="Keep it short: it goes into every conversation.",
            )
        now = self.clock()
        with self.store.session() as session:
            row = session.scalar(select(UserProfile).where(UserProfile.user_id == self.user_id))
            if row is None:
                session.add(UserProfile(user_id=self.user_id, text=text, updated_at=now))
            else:
                row.text, row.updated_at = text, now
        return Profile(text, edited_by_user=True, updated_at=now)

    def rebuild(self) -> Profile:
        """Drop the user's edit; the profile is built from current facts again."""
        with self.store.session() as session:
            session.execute(delete(UserProfile).where(UserProfile.user_id == self.user_id))
        return self.built()
