"""Names of unknown people, found offline: a gazetteer of first names plus the
shape of a name around it.

There is no NER model here (psi downloads none), so a PERSON is a run of name
tokens that some evidence says is a person:

- a title before it (`Mr`, `Dr`, `Prof.`...), or a cue such as "my name is",
  "Dear", "Hi" or "called" before a capitalised token;
- a first name from the US Census 1990 lists (the `names` package ships them,
  5,494 first names) written capitalised, and then any capitalised tokens
  that follow on the same line (surnames, initials, `van`/`de` particles,
  `Jr`/`PhD`). First names that are also everyday words ("Will", "May",
  "Mark", "June") need a surname after them or a title or cue before them;
  "how common" comes from wordfreq's English frequencies.
- a first name written in lower case ("my friend brian") counts only after a
  cue or beside another name in a list ("anna, brian and carl").

What it leaves out: a lone surname without a title or cue ("Meza said"), names
missing from the census lists with no cue, names inside email addresses (the
email recogniser takes the whole address).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

ENTITY = "PERSON"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


TITLES = _words(
    """
    mr mrs ms miss mx dr prof sir dame madam madame lady lord rev fr sr sra herr frau
    """
)
# Words after which a capitalised token is most likely a person's name.
CUES = _words(
    """
    dear hi hello hey thanks thank regards cheers love named called from by with to and
    met ask tell told meet contact cc attn
    """
)
# Two-token cues: "name is X", "I'm X", "this is X".
CUE_PAIRS = frozenset({("name", "is"), ("name", ":"), ("i", "am"), ("this", "is"), ("me", "is")})
CUE_TOKENS = frozenset({"i'm", "im", "name's", "names", "name:"})
PARTICLES = _words("van von de da del della der den di du la le bin ben al dos das")
SUFFIXES = _words("jr jr. sr sr. ii iii iv phd md dds dvm esq")
# Capitalised words that end a name rather than continue it.
STOP = _words(
    """
    street st road rd avenue ave lane ln drive dr boulevard blvd court ct way place
    square park parks hill hills county city town university college school hospital
    bank inc ltd llc corp company group street monday tuesday wednesday thursday friday
    saturday sunday january february march april may june july august september october
    november december the a an and or of in on at for to from with by is was are i you
    he she we they it this that my your his her our their mr mrs ms dr prof sir apt
    suite unit
    """
)
# wordfreq Zipf value at or above which a first name is also an everyday word.
EVERYDAY = 4.8
# Lower-case first names this common are words first ("rose", "will", "amber").
LOWER_RARE = 4.6


@dataclass(frozen=True)
class Gazetteer:
    first: frozenset[str]
    last: frozenset[str]
    zipf: dict[str, float]

    def common(self, word: str) -> float:
        return self.zipf.get(word, 0.0)


def fold(word: str) -> str:
    """Lower case without accents, as the census lists are written ("Vladimír" -> "vladimir")."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def everyday_word(word: str) -> bool:
    """True for words too common in English to treat as a name on their own."""
    return gazetteer().common(fold(word)) >= EVERYDAY


def _census(name: str) -> frozenset[str]:
    text = resources.files("names").joinpath(name).read_text(encoding="utf-8")
    return frozenset(line.split()[0].lower() for line in text.splitlines() if line.strip())


@functools.cache
def gazetteer() -> Gazetteer:
    import math

    from wordfreq import get_frequency_dict

    first = _census("dist.male.first") | _census("dist.female.first")
    last = _census("dist.all.last")
    frequencies = get_frequency_dict("en", wordlist="small")
    zipf = {word: math.log10(freq) + 9 for word, freq in frequencies.items() if freq > 0}
    return Gazetteer(first=first, last=last, zipf=zipf)


def _capitalised(token: Token) -> bool:
    text = token.text
    return len(text) > 1 and text[0].isupper() and text.replace("-", "").replace("'", "").isalpha()


def _initial(token: Token) -> bool:
    text = token.text.rstrip(".")
    return len(text) == 1 and text.isupper()


def _line_break_after(token: Token) -> bool:
    return "\n" in token.whitespace_


class PsiNameRecognizer(EntityRecognizer):
    """PERSON spans from the census gazetteer and the shape of names (see module doc)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[ENTITY], name="PsiNameRecognizer")

    def load(self) -> None:
        gazetteer()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or ENTITY not in entities:
            return []
        return [
            RecognizerResult(ENTITY, start, end, score)
            for start, end, score in find_names(nlp_artifacts.tokens)
        ]


def find_names(doc: Doc) -> list[tuple[int, int, float]]:
    """(start, end, score) character spans of the names in `doc`."""
    known = gazetteer()
    found: list[tuple[int, int, float]] = []
    spans: dict[int, int] = {}  # first token index -> one past the last
    i = 0
    while i < len(doc):
        token = doc[i]
        evidence = _evidence(doc, i, known)
        if evidence is None:
            i += 1
            continue
        end = _extend(doc, i + 1, known)
        if evidence < 0.5 and end == i + 1:
            i += 1
            continue
        spans[i] = end
        found.append((token.idx, doc[end - 1].idx + len(doc[end - 1].text), max(evidence, 0.6)))
        i = end
    found.extend(_listed(doc, spans, known))
    return found


def _evidence(doc: Doc, i: int, known: Gazetteer) -> float | None:
    """How sure we are that a name starts at token i: None for not at all; below 0.5
    means only if a surname follows."""
    token = doc[i]
    cued = _cued(doc, i)
    if _capitalised(token):
        word = fold(token.text)
        if word in STOP:
            return None
        if _titled(doc, i):
            return 0.9
        is_first = word in known.first
        everyday = known.common(word) >= EVERYDAY
        if is_first and not everyday:
            return 0.85
        if cued and (is_first or not everyday or word in known.last):
            return 0.7
        if is_first:
            return 0.3
        return None
    if token.text.islower() and cued:
        word = fold(token.text)
        if word in known.first and known.common(word) < LOWER_RARE and len(word) > 2:
            return 0.6
    return None


def _titled(doc: Doc, i: int) -> bool:
    if i == 0:
        return False
    before = fold(doc[i - 1].text).rstrip(".")
    if before == "." and i >= 2:
        before = fold(doc[i - 2].text)
    return before in TITLES


def _cued(doc: Doc, i: int) -> bool:
    if i == 0:
        return False
    before = fold(doc[i - 1].text)
    if before in CUES or before in CUE_TOKENS:
        return True
    if i >= 2 and (fold(doc[i - 2].text), before) in CUE_PAIRS:
        return True
    return i >= 3 and before == "'m" and fold(doc[i - 2].text) == "i"


def _extend(doc: Doc, j: int, known: Gazetteer) -> int:
    """One past the last token of a name whose first token is j - 1."""
    start = j - 1
    while j < len(doc) and j - start < 5 and not _line_break_after(doc[j - 1]):
        token = doc[j]
        word = fold(token.text)
        if (
            _initial(token)
            or word in SUFFIXES
            or (_capitalised(token) and word not in STOP and _surname_like(word, known))
            or (word in PARTICLES and j + 1 < len(doc) and _capitalised(doc[j + 1]))
        ):
            j += 1
        else:
            break
    # A trailing particle or title-like word is not part of the name.
    while j - 1 > start and fold(doc[j - 1].text) in PARTICLES:
        j -= 1
    return j


def _surname_like(word: str, known: Gazetteer) -> bool:
    zipf = known.common(word)
    return zipf < EVERYDAY or (word in known.last and zipf < 5.5)


def _listed(doc: Doc, spans: dict[int, int], known: Gazetteer) -> list[tuple[int, int, float]]:
    """Lower-case first names in a list beside a found name: "anna, brian and carl"."""
    found: list[tuple[int, int, float]] = []
    taken = {k for start, end in spans.items() for k in range(start, end)}
    for i, token in enumerate(doc):
        if i in taken or not token.text.islower():
            continue
        word = fold(token.text)
        if word not in known.first or known.common(word) >= LOWER_RARE or len(word) < 3:
            continue
        if _neighbour_is_name(doc, i, taken, known):
            found.append((token.idx, token.idx + len(token.text), 0.6))
            taken.add(i)
    return found


def _neighbour_is_name(doc: Doc, i: int, taken: set[int], known: Gazetteer) -> bool:
    for step in (-1, 1):
        k = i + step
        while 0 <= k < len(doc) and doc[k].text in {",", "and", "&", "or"}:
            k += step
        if k == i + step or not 0 <= k < len(doc):
            continue
        if k in taken:
            return True
        word = fold(doc[k].text)
        if word in known.first and known.common(word) < LOWER_RARE:
            return True
    return False
