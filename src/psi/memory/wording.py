"""How facts are compared: words, light stems, duplicates, negation, and scrubbing text.

The rules are plain enough to explain to the user ("the same words", "the
same words but for a not"), and they run without a model, so they hold on
the smallest one:

    content_stems("My dog loves the beach")    # {"dog", "lov", "beach"}
    is_duplicate(a, b)                         # same subject, polarity and ~content words
    contradicts(a, b)                          # the same words but for a not

English only; other languages fall back to exact words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from psi.memory.episodes import STOPWORDS

DUPLICATE_OVERLAP = 0.8  # Jaccard overlap of content words for "the same fact"

NEGATIONS = frozenset({"not", "no", "never", "nobody", "nothing", "none", "neither", "nor"})
IGNORED = (STOPWORDS - NEGATIONS) | {"user", "users", "psi", "also", "really", "s"}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_CONTRACTIONS = (
    (
        re.compile(r"\b(can|won|shan)'t\b"),
        lambda m: {"can": "can", "won": "will"}.get(m[1], "shall") + " not",
    ),
    (re.compile(r"n't\b"), lambda _m: " not"),
    (re.compile(r"'(s|m|re|ve|ll|d)\b"), lambda _m: ""),
)


def words(text: str) -> list[str]:
    """Lower-case words, contractions opened ("don't" -> "do not") and possessives dropped."""
    text = text.lower().replace("’", "'")
    for pattern, replace in _CONTRACTIONS:
        text = pattern.sub(replace, text)
    return _TOKEN.findall(text)


def stem(word: str) -> str:
    """A light suffix strip so "moves", "moved", "moving" and "move" meet ("mov")."""
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
            word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and not word[-1].isdigit():
        word = word[:-1]
    return word


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning: no function words, no negations."""
    return {stem(w) for w in words(text) if w not in IGNORED and w not in NEGATIONS}


def negated(text: str) -> bool:
    return any(w in NEGATIONS for w in words(text))


def normalise_statement(text: str) -> str:
    return " ".join(words(text))


def overlap(a: set[str], b: set[str]) -> float:
    """Jaccard: shared over all."""
    return len(a & b) / len(a | b) if a or b else 0.0


_SELF = {"", "i", "me", "myself", "you", "user", "the user", "speaker", "the speaker"}


def subject_key(subject: str) -> str:
    """Subjects compared: case and articles ignored, every way of saying "the user" is "user"."""
    cleaned = " ".join(words(subject))
    return "user" if cleaned in _SELF else cleaned


class _Claim(Protocol):
    @property
    def subject(self) -> str: ...

    @property
    def statement(self) -> str: ...


def is_duplicate(a: _Claim, b: _Claim) -> bool:
    """The same thing said twice: same subject and polarity, (nearly) the same content words."""
    if subject_key(a.subject) != subject_key(b.subject):
        return False
    if negated(a.statement) != negated(b.statement):
        return False
    if normalise_statement(a.statement) == normalise_statement(b.statement):
        return True
    mine, theirs = content_stems(a.statement), content_stems(b.statement)
    return bool(mine and theirs) and overlap(mine, theirs) >= DUPLICATE_OVERLAP


def contradicts(a: _Claim, b: _Claim) -> bool:
    """The same words but for a not: opposite polarity, and every content word of one is in
    the other ("You eat meat" / "You don't eat meat any more")."""
    if subject_key(a.subject) != subject_key(b.subject):
        return False
    if negated(a.statement) == negated(b.statement):
        return False
    mine, theirs = content_stems(a.statement), content_stems(b.statement)
    return bool(mine and theirs) and (mine <= theirs or theirs <= mine)


_SECOND_PERSON = tuple(
    (re.compile(rf"\b{first}\b", re.IGNORECASE), second)
    for first, second in (
        ("i am", "you are"),
        ("i was", "you were"),
        ("i'm", "you're"),
        ("i've", "you've"),
        ("i'll", "you'll"),
        ("i'd", "you'd"),
        ("i", "you"),
        ("me", "you"),
        ("my", "your"),
        ("mine", "yours"),
        ("myself", "yourself"),
    )
)


def second_person(statement: str) -> str:
    """The user's own words turned to address them: "my dog is Rex" -> "Your dog is Rex"."""
    text = statement.replace("’", "'")
    for pattern, replacement in _SECOND_PERSON:
        text = pattern.sub(replacement, text)
    return sentence(text)


def sentence(text: str) -> str:
    """One line, capitalised, ending in a full stop unless it ends in other punctuation."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text + "." if text[-1].isalnum() else text


C = TypeVar("C", bound=_Claim)


def best_matches(description: str, facts: Iterable[C]) -> list[C]:
    """The facts a "forget that ..." description names: those holding most (3/4) of its
    words, and of them only the closest (ties all count)."""
    wanted = content_stems(description)
    if not wanted:
        return []
    scored = []
    for fact in facts:
        have = content_stems(f"{fact.subject} {fact.statement}")
        if len(wanted & have) >= 0.75 * len(wanted):
            scored.append((overlap(wanted, have), fact))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [fact for score, fact in scored if score == best]


_HEADING = re.compile(r"^\s*([^:.!?]{1,40}):\s*(.*)$")


def scrub(text: str, statements: Iterable[str]) -> str:
    """`text` without the sentences that say any of `statements` (for an edited profile).
    A "Heading: ..." line left with nothing after its heading goes too."""
    gone = [(normalise_statement(s), content_stems(s)) for s in statements]

    def says_gone(said: str) -> bool:
        flat, stems = f" {normalise_statement(said)} ", content_stems(said)
        return any(
            bool(g and f" {g} " in flat) or bool(stems and overlap(stems, s) >= DUPLICATE_OVERLAP)
            for g, s in gone
        )

    lines = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        lead, body = (heading[1] + ": ", heading[2]) if heading else ("", line)
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", body.strip()) if s]
        kept = [s for s in sentences if not says_gone(s)]
        if kept == sentences:
            lines.append(line)
        elif kept:
            lines.append(lead + " ".join(kept))
    return "\n".join(lines)
