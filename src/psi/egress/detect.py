"""Personal data in text, found offline: Presidio's analyzer on a blank spaCy pipeline.

No model is downloaded or loaded. spaCy only tokenizes (`spacy.blank("en")`);
the finding is done by Presidio's pattern and checksum recognizers and three
of psi's own:

- structured identifiers (Presidio): EMAIL_ADDRESS, CREDIT_CARD (Luhn), IBAN_CODE (mod 97),
  US_SSN, US_ITIN, US_PASSPORT, US_BANK_NUMBER, US_DRIVER_LICENSE, UK_NHS, UK_NINO,
  and national IDs with a checksum (ES_NIF, IT_FISCAL_CODE, PL_PESEL,
  FI_PERSONAL_IDENTITY_CODE, IN_AADHAAR, AU_TFN, AU_MEDICARE, SG_NRIC_FIN),
  IP_ADDRESS, MAC_ADDRESS, CRYPTO (wallets);
- PHONE_NUMBER (libphonenumber over the regions in `PHONE_REGIONS`, cue words)
  and URL when it has a path or query (`personal_url`): psi.egress.phones;
- PERSON: census first names plus the shape of names (psi.egress.names);
- STREET_ADDRESS: street lines and address blocks (psi.egress.addresses);
- the deny-list: values psi knows from the user's memory, of any type, always
  redacted (`KnownValues`).

Kept by default (`KEPT`): DATE_TIME, because dates carry most of what a model
needs to plan or answer and identify no one on their own; cities and countries
(GPE/LOCATION), because "weather in Lisbon" or "flights to Oslo" is useless
without them and a city alone is a weak identifier (a street address is
redacted, city included); bare domains ("python.org"), which name sites, not
people; and ORGANIZATION, NRP, AGE, TITLE, which no offline recogniser here
finds reliably. Anything of these that the user's memory holds (their
employer, their home town) comes in through the deny-list and is redacted.

The analyzer is built once per process, on first use; importing this module
imports Presidio and spaCy, so import it lazily from code on the CLI's path.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from spacy.tokens import Doc

from psi.egress.addresses import PsiStreetAddressRecognizer
from psi.egress.names import PsiNameRecognizer, everyday_word
from psi.egress.phones import PsiNumberRecognizer, PsiPhoneRecognizer, PsiUrlRecognizer

LANGUAGE = "en"
DEFAULT_ENTITIES = frozenset(
    {
        "PERSON",
        "STREET_ADDRESS",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "US_ITIN",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "UK_NHS",
        "UK_NINO",
        "ES_NIF",
        "IT_FISCAL_CODE",
        "PL_PESEL",
        "FI_PERSONAL_IDENTITY_CODE",
        "IN_AADHAAR",
        "AU_TFN",
        "AU_MEDICARE",
        "SG_NRIC_FIN",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "CRYPTO",
        "URL",
        "ID_NUMBER",
        "MEDICAL_LICENSE",
    }
)
KEPT = {
    "DATE_TIME": "dates are what a model plans with, and identify no one alone",
    "LOCATION": "cities and countries are needed for most travel or weather questions",
    "GPE": "cities and countries are needed for most travel or weather questions",
    "ORGANIZATION": "not found offline; the user's employer comes through the deny-list",
}
# Regions whose national phone formats are read (numbers with a +country code are
# read whatever the region). Europe and North America, where psi's users are.
_REGIONS = (
    "US CA GB IE DE AT CH FR BE NL LU IT ES PT DK NO SE FI IS EE LV LT PL CZ SK HU SI HR "
    "GR CY MT RO BG AU NZ IN BR ZA IL"
)
PHONE_REGIONS = tuple(_REGIONS.split())
# Presidio's defaults that psi leaves out: dates are kept (see KEPT), spaCy finds nothing
# on a blank pipeline, UUIDs name things, not people; phones and URLs are psi.egress.phones.
_NOT_USED = (
    "DateRecognizer",
    "SpacyRecognizer",
    "UuidRecognizer",
    "PhoneRecognizer",
    "UrlRecognizer",
)
# Presidio's own score floor under which a finding is a guess (bank numbers and
# driver licences without a context word score 0.05 and below).
MIN_SCORE = 0.3
# When spans overlap, the one from the higher tier wins, then the longer one. Structured
# identifiers first, as a known name inside an email address must not split it.
_STRUCTURED = ("CREDIT_CARD", "IBAN_CODE", "EMAIL_ADDRESS", "US_SSN", "IP_ADDRESS", "URL")
_TIER = {"KNOWN": 3} | dict.fromkeys(_STRUCTURED, 4)


# Types that cannot occur in a text without a digit: their recognizers are skipped
# there, which halves the time on short messages.
_NEEDS_DIGIT = frozenset(DEFAULT_ENTITIES - {"PERSON", "STREET_ADDRESS", "EMAIL_ADDRESS", "URL"})
_DIGIT = re.compile(r"\d")


def _no_digit(text: str) -> bool:
    return _DIGIT.search(text) is None


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    entity_type: str
    score: float
    known: bool = False


class _BlankSpacy(SpacyNlpEngine):
    """spaCy's tokenizer only: no model to download, no NER. Lemmas are the lower-cased
    tokens, so Presidio's context words ("phone", "card") still raise scores."""

    def load(self) -> None:
        # Presidio declares `nlp` as None until loaded.
        self.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}  # type: ignore[assignment]

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=[],
        )


def _quiet() -> None:
    """Presidio logs a warning for each recognizer filed under another language when it
    loads its defaults; they say nothing about psi's configuration."""
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


def _offline_tldextract() -> None:
    """Presidio's email check calls tldextract, whose default extractor fetches the
    public suffix list over the network; use the snapshot it ships instead."""
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def blank_nlp_engine() -> SpacyNlpEngine:
    engine = _BlankSpacy()
    engine.load()
    return engine


@functools.cache
def presidio_blank() -> AnalyzerEngine:
    """Presidio's defaults on a blank spaCy pipeline: the benchmark's baseline."""
    _quiet()
    _offline_tldextract()
    engine = blank_nlp_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=engine)
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=[LANGUAGE])


@functools.cache
def analyzer() -> AnalyzerEngine:
    """psi's analyzer (see module doc), built once per process."""
    from presidio_analyzer import predefined_recognizers as pr

    _quiet()
    _offline_tldextract()
    engine = blank_nlp_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=engine)
    for replaced in _NOT_USED:
        registry.remove_recognizer(replaced)
    # Recognizers Presidio files under other languages; the IDs turn up in English text.
    # Those that are digits only (Aadhaar, PESEL, Australia's TFN and Medicare number)
    # are left to PsiNumberRecognizer's rule for any run of 9 to 19 digits: each
    # recognizer costs about 9 µs a call, found or not.
    foreign = [
        pr.UkNinoRecognizer,
        pr.EsNifRecognizer,
        pr.ItFiscalCodeRecognizer,
        pr.FiPersonalIdentityCodeRecognizer,
        pr.SgFinRecognizer,
    ]
    for make in foreign:
        registry.add_recognizer(make(supported_language=LANGUAGE))
    registry.add_recognizer(PsiPhoneRecognizer(PHONE_REGIONS))
    registry.add_recognizer(PsiUrlRecognizer())
    registry.add_recognizer(PsiNumberRecognizer())
    registry.add_recognizer(PsiNameRecognizer())
    registry.add_recognizer(PsiStreetAddressRecognizer())
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=[LANGUAGE])


class KnownValues(EntityRecognizer):
    """The deny-list: values from the user's memory, matched whole-word, ignoring case
    and runs of whitespace. Longer values win ("Anna Berg" before "Anna")."""

    def __init__(self, known: Iterable[tuple[str, str]]) -> None:
        self.types: dict[str, str] = {}
        pairs = [(value, entity_type.upper()) for value, entity_type in known]
        for value, entity_type in pairs:
            key = normalise(value)
            if len(key) >= 2:
                self.types[key] = entity_type
        # People are named by parts too ("Anna" for "Anna Berg"); parts that are
        # everyday words ("Will", "May") would redact every "will" and are left out.
        for value, entity_type in pairs:
            if entity_type == "PERSON":
                for part in normalise(value).split(" "):
                    if len(part) >= 3 and part.isalpha() and not everyday_word(part):
                        self.types.setdefault(part, entity_type)
        super().__init__(
            supported_entities=sorted(set(self.types.values())) or ["KNOWN"],
            name="PsiKnownValues",
        )
        alternatives = sorted(self.types, key=len, reverse=True)
        body = "|".join(r"\s+".join(map(re.escape, key.split(" "))) for key in alternatives)
        self.pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE) if body else None

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(entity_type, start, end, 1.0)
            for start, end, entity_type in self.find(text)
        ]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        if self.pattern is None:
            return []
        return [
            (match.start(), match.end(), self.types[normalise(match.group())])
            for match in self.pattern.finditer(text)
        ]


def normalise(value: str) -> str:
    """The form two mentions of one value share: case folded, whitespace collapsed."""
    return " ".join(value.split()).casefold()


def personal_url(url: str) -> bool:
    """A URL worth redacting: one with a path, query or user part, which may name a
    person or carry a token. A bare domain ("https://www.python.org/") names a site."""
    candidate = url if "//" in url else "//" + url
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return True
    return bool(parts.path.strip("/") or parts.query or parts.fragment or parts.username)


def find(
    text: str,
    *,
    known: KnownValues | None = None,
    entities: Collection[str] = DEFAULT_ENTITIES,
) -> list[Finding]:
    """Non-overlapping findings in `text`, in order. Deny-list values are always
    included, whatever `entities` says."""
    if not text.strip():
        return []
    wanted = [e for e in entities if e not in _NEEDS_DIGIT] if _no_digit(text) else list(entities)
    if "@" not in text and "EMAIL_ADDRESS" in wanted:
        wanted.remove("EMAIL_ADDRESS")
    results = (
        analyzer().analyze(text, language=LANGUAGE, entities=wanted, score_threshold=MIN_SCORE)
        if wanted
        else []
    )
    findings = [
        Finding(r.start, r.end, r.entity_type, r.score)
        for r in results
        if r.entity_type != "URL" or personal_url(text[r.start : r.end])
    ]
    if known is not None:
        findings += [Finding(s, e, kind, 1.0, known=True) for s, e, kind in known.find(text)]
    return resolve(text, findings)


def resolve(text: str, findings: Iterable[Finding]) -> list[Finding]:
    """Non-overlapping findings: where two overlap, the deny-list wins, then checksummed
    identifiers, then the longer span, then the higher score; the loser keeps what
    the winner does not cover."""

    def rank(f: Finding) -> tuple[int, int, float]:
        tier = _TIER["KNOWN"] if f.known else _TIER.get(f.entity_type, 1)
        return (tier, f.end - f.start, f.score)

    chosen: list[Finding] = []
    for finding in sorted(findings, key=rank, reverse=True):
        pieces = [(finding.start, finding.end)]
        for c in chosen:
            pieces = [
                part
                for start, end in pieces
                for part in ((start, min(end, c.start)), (max(start, c.end), end))
                if part[1] > part[0]
            ]
        # What is left of a span that lost an overlap is still redacted, unless it
        # is only spaces and punctuation.
        for start, end in pieces:
            piece = text[start:end]
            if re.search(r"\w", piece):
                start += len(piece) - len(piece.lstrip(" \t\n,"))
                end -= len(piece) - len(piece.rstrip(" \t\n,"))
                chosen.append(
                    Finding(start, end, finding.entity_type, finding.score, finding.known)
                )
    return sorted(chosen)
