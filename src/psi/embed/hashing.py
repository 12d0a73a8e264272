"""A deterministic embedder for tests and demos: feature hashing, no model at all.

Each text becomes its lower-cased word unigrams and bigrams; each feature is
hashed (blake2b, so the result is the same in every process and on every
machine, unlike `hash()`) to one of `dim` buckets with a sign, and the counts
are L2-normalised by the base class. Texts that share words score higher
than texts that share none, which is enough for retrieval tests to mean
something; it knows no synonyms or paraphrases ("car" and "automobile" are as
far apart as any two words). A text with no words is the zero vector.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise
from typing import Self

import numpy as np

from psi.config import Settings
from psi.embed.base import Embedder, Vectors

DEFAULT_DIM = 384
_WORD = re.compile(r"\w+")


class HashingEmbedder(Embedder):
    backend = "hashing"
    is_local = True

    def __init__(self, dim: int = DEFAULT_DIM, *, batch_size: int = 64) -> None:
        self.dim = dim
        self.batch_size = batch_size
        self.name = f"hashing-{dim}"

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        config = settings.embedder
        return cls(config.dim or DEFAULT_DIM, batch_size=config.batch_size)

    def _embed_batch(self, texts: list[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for feature in features(text):
                index, sign = bucket(feature, self.dim)
                row[index] += sign
        return rows


def features(text: str) -> Iterator[str]:
    """The word unigrams and bigrams of `text`, lower-cased."""
    words = _WORD.findall(text.lower())
    yield from words
    for first, second in pairwise(words):
        yield f"{first} {second}"


@lru_cache(maxsize=1 << 16)
def bucket(feature: str, dim: int) -> tuple[int, float]:
    """Where `feature` lands among `dim` buckets, and with which sign."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    # The lowest bit picks the sign, so colliding features tend to cancel, not pile up.
    return (value >> 1) % dim, 1.0 if value & 1 else -1.0
