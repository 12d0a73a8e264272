"""Read-optimised snapshots of a large memory, so recall stays fast as history grows.

FTS5 and the vector matrix answer every query exactly, but their cost grows
with the history: at 100,000 episodes FTS5 scores every document that holds a
common word (about a microsecond each, tens of milliseconds for a name), and
a dense search streams the whole 150 MB matrix. So once a user's memory holds
`SNAPSHOT_MIN` episodes, a long-running process builds two snapshots of the
episodes up to an id, on the indexer's thread:

  - `KeywordSnapshot`: bm25s over the keyword documents, scored with the
    Robertson BM25 that FTS5 uses (same k1 and b, idf from the same kind of
    counts), so its scores stand beside FTS5's for the newer episodes;
  - `VectorSnapshot`: a usearch HNSW graph over the vectors (inner product on
    unit vectors, half-precision), searched approximately.

Recall asks a snapshot for the episodes up to its id and FTS5 or the matrix
for those after it, and merges by score. The snapshots live in memory only:
they are derived data, they hold the words and vectors of what they index,
and forgetting or editing anything drops them (`Snapshots.drop`); the next
build leaves the forgotten text out. A turn whose window grew after its
snapshot (the last two turns before it in a conversation that went on) keeps
its older window until the next build, which happens once `REBUILD_SHARE` of
the memory is newer than the snapshot.

Left out: persisting snapshots across restarts (a process that starts on a
large memory recalls exactly, and slower, for the seconds a build takes) and
PostgreSQL, whose own indexes (GIN, pgvector HNSW) do this job.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Below this many episodes FTS5 and the matrix are fast enough on their own.
SNAPSHOT_MIN = 20_000
# Rebuild once this share of the memory is newer than the snapshot.
REBUILD_SHARE = 0.1
# FTS5's bm25() defaults.
K1 = 1.2
B = 0.75

_WORD = re.compile(r"\w+", re.UNICODE)


@cache
def _stemmer() -> Any:
    import Stemmer  # PyStemmer; FTS5's tokenizer is the same Porter algorithm

    return Stemmer.Stemmer("porter")


def keyword_tokens(text: str, stopwords: frozenset[str]) -> list[str]:
    """Lower-cased, stemmed words of `text` without function words, in order."""
    return porter([word for word in _WORD.findall(text.lower()) if word not in stopwords])


def porter(words: Sequence[str]) -> list[str]:
    """Each of `words` (lower-cased) stemmed as FTS5's porter tokenizer stems it."""
    return list(_stemmer().stemWords(list(words)))


@dataclass
class KeywordSnapshot:
    """BM25 over (id, document) pairs, built once; `upto` is the highest id inside."""

    ids: NDArray[np.int64]
    upto: int
    stopwords: frozenset[str]
    retriever: Any

    @classmethod
    def build(cls, rows: Sequence[tuple[int, str]], stopwords: frozenset[str]) -> KeywordSnapshot:
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B, method="robertson")
        corpus = [keyword_tokens(document, stopwords) for _, document in rows]
        retriever.index(_as_tokenized(corpus), show_progress=False)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        return cls(ids=ids, upto=int(ids.max(initial=0)), stopwords=stopwords, retriever=retriever)

    def search(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """(id, BM25 score) of the best `limit` documents holding a topical word of `query`
        (every word when it has nothing but function words, as FTS5's query does)."""
        terms = set(keyword_tokens(query, self.stopwords)) or set(
            keyword_tokens(query, frozenset())
        )
        token_ids = self.retriever.get_tokens_ids(sorted(terms))
        if not token_ids or len(self.ids) == 0:
            return []
        scores = self.retriever.get_scores_from_ids(token_ids)
        return _top(self.ids, scores, limit)


def _as_tokenized(corpus: list[list[str]]) -> Any:
    """bm25s's Tokenized form: token ids per document and the vocabulary."""
    from bm25s.tokenization import Tokenized

    vocabulary: dict[str, int] = {}
    ids = [[vocabulary.setdefault(token, len(vocabulary)) for token in doc] for doc in corpus]
    # An empty vocabulary (every document all function words) still needs one entry.
    vocabulary.setdefault("", len(vocabulary))
    return Tokenized(ids=ids, vocab=vocabulary)


@dataclass
class VectorSnapshot:
    """An HNSW graph over unit vectors; `upto` is the highest id inside."""

    upto: int
    index: Any
    size: int

    @classmethod
    def build(
        cls, ids: NDArray[np.int64], matrix: NDArray[np.float32], *, threads: int = 0
    ) -> VectorSnapshot:
        from usearch.index import Index

        index = Index(ndim=matrix.shape[1], metric="ip", dtype="f16")
        if len(ids):
            index.add(ids.astype(np.uint64), matrix, threads=threads)
        return cls(upto=int(ids.max(initial=0)), index=index, size=len(ids))

    def search(self, query: NDArray[np.float32], *, limit: int) -> list[tuple[int, float]]:
        """(id, cosine) of about the `limit` nearest vectors."""
        if self.size == 0:
            return []
        found = self.index.search(query.astype(np.float32), min(limit, self.size))
        # usearch reports inner-product distance as 1 - similarity.
        return [
            (int(key), 1.0 - float(distance))
            for key, distance in zip(found.keys, found.distances, strict=True)
        ]


def _top(ids: NDArray[np.int64], scores: NDArray[Any], limit: int) -> list[tuple[int, float]]:
    matched = np.flatnonzero(scores > 0)
    if len(matched) > limit:
        best = np.argpartition(-scores[matched], limit - 1)[:limit]
        matched = matched[best]
    matched = matched[np.argsort(-scores[matched], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in matched]


def merge(
    older: Sequence[tuple[int, float]], newer: Sequence[tuple[int, float]], *, limit: int
) -> list[tuple[int, float]]:
    """The best `limit` of two scored lists over disjoint ids, best first."""
    return sorted([*older, *newer], key=lambda pair: -pair[1])[:limit]


class Snapshots:
    """One user's snapshots in this process, rebuilt in the background as memory grows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self.keywords: KeywordSnapshot | None = None
        self.vectors: VectorSnapshot | None = None
        self.vectors_from: str | None = None

    def due(self, count: int) -> bool:
        """Whether a memory of `count` episodes wants a (new) snapshot."""
        if count < SNAPSHOT_MIN:
            return False
        current = self.keywords
        if current is None:
            return True
        return count - len(current.ids) > REBUILD_SHARE * count

    def rebuild(
        self,
        documents: Callable[[], Sequence[tuple[int, str]]],
        vectors: Callable[[], tuple[str, NDArray[np.int64], NDArray[np.float32]] | None],
        stopwords: frozenset[str],
    ) -> None:
        """Build both snapshots from what `documents()` and `vectors()` read now.

        A `drop` while building wins: the result is thrown away, as it may hold
        what was just forgotten."""
        with self._lock:
            generation = self._generation
        keywords = KeywordSnapshot.build(documents(), stopwords)
        read = vectors()
        built = None
        if read is not None:
            name, ids, matrix = read
            built = (name, VectorSnapshot.build(ids, matrix))
        with self._lock:
            if generation != self._generation:
                return
            self.keywords = keywords
            if built is not None:
                self.vectors_from, self.vectors = built

    def vectors_for(self, embedder: str) -> VectorSnapshot | None:
        snapshot = self.vectors
        return snapshot if snapshot is not None and self.vectors_from == embedder else None

    def drop(self) -> None:
        with self._lock:
            self._generation += 1
            self.keywords = None
            self.vectors = None
            self.vectors_from = None
