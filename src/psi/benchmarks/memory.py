"""Memory recall: psi's memory path on LoCoMo-format conversations beside single-turn
baselines (`measure_memory`), and recall time as the history grows (`measure_memory_scale`).

LoCoMo. Each sample gets a fresh SQLite store. Every session becomes a psi
conversation created at the session's time, every turn a user message named
for its speaker (a named participant), one second after the turn before it;
`Memory.index_pending()` then makes and embeds the episodes. Storing and
indexing together, embeddings included, give the ingest rate (the embedder is
loaded before the clock starts). Each question is then `Memory.recall`, with
the clock a day after the last session, and goes to three baselines built over
the same turns, one document per turn, "<session date>: <speaker>: <text>":

- bm25: bm25s with English stopwords and the Snowball stemmer (PyStemmer);
  only turns sharing a word with the question are ranked.
- dense: the same embedder psi uses, cosine against every turn.
- hybrid: reciprocal rank fusion (k=60) of the two; its latency is the sum of
  theirs and the fusion.

Metric: evidence recall@k counted in dialogue turns. Each ranked item expands
to the turns it came from (a recalled episode is its one turn; the context
turns recall brings along are not ranked items), repeats are dropped in rank
order and the list is cut after k turns; recall@k is the share of the
question's evidence turns inside, hit@10 whether any is, NDCG@10 binary gain
over the turn positions. Categories 1-4 make the headline; 5 (adversarial)
is reported apart.

Scale. A deterministic synthetic history of N messages goes through the same
path (Conversations.add, then index_pending), then 200 recalls are timed,
query embedding included, beside the database's size on disk and peak RSS.
"""

from __future__ import annotations

import math
import random
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np
from numpy.typing import NDArray

from psi.benchmarks.locomo import Defects, Sample
from psi.clock import FrozenClock
from psi.llm.types import Message
from psi.memory.service import Memory, Recalled, TextEmbedder
from psi.store.conversations import Conversations
from psi.store.db import Store, create_database, drop_database, open_store

KS = (1, 5, 10, 20, 50)
DEPTH = max(KS)
METRICS = (*(f"recall@{k}" for k in KS), "hit@10", "ndcg@10")
METHODS = ("psi", "bm25", "dense", "hybrid")
HEADLINE = (1, 2, 3, 4)
ADVERSARIAL = 5
RRF_K = 60
TURN_GAP = timedelta(seconds=1)
ASKED_AFTER = timedelta(days=1)
USER = "locomo"


# -- metrics (pure) ------------------------------------------------------------


def ranked_turns(items: Iterable[Iterable[str]], *, depth: int = DEPTH) -> list[str]:
    """Turns in rank order: each item expands to its turns, repeats dropped, cut at `depth`."""
    seen: dict[str, None] = {}
    for item in items:
        for turn in item:
            if turn not in seen:
                seen[turn] = None
                if len(seen) == depth:
                    return list(seen)
    return list(seen)


def recall_at(turns: Sequence[str], evidence: Iterable[str], k: int) -> float:
    wanted = set(evidence)
    return len(wanted.intersection(turns[:k])) / len(wanted)


def hit_at(turns: Sequence[str], evidence: Iterable[str], k: int) -> float:
    return 1.0 if set(evidence).intersection(turns[:k]) else 0.0


def ndcg_at(turns: Sequence[str], evidence: Iterable[str], k: int) -> float:
    """Binary-gain NDCG: 1/log2(position + 1) per evidence turn, over the best possible."""
    wanted = set(evidence)
    gained = sum(1 / math.log2(i + 2) for i, turn in enumerate(turns[:k]) if turn in wanted)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(wanted), k)))
    return gained / ideal


def scores(turns: Sequence[str], evidence: Sequence[str]) -> dict[str, float]:
    figures = {f"recall@{k}": recall_at(turns, evidence, k) for k in KS}
    figures["hit@10"] = hit_at(turns, evidence, 10)
    figures["ndcg@10"] = ndcg_at(turns, evidence, 10)
    return figures


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank (always one of the samples)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def rrf(rankings: Sequence[Sequence[int]], *, k: int = RRF_K) -> list[int]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda item: (-fused[item], item))


# -- results -------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """One question's figures for every method."""

    sample_id: str
    category: int
    scores: dict[str, dict[str, float]]  # method -> metric -> value
    latency_ms: dict[str, float]


@dataclass
class MemoryResult:
    embedder: str
    answered: list[Answered] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    messages: int = 0
    ingest_s: float = 0.0
    defects: Defects = field(default_factory=Defects)

    @property
    def ingest_msgs_per_s(self) -> float:
        return self.messages / self.ingest_s if self.ingest_s else 0.0

    def summary(
        self,
        method: str,
        *,
        categories: Sequence[int] = HEADLINE,
        sample_id: str | None = None,
    ) -> dict[str, float]:
        """Mean of every metric over the matching questions, and their number `n`."""
        rows = [
            a.scores[method]
            for a in self.answered
            if a.category in categories and sample_id in (None, a.sample_id)
        ]
        figures: dict[str, float] = {m: mean(r[m] for r in rows) if rows else 0.0 for m in METRICS}
        figures["n"] = len(rows)
        return figures

    def latency_ms(self, method: str) -> dict[str, float]:
        times = [a.latency_ms[method] for a in self.answered]
        return {"p50": percentile(times, 50), "p95": percentile(times, 95)} if times else {}

    @property
    def categories(self) -> list[int]:
        return sorted({a.category for a in self.answered})

    def as_json(self) -> dict[str, Any]:
        def rounded(figures: dict[str, float]) -> dict[str, float]:
            return {name: round(value, 4) for name, value in figures.items()}

        return {
            "methods": {
                method: {
                    "overall": rounded(self.summary(method)),
                    "by_category": {
                        str(c): rounded(self.summary(method, categories=(c,)))
                        for c in self.categories
                    },
                    "by_sample": {
                        s: rounded(self.summary(method, sample_id=s)) for s in self.samples
                    },
                    "latency_ms": rounded(self.latency_ms(method)),
                }
                for method in METHODS
            },
            "ingest_msgs_per_s": round(self.ingest_msgs_per_s, 1),
            "ingest_messages": self.messages,
            "ingest_s": round(self.ingest_s, 3),
            "embedder": self.embedder,
            "samples": self.samples,
            "questions": len(self.answered),
            "overall_categories": list(HEADLINE),
            "dropped": self.defects.as_json(),
        }


# -- LoCoMo --------------------------------------------------------------------


def measure_memory(
    samples: Sequence[Sample],
    *,
    embedder: TextEmbedder,
    defects: Defects | None = None,
    workdir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    server: str | None = None,
) -> MemoryResult:
    """Ingest each sample into a fresh store and answer its questions with every method.

    Stores are SQLite files under `workdir` (kept) or a temporary directory
    (removed), or, given a PostgreSQL `server` URL, databases created there (dropped
    after); `on_step(what)` is called after each ingest and each question.
    """
    result = MemoryResult(embedder=embedder.name, defects=defects or Defects())
    with _directory(workdir) as where:
        for sample in samples:
            result.samples.append(sample.sample_id)
            clock = FrozenClock(sample.last_at + ASKED_AFTER)
            name = _file_name(sample.sample_id)
            if server is None:
                store = open_store(f"sqlite:///{where / f'{name}.db'}")
            else:
                database = "psi_bench_" + re.sub(r"\W", "_", name.lower(), flags=re.ASCII)
                store = open_store(create_database(server, database))
            try:
                memory = Memory(
                    store,
                    user_id=store.ensure_user(USER),
                    embedder=lambda: embedder,
                    clock=clock,
                )
                start = time.perf_counter()
                turn_of = ingest(sample, store, memory)
                result.ingest_s += time.perf_counter() - start
                result.messages += len(turn_of)
                if on_step:
                    on_step("ingest")
                baselines = Baselines(sample, embedder)
                for question in sample.questions:
                    turns, latency = baselines.answer(question.question)
                    start = time.perf_counter()
                    recalled = memory.recall(question.question, limit=DEPTH)
                    latency["psi"] = (time.perf_counter() - start) * 1000
                    turns["psi"] = ranked_turns(recalled_turns(recalled, turn_of))
                    result.answered.append(
                        Answered(
                            sample_id=sample.sample_id,
                            category=question.category,
                            scores={m: scores(turns[m], question.evidence) for m in METHODS},
                            latency_ms=latency,
                        )
                    )
                    if on_step:
                        on_step("question")
            finally:
                store.dispose()
                if server is not None:
                    drop_database(server, store.url)
    return result


def ingest(sample: Sample, store: Store, memory: Memory) -> dict[int, str]:
    """Store every session as a conversation and index it; message id -> dia_id."""
    conversations = Conversations(store, user_id=memory.episodes.user_id)
    turn_of: dict[int, str] = {}
    for session in sample.sessions:
        conversation = conversations.create(at=session.at)
        for offset, turn in enumerate(session.turns):
            said = Message(role="user", content=turn.text, name=turn.speaker)
            message_id = conversations.add(conversation, said, at=session.at + offset * TURN_GAP)
            turn_of[message_id] = turn.dia_id
    memory.index_pending()
    return turn_of


def recalled_turns(recalled: Sequence[Recalled], turn_of: dict[int, str]) -> list[list[str]]:
    """Each recalled item as the dialogue turns it came from."""
    return [
        [turn_of[item.episode.message_id]]
        for item in recalled
        if item.episode.message_id in turn_of
    ]


def turn_documents(sample: Sample) -> list[str]:
    """Every turn as the baselines index it: "<session date>: <speaker>: <text>"."""
    return [
        f"{session.when or f'{session.at:%d %B %Y}'}: {turn.speaker}: {turn.text}"
        for session in sample.sessions
        for turn in session.turns
    ]


class Baselines:
    """BM25, dense and their fusion over one sample's single turns."""

    def __init__(self, sample: Sample, embedder: TextEmbedder) -> None:
        import bm25s
        import Stemmer

        self.embedder = embedder
        self.turns = [turn.dia_id for turn in sample.turns]
        documents = turn_documents(sample)
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.bm25 = bm25s.BM25()
        self.bm25.index(
            bm25s.tokenize(documents, stemmer=self.stemmer, show_progress=False),
            show_progress=False,
        )
        self.vectors = embedder.embed(documents)

    def keyword(self, query: str) -> list[int]:
        words = self._bm25s.tokenize(
            query, stemmer=self.stemmer, return_ids=False, show_progress=False
        )[0]
        if not words:
            return []
        found = np.asarray(self.bm25.get_scores(words))
        best = _top(found, DEPTH)
        return [int(i) for i in best if found[i] > 0]

    def dense(self, query: str) -> list[int]:
        found = self.vectors @ self.embedder.embed_query(query)
        return [int(i) for i in _top(found, DEPTH)]

    def answer(self, query: str) -> tuple[dict[str, list[str]], dict[str, float]]:
        """Each baseline's turns for `query`, and its time in ms."""
        ranked: dict[str, list[int]] = {}
        latency: dict[str, float] = {}
        for name, method in (("bm25", self.keyword), ("dense", self.dense)):
            start = time.perf_counter()
            ranked[name] = method(query)
            latency[name] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        ranked["hybrid"] = rrf([ranked["bm25"], ranked["dense"]])[:DEPTH]
        fusing = (time.perf_counter() - start) * 1000
        latency["hybrid"] = latency["bm25"] + latency["dense"] + fusing
        turns = {name: [self.turns[i] for i in order] for name, order in ranked.items()}
        return turns, latency


def _top(values: NDArray[Any], k: int) -> NDArray[np.intp]:
    k = min(k, len(values))
    if k == 0:
        return np.zeros(0, dtype=np.intp)
    best = np.argpartition(-values, k - 1)[:k]
    return best[np.argsort(-values[best], kind="stable")]


def _file_name(sample_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in sample_id) or "sample"


@contextmanager
def _directory(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="psi-bench-memory-") as scratch:
        yield Path(scratch)


# -- scale ---------------------------------------------------------------------

SCALE_USER = "scale"
PER_CONVERSATION = 40
SCALE_START = datetime(2024, 1, 1, tzinfo=UTC)
_NAMES = (
    "Ada", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kemal", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tove",
)  # fmt: skip
_PLACES = (
    "Lisbon", "the lake", "the old mill", "Kyoto", "the market", "Oslo", "the clinic",
    "the library", "Valencia", "the harbour", "the gym", "Nairobi", "the bakery", "Quebec",
)  # fmt: skip
_ACTIVITIES = (
    "hiking", "sailing", "pottery", "climbing", "chess", "running", "painting", "fishing",
    "baking", "cycling", "yoga", "birdwatching", "kayaking", "gardening", "salsa",
)  # fmt: skip
_THINGS = (
    "bike", "camera", "tent", "guitar", "kettle", "laptop", "sofa", "lamp", "passport",
    "umbrella", "backpack", "telescope", "notebook", "scooter", "blender",
)  # fmt: skip
_FOODS = ("bread", "figs", "rice", "coffee", "cheese", "lentils", "plums", "tea", "olives")
_QUALITIES = ("great", "awful", "too loud", "cheap", "fragile", "brilliant", "odd", "broken")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RELATIONS = ("sister", "brother", "aunt", "neighbour", "boss", "cousin", "friend")
_USER_SAYS = (
    "I went {activity} with {name} near {place} on {day}.",
    "{name} says the {thing} we bought in {place} is {quality}.",
    "Remind me to pick up {food} for {name} on {day}.",
    "Did I tell you {name} moved to {place}? The {word} there is {quality}.",
    "My {relation} {name} wants to try {activity} before the {word} festival.",
    "The {word} meeting moved to {day}; I need to bring the {thing}.",
    "I read a long piece about {word} and {other}, honestly {quality}.",
    "Lost my {thing} somewhere around {place}, maybe at the {word} stall.",
)
_PSI_SAYS = (
    "Noted: {activity} with {name} on {day}.",
    "I'll remind you about the {food} for {name} on {day}.",
    "{place} sounds {quality}. How did the {thing} hold up?",
    "You mentioned {word} before; is that linked to {other}?",
    "Your {relation} {name} could join you for {activity} at {place}.",
)
_ASKS = (
    "When did I go {activity} with {name}?",
    "What did {name} say about the {thing}?",
    "Where did {name} move to?",
    "What do I know about {word}?",
    "What should I buy for {name}?",
    "Where did I lose my {thing}?",
)


class SyntheticHistory:
    """Deterministic varied sentences: a few fixed slots and a Zipf-weighted made-up lexicon,
    so the keyword index meets both very common and rare words."""

    def __init__(self, *, seed: int = 0, lexicon: int = 5000) -> None:
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
        words: dict[str, None] = {}
        while len(words) < lexicon:
            words["".join(self.rng.choices(syllables, k=self.rng.randint(2, 4)))] = None
        self.words = list(words)
        self.weights = [1.0 / rank for rank in range(1, lexicon + 1)]

    def fill(self, template: str) -> str:
        rng = self.rng
        word, other = rng.choices(self.words, weights=self.weights, k=2)
        return template.format(
            name=rng.choice(_NAMES),
            place=rng.choice(_PLACES),
            activity=rng.choice(_ACTIVITIES),
            thing=rng.choice(_THINGS),
            food=rng.choice(_FOODS),
            quality=rng.choice(_QUALITIES),
            day=rng.choice(_DAYS),
            relation=rng.choice(_RELATIONS),
            word=word,
            other=other,
        )

    def messages(self, n: int) -> Iterator[Message]:
        for index in range(n):
            if index % 2 == 0:
                yield Message.user(self.fill(self.rng.choice(_USER_SAYS)))
            else:
                yield Message.assistant(self.fill(self.rng.choice(_PSI_SAYS)))

    def queries(self, n: int) -> list[str]:
        return [self.fill(self.rng.choice(_ASKS)) for _ in range(n)]


@dataclass(frozen=True)
class ScaleResult:
    items: int
    embedder: str
    limit: int
    store_s: float
    index_s: float
    snapshot_s: float
    first_recall_ms: float
    recall_ms: list[float]
    db_bytes: int
    peak_rss_bytes: int

    @property
    def ingest_msgs_per_s(self) -> float:
        total = self.store_s + self.index_s
        return self.items / total if total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "embedder": self.embedder,
            "recall_limit": self.limit,
            "queries": len(self.recall_ms),
            "recall_ms": {
                "p50": round(percentile(self.recall_ms, 50), 3),
                "p95": round(percentile(self.recall_ms, 95), 3),
                "max": round(max(self.recall_ms), 3),
                "first": round(self.first_recall_ms, 3),
            },
            "ingest_msgs_per_s": round(self.ingest_msgs_per_s, 1),
            "store_s": round(self.store_s, 3),
            "index_s": round(self.index_s, 3),
            "snapshot_s": round(self.snapshot_s, 3),
            "db_bytes": self.db_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
        }


def measure_memory_scale(
    items: int,
    *,
    embedder: TextEmbedder,
    queries: int = 200,
    limit: int = 6,
    seed: int = 0,
    workdir: Path | None = None,
    on_step: Callable[[str, int], None] | None = None,
) -> ScaleResult:
    """Store `items` synthetic messages, index them, and time `queries` recalls of `limit`.

    `on_step(phase, count)` reports progress: ("stored", n) every 1,000
    messages, ("indexed", items), then ("recalled", 1) per query.
    """
    history = SyntheticHistory(seed=seed)
    with _directory(workdir) as where:
        path = where / "scale.db"
        store = open_store(f"sqlite:///{path}")
        try:
            user_id = store.ensure_user(SCALE_USER)
            conversations = Conversations(store, user_id=user_id)
            memory = Memory(store, user_id=user_id, embedder=lambda: embedder)
            start = time.perf_counter()
            conversation = 0
            for index, message in enumerate(history.messages(items)):
                at = SCALE_START + timedelta(hours=6 * (index // PER_CONVERSATION), seconds=index)
                if index % PER_CONVERSATION == 0:
                    conversation = conversations.create(at=at)
                conversations.add(conversation, message, at=at)
                if on_step and (index + 1) % 1000 == 0:
                    on_step("stored", 1000)
            store_s = time.perf_counter() - start
            start = time.perf_counter()
            memory.index_pending()
            index_s = time.perf_counter() - start
            if on_step:
                on_step("indexed", items)
            # What a long-running process's indexer does next, in the background.
            start = time.perf_counter()
            built = memory.refresh_snapshots()
            snapshot_s = time.perf_counter() - start if built else 0.0
            asked = history.queries(queries + 1)
            # The first recall may load vectors into the process's matrix cache.
            start = time.perf_counter()
            memory.recall(asked[0], limit=limit)
            first_ms = (time.perf_counter() - start) * 1000
            times = []
            for query in asked[1:]:
                start = time.perf_counter()
                memory.recall(query, limit=limit)
                times.append((time.perf_counter() - start) * 1000)
                if on_step:
                    on_step("recalled", 1)
            wal = path.with_name(path.name + "-wal")
            size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        finally:
            store.dispose()
    return ScaleResult(
        items=items,
        embedder=embedder.name,
        limit=limit,
        store_s=store_s,
        index_s=index_s,
        snapshot_s=snapshot_s,
        first_recall_ms=first_ms,
        recall_ms=times,
        db_bytes=size,
        # ru_maxrss is in KiB on Linux.
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def load_embedder(choice: str) -> TextEmbedder:
    """psi's embedder, loaded: "default" (all-MiniLM-L6-v2 on the default backend: onnx
    when onnxruntime is installed), "sentence-transformers" (the same on torch) or "hashing"."""
    from psi.config import EmbedderSettings, load_settings
    from psi.embed import get_embedder

    fields = {} if choice == "default" else {"backend": choice}
    chosen = EmbedderSettings.model_validate(fields)
    settings = load_settings().model_copy(update={"embedder": chosen})
    embedder = get_embedder(settings)
    # A model may load lazily: load it now, so no ingest or recall is timed with the load.
    embedder.embed(["warm up"])
    return embedder
