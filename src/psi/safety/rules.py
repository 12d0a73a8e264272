"""Rules for what a classifier trained on words misses: characters a reader cannot see,
payloads hidden in an encoding, and phrases that try to take over the model's role.

    fired = apply_rules("Ignore previous instructions and ...")
    fired                          # (Rule(name="override-previous", injection=0.9),)

Each rule has a name (reported in Assessment.rules) and the injection score it raises
a text to. Pure functions over strings; no rule looks at the channel, the policy does.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    injection: float
    fires: Callable[[str], bool]


# Tag characters (U+E0000-E007F) spell ASCII no one sees; models read them.
_TAGS = re.compile("[\U000e0000-\U000e007f]")
# Zero-width space, word joiner, Mongolian vowel separator, and a BOM after the start.
# ZWNJ (U+200C) is left out: Persian and Indic scripts need it.
_ZERO_WIDTH = re.compile("[\u200b\u2060\u180e\u2062\u2063\u2064]|(?<!^)\ufeff")
# A ZWJ between two Latin letters joins nothing; between emoji it builds one glyph.
_ZWJ_IN_LATIN = re.compile("[A-Za-z]\u200d[A-Za-z]")
# Embeddings, overrides and isolates reorder what is shown against what is read.
# The marks LRM/RLM (U+200E/F) are ordinary in Arabic and Hebrew and are left out.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_BASE64_URL = re.compile(r"(?<![A-Za-z0-9_\-=])[A-Za-z0-9_\-]{24,}={0,2}(?![A-Za-z0-9_\-=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){16,}(?![0-9A-Fa-f])")

_OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip|drop)\b[\w\s,'’-]{0,40}?"
    r"\b(previous|prior|above|earlier|preceding|former|original|initial|all|your|system|the)\b"
    r"[\w\s'’-]{0,30}?\b(instructions?|prompts?|rules|directions|directives|guidelines|"
    r"commands|context|messages?|constraints|restrictions|programming|guardrails)\b",
    re.IGNORECASE,
)
_NEW_ROLE = re.compile(
    r"\b(you are now|you're now|from now on,? you (are|will|must|shall)|"
    r"pretend (that )?you are|act as (an? )?(unrestricted|unfiltered|jailbroken|evil|DAN)|"
    r"you have no (restrictions|rules|limits|guidelines)|"
    r"(god|jailbreak|DAN|unrestricted|unfiltered|override) mode|"
    r"developer mode (enabled|on|activated))",
    re.IGNORECASE,
)
_ROLE_LINE = re.compile(
    r"(^|\n)\s*(\[?\s*(system|assistant|developer|admin(istrator)?)\s*[\]:>]|"
    r"<\|?\s*(im_start|system|endoftext)\s*\|?>|#{2,}\s*(system|new instructions?))",
    re.IGNORECASE,
)
_NEW_INSTRUCTIONS = re.compile(
    r"\b(new|updated|real|actual|secret|hidden) (instructions?|task|directive)s?\s*:",
    re.IGNORECASE,
)


def _readable(data: bytes) -> bool:
    """Decoded bytes that are mostly printable text, at least 16 characters of it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if len(text) < 16:
        return False
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    letters = sum(ch.isalpha() or ch == " " for ch in text)
    return printable / len(text) >= 0.95 and letters / len(text) >= 0.6


def _base64_payload(text: str) -> bool:
    for pattern, decode in (
        (_BASE64, base64.b64decode),
        (_BASE64_URL, base64.urlsafe_b64decode),
    ):
        for match in pattern.finditer(text):
            blob = match.group(0)
            try:
                data = decode(blob + "=" * (-len(blob) % 4))
            except (binascii.Error, ValueError):
                continue
            if _readable(data):
                return True
    return False


def _hex_payload(text: str) -> bool:
    for match in _HEX.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        if len(digits) % 2:
            digits = digits[:-1]
        if _readable(bytes.fromhex(digits)):
            return True
    return False


def _invisible(text: str) -> bool:
    return bool(_TAGS.search(text) or _ZERO_WIDTH.search(text) or _ZWJ_IN_LATIN.search(text))


def _private_use_run(text: str) -> bool:
    """Three or more private-use or unassigned code points in a row: smuggled symbols."""
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ("Co", "Cn") else 0
        if run >= 3:
            return True
    return False


# Scores sit above the classifier's usual cut-off (about 0.9), so a rule that fires is
# enough to flag a text; the training script counts the rules when it picks the cut-off.
RULES: tuple[Rule, ...] = (
    Rule("invisible-unicode", 0.98, _invisible),
    Rule("bidi-unicode", 0.98, lambda text: bool(_BIDI.search(text))),
    Rule("private-use-unicode", 0.9, _private_use_run),
    Rule("base64-payload", 0.95, _base64_payload),
    Rule("hex-payload", 0.95, _hex_payload),
    Rule("override-previous", 0.99, lambda text: bool(_OVERRIDE.search(text))),
    Rule("new-role", 0.97, lambda text: bool(_NEW_ROLE.search(text))),
    Rule("role-line", 0.97, lambda text: bool(_ROLE_LINE.search(text))),
    Rule("new-instructions", 0.97, lambda text: bool(_NEW_INSTRUCTIONS.search(text))),
)


def apply_rules(text: str) -> tuple[Rule, ...]:
    """The rules that fire on `text`, in the order of RULES."""
    return tuple(rule for rule in RULES if rule.fires(text))


def rule_score(text: str) -> float:
    """The injection score the rules alone give `text`: the strongest that fires, or 0."""
    return max((rule.injection for rule in apply_rules(text)), default=0.0)
