"""Memory work around a turn: "remember that ..." / "forget that ..." and learning facts.

Explicit commands need no model: `remember` stores a fact from the user's own
words; `forget` deletes the facts and the said turns that the description
names, and the command itself is stored without its words (otherwise the
thing to forget would live on in the conversation). Both answer with a plain
confirmation.

`FactLearner` runs on the memory indexer's thread after a reply, never in
front of it: it sends the turns not yet read to the configured fact model
(`fact_model`; off when unset, since the embedded 135M model mostly cannot
extract) and stores what survives validation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from psi.llm.base import ChatModel
from psi.memory.control import forget_episode
from psi.memory.extraction import explicit_draft, extract_facts, parse_explicit
from psi.memory.facts import Fact, Facts
from psi.memory.service import Memory
from psi.memory.wording import content_stems, sentence
from psi.store.conversations import Conversations

FORGET_PLACEHOLDER = "(asked psi to forget something)"
# How much of a description a said turn must hold to be forgotten with it.
FORGET_SHARE = 0.75


def explicit_reply(
    text: str,
    *,
    memory: Memory,
    facts: Facts,
    store_user_message: Callable[[str], int],
    at: datetime,
) -> str | None:
    """Carry out a memory command in `text` and return psi's answer; None if it is not one."""
    command = parse_explicit(text)
    if command is None:
        return None
    if command.action == "remember":
        message_id = store_user_message(text)
        change = facts.add(explicit_draft(command.text, at=at, message_id=message_id))
        return f"I'll remember that: {sentence(change.fact.statement)}"
    store_user_message(FORGET_PLACEHOLDER)
    return forget_described(command.text, memory=memory, facts=facts).answer


@dataclass(frozen=True)
class Forgotten:
    """What "forget that <description>" deleted: the facts it named and how many turns."""

    facts: list[Fact]
    turns: int

    @property
    def answer(self) -> str:
        if not self.facts and not self.turns:
            return "I found nothing like that in my memory, so there was nothing to forget."
        parts = []
        if self.facts:
            parts.append(f"{len(self.facts)} fact{'s' if len(self.facts) != 1 else ''}")
        if self.turns:
            parts.append(f"{self.turns} message{'s' if self.turns != 1 else ''}")
        return f"Done: I forgot {' and '.join(parts)} about that, for good."


def forget_described(description: str, *, memory: Memory, facts: Facts) -> Forgotten:
    """Forget the current facts and the said turns that `description` names."""
    gone_facts = facts.forget_matching(description)
    return Forgotten(facts=gone_facts, turns=forget_said(memory, description))


def forget_said(memory: Memory, description: str) -> int:
    """Forget the said turns that hold most of the description's words. Returns how many."""
    memory.index_pending(embed=False)
    wanted = content_stems(description)
    if not wanted:
        return 0
    doomed = [
        item.episode.id
        for item in memory.recall(description, limit=10)
        if len(wanted & content_stems(item.episode.text)) >= FORGET_SHARE * len(wanted)
    ]
    for episode_id in doomed:
        forget_episode(memory, episode_id)
    return len(doomed)


class FactLearner:
    """Reads new turns of the user's conversations for facts, with a model, off the reply path."""

    RECENT = 6

    def __init__(self, *, model: ChatModel, conversations: Conversations, facts: Facts) -> None:
        self.model = model
        self.conversations = conversations
        self.facts = facts
        self.pending: set[int] = set()
        self.read_up_to: dict[int, int] = {}
        self._lock = threading.Lock()

    def note(self, conversation_id: int) -> None:
        with self._lock:
            self.pending.add(conversation_id)

    def __call__(self) -> None:
        with self._lock:
            todo, self.pending = self.pending, set()
        for conversation_id in todo:
            messages = self.conversations.messages(conversation_id)
            seen = self.read_up_to.get(conversation_id, 0)
            fresh = [m for m in messages if m.id > seen][-self.RECENT :]
            if not fresh:
                continue
            self.facts.add_all(extract_facts(self.model, fresh))
            self.read_up_to[conversation_id] = fresh[-1].id
