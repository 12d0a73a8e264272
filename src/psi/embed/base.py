"""The embedder seam: text in, unit-length float32 vectors out.

    embedder = get_embedder(settings)
    vectors = embedder.embed(["first text", "second text"])    # (2, embedder.dim)
    query = embedder.embed_query("what did I say about Rome?")   # (embedder.dim,)
    scores = vectors @ query                                     # cosine similarities

A backend implements `_embed_batch` (one batch, any scale) and
`from_settings`; this class batches, checks shapes and L2-normalises, the same
way for every backend, so a dot product is always the cosine. `name` says
which vectors these are: stored vectors are only comparable with vectors of
the same name, and it changes whenever the vectors would.

Left out: token counting and truncation (backends truncate to their model's
limit), async, and similarity search itself (the store's vector index does it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from psi import cores
from psi.config import Settings

Vectors = NDArray[np.float32]


class Embedder(ABC):
    """Turns texts into vectors. Capabilities are attributes."""

    backend: ClassVar[str]
    name: str
    dim: int
    is_local: bool
    batch_size: int = 64

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the backend that `settings.embedder` describes."""

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> Vectors:
        """Vectors for at most `batch_size` texts: shape (len(texts), dim), any length.
        Raise psi.errors types for failures the user can act on."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text, in order: shape (len(texts), dim)."""
        if isinstance(texts, str):
            # A str is a Sequence[str] too: one vector per character is never meant.
            raise TypeError("embed() takes a sequence of texts; use embed_query() for one")
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        # Native backends compute on threads of their own, on every core (psi.cores).
        with cores.unpinned():
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                vectors = self._embed_batch(batch)
                rows[start : start + len(batch)] = self._checked(vectors, len(batch))
        return normalise(rows)

    def embed_query(self, text: str) -> Vectors:
        """The vector for a search query, shape (dim,).

        The same as a document's here; backends whose model encodes queries
        differently (a query prompt, an asymmetric model) override it."""
        vector: Vectors = self.embed([text])[0]
        return vector

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing here
        """Release what the backend holds (connections, a loaded model)."""

    def _checked(self, vectors: Vectors, count: int) -> Vectors:
        if vectors.shape != (count, self.dim):
            raise RuntimeError(
                f"embedder {self.name} returned shape {vectors.shape} for {count} texts, "
                f"expected {(count, self.dim)}"
            )
        return vectors


def normalise(rows: Vectors) -> Vectors:
    """`rows` scaled to unit length in place (all-zero rows stay zero, never NaN)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.divide(rows, norms, out=rows, where=norms > 0)
    return rows
