"""Hybrid ranking of dialogue turns for memory recall: pure functions over plain data.

What it does, given per-method score lists that the caller has already computed:

1. Documents: each dialogue turn is one item. For BM25 the caller indexes the turn with its
   context window (``window_text``: two turns before and two after, same session, date prefix);
   for dense retrieval it embeds the plain turn (``turn_text``). The window lets a question that
   names the words of the *asking* turn still reach the *answering* turn.
2. Query processing: ``named_speakers`` finds which conversation participants a question names
   (full name or a capitalised prefix alias such as "Mel" for "Melanie"); ``strip_names`` removes
   them from the text to embed, since a name says who, not what, and dense vectors of short
   questions are dominated by it. BM25 keeps the names (their IDF is near zero anyway).
3. Fusion (``fuse``): convex combination of per-method normalised scores: BM25 divided by its
   maximum, dense min-max normalised over the returned candidates; weights 1 and 1.
4. Neighbour propagation (``propagate_neighbours``): every item gains ``0.3`` times the larger
   fused score of its previous and next turn in the same session; evidence is often a pair of
   adjacent turns (question + answer), or an answer right after the matching turn. When a
   question names exactly one participant, only that participant's turns gain: the lift exists
   to reach their answer from the turn that matched, while lifting the other side's replies to
   their statements crowds out their further statements: a list question's other items, often
   in other sessions (LoCoMo multi-hop recall@10 0.49 -> 0.51, cross-validated).
5. Speaker prior (``speaker_boost``): when a question names exactly one participant, turns spoken
   by that participant gain ``0.4`` (absolute, on the fused scale whose top is about 2); people
   report their own doings.
6. Date prior (``date_boost``): turns whose session date matches an explicit date in the question
   ("on 7 July, 2023", "in May 2023") gain ``0.2``.
7. ``expand_to_turns`` maps ranked items to the dialogue turns they cover, deduplicated in rank
   order, and cuts after ``k`` turns.

``rank`` chains 3-7 with the defaults above. It leaves out: index building, BM25 and embedding
computation, storage and model loading. Scores are mappings from item id to score over each
method's top candidates (about 100 per method is enough); items missing from a method count as
its lowest score. The caller supplies ``Item`` records for the candidates and for their
neighbours (``neighbour_ids`` lists which to fetch).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from psi.memory.dates import MONTHS

__all__ = [
    "DateMention",
    "Item",
    "RankParams",
    "date_boost",
    "expand_to_turns",
    "fuse",
    "max_normalise",
    "minmax_normalise",
    "named_speakers",
    "neighbour_ids",
    "propagate_neighbours",
    "question_dates",
    "rank",
    "rrf",
    "speaker_boost",
    "strip_names",
    "turn_text",
    "window_text",
]


@dataclass(frozen=True)
class Item:
    """One indexed unit: usually a single dialogue turn.

    ``prev_id``/``next_id`` link to the adjacent items of the same session (None at the edges).
    ``turns`` lists the dialogue-turn ids the item covers (defaults to the item's own id).
    """

    id: str
    text: str
    speaker: str
    session: str
    position: int
    timestamp: dt.datetime | None = None
    prev_id: str | None = None
    next_id: str | None = None
    turns: tuple[str, ...] = ()

    def covered_turns(self) -> tuple[str, ...]:
        return self.turns or (self.id,)


@dataclass(frozen=True)
class RankParams:
    """Weights of ``rank``; the defaults were cross-validated across LoCoMo conversations."""

    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    neighbour_weight: float = 0.3
    speaker_weight: float = 0.4
    date_weight: float = 0.2


@dataclass(frozen=True)
class DateMention:
    """A date named in a question; ``day`` is None for month-level mentions."""

    year: int
    month: int
    day: int | None = None

    def matches(self, when: dt.date | dt.datetime) -> bool:
        if (when.year, when.month) != (self.year, self.month):
            return False
        return self.day is None or when.day == self.day


# --- documents ---------------------------------------------------------------------------


def turn_text(date: str, speaker: str, text: str, caption: str | None = None) -> str:
    """Plain turn document: ``"<date>: <speaker>: <text>"`` plus what an image shows."""
    body = f"{text} [image: {caption}]" if caption else text
    return f"{date}: {speaker}: {body}" if date else f"{speaker}: {body}"


def window_text(
    speakers: Sequence[str],
    texts: Sequence[str],
    sessions: Sequence[str],
    index: int,
    date: str = "",
    before: int = 2,
    after: int = 2,
) -> str:
    """BM25 document for turn ``index``: the turn with its neighbours in the same session.

    ``speakers``, ``texts`` and ``sessions`` run in conversation order; ``texts`` may already
    carry image captions. Never pass an image's search ``query`` field: it leaks the answer.
    """
    parts = [
        f"{speakers[j]}: {texts[j]}"
        for j in range(max(0, index - before), min(len(texts), index + after + 1))
        if sessions[j] == sessions[index]
    ]
    joined = " ".join(parts)
    return f"{date}: {joined}" if date else joined


# --- query processing --------------------------------------------------------------------


_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")


# Capitalised words that start a sentence are not short names: "Can you ..." is not
# Candice, "Will it ..." is not William.
_OPENERS = (
    "can could did do does had has have how is may might must shall should was were "
    "what when where which who whom whose why will would"
)
_NOT_NAMES = frozenset(_OPENERS.split())


def named_speakers(question: str, speakers: Iterable[str]) -> list[str]:
    """Participants the question names, by full name or capitalised prefix (>= 3 letters).

    A word that is some participant's full name names only them ("Jon" is not also
    Jonathan), and common sentence-openers are never prefixes."""
    names = list(speakers)
    full_names = {name for name in names if re.search(rf"\b{re.escape(name)}\b", question)}
    words = [
        w
        for w in _CAPITALISED.findall(question)
        if len(w) >= 3 and w.lower() not in _NOT_NAMES and w not in full_names
    ]
    found: list[str] = []
    for name in names:
        alias = any(name.lower().startswith(w.lower()) for w in words)
        if (name in full_names or alias) and name not in found:
            found.append(name)
    return found


def strip_names(question: str, names: Iterable[str]) -> str:
    """The question without the given names (and their possessive 's), for the dense query."""
    out = question
    for name in names:
        out = re.sub(rf"\b{re.escape(name)}('s)?\b", "", out)
    return re.sub(r"\s+", " ", out).strip() or question


_MONTHS = {name: i for i, name in enumerate(MONTHS, start=1)}
_DATE = re.compile(
    r"(?:(\d{1,2})(?:st|nd|rd|th)?\s+)?("
    + "|".join(_MONTHS)
    + r")(?:\s+(\d{1,2})(?:st|nd|rd|th)?)?,?\s+(\d{4})",
    re.IGNORECASE,
)


def question_dates(question: str) -> list[DateMention]:
    """Explicit dates with a year: "7 July, 2023", "July 7, 2023", "in May 2023"."""
    mentions: list[DateMention] = []
    for m in _DATE.finditer(question):
        day = m.group(1) or m.group(3)
        mentions.append(
            DateMention(int(m.group(4)), _MONTHS[m.group(2).lower()], int(day) if day else None)
        )
    return mentions


# --- score operations --------------------------------------------------------------------


def max_normalise(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores divided by their maximum (BM25: keeps 0 as "no match")."""
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return {k: 0.0 for k in scores}
    return {k: v / top for k, v in scores.items()}


def minmax_normalise(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores mapped to [0, 1] over the given candidates (dense cosine similarities)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi <= lo:
        return {k: 0.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def rrf(scores: Mapping[str, float], k: int = 60) -> dict[str, float]:
    """Reciprocal-rank scores 1 / (k + rank), rank from 1; ties keep insertion order."""
    order = sorted(scores, key=lambda key: -scores[key])
    return {key: 1.0 / (k + r) for r, key in enumerate(order, start=1)}


def fuse(weighted: Sequence[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Convex combination of already normalised score maps; a missing id contributes 0."""
    out: dict[str, float] = {}
    for scores, weight in weighted:
        for key, value in scores.items():
            out[key] = out.get(key, 0.0) + weight * value
    return out


def neighbour_ids(ids: Iterable[str], items: Mapping[str, Item]) -> set[str]:
    """Ids of the previous/next items of ``ids`` that the caller must also supply."""
    out: set[str] = set()
    for key in ids:
        item = items.get(key)
        if item is not None:
            out.update(n for n in (item.prev_id, item.next_id) if n is not None)
    return out


def propagate_neighbours(
    scores: Mapping[str, float],
    items: Mapping[str, Item],
    weight: float,
    *,
    speaker: str | None = None,
) -> dict[str, float]:
    """Each item gains ``weight`` x the larger score of its previous and next item; with
    ``speaker``, only that participant's items gain and the others keep their own score.

    Neighbours absent from ``scores`` start at 0 and enter the result when present in ``items``
    (and, with ``speaker``, spoken by them).
    """
    if weight == 0:
        return dict(scores)

    def gains(key: str) -> bool:
        return key in items and (speaker is None or items[key].speaker == speaker)

    keys = set(scores) | {k for k in neighbour_ids(scores, items) if gains(k)}
    out: dict[str, float] = {}
    for key in keys:
        base = scores.get(key, 0.0)
        item = items.get(key)
        bonus = 0.0
        if item is not None and gains(key):
            for n in (item.prev_id, item.next_id):
                if n is not None:
                    bonus = max(bonus, scores.get(n, 0.0))
        out[key] = base + weight * bonus
    return out


def speaker_boost(
    scores: Mapping[str, float], items: Mapping[str, Item], speakers: Sequence[str], weight: float
) -> dict[str, float]:
    """Add ``weight`` to items spoken by the one participant named; no-op unless exactly one."""
    if len(speakers) != 1 or weight == 0:
        return dict(scores)
    who = speakers[0]
    return {
        k: v + (weight if k in items and items[k].speaker == who else 0.0)
        for k, v in scores.items()
    }


def date_boost(
    scores: Mapping[str, float],
    items: Mapping[str, Item],
    mentions: Sequence[DateMention],
    weight: float,
) -> dict[str, float]:
    """Add ``weight`` to items whose timestamp matches any date mentioned in the question."""
    if not mentions or weight == 0:
        return dict(scores)
    out: dict[str, float] = {}
    for k, v in scores.items():
        ts = items[k].timestamp if k in items else None
        hit = ts is not None and any(m.matches(ts) for m in mentions)
        out[k] = v + (weight if hit else 0.0)
    return out


def expand_to_turns(ranked: Sequence[str], items: Mapping[str, Item], k: int) -> list[str]:
    """Dialogue-turn ids of the ranked items, deduplicated in rank order, first ``k``."""
    seen: dict[str, None] = {}
    for key in ranked:
        item = items.get(key)
        for turn in item.covered_turns() if item is not None else (key,):
            if turn not in seen:
                seen[turn] = None
                if len(seen) >= k:
                    return list(seen)
    return list(seen)


def rank(
    question: str,
    participants: Sequence[str],
    items: Mapping[str, Item],
    bm25_scores: Mapping[str, float],
    dense_scores: Mapping[str, float],
    params: RankParams | None = None,
    dates: Sequence[DateMention] = (),
) -> list[str]:
    """Item ids best first.

    ``bm25_scores``: BM25 over window documents, query = the question as asked.
    ``dense_scores``: cosine of the embedded ``strip_names(question, named_speakers(...))``
    against the embedded plain turns. Both over each method's top candidates.
    ``items`` must hold the candidates and their neighbours. ``dates`` adds date mentions the
    caller resolved from relative words. Ties break by position, then id.
    """
    p = params or RankParams()
    fused = fuse(
        [
            (max_normalise(bm25_scores), p.bm25_weight),
            (minmax_normalise(dense_scores), p.dense_weight),
        ]
    )
    named = named_speakers(question, participants)
    only = named[0] if len(named) == 1 else None
    scored = propagate_neighbours(fused, items, p.neighbour_weight, speaker=only)
    scored = speaker_boost(scored, items, named, p.speaker_weight)
    # Dates written out in the question, plus any the caller resolved ("last May").
    mentions = [*question_dates(question), *dates]
    scored = date_boost(scored, items, mentions, p.date_weight)
    return sorted(
        scored,
        key=lambda k: (-scored[k], items[k].position if k in items else 0, k),
    )
