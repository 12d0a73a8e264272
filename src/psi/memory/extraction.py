"""How facts come to be: the user's explicit commands, and extraction by a model.

    parse_explicit("Remember that my dog is called Rex")   # Explicit("remember", "my dog ...")
    explicit_draft("my dog is called Rex", at=said_at)     # "Your dog is called Rex."
    extract_facts(model, messages)                         # validated FactDrafts

Extraction asks the model for JSON (grammar-constrained on llama.cpp) and
trusts none of it. A fact is kept only if its statement is short and not
empty, its category is known, its confidence is at least MIN_CONFIDENCE, it
cites only messages it was given, at least one of them the user's, and those
messages support it: at least half of its content words, every name in it,
and its subject appear there. A small model that invents adds nothing rather
than garbage. Relative dates ("last Saturday") are resolved against the time
of the message that said them, so an old conversation imported today still
dates its events right.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from psi.errors import BadModelOutput, InputError
from psi.llm.base import ChatModel, prompt_text
from psi.llm.types import ChatOptions, Message
from psi.memory.dates import MONTHS, WEEKDAYS, find_date, resolve_date
from psi.memory.facts import (
    CATEGORIES,
    MAX_STATEMENT_CHARS,
    Category,
    FactDraft,
    normalise_key,
)
from psi.memory.wording import (
    IGNORED,
    NEGATIONS,
    content_stems,
    second_person,
    sentence,
    stem,
    subject_key,
    words,
)

MIN_CONFIDENCE = 0.6
MIN_SUPPORT = 0.5  # share of a statement's content words its sources must contain
MAX_FACTS_PER_REPLY = 5
EXTRACTION_TOKENS = 400
BATCH_TOKENS = 1000  # conversation per model call: a few facts per call keeps them focused
MESSAGE_CHARS = 2000

# -- explicit commands -------------------------------------------------------------


class Explicit(NamedTuple):
    action: Literal["remember", "forget"]
    text: str


_ADDRESS = r"^\s*(?:(?:hey|ok|okay)[\s,]+)?(?:psi[\s,:]+)?(?:please[\s,]+)?"
_REMEMBER = re.compile(
    _ADDRESS + r"(?:remember(?:\s+that|\s*:)|don'?t\s+forget\s+that)\s+(?P<text>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_PLEASE_REMEMBER = re.compile(
    r"^\s*(?:psi[\s,:]+)?please\s+remember\s+(?P<text>.+)$", re.IGNORECASE | re.DOTALL
)
_FORGET = re.compile(
    _ADDRESS + r"forget\s+(?:that|what\s+i\s+(?:said|told\s+you)\s+about)\s+(?P<text>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_PLEASE_FORGET = re.compile(
    r"^\s*(?:psi[\s,:]+)?please\s+forget\s+(?P<text>.+)$", re.IGNORECASE | re.DOTALL
)

_COMMANDS: tuple[tuple[Literal["remember", "forget"], re.Pattern[str]], ...] = (
    ("remember", _REMEMBER),
    ("remember", _PLEASE_REMEMBER),
    ("forget", _FORGET),
    ("forget", _PLEASE_FORGET),
)


def parse_explicit(text: str) -> Explicit | None:
    """("remember", statement) or ("forget", description) for a command, else None.

    Commands start the message: "remember that ...", "please remember ...",
    "don't forget that ...", "forget that ...", "forget what I said about ...",
    "please forget ...". A question ("remember that time we ...?") is not a
    command, and neither is "forget about it": forgetting cannot be undone, so
    only unmistakable wording counts."""
    stripped = text.strip()
    if not stripped or stripped.endswith("?"):
        return None
    for action, pattern in _COMMANDS:
        match = pattern.match(stripped)
        if match is None:
            continue
        body = " ".join(match["text"].split()).strip(" .!;:,")
        if body.lower().startswith("that "):
            body = body[5:]
        return Explicit(action, body) if content_stems(body) else None
    return None


_LIKING = content_stems("like love prefer hate enjoy dislike favourite favorite adore")
_PEOPLE = content_stems(
    """wife husband partner boyfriend girlfriend fiance fiancee mother mum mom father dad
    parent sister brother sibling son daughter child children kid baby friend boss colleague
    dog cat pet grandmother grandfather grandma grandpa aunt uncle cousin niece nephew"""
)


def guess_category(statement: str, *, event_at: datetime | None, said_at: datetime) -> Category:
    """A category for a fact the user stated without a model: dated facts are plans or events,
    then likes, then people and pets, else profile."""
    if event_at is not None:
        return "plan" if event_at > said_at else "event"
    stems = content_stems(statement)
    if stems & _LIKING:
        return "preference"
    if stems & _PEOPLE:
        return "relationship"
    return "profile"


def explicit_draft(statement: str, *, at: datetime, message_id: int | None = None) -> FactDraft:
    """The fact for "remember that <statement>", said at `at`."""
    text = second_person(statement)
    if not content_stems(text) or len(text) > MAX_STATEMENT_CHARS:
        raise InputError(
            "That is not something psi can remember as a fact.",
            hint=f"Say it in one sentence of at most {MAX_STATEMENT_CHARS} characters.",
        )
    found = find_date(statement, at)
    event_at = found[0] if found else None
    return FactDraft(
        subject="user",
        statement=text,
        category=guess_category(text, event_at=event_at, said_at=at),
        event_at=event_at,
        confidence=1.0,
        source_message_ids=(message_id,) if message_id is not None else (),
        valid_from=at,
        origin="explicit",
    )


# -- extraction by a model ------------------------------------------------------------


class SourceMessage(Protocol):
    """A stored message (psi.store.conversations.StoredMessage fits)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


# Lenient on purpose: each fact is checked on its own (validate_facts), so one bad
# fact does not throw away the good ones beside it. The schema carries few limits
# because llama.cpp turns each into grammar rules: a maxLength of 300 made the
# embedded model five times slower. Lengths are checked afterwards; only the number
# of facts is capped in the grammar. The docstring is the schema's description,
# which the model reads.
class ExtractedFact(BaseModel):
    """One lasting fact the user stated."""

    subject: str = "user"
    key: str | None = None
    statement: str = ""
    category: str = Field(default="", json_schema_extra={"enum": list(CATEGORIES)})
    when: str | None = None
    confidence: float = 0.0
    source_ids: list[int] = Field(default_factory=list)

    # Required in the schema, so a constrained model writes every field; defaulted when
    # validating, so a model that skips one loses that fact, not the whole reply.
    model_config = ConfigDict(
        json_schema_extra={
            "required": [
                "subject",
                "key",
                "statement",
                "category",
                "when",
                "confidence",
                "source_ids",
            ]
        }
    )


class Extraction(BaseModel):
    facts: list[ExtractedFact] = Field(
        default_factory=list, json_schema_extra={"maxItems": MAX_FACTS_PER_REPLY}
    )

    model_config = ConfigDict(json_schema_extra={"required": ["facts"]})


@dataclass(frozen=True)
class Validated:
    kept: list[FactDraft]
    rejected: list[tuple[ExtractedFact, str]]


_CALENDAR = set(WEEKDAYS) | set(MONTHS)


def _support(statement: str, subject: str, sources: Sequence[SourceMessage]) -> str | None:
    """Why `sources` do not support the statement, or None when they do."""
    said = " ".join(m.content for m in sources)
    said_words = set(words(said))
    said_stems = {stem(w) for w in said_words}
    mine = content_stems(statement)
    if len(mine & said_stems) < MIN_SUPPORT * len(mine):
        return "its words are not in the messages it cites"
    for index, word in enumerate(re.findall(r"[^\W\d_][\w'’-]*", statement)):
        lowered = words(word)
        if index == 0 or not word[0].isupper() or not lowered:
            continue
        name = lowered[0]
        if name in IGNORED or name in _CALENDAR or name in NEGATIONS:
            continue
        if name not in said_words and stem(name) not in said_stems:
            return f"the name {word!r} is not in the messages it cites"
    if subject_key(subject) != "user" and not content_stems(subject) <= said_stems:
        return "its subject is not in the messages it cites"
    return None


def _check(item: ExtractedFact, given: Mapping[int, SourceMessage]) -> FactDraft | str:
    """The draft for one extracted fact, or why it was dropped."""
    statement = sentence(item.statement)
    category = item.category.strip().lower()
    if not content_stems(statement):
        return "empty statement"
    if len(statement) > MAX_STATEMENT_CHARS:
        return "statement too long"
    if category not in CATEGORIES:
        return f"unknown category {item.category!r}"
    if not math.isfinite(item.confidence) or not MIN_CONFIDENCE <= item.confidence <= 1:
        return f"confidence {item.confidence} is not between {MIN_CONFIDENCE} and 1"
    unknown = [i for i in item.source_ids if i not in given]
    if unknown:
        return f"cites messages it was not given: {unknown}"
    cited = [given[i] for i in dict.fromkeys(item.source_ids) if given[i].role == "user"]
    if cited:
        problem = _support(statement, item.subject, cited)
    elif item.source_ids:
        problem = "cites no message of the user's"
    else:
        problem = "no message of the user's supports it"
    if problem is not None:
        # Miscited or uncited: the user's messages that support it on their own, if any do.
        # Provenance is then psi's finding, not the model's claim.
        cited = [
            m
            for m in given.values()
            if m.role == "user" and _support(statement, item.subject, [m]) is None
        ]
        if not cited:
            return problem
    said_at = max(m.created_at for m in cited)
    if item.when:
        # Time words the user did not say are the model's guess (or its prompt's example).
        heard = set(words(" ".join(m.content for m in cited)))
        event_at = resolve_date(item.when, said_at) if set(words(item.when)) <= heard else None
    else:
        found = find_date(statement, said_at)
        event_at = found[0] if found else None
    subject = " ".join(item.subject.split())
    return FactDraft(
        subject="user" if subject_key(subject) == "user" else subject,
        statement=statement,
        category=category,
        key=normalise_key(item.key),
        event_at=event_at,
        confidence=float(item.confidence),
        source_message_ids=tuple(m.id for m in cited),
        valid_from=said_at,
        origin="extracted",
    )


def validate_facts(extraction: Extraction, messages: Sequence[SourceMessage]) -> Validated:
    """Keep the facts that pass every check; say why each of the others was dropped."""
    given = {m.id: m for m in messages}
    kept: list[FactDraft] = []
    rejected: list[tuple[ExtractedFact, str]] = []
    for item in extraction.facts:
        result = _check(item, given)
        if isinstance(result, str):
            rejected.append((item, result))
        else:
            kept.append(result)
    return Validated(kept, rejected)


def _line(message: SourceMessage) -> str:
    speaker = "user" if message.role == "user" else "psi"
    text = " ".join(message.content.split())
    if len(text) > MESSAGE_CHARS:
        text = text[: MESSAGE_CHARS - 1] + "…"
    return f"[{message.id}] {speaker} ({message.created_at:%A %d %B %Y}): {text}"


def _batches(
    messages: Sequence[SourceMessage], model: ChatModel, budget: int
) -> list[list[SourceMessage]]:
    batches: list[list[SourceMessage]] = [[]]
    used = 0
    for message in messages:
        cost = model.count_tokens(_line(message)) + 2
        if batches[-1] and used + cost > budget:
            batches.append([])
            used = 0
        batches[-1].append(message)
        used += cost
    return [batch for batch in batches if any(m.role == "user" for m in batch)]


def extract_facts(
    model: ChatModel,
    messages: Sequence[SourceMessage],
    *,
    options: ChatOptions | None = None,
) -> list[FactDraft]:
    """Facts the user stated in `messages`, validated; relative dates resolved against the
    time of the message that said them.

    Messages go to the model in batches that fit its window. A batch whose reply
    never matches the schema yields nothing (BadModelOutput is absorbed: a small
    model may simply not manage); other model errors (timeouts, a server down)
    are raised for the caller to log or retry. "forget that ..." messages are
    left out, so a fact the user has just withdrawn is not learnt again."""
    usable = [
        m
        for m in messages
        if m.role in ("user", "assistant")
        and m.content.strip()
        and not (m.role == "user" and _is_forget(m.content))
    ]
    instructions = prompt_text("extract_facts.md").strip()
    budget = max(
        256, min(BATCH_TOKENS, model.context_window // 2 - model.count_tokens(instructions))
    )
    drafts: list[FactDraft] = []
    for batch in _batches(usable, model, budget):
        prompt = [
            Message.system(instructions),
            Message.user("\n".join(_line(m) for m in batch)),
        ]
        # One retry: a constrained model that ran out of tokens will mostly do so again.
        ask = options or ChatOptions(
            max_tokens=EXTRACTION_TOKENS, temperature=0.0, schema_retries=1
        )
        try:
            parsed = model.chat(prompt, schema=Extraction, options=ask).parsed
        except BadModelOutput:
            continue
        if isinstance(parsed, Extraction):
            drafts.extend(validate_facts(parsed, batch).kept)
    return drafts


def _is_forget(text: str) -> bool:
    command = parse_explicit(text)
    return command is not None and command.action == "forget"
