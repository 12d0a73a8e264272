"""What psi knows is personal: the deny-list the redactor always replaces.

From the user's memory: the people conversations were held with (named
speakers), the subjects of facts other than the user, and the proper names
inside current facts (capitalised phrases such as "Anna Keller", "Acme GmbH",
"Lindenstraße 12"), which is where employers, places and addresses end up.
Every value found here is redacted wherever it appears in an outgoing payload,
whether or not a recogniser would have caught it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select

if TYPE_CHECKING:
    from psi.config import Settings

# A run of capitalised words (with an optional house number after a street).
_PROPER = re.compile(r"\b[A-ZÀ-Þ][\w'’-]+(?:\s+(?:[A-ZÀ-Þ][\w'’-]+|\d+[a-z]?))*")
# Capitalised for grammar, not for being a name.
_COMMON = frozenset(
    (
        "I", "I'm", "I've", "I'd", "My", "Me", "We", "Our", "The", "A", "An", "He", "She",
        "They", "It", "His", "Her", "Their", "This", "That", "These", "Those", "User",
        "Assistant", "Psi", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
        "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December",
    )
)  # fmt: skip
_SELF = frozenset({"user", "i", "me", "the user", "assistant", "psi", "local"})


def proper_names(text: str) -> list[str]:
    """Capitalised phrases in `text` that may name someone or something, common words out."""
    found = []
    for match in _PROPER.finditer(text):
        words = match.group(0).split()
        while words and words[0] in _COMMON:
            words = words[1:]
        phrase = " ".join(words)
        if len(phrase) >= 3 and phrase not in _COMMON:
            found.append(phrase)
    return found


def known_values(settings: Settings) -> list[tuple[str, str]]:
    """(value, entity type) pairs from this user's memory, longest first."""
    from psi.store.db import open_store
    from psi.store.models import Fact, MemoryItem

    store = open_store(settings.db_url)
    try:
        user_id = store.ensure_user(settings.user)
        with store.session() as session:
            speakers = session.scalars(
                select(MemoryItem.speaker).where(MemoryItem.user_id == user_id).distinct()
            ).all()
            facts = session.execute(
                select(Fact.subject, Fact.statement).where(
                    Fact.user_id == user_id, Fact.valid_to.is_(None)
                )
            ).all()
    finally:
        store.dispose()
    values: dict[str, str] = {}
    for name in [*speakers, *(subject for subject, _ in facts)]:
        if name and name.strip().casefold() not in _SELF and name.strip() != settings.user:
            values.setdefault(name.strip(), "PERSON")
    for _, statement in facts:
        for phrase in proper_names(statement):
            values.setdefault(phrase, "NAME")
    return sorted(values.items(), key=lambda item: -len(item[0]))
