"""Street addresses, found by their shape in English and the main European forms.

A street line is one of:

- house number, street name, street type: "216 Menzies Street", "60 Balsham Rd";
- street type first: "Rua João Pessoa 1636", "26 rue des Lilas", "Avenida Praia 1";
- a compound street word and a number: "Hammarvägen 15", "Koepenicker Str. 74",
  "Trenerys gate 232", "Erzsébet tér 19";
- a post-office or military box: "P.O. Box 211", "PSC 0725, Box 6031", "APO AE 01708";
- a house number, capitalised words and a number: "20789 Allika 46";
- a named street without a number: "Berg Hills Street";
- after a cue ("address:", "my address is", "lives at", "meet me at"), a house
  number and capitalised words: "at 9816 214 Pavlou Drandaki".

From a street line the span grows over what usually follows it: a number
just before it, a unit ("Apt. 258", "Suite 907"), and the rest of an address
block, line by line (city, region, postcode, country), as long as each line is
short and looks like one (capitalised words, numbers, commas). A unit or box
alone ("Apt. 117") is an address too.

What it leaves out: a street with no type and no number ("on Ane Flats"),
addresses written entirely in lower case without a street word, and
addresses in scripts other than Latin.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

ENTITY = "STREET_ADDRESS"

_WORD = r"[^\W\d_][\w'’.-]*"
_CAP = r"[^\W\d_a-zà-ÿ][\w'’.-]*"
_NUM = r"\d{1,6}[A-Za-z]?"
# US/UK/Commonwealth street types (USPS Publication 28 main suffixes and abbreviations).
_TYPES_EN = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|"
    "terrace|ter|way|parkway|pkwy|highway|hwy|circle|cir|trail|trl|crescent|cres|close|grove|"
    "gardens|gdns|row|alley|plaza|points?|prairie|islands?|flats?|parks?|mews|walk|path|pike|"
    "expressway|expy|freeway|fwy|turnpike|tpke|route|rte|crossing|xing|heights|hts|hollow|"
    "junction|jct|meadows?|mills?|ridge|run|shores?|springs?|station|sta|summit|valley|vly|"
    "view|vw|villages?|vista|ways|wells?|creek|crk|estates?|falls|ferry|fields?|forest|fork|"
    "fort|ft|garden|gateway|glen|green|harbor|harbour|haven|hill|hills|knolls?|lakes?|landing|"
    "loop|manor|motorway|orchard|oval|overpass|pass|passage|pines|port|rapids|rest|roads|"
    "spur|squares|streets|stravenue|throughway|trace|track|tunnel|underpass|union|unions|"
    "causeway|centre|center|circus|common|corners?|cove|cliffs?|camp|canyon|cape|branch|bridge|"
    "brook|burgs?|bypass|bluffs?|bottom|bend|beach|arcade|annex|wharf|quay|embankment|broadway"
)
# Street words that come before the name (Romance languages and a few English ones).
_TYPES_BEFORE = (
    r"rua|avenida|avda\.?|av\.|calle|c/|carrer|camino|paseo|plaza|travessa|largo|praça|rodovia|"
    r"estrada|via|viale|piazza|piazzale|corso|vicolo|strada|rue|avenue|boulevard|bd|chemin|"
    r"impasse|allée|quai|cours|route|place|ulica|ul\.|aleja|al\.|calea|strada|bulevardul|"
    r"iroon|odos|leoforos"
)
# Endings of compound street words (German, Dutch, Nordic, Finnish, Hungarian, Baltic, Slavic).
_ENDINGS = (
    r"stra(?:ss|ß)e|str\.|gasse|weg|allee|platz|damm|ufer|steig|chaussee|markt|"
    r"vej|gade|stræde|torv|gata|gatan|vägen|väg|gränd|veien|vei|veg|vegen|gate|gaten|plass|"
    r"katu|tie|kuja|polku|raitti|laan|straat|gracht|plein|kade|singel|dreef|"
    r"utca|út|útja|tér|köz|iela|gatvė|tänav|ulice|náměstí|ulica|cesta|centret"
)
_UNIT = r"(?:apt\.?|apartment|suite|ste\.?|unit|flat|floor|fl\.?|room|rm\.?|bldg\.?|building|#)"
_PREFIX = r"(?:(?<=\s)|^|(?<=[>(,:]))"

_STREET_EN = re.compile(
    rf"{_PREFIX}{_NUM}[ \t]+(?:[NSEW]\.?[ \t]+)?"
    rf"(?:(?:{_CAP}|\d{{1,3}}(?i:st|nd|rd|th))[ \t]+){{1,4}}"
    rf"(?i:{_TYPES_EN})\b\.?",
)
_STREET_BEFORE = re.compile(
    rf"{_PREFIX}(?:{_NUM},?[ \t]+)?(?i:{_TYPES_BEFORE})[ \t]+(?:{_WORD}[ \t]+){{0,4}}"
    rf"(?:{_WORD}|\d{{1,5}}[A-Za-z]?)(?:,?[ \t]+\d{{1,5}}[A-Za-z]?\b)?",
)
_STREET_COMPOUND = re.compile(
    rf"{_PREFIX}(?:{_NUM}[ \t]+)?"
    rf"(?:{_CAP}[ \t]+(?i:{_ENDINGS})|[^\W\d_a-zà-ÿ][\w'’-]*?(?i:{_ENDINGS}))"
    rf"[ \t]+\d{{1,5}}[A-Za-z]?\b\.?",
)
_BOX = re.compile(
    r"(?i:\bp\.?\s?o\.?\s?box[ \t]+\d+|\bpost\s?box[ \t]+\d+|\bpsc[ \t]+\d+,?[ \t]+box[ \t]+\d+"
    r"|\bunit[ \t]+\d+[ \t]+box[ \t]+\d+|\b(?:uss|usns|usnv|uscgc)[ \t]+[^\W\d_][\w'-]+)"
    r"|\b[AFD]PO[ \t]+A[AEP][ \t]+\d{5}\b",
)
_CUED = re.compile(
    r"(?i:\baddress(?:[ \t]+is)?[ \t]*:?|\b(?:live[sd]?|living|located|based|stay(?:ing)?|"
    r"meet(?:ing)?[ \t]+(?:me|you|us)|is|are|at)[ \t]+at)[ \t]+"
    rf"(?P<street>{_NUM}(?:[ \t]+\d{{1,5}})?[ \t]+{_CAP}(?:[ \t]+(?:{_CAP}|\d{{1,5}}\b)){{0,4}})",
)
_UNIT_ALONE = re.compile(rf"(?<![\w-])(?i:{_UNIT.replace('|#', '')})[ \t]*\d{{1,6}}[A-Za-z]?\b")
# A house number, capitalised words and a number: "4923 Parmova 109", "20789 Allika 46".
_NUMBER_NAME_NUMBER = re.compile(
    rf"{_PREFIX}{_NUM}[ \t]+{_CAP}(?:[ \t]+{_CAP}){{0,2}}[ \t]+\d{{1,5}}[A-Za-z]?\b\.?"
)
# A named street without a number: "Berg Hills Street", "Baker Street".
_NAMED_STREET = re.compile(
    rf"(?<![\w-]){_CAP}(?:[ \t]+{_CAP}){{0,2}}[ \t]+(?:Street|Road|Avenue|Boulevard|Lane)\b"
)
# What may follow a street on the same line: units, capitalised words, postcodes, commas.
_SAME_LINE_TAIL = re.compile(
    rf"(?:,?[ \t]+(?:(?i:{_UNIT})[ \t]*\d{{1,6}}[A-Za-z]?|{_CAP}|[A-Z]{{2}}|\d{{3,6}}"
    rf"(?:-\d{{3,4}})?|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d))+"
)
_BLOCK_LINE = re.compile(
    rf"[ \t>?*•-]*,?[ \t]*(?:(?i:{_UNIT})[ \t]*\d{{1,6}}[A-Za-z]?|{_CAP}|[A-Z]{{2}}|\d{{1,6}}"
    rf"(?:-\d{{3,4}})?)(?:,?[ \t]+(?:(?i:{_UNIT})[ \t]*\d{{1,6}}[A-Za-z]?|{_CAP}|[A-Z]{{2,3}}"
    rf"|\d{{1,6}}(?:-\d{{3,4}})?|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)){{0,4}}[ \t]*,?[ \t]*$"
)
_NUMBER_BEFORE = re.compile(r"\d{1,6}[ \t]+$")
_BLOCK_LINES = 4
_MONTHS_AND_DAYS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday"
)
_CALENDAR = frozenset(_MONTHS_AND_DAYS.split())
_TIME_WORDS = frozenset({"am", "pm", "a.m.", "p.m.", "o'clock", "hours", "minutes", "days"})


class PsiStreetAddressRecognizer(EntityRecognizer):
    """STREET_ADDRESS spans (see module doc)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[ENTITY], name="PsiStreetAddressRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if ENTITY not in entities:
            return []
        return [RecognizerResult(ENTITY, start, end, score) for start, end, score in find(text)]


def find(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) spans of street addresses in `text`, overlaps merged."""
    spans: list[tuple[int, int, float]] = []
    patterns = (
        (_STREET_EN, 0.8),
        (_STREET_BEFORE, 0.7),
        (_STREET_COMPOUND, 0.75),
        (_NUMBER_NAME_NUMBER, 0.6),
        (_NAMED_STREET, 0.5),
    )
    for pattern, score in patterns:
        for match in pattern.finditer(text):
            if pattern is _STREET_BEFORE and not any(ch.isdigit() for ch in match.group()):
                continue
            if pattern is _NUMBER_NAME_NUMBER and _is_date(match.group()):
                continue
            spans.append((*_grow(text, match.start(), match.end()), score))
    for match in _BOX.finditer(text):
        spans.append((*_grow(text, match.start(), match.end()), 0.8))
    for match in _CUED.finditer(text):
        words = match.group("street").split()
        if fold_time(words) or _is_date(match.group("street")):
            continue
        spans.append((*_grow(text, match.start("street"), match.end("street")), 0.6))
    for match in _UNIT_ALONE.finditer(text):
        spans.append((*_grow(text, match.start(), match.end()), 0.6))
    return _merge(spans)


def _is_date(text: str) -> bool:
    """True for "12 March 2026"-like phrases, which are dates, not addresses."""
    return any(word.lower().rstrip(".,") in _CALENDAR for word in text.split())


def fold_time(words: list[str]) -> bool:
    """True for "at 5 PM"-like phrases, which are times, not addresses."""
    return len(words) > 1 and words[1].lower() in _TIME_WORDS


def _grow(text: str, start: int, end: int) -> tuple[int, int]:
    before = _NUMBER_BEFORE.search(text, max(0, start - 8), start)
    if before is not None:
        start = before.start()
    tail = _SAME_LINE_TAIL.match(text, end)
    if tail is not None:
        end = tail.end()
    for _ in range(_BLOCK_LINES):
        newline = text.find("\n", end)
        if newline == -1 or text[end:newline].strip(" \t,."):
            break
        line_start = newline + 1
        # One blank line may sit inside a block (before the country line).
        if (
            text[line_start : line_start + 1] == "\n"
            or not text[line_start:].split("\n", 1)[0].strip()
        ):
            line_start = text.find("\n", line_start) + 1
            if line_start == 0:
                break
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end == -1 else line_end
        line = text[line_start:line_end]
        if not line.strip() or len(line) > 60 or not _BLOCK_LINE.match(line):
            break
        end = line_start + len(line.rstrip(" \t,."))
    return start, end


def _merge(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    merged: list[tuple[int, int, float]] = []
    for start, end, score in sorted(spans):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), max(last[2], score))
        else:
            merged.append((start, end, score))
    return merged
