"""Passages a reply may cite: numbered for the model, listed as sources for the person.

    block = passages_block(hits, header=..., budget=900, count=len)   # "[1] notes/trip.md ..."
    cited = sources_cited(reply_text, sources)                       # those the reply names

A source is where a passage is: the file's path, and the heading or page inside it.
The numbers the model sees are the numbers the person sees under the reply; a
number the reply names that was never given is ignored, not guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from psi.knowledge.index import Passage

_CITE = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Source:
    number: int
    path: str
    title: str
    heading: str
    page: int | None
    withheld: bool = False
    passage_id: int | None = None

    @property
    def where(self) -> str:
        """ "notes/trip.md — Packing", "report.pdf, page 3"."""
        parts = []
        if self.heading:
            parts.append(self.heading)
        if self.page is not None:
            parts.append(f"page {self.page}")
        return f"{self.path} — {', '.join(parts)}" if parts else self.path

    @property
    def uri(self) -> str:
        """A link a browser or editor opens: file:///…/report.pdf#page=3 for PDFs."""
        uri = Path(self.path).as_uri() if Path(self.path).is_absolute() else self.path
        return f"{uri}#page={self.page}" if self.page is not None else uri

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "path": self.path,
            "title": self.title,
            "heading": self.heading,
            "page": self.page,
            "uri": self.uri,
            "passage_id": self.passage_id,
        }


def source_of(number: int, passage: Passage, *, withheld: bool = False) -> Source:
    return Source(
        number=number,
        path=passage.path,
        title=passage.title,
        heading=passage.heading,
        page=passage.page,
        withheld=withheld,
        passage_id=passage.id,
    )


def passages_block(
    numbered: Sequence[tuple[Source, str]],
    *,
    header: str,
    budget: int,
    count: Callable[[str], int],
) -> tuple[str | None, list[Source]]:
    """`header` and each passage as `[n] where` and its quoted text, within `budget`
    tokens (a passage that does not fit is left out, and so is its number); the block
    and the sources it holds."""
    lines = [header]
    used = count(header)
    kept: list[Source] = []
    for source, text in numbered:
        entry = f"[{source.number}] {source.where}\n{json.dumps(text, ensure_ascii=False)}"
        cost = count(entry) + 1
        if used + cost > budget:
            continue
        used += cost
        lines.append(entry)
        kept.append(source)
    if not kept:
        return None, []
    return "\n".join(lines), kept


def sources_cited(text: str, sources: Sequence[Source]) -> list[Source]:
    """The sources `text` cites as [n], in the order of their numbers."""
    by_number = {source.number: source for source in sources}
    named = {int(n) for n in _CITE.findall(text)}
    return [by_number[n] for n in sorted(named) if n in by_number]
