"""Phone numbers and URLs: psi's own recognisers where Presidio's are slow.

Presidio's PhoneRecognizer runs libphonenumber's matcher over the whole text once
per region, so forty regions cost forty scans. Here one regular expression
finds the digit groups that could be a phone number, and libphonenumber
(`phonenumbers`) judges each candidate:

- with a cue word near it ("phone", "call", "mobile", "fax"...), any group of 7
  to 15 digits will do, since people write local numbers without an area code;
- with a `+` or `00` country prefix, it must have a possible length for its country;
- otherwise it must be valid in one of `regions`, and written with separators
  or brackets, as phone numbers are and order numbers are not.

Presidio finds card numbers only when their checksum holds; a mistyped card
number leaks as well as a valid one. So any run of 9 to 19 digits (spaces or
dashes between groups allowed) that nothing better explains is an ID_NUMBER,
or a CREDIT_CARD after a card word ("card", "cc", "visa"). Over-redacting a
number costs little: the placeholder comes back as the number in the reply.

Presidio's URL pattern is a large expression that costs more than all the ID
checks together; a URL here is a scheme or `www.` and what follows up to a
space, or a domain followed by a path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

PHONE = "PHONE_NUMBER"
URL = "URL"
CARD = "CREDIT_CARD"
NUMBER = "ID_NUMBER"

_CANDIDATE = re.compile(
    r"(?<![\w+./-])(?<!\d,)(?:(?:\+|00)\d{1,3}[ .-]?)?(?:\(0?\d{1,5}\)[ .-]?)?\d{1,12}"
    r"(?:[ .-]\d{1,8}|\(\d{1,5}\)){0,6}(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?(?![\w.,]?\d)(?!@)"
)
_CUES = re.compile(
    r"(?i:phone|tel\b|telephone|call|calling|mobile|cell|desk|fax|office|sms|text me|"
    r"whatsapp|signal|number|reach|ring|contact|answering|messages)"
)
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|#)[ ]?\d{1,6}$")
_CUE_BEFORE = 40
_CUE_AFTER = 16

_LONG_NUMBER = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){8,18}(?![\w.,/-]?\d)")
_CARD_CUES = re.compile(r"(?i:card|\bcc\b|visa|mastercard|amex|maestro|discover)")

_URL = re.compile(
    r"(?i:\b(?:https?://|ftp://|www\.)[^\s<>\"'`]+"
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,24}/[^\s<>\"'`]*)"
)


class PsiPhoneRecognizer(EntityRecognizer):
    def __init__(self, regions: Sequence[str]) -> None:
        self.regions = tuple(regions)
        super().__init__(supported_entities=[PHONE], name="PsiPhoneRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if PHONE not in entities:
            return []
        return [
            RecognizerResult(PHONE, s, e, score) for s, e, score in find_phones(text, self.regions)
        ]


def find_phones(text: str, regions: Sequence[str]) -> list[tuple[int, int, float]]:
    found = []
    for match in _CANDIDATE.finditer(text):
        candidate = match.group()
        number = _EXTENSION.sub("", candidate)
        digits = sum(ch.isdigit() for ch in number)
        if not 7 <= digits <= 15 or _DATE.fullmatch(number):
            continue
        score = _judge(text, match.start(), match.end(), number, regions)
        if score:
            found.append((match.start(), match.end(), score))
    return found


def _judge(text: str, start: int, end: int, number: str, regions: Sequence[str]) -> float:
    around = text[max(0, start - _CUE_BEFORE) : start] + " " + text[end : end + _CUE_AFTER]
    if _CUES.search(around):
        return 0.7
    if number.startswith(("+", "00")):
        international = "+" + number[2:] if number.startswith("00") else number
        return 0.9 if _possible(international) else 0.0
    grouped = any(sep in number for sep in " .-(")
    if grouped and any(_valid(number, region) for region in regions):
        return 0.6
    return 0.0


def _possible(number: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return False


def _valid(number: str, region: str | None) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(number, region)))
    except phonenumbers.NumberParseException:
        return False


class PsiUrlRecognizer(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=[URL], name="PsiUrlRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if URL not in entities:
            return []
        results = []
        for match in _URL.finditer(text):
            url = match.group().rstrip(".,;:!?)]}")
            results.append(RecognizerResult(URL, match.start(), match.start() + len(url), 0.6))
        return results


class PsiNumberRecognizer(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=[CARD, NUMBER], name="PsiNumberRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _LONG_NUMBER.finditer(text):
            before = text[max(0, match.start() - _CUE_BEFORE) : match.start()]
            kind = CARD if _CARD_CUES.search(before) else NUMBER
            if kind in entities:
                results.append(RecognizerResult(kind, match.start(), match.end(), 0.4))
        return results
