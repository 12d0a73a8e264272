"""A remote moderation API (OpenAI's /v1/moderations or a server speaking it), only
through the egress door.

    guard = RemoteModeration(settings.profile("moderation"), settings)
    guard.assess("I will hurt him", Channel.user).hazards      # {"S1": 0.93, ...}

Every text passes the door like a remote model's prompt: refused under local-only (and
offline), personal data replaced by placeholders under "redact", a ledger row per
request. The API's categories map onto S-codes; a code's score is the largest of its
categories', and the overall hazard score the largest of all:

| moderation category                                  | S-code |
|------------------------------------------------------|--------|
| violence, violence/graphic, harassment/threatening   | S1     |
| illicit                                              | S2     |
| sexual/minors                                        | S4     |
| illicit/violent                                      | S9     |
| hate, hate/threatening, harassment                   | S10    |
| self-harm, self-harm/intent, self-harm/instructions  | S11    |
| sexual                                               | S12    |

The API does not score injection; psi's rules do, as for Llama Guard.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import httpx2

from psi import egress
from psi.errors import EndpointError, ModelError
from psi.safety.rules import apply_rules
from psi.safety.types import Assessment, Channel

if TYPE_CHECKING:
    from psi.config import ModelProfile, Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CODES: dict[str, str] = {
    "violence": "S1",
    "violence/graphic": "S1",
    "harassment/threatening": "S1",
    "illicit": "S2",
    "sexual/minors": "S4",
    "illicit/violent": "S9",
    "hate": "S10",
    "hate/threatening": "S10",
    "harassment": "S10",
    "self-harm": "S11",
    "self-harm/intent": "S11",
    "self-harm/instructions": "S11",
    "sexual": "S12",
}


def hazards_of(scores: dict[str, float]) -> dict[str, float]:
    """Category scores as S-code scores (the largest per code)."""
    hazards: dict[str, float] = {}
    for category, score in scores.items():
        code = CODES.get(category)
        if code is not None and score is not None:
            hazards[code] = max(hazards.get(code, 0.0), float(score))
    return hazards


class RemoteModeration:
    name = "moderation"

    def __init__(
        self,
        profile: ModelProfile,
        settings: Settings,
        *,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        import openai

        from psi.egress.door import door

        self.model_id = profile.model
        self.base_url = profile.base_url or DEFAULT_BASE_URL
        self.offline = settings.offline
        self.purpose = f"a text to moderate (model {self.model_id})"
        # Always the door, even for a server on this machine: a moderation API is
        # someone else's service by design.
        self.outbound = door(settings, self.purpose)
        self.outbound.refusal_hint = (
            "Use the offline guard (`psi config set safety.guard embedded`), or allow "
            "remote calls with `psi config set routing.privacy redact`."
        )
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=profile.api_key() or "not-needed",
            http_client=egress.http_client(
                purpose=self.purpose,
                offline=settings.offline,
                timeout=profile.timeout,
                transport=transport,
                outbound=self.outbound,
            ),
            max_retries=1,
        )

    def assess(self, text: str, channel: Channel, *, prompt: str | None = None) -> Assessment:
        import openai

        from psi.llm.remote import offline_refusal

        egress.check_destination(self.base_url, offline=self.offline, purpose=self.purpose)
        try:
            with contextlib.ExitStack() as stack:
                call = stack.enter_context(self.outbound.call(model=self.model_id))
                sent = call.redact(text)
                response = self._client.moderations.create(model=self.model_id, input=sent)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            refusal = offline_refusal(exc)
            if refusal is not None:
                raise refusal from None
            host = httpx2.URL(self.base_url).host
            raise EndpointError(f"The moderation API at {host} failed: {exc}", host=host) from exc
        if not response.results:
            raise ModelError("The moderation API returned no result.")
        scores: dict[str, Any] = response.results[0].category_scores.model_dump(by_alias=True)
        hazards = hazards_of(scores)
        fired = apply_rules(text)
        return Assessment(
            channel=channel,
            unsafe=max(hazards.values(), default=0.0),
            hazards=hazards,
            injection=max((rule.injection for rule in fired), default=0.0),
            rules=tuple(rule.name for rule in fired),
            backend=self.name,
        )
