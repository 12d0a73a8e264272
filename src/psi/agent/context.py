"""Fitting a conversation into a model's context window (pure functions).

The newest message is never cut. Older messages are dropped, oldest first,
until the prompt plus the reply budget fits; the caller shows how many were
dropped. A message that cannot fit even alone is refused with the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from psi.errors import InputError
from psi.llm.types import Message
from psi.memory.service import Recalled


@dataclass(frozen=True)
class Fitted:
    messages: list[Message]
    dropped: int
    prompt_tokens: int


def fit_history(
    *,
    system: Message,
    history: Sequence[Message],
    new: Message,
    window: int,
    reserve: int,
    count: Callable[[Message], int],
    model_name: str,
) -> Fitted:
    """`system` + as much recent `history` as fits + `new`, within `window - reserve` tokens."""
    # A reply budget larger than half the window is a profile mistake; don't let
    # it starve the conversation.
    reserve = min(reserve, window // 2)
    budget = window - reserve
    fixed = count(system) + count(new)
    if fixed > budget:
        raise InputError(
            f"Your message is about {count(new):,} tokens; model '{model_name}' has a "
            f"{window:,}-token window, {reserve:,} of them kept for the reply.",
            hint="Shorten the message, or switch to a model with a larger window "
            "(`/model NAME` in chat, `--model NAME` on the command line).",
        )
    kept: list[Message] = []
    used = fixed
    for message in reversed(history):
        cost = count(message)
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Start on a user turn, so the model never sees an answer without its question.
    while kept and kept[0].role != "user":
        used -= count(kept.pop(0))
    dropped = len(history) - len(kept)
    return Fitted(messages=[system, *kept, new], dropped=dropped, prompt_tokens=used)


def memory_block(
    recalled: Sequence[Recalled],
    *,
    header: str,
    budget: int,
    count: Callable[[str], int],
) -> str | None:
    """Recalled turns as dated, quoted lines under `header`, best first, within `budget` tokens.

    Each hit brings its neighbouring turns; a turn already shown is not repeated.
    """
    lines: list[str] = []
    seen: set[int] = set()
    used = count(header)
    for item in recalled:
        group = []
        for episode in item.context or [item.episode]:
            if episode.id in seen:
                continue
            quoted = json.dumps(episode.text, ensure_ascii=False)
            group.append((episode.id, f"[{episode.at:%Y-%m-%d %H:%M}] {episode.speaker}: {quoted}"))
        cost = sum(count(line) + 1 for _, line in group)
        if not group or used + cost > budget:
            continue
        used += cost
        seen.update(episode_id for episode_id, _ in group)
        lines.extend(line for _, line in group)
    if not lines:
        return None
    return header + "\n" + "\n".join(lines)
