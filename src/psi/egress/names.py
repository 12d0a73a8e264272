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
from collections.abc import Sequence
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
# Words after which a capitalised token is a person's name unless it is an everyday word.
STRONG_CUES = _words(
    """
    dear hi hello hey thanks thank regards cheers love named called name i'm im name's
    says said asks asked replied wrote starring featuring feat user producer director
    author ceo founder founders kid son daughter wife husband partner friend boss mom
    dad mum mother father brother sister uncle aunt cousin colleague coworker neighbour
    neighbor manager
    """
)
# Words after which a capitalised token is a name if the lists know it as one.
WEAK_CUES = _words("from by with to and met ask tell told meet contact cc attn under")
# Two-token cues: "name is X", "call me X", "this is X".
CUE_PAIRS = frozenset(
    {("name", "is"), ("i", "am"), ("this", "is"), ("call", "me"), ("calls", "me"), ("it", "'s")}
)
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
# The most common census first names per sex, names first even when frequent words.
TOP_NAMES = 300
# Verbs after which a rare capitalised word is someone: "Vsevolod is", "Järvilehto began".
PERSON_VERBS = _words(
    """
    is was has had said says lives lived began spent works worked wrote told asked
    will would went
    """
)
# Below this a capitalised word is rarely English: two in a row are likely a name.
RARE = 3.0


@dataclass(frozen=True)
class Gazetteer:
    first: frozenset[str]
    top_first: frozenset[str]
    last: frozenset[str]
    zipf: dict[str, float]

    def common(self, word: str) -> float:
        return self.zipf.get(word, 0.0)

    def everyday(self, word: str) -> bool:
        """An everyday English word first: frequent, and not one of the most common
        first names (which are frequent because they are names: "David", "James")."""
        return self.common(word) >= EVERYDAY and word not in self.top_first


@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Lower case without accents, as the census lists are written ("Vladimír" -> "vladimir")."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def everyday_word(word: str) -> bool:
    """True for words too common in English to treat as a name on their own."""
    return gazetteer().everyday(fold(word))


def _census(name: str, limit: int | None = None) -> frozenset[str]:
    """Names from one census list, most frequent first; the first `limit` if given."""
    text = resources.files("names").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()][:limit]
    return frozenset(line.split()[0].lower() for line in lines)


def _faker_names() -> tuple[frozenset[str], frozenset[str]]:
    """First and last names from Faker's person providers, one per locale (about 31,000
    first and 28,000 last names, many of them European)."""
    import importlib
    import pkgutil

    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        attributes = vars(provider)
        for key, into in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("last_names", last),
        ):
            names = attributes.get(key)
            if isinstance(names, dict | list | tuple):
                into.update(fold(name) for name in names if isinstance(name, str))
    return frozenset(first), frozenset(last)


@functools.cache
def gazetteer() -> Gazetteer:
    import math

    from wordfreq import get_frequency_dict

    faker_first, faker_last = _faker_names()
    first = _census("dist.male.first") | _census("dist.female.first") | faker_first
    last = _census("dist.all.last") | faker_last
    frequencies = get_frequency_dict("en", wordlist="small")
    zipf = {word: math.log10(freq) + 9 for word, freq in frequencies.items() if freq > 0}
    top = (_census("dist.male.first", TOP_NAMES) | _census("dist.female.first", TOP_NAMES)) - STOP
    return Gazetteer(first=first, top_first=top, last=last, zipf=zipf)


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


def find_names(parsed: Doc) -> list[tuple[int, int, float]]:
    """(start, end, score) character spans of the names in `parsed`."""
    known = gazetteer()
    # A list, as indexing a spaCy Doc builds a new Token object each time.
    doc = list(parsed)
    spans: dict[int, tuple[int, float]] = {}  # first token -> (one past the last, score)
    i = 0
    while i < len(doc):
        evidence = _evidence(doc, i, known)
        if evidence is None:
            i += 1
            continue
        end = _extend(doc, i + 1, known)
        if evidence < 0.5 and end == i + 1:
            i += 1
            continue
        spans[i] = (end, max(evidence, 0.6))
        i = end
    _listed(doc, spans, known)
    _mentions(doc, spans, known)
    return [
        (doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text), score)
        for start, (end, score) in sorted(spans.items())
    ]


def _evidence(doc: Sequence[Token], i: int, known: Gazetteer) -> float | None:
    """How sure we are that a name starts at token i: None for not at all; below 0.5
    means only if a surname follows."""
    token = doc[i]
    cue = _cue(doc, i)
    if _capitalised(token):
        word = fold(token.text)
        if word in STOP or word in TITLES:
            return None
        if _titled(doc, i):
            return 0.9
        is_first = word in known.first
        everyday = known.everyday(word)
        if is_first and not everyday:
            return 0.85
        if not everyday and _name_follows(doc, i, known):
            return 0.8
        if cue == STRONG and not everyday:
            return 0.7
        if cue and (is_first or word in known.last):
            return 0.7
        if _rare(word, known) and i + 1 < len(doc) and not _line_break_after(token):
            after = doc[i + 1]
            if _capitalised(after) and _rare(fold(after.text), known):
                return 0.55
            if after.lower_ in PERSON_VERBS:
                return 0.55
        return 0.3 if is_first else None
    if token.text.islower() and cue:
        word = fold(token.text)
        if word in known.first and known.common(word) < LOWER_RARE and len(word) > 2:
            return 0.6
    return None


def _name_follows(doc: Sequence[Token], i: int, known: Gazetteer) -> bool:
    """A surname from the lists, or an initial and a capitalised word, follows token i:
    "Tosh Olsen", "Valida M. Ibragimov", "Csanád P Gere"."""
    if i + 1 >= len(doc) or _line_break_after(doc[i]):
        return False
    after = doc[i + 1]
    if _initial(after):
        k = (
            i + 2
            if after.text.endswith(".") or i + 2 >= len(doc) or doc[i + 2].text != "."
            else i + 3
        )
        return k < len(doc) and _capitalised(doc[k]) and not known.everyday(fold(doc[k].text))
    word = fold(after.text)
    return _capitalised(after) and word in known.last and not known.everyday(word)


def _rare(word: str, known: Gazetteer) -> bool:
    """Capitalised and almost never an English word: likely a name even off the lists."""
    return known.common(word) < RARE and word not in STOP


def _titled(doc: Sequence[Token], i: int) -> bool:
    k = i - 1
    if k >= 0 and doc[k].text == ".":
        k -= 1
    return k >= 0 and fold(doc[k].text).rstrip(".") in TITLES


STRONG = "strong"
WEAK = "weak"


def _cue(doc: Sequence[Token], i: int) -> str | None:
    """Whether the words before token i announce a name, and how firmly."""
    k = i - 1
    while k >= 0 and (doc[k].is_space or doc[k].text in {":", ",", "-", "?"}):
        k -= 1
    if k < 0:
        return None
    before = fold(doc[k].text)
    pair = (fold(doc[k - 1].text), before) if k >= 1 else ("", before)
    if before in STRONG_CUES or pair in CUE_PAIRS or (pair[0] == "i" and before == "'m"):
        return STRONG
    return WEAK if before in WEAK_CUES else None


def _extend(doc: Sequence[Token], j: int, known: Gazetteer) -> int:
    """One past the last token of a name whose first token is j - 1."""
    start = j - 1
    while j < len(doc) and j - start < 5 and not _line_break_after(doc[j - 1]):
        token = doc[j]
        word = fold(token.text)
        surname = _capitalised(token) and word not in STOP and _surname_like(word, known)
        particle = word in PARTICLES and j + 1 < len(doc) and _capitalised(doc[j + 1])
        if _initial(token) or word in SUFFIXES or surname or particle:
            j += 1
        else:
            break
    while j - 1 > start and fold(doc[j - 1].text) in PARTICLES:
        j -= 1
    return j


def _surname_like(word: str, known: Gazetteer) -> bool:
    zipf = known.common(word)
    return zipf < EVERYDAY or (word in known.last and zipf < 5.5)


def _taken(spans: dict[int, tuple[int, float]]) -> set[int]:
    return {k for start, (end, _) in spans.items() for k in range(start, end)}


def _listed(doc: Sequence[Token], spans: dict[int, tuple[int, float]], known: Gazetteer) -> None:
    """Names in a list beside a found name: "Anna, Brian and Carl", "anna, brian and carl"."""
    if not spans:
        return
    for _ in range(3):
        taken = _taken(spans)
        added = False
        for i, token in enumerate(doc):
            if i in taken or not _name_shaped(token, known):
                continue
            if _list_neighbour(doc, i, taken):
                spans[i] = (i + 1, 0.6)
                taken.add(i)
                added = True
        if not added:
            return


def _name_shaped(token: Token, known: Gazetteer) -> bool:
    word = fold(token.text)
    if word in STOP or word in TITLES or len(word) < 3:
        return False
    if _capitalised(token):
        return not known.everyday(word)
    return token.text.islower() and word in known.first and known.common(word) < LOWER_RARE


def _list_neighbour(doc: Sequence[Token], i: int, taken: set[int]) -> bool:
    for step in (-1, 1):
        k = i + step
        while 0 <= k < len(doc) and doc[k].text in {",", "and", "&", "or"}:
            k += step
        if k != i + step and 0 <= k < len(doc) and k in taken:
            return True
    return False


def _mentions(doc: Sequence[Token], spans: dict[int, tuple[int, float]], known: Gazetteer) -> None:
    """Other mentions of a found name by one of its parts: "Jens Kreutzmann ... Jens"."""
    parts = (
        {
            fold(doc[k].text)
            for k in _taken(spans)
            if _capitalised(doc[k])
            and len(doc[k].text) > 2
            and not known.everyday(fold(doc[k].text))
        }
        - STOP
        - TITLES
        - PARTICLES
        - SUFFIXES
    )
    if not parts:
        return
    taken = _taken(spans)
    for i, token in enumerate(doc):
        if i not in taken and _capitalised(token) and fold(token.text) in parts:
            spans[i] = (i + 1, 0.6)
