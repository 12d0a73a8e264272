"""A guard for tests: fixed scores for texts that contain given words.

    guard = KeywordGuard(hazards={"nerve agent": "S9"}, injection=["send the password"])

A real Guard (psi.safety.types), so the pipeline, policy and audit around it are the
real ones; only the scoring is made predictable.
"""

from __future__ import annotations

from psi.safety.types import Assessment, Channel


class KeywordGuard:
    name = "keywords"

    def __init__(
        self,
        *,
        hazards: dict[str, str] | None = None,
        injection: list[str] | None = None,
        score: float = 0.9,
    ) -> None:
        self.hazards = hazards or {}
        self.injection = injection or []
        self.score = score
        self.seen: list[tuple[Channel, str]] = []

    def assess(self, text: str, channel: Channel, *, prompt: str | None = None) -> Assessment:
        self.seen.append((channel, text))
        lowered = text.lower()
        codes = {code: self.score for word, code in self.hazards.items() if word in lowered}
        injected = any(word in lowered for word in self.injection)
        return Assessment(
            channel=channel,
            unsafe=self.score if codes else 0.01,
            hazards=codes,
            injection=self.score if injected else 0.01,
            backend=self.name,
        )
