"""Llama Guard 3 or 4 behind any OpenAI-compatible server (vLLM, llama.cpp, Ollama).

    guard = LlamaGuard(get_model(settings.profile("guard"), settings))
    guard.assess("How do I make a nerve agent?", Channel.user).hazards   # {"S9": 1.0}

The text goes to the model as the conversation Llama Guard judges: the user's turn for
the user, tool and document channels; for the model channel, the answer as the
assistant's turn after the user's message it answers (a stand-in when none is given).
Llama Guard replies `safe`, or `unsafe` and a line of S-codes (`S1,S10`); anything
else is a ModelError that says so. The model is used through psi's ChatModel seam, so
a server off this machine is reached through the egress door (policy, redaction,
ledger) like any remote model. Llama Guard does not score injection: psi's rules
(invisible characters, encoded payloads, role overrides) do.
"""

from __future__ import annotations

import re

from psi.errors import ModelError
from psi.llm.base import ChatModel
from psi.llm.types import ChatOptions, Message
from psi.safety.rules import apply_rules
from psi.safety.types import HAZARDS, Assessment, Channel

_CODE = re.compile(r"\bS(\d{1,2})\b", re.IGNORECASE)
ASKED = "(the user's request is not shown)"


def parse(reply: str) -> dict[str, float]:
    """S-codes Llama Guard named ({} for safe); ModelError for a reply it cannot give."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        raise ModelError("The Llama Guard server answered nothing.", hint=_HINT)
    verdict = lines[0].lower()
    if verdict == "safe":
        return {}
    if verdict != "unsafe":
        raise ModelError(
            f"The Llama Guard server answered {lines[0][:60]!r}, not safe or unsafe.",
            hint=_HINT,
        )
    codes = [f"S{n}" for n in _CODE.findall(" ".join(lines[1:]))]
    known = [code for code in codes if code in HAZARDS]
    # Unsafe with no code psi knows still counts: the policy needs a category to act on.
    return dict.fromkeys(known or ["S1"], 1.0)


_HINT = "Check that the guard profile's model is Llama Guard 3 or 4 (`psi models list`)."


class LlamaGuard:
    name = "llama-guard"

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def assess(self, text: str, channel: Channel, *, prompt: str | None = None) -> Assessment:
        if channel is Channel.model:
            messages = [Message.user(prompt or ASKED), Message.assistant(text)]
        else:
            messages = [Message.user(text)]
        reply = self.model.chat(messages, options=ChatOptions(temperature=0, max_tokens=20))
        hazards = parse(reply.text)
        fired = apply_rules(text)
        return Assessment(
            channel=channel,
            unsafe=1.0 if hazards else 0.0,
            hazards=hazards,
            injection=max((rule.injection for rule in fired), default=0.0),
            rules=tuple(rule.name for rule in fired),
            backend=self.name,
        )
