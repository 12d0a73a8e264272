"""What a guard says about a text, and the words the rest of psi uses for it.

    assessment = guard.assess("How do I pick a lock?", Channel.user)
    assessment.hazards            # {"S2": 0.12, ...}: score per hazard category, 0..1
    assessment.injection          # 0..1: how much the text reads as instructions to psi
    assessment.rules              # ("bidi-unicode",): rules that fired, by name

A `Guard` only scores. The user's policy (psi.safety.policy) turns an assessment
into a `Verdict` with an action per category: allow, warn or block.

Hazard categories are the MLCommons taxonomy Llama Guard 3 uses, S1-S14.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

HAZARDS: dict[str, str] = {
    "S1": "violent crimes",
    "S2": "non-violent crimes",
    "S3": "sex-related crimes",
    "S4": "child sexual exploitation",
    "S5": "defamation",
    "S6": "specialized advice",
    "S7": "privacy",
    "S8": "intellectual property",
    "S9": "indiscriminate weapons",
    "S10": "hate",
    "S11": "suicide and self-harm",
    "S12": "sexual content",
    "S13": "elections",
    "S14": "code interpreter abuse",
}

Action = Literal["allow", "warn", "block"]


class Channel(StrEnum):
    """Where a text comes from or goes: what the user wrote, what a model answered,
    what a tool returned, what a document holds."""

    user = "user"
    model = "model"
    tool = "tool"
    document = "document"


@dataclass(frozen=True)
class Assessment:
    """A guard's scores for one text on one channel. `hazards` maps S-codes to scores in
    [0, 1] (absent: not scored, treat as 0); `unsafe` is the overall hazard score."""

    channel: Channel
    unsafe: float = 0.0
    hazards: dict[str, float] = field(default_factory=dict)
    injection: float = 0.0
    rules: tuple[str, ...] = ()
    backend: str = ""


@dataclass(frozen=True)
class Verdict:
    """What psi does with a text: the action, the categories behind it and why."""

    action: Action
    channel: Channel
    categories: tuple[str, ...] = ()
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    assessment: Assessment | None = None


class Guard(Protocol):
    """A scorer of texts: the embedded classifier and rules, Llama Guard behind a server,
    a remote moderation API through the egress door."""

    name: str

    def assess(self, text: str, channel: Channel, *, prompt: str | None = None) -> Assessment:
        """Score `text`; for a model's answer, `prompt` is what it answered, when known."""
        ...
