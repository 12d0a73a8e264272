"""Encoding speed of two embedders side by side, on the same LoCoMo turns (`measure_embed`).

`psi bench embed` passes the packaged all-MiniLM-L6-v2 twice: on torch
(sentence-transformers) and on onnxruntime, both loaded and warmed before any
clock starts. The turns are the documents the memory benchmark's baselines
embed, "<session date>: <speaker>: <text>", cut into chunks of CHUNK texts,
the size of one `Memory.embed_pending` call; the chunks alternate between
the two sides (A, B, B, A, ...), so a load that comes and goes on a shared
machine falls on both alike. turns/s is each side's turns over its summed
time. Then each question is one `embed_query` on each side, alternating too,
timed one by one (p50 and p95: the query's share of a recall). Agreement is
the cosine between the two sides' vectors for each turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psi.benchmarks.locomo import Sample
from psi.benchmarks.memory import percentile, turn_documents
from psi.memory.service import EMBED_BATCH, TextEmbedder

CHUNK = EMBED_BATCH * 4


@dataclass
class Side:
    """One embedder's figures."""

    label: str
    embedder: str
    encode_s: float = 0.0
    turns: int = 0
    query_ms: list[float] = field(default_factory=list)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.encode_s if self.encode_s else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "turns_per_s": round(self.turns_per_s, 1),
            "encode_s": round(self.encode_s, 3),
            "query_ms": {
                "p50": round(percentile(self.query_ms, 50), 2) if self.query_ms else 0.0,
                "p95": round(percentile(self.query_ms, 95), 2) if self.query_ms else 0.0,
            },
        }


@dataclass
class EmbedResult:
    first: Side
    second: Side
    turns: int
    queries: int
    cosine_min: float
    cosine_mean: float

    @property
    def ratio(self) -> float:
        """The second side's turns/s over the first's."""
        return self.second.turns_per_s / self.first.turns_per_s if self.first.turns_per_s else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            self.first.label: self.first.as_json(),
            self.second.label: self.second.as_json(),
            "ratio": round(self.ratio, 3),
            "turns": self.turns,
            "queries": self.queries,
            "cosine_min": round(self.cosine_min, 6),
            "cosine_mean": round(self.cosine_mean, 6),
        }


def measure_embed(
    samples: Sequence[Sample],
    sides: Sequence[tuple[str, TextEmbedder]],
    *,
    limit: int | None = None,
    queries: int = 200,
    on_step: Callable[[int], None] | None = None,
) -> EmbedResult:
    """Encode the samples' turns (the first `limit`) with both embedders, chunk by chunk
    in alternation, then time `queries` questions one at a time on each.
    `on_step(texts)` after each chunk or query pair."""
    (first_label, first), (second_label, second) = sides
    documents = [text for sample in samples for text in turn_documents(sample)][:limit]
    questions = [q.question for sample in samples for q in sample.questions][:queries]
    result = EmbedResult(
        first=Side(first_label, first.name),
        second=Side(second_label, second.name),
        turns=len(documents),
        queries=len(questions),
        cosine_min=0.0,
        cosine_mean=0.0,
    )
    pairs = [(result.first, first), (result.second, second)]
    vectors: dict[str, list[np.ndarray[Any, Any]]] = {first_label: [], second_label: []}
    for index, start in enumerate(range(0, len(documents), CHUNK)):
        chunk = documents[start : start + CHUNK]
        for side, embedder in pairs if index % 2 == 0 else pairs[::-1]:
            started = time.perf_counter()
            vectors[side.label].append(embedder.embed(chunk))
            side.encode_s += time.perf_counter() - started
            side.turns += len(chunk)
        if on_step is not None:
            on_step(len(chunk))
    if documents:
        cosines = np.sum(np.vstack(vectors[first_label]) * np.vstack(vectors[second_label]), axis=1)
        result.cosine_min = float(cosines.min())
        result.cosine_mean = float(cosines.mean())
    for index, question in enumerate(questions):
        for side, embedder in pairs if index % 2 == 0 else pairs[::-1]:
            started = time.perf_counter()
            embedder.embed_query(question)
            side.query_ms.append((time.perf_counter() - started) * 1000)
        if on_step is not None:
            on_step(1)
    return result


def load_minilm_pair() -> list[tuple[str, TextEmbedder]]:
    """The packaged MiniLM on torch and on onnxruntime (exported now if need be), warmed."""
    from psi.config import EmbedderSettings, load_settings
    from psi.embed import get_embedder

    settings = load_settings()
    pair: list[tuple[str, TextEmbedder]] = []
    for backend in ("sentence-transformers", "onnx"):
        chosen = settings.model_copy(update={"embedder": EmbedderSettings(backend=backend)})
        embedder = get_embedder(chosen)
        embedder.embed(["warm up", "a second, somewhat longer text to warm up with"])
        pair.append((backend, embedder))
    return pair
