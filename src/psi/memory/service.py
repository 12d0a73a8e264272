"""Memory for one user: turn stored messages into episodes, and recall them for a query.

    memory = Memory(store, user_id=1, embedder=lambda: get_embedder(settings))
    memory.index_pending()            # off the reply path (see BackgroundIndexer)
    memory.recall("what's my dog called?", limit=6)

Indexing makes one episode per message: the keyword document holds the
message's date, its speaker and text, and the turn before it (questions often
use the words of the turn an answer replies to); the vector embeds
"speaker: text". Recall fuses keyword and dense rankings (psi.memory.rank) and
brings each hit's neighbouring turns along as context. Dense search runs only
once the embedder is loaded: a reply never waits for a model to load just to
recall (`dense_ready`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from psi.clock import Clock, system_clock
from psi.memory.episodes import Episode, Episodes, Said, VectorCache, dense_search
from psi.store.db import Store

EMBED_BATCH = 64
CANDIDATES = 50
RRF_K = 60


class TextEmbedder(Protocol):
    """What memory needs of a psi.embed.Embedder."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def embed_query(self, text: str) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class Recalled:
    """An episode recalled for a query, with the turns around it."""

    episode: Episode
    score: float
    context: list[Episode] = field(default_factory=list)


def keyword_document(said: Said, previous: str | None) -> str:
    day = said.at.strftime("%A %d %B %Y")
    lead = f"{previous}\n" if previous else ""
    return f"{lead}{day}: {said.speaker}: {said.text}"


class Memory:
    def __init__(
        self,
        store: Store,
        *,
        user_id: int,
        embedder: Callable[[], TextEmbedder] | None = None,
        vectors: VectorCache | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.episodes = Episodes(store, user_id=user_id)
        self._embedder_factory = embedder
        self._embedder: TextEmbedder | None = None
        self._embedder_lock = threading.Lock()
        self.vectors = vectors or VectorCache()
        self.clock = clock

    # -- embedder --------------------------------------------------------------

    @property
    def dense_ready(self) -> bool:
        return self._embedder is not None

    def embedder(self) -> TextEmbedder | None:
        """The embedder, loaded on first use (None when memory runs keyword-only)."""
        if self._embedder is None and self._embedder_factory is not None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
        return self._embedder

    # -- indexing ----------------------------------------------------------------

    def index_pending(self, *, embed: bool = True) -> int:
        """Make episodes of every stored message that has none; embed what lacks a vector."""
        made = 0
        while batch := self.episodes.unindexed(limit=512):
            previous: dict[int, str | None] = {}
            documents = []
            for said in batch:
                if said.conversation_id not in previous:
                    previous[said.conversation_id] = self.episodes.last_text(said.conversation_id)
                documents.append(keyword_document(said, previous[said.conversation_id]))
                previous[said.conversation_id] = f"{said.speaker}: {said.text}"
            self.episodes.add(batch, documents)
            made += len(batch)
        if embed:
            self.embed_pending()
        return made

    def embed_pending(self) -> int:
        embedder = self.embedder()
        if embedder is None:
            return 0
        name = embedder.name
        done = 0
        while todo := self.episodes.without_vectors(name, limit=EMBED_BATCH * 4):
            ids = [item_id for item_id, _ in todo]
            vectors = embedder.embed([text for _, text in todo])
            self.episodes.set_vectors(ids, vectors, name)
            done += len(ids)
        return done

    # -- recall ------------------------------------------------------------------

    def recall(self, query: str, *, limit: int = 6, context: int = 1) -> list[Recalled]:
        """The episodes most relevant to `query`, best first, with `context` turns each side."""
        rankings: list[list[tuple[int, float]]] = [
            self.episodes.keyword_search(query, limit=CANDIDATES)
        ]
        embedder = self._embedder
        if embedder is not None:
            ids, matrix = self.vectors.matrix(self.episodes, embedder.name)
            vector = embedder.embed_query(query)
            rankings.append(dense_search(ids, matrix, vector, limit=CANDIDATES))
        fused = rrf(rankings)[:limit]
        found = self.episodes.get([item_id for item_id, _ in fused])
        return [
            Recalled(
                episode=found[item_id],
                score=score,
                context=self.episodes.neighbours(found[item_id], before=context, after=context),
            )
            for item_id, score in fused
            if item_id in found
        ]


def rrf(
    rankings: Sequence[Sequence[tuple[int, float]]], *, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each ranking gives 1 / (k + rank) to its items."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item_id, _score) in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


class BackgroundIndexer:
    """Runs `memory.index_pending()` on a worker thread whenever told there is something new."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="psi-memory-indexer", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything notified so far is indexed; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float | None = None) -> None:
        self.flush(timeout)
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            try:
                self.memory.index_pending()
            except Exception as exc:  # kept for the caller; the next notify retries
                self.error = exc
            if not self._wake.is_set():
                self._idle.set()
