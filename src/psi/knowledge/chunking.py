"""Blocks to passages that follow the document's structure (pure functions).

    chunks = chunk_blocks(extracted.blocks, target=1000)
    chunks[0].heading      # "Trip to Porto > Packing": the headings above it
    chunks[0].page         # 3 in a PDF, else None

A heading always starts a new passage, and so does a new page: a citation then names
one heading and one page. Paragraphs under the same heading are packed together up to
`target` characters; a paragraph longer than `limit` is cut at sentence ends (at word
ends when a sentence alone is too long). A passage never starts with a lone heading:
headings with nothing under them only name what follows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TARGET = 1000
LIMIT = 1600


@dataclass(frozen=True)
class Block:
    """A heading (`level` 1-6) or a paragraph (`level` 0), on `page` for paged files:
    what a reader (psi.knowledge.readers) makes of a file."""

    text: str
    level: int = 0
    page: int | None = None


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str = ""
    page: int | None = None


def split_long(text: str, *, limit: int = LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut after sentences where it can."""
    if len(text) <= limit:
        return [text]
    sentences = re.split(r"(?<=[.!?…])\s+", text)
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def chunk_blocks(
    blocks: Sequence[Block], *, target: int = TARGET, limit: int = LIMIT
) -> list[Chunk]:
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # the open headings, outermost first
    parts: list[str] = []
    page: int | None = None

    def heading() -> str:
        return " > ".join(text for _, text in path)

    def flush() -> None:
        if parts:
            chunks.append(Chunk("\n\n".join(parts), heading(), page))
            parts.clear()

    for block in blocks:
        if block.level:
            flush()
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.text))
            continue
        if block.page != page:
            flush()
            page = block.page
        for piece in split_long(block.text, limit=limit):
            size = sum(len(p) + 2 for p in parts)
            if parts and size + len(piece) > target:
                flush()
            parts.append(piece)
    flush()
    return chunks
