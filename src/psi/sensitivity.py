"""How sensitive a piece of context is: the label routing decides by (pure, no I/O).

    public  <  personal  <  sensitive

Every span of an assembled prompt carries a level. Its source gives the
floor: what the user wrote, what psi remembers of them, their goals,
check-ins and documents are personal; tool output and psi's own system
prompt are public. Personal data found in a span can only raise it:
names, emails and phone numbers make it personal; health, finances,
identifiers (cards, IBAN, SSN, passport and other national numbers),
precise location (a street address) and private details of other people
make it sensitive. A prompt is as sensitive as its most sensitive span.

This module does not find personal data; it takes the entity types a
detector reports (Presidio's names: PERSON, CREDIT_CARD, ...) and says what
they weigh. `topic_level` is the one check it makes itself: a short list of
unambiguous health and money words, so "my diagnosis" or "my mortgage" is
sensitive even when no entity was found. It only ever raises a level, so a
false hit keeps data home rather than sending it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Level(IntEnum):
    public = 0
    personal = 1
    sensitive = 2

    def __str__(self) -> str:
        return self.name


class Source(StrEnum):
    """Where a span of context came from."""

    user_message = "user_message"
    memory = "memory"
    goal = "goal"
    checkin = "checkin"
    document = "document"
    tool_output = "tool_output"
    system_prompt = "system_prompt"


SOURCE_LEVEL: dict[Source, Level] = {
    Source.user_message: Level.personal,
    Source.memory: Level.personal,
    Source.goal: Level.personal,
    Source.checkin: Level.personal,
    Source.document: Level.personal,
    Source.tool_output: Level.public,
    Source.system_prompt: Level.public,
}

# Entity types (Presidio's names, and a detector's own such as STREET_ADDRESS) that
# weigh less than sensitive. Every other type is sensitive: cards, IBAN, SSN and
# other national numbers, IP addresses, street addresses, NRP (origin, religion,
# politics), MEDICAL_* and the private details of third parties.
_PUBLIC = frozenset({"DATE_TIME", "ORGANIZATION"})
_PERSONAL = frozenset({"PERSON", "NAME", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION", "URL"})


def entity_level(entity_type: str) -> Level:
    """The level a detected entity raises its span to. A type not listed above counts as
    sensitive, so one psi has not met yet is kept home rather than sent out."""
    kind = entity_type.strip().upper()
    if kind in _PUBLIC:
        return Level.public
    if kind in _PERSONAL:
        return Level.personal
    return Level.sensitive


# Words that speak of one's health or money beyond doubt (not "diagnose" or "debt",
# which programmers say of code every day).
_TOPICS = re.compile(
    r"\b("
    r"diagnosed with|diagnosis|prescription|medications?|therapist|psychiatrist"
    r"|antidepressants?|chemotherapy|pregnant|pregnancy|miscarriage|hiv|cancer|diabetes"
    r"|depression|blood pressure|blood tests?"
    r"|salary|mortgage|overdraft|bankrupt|bankruptcy|credit score|tax returns?|bank account"
    r"|payslips?|net worth|loan"
    r")\b",
    re.IGNORECASE,
)


def topic_level(text: str) -> Level:
    """Sensitive when `text` speaks of health or money in so many words, else public."""
    return Level.sensitive if _TOPICS.search(text) else Level.public


@dataclass(frozen=True)
class Span:
    """A piece of context, where it came from, and how sensitive it is."""

    text: str
    source: Source
    level: Level

    @classmethod
    def of(cls, text: str, source: Source, entities: Iterable[str] = ()) -> Span:
        """A span at its source's level, raised by the entity types found in it and by
        its topic."""
        levels = [SOURCE_LEVEL[source], topic_level(text), *map(entity_level, entities)]
        return cls(text, source, max(levels))


def level_of(spans: Iterable[Span]) -> Level:
    """The most sensitive span's level; public for none."""
    return max((span.level for span in spans), default=Level.public)
