"""`psi bench docs`: ingest throughput, the cost of an incremental sync, and retrieval
quality against BM25 over fixed-size chunks.

Ingest. A generated folder (psi.benchmarks.docs_corpus: 2,000 notes, 100 PDFs by
default) is added to a fresh SQLite library: reading, chunking and keyword indexing
are timed apart from embedding (the embedder is loaded before the clock starts).
Then syncs: with nothing changed (a walk and a stat per file), after editing 1% of the
files, and after editing 5% (each edit appends a sentence, so the file is read,
re-chunked and re-embedded); a sync is proportional to the change when its time
above the no-change walk grows with the number of files changed.

Retrieval. Every State of the Union address becomes a note (psi.benchmarks.docs_corpus);
each question is answered by:
- `fixed-bm25`: bm25s (English stopwords, Snowball stemmer) over fixed windows of
  1,000 characters with 200 of overlap, cut at word ends: the plain baseline;
- `psi-bm25`: the same BM25 over psi's passages (title and heading included), so
  chunking is compared on equal terms;
- `psi-keyword`: psi's own keyword search (FTS5, BM25);
- `psi-hybrid`: psi's search, keyword and vectors fused (`Library.search`).
A passage answers when it comes from one of the question's files and contains its
phrase (whitespace normalised). Metrics: hit@1, hit@5, hit@10 and MRR@10.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from psi.benchmarks.docs_corpus import (
    Speech,
    handwritten,
    known_items,
    speech_note,
    write_ingest_corpus,
)
from psi.config import DocsSettings
from psi.knowledge.library import Library
from psi.memory.service import TextEmbedder
from psi.store.db import open_store

DEPTH = 10
WINDOW = 1000
OVERLAP = 200
METHODS = ("fixed-bm25", "psi-bm25", "psi-keyword", "psi-hybrid")


@dataclass
class IngestResult:
    notes: int
    pdfs: int
    pages: int  # notes count one page each
    megabytes: float
    passages: int
    embedder: str
    index_s: float
    embed_s: float
    syncs: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "pages_per_s_index": self.pages / self.index_s,
            "mb_per_s_index": self.megabytes / self.index_s,
            "pages_per_s_total": self.pages / (self.index_s + self.embed_s),
            "mb_per_s_total": self.megabytes / (self.index_s + self.embed_s),
            "passages_per_s_embed": self.passages / self.embed_s if self.embed_s else None,
        }


def measure_ingest(
    embedder: TextEmbedder,
    *,
    notes: int = 2000,
    pdfs: int = 100,
    speeches: list[Speech] | None = None,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> IngestResult:
    say = progress or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="psi-bench-docs-") as scratch:
        folder = Path(scratch) / "corpus"
        say("writing the corpus")
        paths, pdf_pages = write_ingest_corpus(
            folder, notes=notes, pdfs=pdfs, seed=seed, speeches=speeches
        )
        size = sum(p.stat().st_size for p in paths)
        store = open_store(f"sqlite:///{Path(scratch) / 'psi.db'}")
        library = Library(
            store, user_id=store.ensure_user("bench"), settings=DocsSettings(),
            embedder=lambda: embedder,
        )  # fmt: skip
        say("reading and indexing")
        start = time.perf_counter()
        report = library.add([folder], embed=False)
        index_s = time.perf_counter() - start
        say("embedding")
        start = time.perf_counter()
        embedded = library.embed_pending()
        embed_s = time.perf_counter() - start
        result = IngestResult(
            notes=notes,
            pdfs=pdfs,
            pages=notes + pdf_pages,
            megabytes=size / 1e6,
            passages=report.passages,
            embedder=embedder.name,
            index_s=index_s,
            embed_s=embed_s,
        )
        assert embedded == report.passages and not report.skipped, report.skipped
        rng = random.Random(seed)
        for label, share in (("none", 0.0), ("1%", 0.01), ("5%", 0.05)):
            say(f"sync after changing {label}")
            changed = rng.sample(paths, round(len(paths) * share))
            for path in changed:
                _edit(path, rng)
            start = time.perf_counter()
            synced = library.sync()
            seconds = time.perf_counter() - start
            result.syncs[label] = {
                "files_changed": len(changed),
                "files_read": len(synced.updated),
                "passages": synced.passages,
                "embedded": synced.embedded,
                "bytes_read": synced.bytes_read,
                "seconds": seconds,
            }
        store.dispose()
    return result


def _edit(path: Path, rng: random.Random) -> None:
    """A real change: one more sentence (a note's last line; a PDF rewritten with it)."""
    if path.suffix == ".md":
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"\nAdded on review {rng.randint(0, 10**6)}.\n")
        return
    from psi.benchmarks.pdfgen import make_pdf
    from psi.knowledge.readers import read_document

    pages: dict[int, list[str]] = {}
    for block in read_document(path, path.read_bytes()).blocks:
        pages.setdefault(block.page or 1, []).append(block.text)
    lines = [[text[i : i + 90] for text in texts for i in range(0, len(text), 90)]
             for _, texts in sorted(pages.items())]  # fmt: skip
    lines[-1].append(f"Added on review {rng.randint(0, 10**6)}.")
    stamp = path.stat().st_mtime + 1
    path.write_bytes(make_pdf(lines, title=path.stem))
    os.utime(path, (stamp, stamp))


# -- retrieval ------------------------------------------------------------------------------


@dataclass
class RetrievalResult:
    speeches: int
    passages: int
    windows: int
    embedder: str
    questions: dict[str, int]
    # method -> question kind -> metric -> value
    scores: dict[str, dict[str, dict[str, float]]]
    latency_ms: dict[str, float]
    misses: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def windows(text: str, *, size: int = WINDOW, overlap: int = OVERLAP) -> list[str]:
    """Fixed windows of about `size` characters, `overlap` shared, cut at word ends."""
    flat = " ".join(text.split())
    out = []
    start = 0
    while start < len(flat):
        end = min(len(flat), start + size)
        if end < len(flat):
            cut = flat.rfind(" ", start + size // 2, end)
            end = cut if cut > 0 else end
        out.append(flat[start:end].strip())
        if end >= len(flat):
            break
        start = max(end - overlap, start + 1)
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    return out


class _BM25:
    def __init__(self, documents: Sequence[str]) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.index = bm25s.BM25()
        self.index.index(
            bm25s.tokenize(list(documents), stemmer=self.stemmer, show_progress=False),
            show_progress=False,
        )

    def search(self, query: str) -> list[int]:
        words = self._bm25s.tokenize(
            query, stemmer=self.stemmer, return_ids=False, show_progress=False
        )[0]
        if not words:
            return []
        scores = np.asarray(self.index.get_scores(words))
        best = np.argsort(-scores)[:DEPTH]
        return [int(i) for i in best if scores[i] > 0]


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def measure_retrieval(
    speeches: list[Speech],
    embedder: TextEmbedder,
    *,
    known: int = 150,
    seed: int = 11,
    progress: Callable[[str], None] | None = None,
) -> RetrievalResult:
    say = progress or (lambda _: None)
    questions = handwritten(speeches) + known_items(speeches, count=known, seed=seed)
    with tempfile.TemporaryDirectory(prefix="psi-bench-sotu-") as scratch:
        folder = Path(scratch) / "sotu"
        folder.mkdir()
        file_of: dict[str, str] = {}
        for speech in speeches:
            path = folder / f"{speech.fileid}.md"
            path.write_text(speech_note(speech), encoding="utf-8")
            file_of[str(path)] = speech.fileid
        store = open_store(f"sqlite:///{Path(scratch) / 'psi.db'}")
        library = Library(
            store, user_id=store.ensure_user("bench"), settings=DocsSettings(),
            embedder=lambda: embedder,
        )  # fmt: skip
        say(f"indexing {len(speeches)} addresses")
        library.add([folder], embed=False)
        say("embedding passages")
        library.embed_pending()
        psi_docs = library.index.every_passage()
        fixed = [
            (speech.fileid, window)
            for speech in speeches
            for window in windows("\n".join(speech.paragraphs()))
        ]
        say("building the BM25 baselines")
        fixed_bm25 = _BM25([text for _, text in fixed])
        psi_bm25 = _BM25([f"{p.title}\n{p.text}" for p in psi_docs])

        def ranked(method: str, query: str) -> list[tuple[str, str]]:
            """(fileid, text) of the top passages or windows."""
            if method == "fixed-bm25":
                return [fixed[i] for i in fixed_bm25.search(query)]
            if method == "psi-bm25":
                return [(file_of[psi_docs[i].path], psi_docs[i].text)
                        for i in psi_bm25.search(query)]  # fmt: skip
            hits = library.search(query, limit=DEPTH, dense=method == "psi-hybrid")
            return [(file_of[h.passage.path], h.passage.text) for h in hits]

        kinds = sorted({q.kind for q in questions})
        ranks: dict[str, dict[str, list[int | None]]] = {m: {k: [] for k in kinds} for m in METHODS}
        latency: dict[str, list[float]] = {m: [] for m in METHODS}
        misses: list[dict[str, Any]] = []
        say(f"asking {len(questions)} questions")
        for question in questions:
            phrase = _normal(question.phrase)
            for method in METHODS:
                start = time.perf_counter()
                found = ranked(method, question.text)
                latency[method].append((time.perf_counter() - start) * 1000)
                rank = next(
                    (
                        n
                        for n, (fileid, text) in enumerate(found, start=1)
                        if fileid in question.files and phrase in _normal(text)
                    ),
                    None,
                )
                ranks[method][question.kind].append(rank)
                if method == "psi-hybrid" and question.kind == "handwritten" and rank != 1:
                    misses.append({"question": question.text, "rank": rank})
        store.dispose()
    scores = {
        method: {kind: _metrics(found) for kind, found in by_kind.items()}
        | {"all": _metrics([r for found in by_kind.values() for r in found])}
        for method, by_kind in ranks.items()
    }
    return RetrievalResult(
        speeches=len(speeches),
        passages=len(psi_docs),
        windows=len(fixed),
        embedder=embedder.name,
        questions={kind: sum(q.kind == kind for q in questions) for kind in kinds},
        scores=scores,
        latency_ms={m: median(v) for m, v in latency.items()},
        misses=misses,
    )


def _metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {
        "hit@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "hit@10": sum(r is not None and r <= 10 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None) / n,
    }
