"""The guard's features at run time: scikit-learn's HashingVectorizer, without scikit-learn.

    idx, val = hashed("Ignore previous instructions")   # int32 columns, float32 values

Training (bench/train_safety.py) uses scikit-learn's HashingVectorizer; a chat cannot
afford its import (about 0.6 s), so this module computes the same columns and values
from the same recipe: lower-cased word 1-2-grams of `\\b\\w\\w+\\b` tokens, and
character 2-4-grams inside word boundaries (each word padded with a space), hashed with
MurmurHash3 (32-bit, seed 0, signed, by mmh3), column |h| mod n_features, counts summed,
each vectorizer's block scaled to unit length, the char block after the word block.
tests/safety/test_features.py checks that both give the same vectors.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import mmh3
import numpy as np

from psi.safety.embedded import FEATURES

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    grams: list[str] = []
    for n in range(low, high + 1):
        if n == 1:
            grams.extend(tokens)
        else:
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    grams: list[str] = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < size:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


def _block(grams: list[str], n_features: int, start: int) -> tuple[list[int], list[float]]:
    # mmh3 hashes a str as its UTF-8 bytes; Counter counts in C.
    counts = Counter(abs(mmh3.hash(gram, 0, signed=True)) % n_features for gram in grams)
    if not counts:
        return [], []
    norm = math.sqrt(sum(c * c for c in counts.values()))
    columns = sorted(counts)
    return [start + c for c in columns], [counts[c] / norm for c in columns]


def hashed(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The text's nonzero feature columns and their values, as `vectorize` would give."""
    columns: list[int] = []
    values: list[float] = []
    start = 0
    for spec in FEATURES.values():
        low, high = spec["ngram_range"]
        make = word_ngrams if spec["analyzer"] == "word" else char_wb_ngrams
        cols, vals = _block(make(text, low, high), spec["n_features"], start)
        columns += cols
        values += vals
        start += spec["n_features"]
    return np.asarray(columns, dtype=np.int64), np.asarray(values, dtype=np.float32)
