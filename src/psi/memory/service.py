"""Memory for one user: turn stored messages into episodes, and recall them for a query.

    memory = Memory(store, user_id=1, embedder=lambda: get_embedder(settings))
    memory.index_pending()            # off the reply path (see BackgroundIndexer)
    memory.recall("what's my dog called?", limit=6)

Indexing makes one episode per message, linked to the one said before it in
its conversation. The keyword document of a turn is its window: the two
turns before and after it, with the date (questions often use the words of
the turn an answer replies to, so a turn's window grows as later turns
arrive); the vector embeds the plain "<date>: <speaker>: <text>". Recall
re-ranks keyword and dense candidates with psi.memory.rank and brings each
hit's neighbouring turns along as context. Dense search runs only once the
embedder is loaded: a reply never waits for a model to load just to recall
(`dense_ready`); the indexer loads it in the background.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from psi.clock import Clock, system_clock
from psi.memory.episodes import (
    STOPWORDS,
    Episode,
    Episodes,
    Indexing,
    Said,
    VectorCache,
    day_label,
    dense_search,
)
from psi.memory.rank import Item, named_speakers, rank, strip_names, window_text
from psi.memory.snapshot import Snapshots, merge
from psi.memory.when import question_periods
from psi.store.db import Store

EMBED_BATCH = 64
# Messages indexed per transaction.
INDEX_BATCH = 512
# Candidates per method before re-ranking; the research behind psi.memory.rank
# found ~100 enough (recall@10 0.811 at 100, 0.813 at 200 on LoCoMo dev).
CANDIDATES = 100
# Turns on each side that a keyword document holds.
WINDOW = 2


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
        self._index_lock = threading.Lock()
        self._participants: list[str] | None = None
        self.vectors = vectors or VectorCache()
        self.snapshots = Snapshots()
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
        # One indexer at a time: the background thread and a command that needs the
        # index now (forgetting) would otherwise both take the same messages; other
        # processes are kept out by the batch's transaction (Episodes.indexing).
        with self._index_lock:
            while True:
                with self.episodes.indexing() as batch:
                    said, taken = batch.take_unindexed(limit=INDEX_BATCH)
                    self._index(batch, said)
                made += len(said)
                if self._participants is not None:
                    known = set(self._participants)
                    self._participants += sorted({s.speaker for s in said} - known)
                if taken < INDEX_BATCH:
                    break
        if embed:
            self.embed_pending()
        return made

    def _index(self, batch: Indexing, said: list[Said]) -> None:
        """Episodes of `said`, linked to the turns before them in their conversations; the
        new turns' window documents, and those of the WINDOW turns before them, whose
        windows now reach them. A few statements for the whole batch, however many
        conversations it holds."""
        groups = _by_conversation(said)
        # A turn's window reaches WINDOW turns back, so the earlier turns whose windows
        # change need the WINDOW turns before them too.
        tails = batch.tails(sorted(groups), 2 * WINDOW)
        chains: list[tuple[list[Said], list[str], int | None]] = []
        grown: dict[int, str] = {}
        for conversation_id, new in groups.items():
            before = tails.get(conversation_id, [])
            chain = [(e.speaker, e.text, e.at) for e in before] + [
                (s.speaker, s.text, s.at) for s in new
            ]
            documents = _windows(chain, str(conversation_id))
            chains.append((new, documents[len(before) :], before[-1].id if before else None))
            grown.update(
                {e.id: documents[i] for i, e in enumerate(before) if i >= len(before) - WINDOW}
            )
        batch.add_chains(chains)
        batch.set_documents(grown)

    def embed_pending(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every episode without a vector from the current embedder (a changed
        embedder re-embeds everything). `progress(done, total)` after each batch."""
        embedder = self.embedder()
        if embedder is None:
            return 0
        name = embedder.name
        total = self.episodes.count() - self.episodes.count(embedder=name)
        done = 0
        while todo := self.episodes.without_vectors(name, limit=EMBED_BATCH * 4):
            ids = [item_id for item_id, _ in todo]
            vectors = embedder.embed([text for _, text in todo])
            self.episodes.set_vectors(ids, vectors, name)
            done += len(ids)
            if progress is not None:
                progress(done, max(total, done))
        return done

    def refresh_snapshots(self) -> bool:
        """Build read-optimised snapshots of a large memory (psi.memory.snapshot) when it
        has outgrown the last ones. Slow (seconds at 100,000 episodes): the indexer's
        thread calls it, never a reply. True when it built."""
        if not self.episodes.store.is_sqlite or not self.snapshots.due(self.episodes.count()):
            return False  # PostgreSQL's own indexes serve a large memory
        embedder = self._embedder

        def vectors() -> tuple[str, NDArray[np.int64], NDArray[np.float32]] | None:
            if embedder is None:
                return None
            ids, matrix = self.vectors.matrix(self.episodes, embedder.name)
            return (embedder.name, ids, matrix) if len(ids) else None

        self.snapshots.rebuild(self.episodes.documents, vectors, STOPWORDS)
        return True

    def invalidate(self) -> None:
        """Forget cached vectors and snapshots: something was deleted or rewritten."""
        self.vectors.clear()
        self.snapshots.drop()

    # -- recall ------------------------------------------------------------------

    def keyword_search(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """BM25 over window documents: the snapshot's for the episodes it holds, FTS5's
        for the rest (or for all, without a snapshot)."""
        snapshot = self.snapshots.keywords
        if snapshot is None:
            return self.episodes.keyword_search(query, limit=limit)
        # The words most episodes hold are left out here as in FTS5's search.
        query = " ".join(self.episodes.telling_words(query))
        if not query:
            return []
        # FTS5 reads a word's whole list of documents even for a few new ones: skip it
        # when there are none.
        newer = (
            self.episodes.keyword_search(query, limit=limit, after=snapshot.upto)
            if self.episodes.newest() > snapshot.upto
            else []
        )
        return merge(snapshot.search(query, limit=limit), newer, limit=limit)

    def dense_search(self, embedder: TextEmbedder, query: str) -> list[tuple[int, float]]:
        """Nearest vectors to `query`: the HNSW snapshot's for the episodes it holds,
        an exact search over the newer rows of the matrix for the rest; on PostgreSQL,
        pgvector's search in the database."""
        if not self.episodes.store.is_sqlite:
            return self.episodes.nearest(
                embedder.name, embedder.embed_query(query), limit=CANDIDATES
            )
        ids, matrix = self.vectors.matrix(self.episodes, embedder.name)
        vector = embedder.embed_query(query)
        snapshot = self.snapshots.vectors_for(embedder.name)
        if snapshot is None:
            return dense_search(ids, matrix, vector, limit=CANDIDATES)
        start = int(np.searchsorted(ids, snapshot.upto, side="right"))
        newer = dense_search(ids[start:], matrix[start:], vector, limit=CANDIDATES)
        return merge(snapshot.search(vector, limit=CANDIDATES), newer, limit=CANDIDATES)

    def participants(self) -> list[str]:
        """Everyone who has spoken in this user's memory; read once, then kept current by
        `index_pending` (a DISTINCT over every episode costs more than the rest of recall)."""
        if self._participants is None:
            self._participants = self.episodes.speakers()
        return list(self._participants)

    def recall(self, query: str, *, limit: int = 6, now: datetime | None = None) -> list[Recalled]:
        """The episodes most relevant to `query`, best first, each with the turns around it.

        Keyword (window documents) and dense (plain turns) candidates are fused and
        re-ranked by psi.memory.rank: neighbouring turns lift each other, and turns
        by a participant the question names, or on a date it names, count more.
        """
        participants = self.participants()
        named = named_speakers(query, participants)
        bm25 = {str(i): s for i, s in self.keyword_search(query, limit=CANDIDATES)}
        embedder = self._embedder
        if embedder is not None:
            found = self.dense_search(embedder, strip_names(query, named))
        elif bm25:
            # Until vectors are at hand, keyword matches in the turn itself stand in for
            # them: the per-turn signal that tells a turn from its window's neighbours.
            # (A turn is in its own window: no window match, no turn match.)
            found = self.episodes.keyword_search(query, limit=CANDIDATES, column="turn")
        else:
            found = []
        dense = {str(i): s for i, s in found}
        if embedder is None:
            # Window matches that miss in the turn itself score 0 there, so the scale
            # has a floor (min-max over a single match would flatten it to nothing).
            dense = {key: 0.0 for key in bm25} | dense
        candidates = [int(key) for key in {**bm25, **dense}]
        if not candidates:
            return []
        episodes = self.episodes.around(candidates)
        # The chain is linear: what follows an episode is the one that names it as before.
        # Every candidate's next turn is among those fetched; a neighbour's may not be,
        # but then it is no candidate and adds nothing to the ranking.
        following = {e.prev_id: i for i, e in episodes.items() if e.prev_id is not None}
        items = {str(i): _item(e, following.get(i)) for i, e in episodes.items()}
        periods = question_periods(query, now or self.clock())
        order = rank(query, participants, items, bm25, dense, dates=periods)
        return [
            Recalled(
                episode=episodes[int(key)],
                score=float(position),
                context=[
                    episodes[n]
                    for n in (episodes[int(key)].prev_id, int(key), following.get(int(key)))
                    if n is not None and n in episodes
                ],
            )
            for position, key in enumerate(order[:limit], start=1)
        ]


def _item(episode: Episode, next_id: int | None) -> Item:
    return Item(
        id=str(episode.id),
        text=episode.text,
        speaker=episode.speaker,
        session=str(episode.conversation_id),
        position=episode.id,
        timestamp=episode.at,
        prev_id=str(episode.prev_id) if episode.prev_id else None,
        next_id=str(next_id) if next_id else None,
    )


def _windows(chain: Sequence[tuple[str, str, datetime]], session: str) -> list[str]:
    """The window document of every (speaker, text, at) turn of a conversation's `chain`."""
    speakers = [speaker for speaker, _, _ in chain]
    texts = [said for _, said, _ in chain]
    sessions = [session] * len(chain)
    return [
        window_text(speakers, texts, sessions, i, date=day_label(at), before=WINDOW, after=WINDOW)
        for i, (_, _, at) in enumerate(chain)
    ]


def _by_conversation(batch: Sequence[Said]) -> dict[int, list[Said]]:
    """Each conversation's messages in `batch`, in order."""
    groups: dict[int, list[Said]] = {}
    for said in batch:
        groups.setdefault(said.conversation_id, []).append(said)
    return groups


class BackgroundIndexer:
    """Runs `memory.index_pending()` on a worker thread whenever told there is something new.

    With `embed=False` it only makes episodes and keyword entries: a one-shot command
    should not spend seconds loading an embedding model after its answer; a later
    long-running session (or `psi memory reindex`) embeds what is missing.
    With `gather` seconds, a pass waits that long after the first notice, so that a busy
    server indexes many replies in one pass instead of one pass per reply.
    """

    def __init__(
        self,
        memory: Memory,
        *,
        embed: bool = True,
        after: Callable[[], None] | None = None,
        gather: float = 0.0,
    ) -> None:
        self.memory = memory
        self.embed = embed
        self.gather = gather
        self._closing = threading.Event()
        # More work for the same thread once indexing is done (learning facts).
        self.after = after
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
        self._closing.set()  # what is waiting to be gathered is indexed now
        self.flush(timeout)
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self.gather and not self._stop:
                self._closing.wait(self.gather)
            self._wake.clear()
            if self._stop:
                return
            try:
                self.memory.index_pending(embed=self.embed)
                if self.embed:
                    self.memory.refresh_snapshots()
                if self.after is not None:
                    self.after()
            except Exception as exc:  # kept for the caller; the next notify retries
                self.error = exc
            if not self._wake.is_set():
                self._idle.set()
