"""The user's control over memory: forget for real, export everything, import it back, reindex.

Forgetting an episode deletes the message it came from (the text lives there
too), the episode, its keyword and vector entries, the facts learnt from it,
and rewrites the keyword documents of the neighbouring turns, whose windows
quoted it. `forget_all` removes every conversation, message, memory row, fact
and the edited profile of the user.

Export is one JSON file (format "psi-memory", version 1):

    {"format": "psi-memory", "version": 1, "exported_at": ISO-8601,
     "conversations": [{"title", "model_profile", "created_at", "updated_at",
                        "messages": [{"id", "role", "name", "content", "created_at",
                                      "model_profile", "prompt_tokens",
                                      "completion_tokens", "interrupted",
                                      "tool_calls", "tool_call_id"}]}],
     "facts": [Facts.dump() records, "source_message_ids" naming the messages' "id"],
     "profile": the user's own profile text, or null when it is built from facts}

Episodes and vectors are derived data: import recreates the conversations and
messages and re-indexes them, so an export never depends on an embedder.
Message ids in the file only tie facts to their sources; import gives new ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import delete, select

from psi.clock import Clock, system_clock
from psi.errors import InputError, NotFound
from psi.memory.episodes import day_label
from psi.memory.facts import Facts
from psi.memory.profile import Profiles
from psi.memory.rank import window_text
from psi.memory.service import WINDOW, Memory
from psi.store.conversations import Conversations
from psi.store.models import (
    MAX_ROW_ID,
    Approval,
    AuditRecord,
    Conversation,
    MemoryItem,
    Message,
)

FORMAT = "psi-memory"
VERSION = 1


def parse_ref(raw: str) -> tuple[Literal["episode", "fact"], int]:
    """("fact", 12) for "f12"; ("episode", 12) for "12" or "e12": how the CLI and the API
    name a memory."""
    kind: Literal["episode", "fact"] = "fact" if raw[:1].lower() == "f" else "episode"
    digits = raw[1:] if raw[:1].lower() in ("f", "e") else raw
    if (
        not (digits.isascii() and digits.isdigit())
        or len(digits) > 10
        or not 0 < int(digits) <= MAX_ROW_ID
    ):
        raise InputError(
            f"{raw!r} is not a memory id.",
            hint="Ids look like 42 (something said) or f7 (a fact); `psi memory list` shows them.",
        )
    return kind, int(digits)


def forget_episode(memory: Memory, episode_id: int) -> None:
    """Delete an episode and the message it came from; no trace of its text stays."""
    episodes = memory.episodes
    found = episodes.get([episode_id]).get(episode_id)
    if found is None:
        raise NotFound(
            f"No memory {episode_id}.", hint="`psi memory list` or `psi memory search` shows ids."
        )
    if found.message_id is not None:
        Facts(episodes.store, user_id=episodes.user_id).forget_derived([found.message_id])
    with episodes.store.session() as session:
        if found.message_id is not None:
            session.execute(
                delete(Message).where(
                    Message.id == found.message_id, Message.user_id == episodes.user_id
                )
            )
        session.execute(
            delete(MemoryItem).where(
                MemoryItem.id == episode_id, MemoryItem.user_id == episodes.user_id
            )
        )
    if found.conversation_id is not None:
        rewrite_windows(memory, found.conversation_id)
        # The title was taken from the first message, which may be the one forgotten.
        Conversations(episodes.store, user_id=episodes.user_id).retitle(found.conversation_id)
    episodes.purge()
    memory.invalidate()


def rewrite_windows(memory: Memory, conversation_id: int) -> None:
    """Recompute every keyword document of a conversation from the turns that remain."""
    chain = memory.episodes.tail(conversation_id, 1_000_000)
    speakers = [e.speaker for e in chain]
    texts = [e.text for e in chain]
    sessions = [str(conversation_id)] * len(chain)
    memory.episodes.set_documents(
        {
            e.id: window_text(
                speakers, texts, sessions, i, date=day_label(e.at), before=WINDOW, after=WINDOW
            )
            for i, e in enumerate(chain)
        }
    )
    # Relink the chain where a turn went missing.
    with memory.episodes.store.session() as session:
        rows = {
            row.id: row
            for row in session.scalars(
                select(MemoryItem).where(MemoryItem.id.in_([e.id for e in chain]))
            )
        }
        previous: int | None = None
        for episode in chain:
            rows[episode.id].prev_id = previous
            previous = episode.id


def forget_all(memory: Memory) -> int:
    """Delete all of the user's conversations, messages and memory, and the tool calls the
    audit log and the approvals keep (their arguments came from those conversations).
    Returns conversations gone."""
    user_id = memory.episodes.user_id
    Facts(memory.episodes.store, user_id=user_id).forget_all()
    with memory.episodes.store.session() as session:
        session.execute(delete(MemoryItem).where(MemoryItem.user_id == user_id))
        session.execute(delete(AuditRecord).where(AuditRecord.user_id == user_id))
        session.execute(delete(Approval).where(Approval.user_id == user_id))
        result = session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    memory.episodes.purge()
    memory.invalidate()
    return int(getattr(result, "rowcount", 0) or 0)


def export_document(memory: Memory, *, clock: Clock = system_clock) -> dict[str, Any]:
    """The user's conversations, facts and own profile as one "psi-memory" document."""
    user_id = memory.episodes.user_id
    conversations = []
    with memory.episodes.store.session() as session:
        for conversation in session.scalars(
            select(Conversation).where(Conversation.user_id == user_id).order_by(Conversation.id)
        ):
            messages = [
                {
                    "id": m.id,
                    "role": m.role,
                    "name": m.name,
                    "content": m.content,
                    "created_at": m.created_at.isoformat(),
                    "model_profile": m.model_profile,
                    "prompt_tokens": m.prompt_tokens,
                    "completion_tokens": m.completion_tokens,
                    "interrupted": m.interrupted,
                    "tool_calls": m.tool_calls,
                    "tool_call_id": m.tool_call_id,
                }
                for m in conversation.messages
            ]
            conversations.append(
                {
                    "title": conversation.title,
                    "model_profile": conversation.model_profile,
                    "created_at": conversation.created_at.isoformat(),
                    "updated_at": conversation.updated_at.isoformat(),
                    "messages": messages,
                }
            )
    store = memory.episodes.store
    profile = Profiles(store, user_id=user_id).get()
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": clock().isoformat(),
        "conversations": conversations,
        "facts": Facts(store, user_id=user_id).dump(),
        "profile": profile.text if profile.edited_by_user else None,
    }


def export_memory(memory: Memory, path: Path, *, clock: Clock = system_clock) -> int:
    """Write the user's conversations and messages to `path`. Returns the message count."""
    document = export_document(memory, clock=clock)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    temporary.replace(path)
    return sum(len(c["messages"]) for c in document["conversations"])


def import_memory(
    memory: Memory, path: Path, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Add the conversations in an export file to the user's own; returns messages added.

    The file is checked whole before anything is written, so a bad file changes nothing.
    """
    return import_document(memory, _read_json(path), where=str(path), progress=progress)


def import_document(
    memory: Memory,
    data: Any,
    *,
    where: str = "the export",
    progress: Callable[[int, int], None] | None = None,
    embed: bool = True,
) -> int:
    """`import_memory` for a document already parsed (what `export_document` returns);
    `embed=False` leaves the vectors to a background indexer."""
    conversations, facts, profile = _check_export(data, where)
    user_id = memory.episodes.user_id
    added = 0
    total = sum(len(c["messages"]) for c in conversations)
    new_ids: dict[int, int] = {}
    with memory.episodes.store.session() as session:
        for conversation in conversations:
            row = Conversation(
                user_id=user_id,
                title=conversation["title"],
                model_profile=conversation["model_profile"],
                created_at=conversation["created_at"],
                updated_at=conversation["updated_at"],
            )
            session.add(row)
            session.flush()
            for message in conversation["messages"]:
                old_id = message.pop("id")
                stored = Message(conversation_id=row.id, user_id=user_id, **message)
                session.add(stored)
                session.flush()
                if old_id is not None:
                    new_ids[old_id] = stored.id
                added += 1
                if progress is not None:
                    progress(added, total)
    store = memory.episodes.store
    Facts(store, user_id=user_id).load(facts, message_ids=new_ids)
    if profile:
        Profiles(store, user_id=user_id).set(profile)
    memory.index_pending(embed=embed)
    return added


_FIX = "Use a file written by `psi memory export`."


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"No such file: {path}", hint=_FIX) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a psi export (not JSON: {exc}).", hint=_FIX) from None


def _check_export(
    data: Any, path: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    fix = _FIX
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a psi memory export.", hint=fix)
    if data.get("version") != VERSION:
        raise InputError(
            f"{path} is export version {data.get('version')}; this psi reads version {VERSION}.",
            hint="Upgrade psi to read it.",
        )
    conversations = data.get("conversations")
    if not isinstance(conversations, list):
        raise InputError(f"{path}: 'conversations' must be a list.", hint=fix)
    facts = data.get("facts") or []
    profile = data.get("profile")
    if not isinstance(facts, list) or not all(isinstance(f, dict) for f in facts):
        raise InputError(f"{path}: 'facts' must be a list of objects.", hint=fix)
    if profile is not None and not isinstance(profile, str):
        raise InputError(f"{path}: 'profile' must be text or null.", hint=fix)
    parsed = [_conversation(c, path, n) for n, c in enumerate(conversations, start=1)]
    Facts.check(facts)
    return parsed, facts, profile


def _conversation(raw: Any, path: str, number: int) -> dict[str, Any]:
    where = f"{path}: conversation {number}"
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
        raise InputError(f"{where} has no list of messages.")
    messages = []
    for index, message in enumerate(raw["messages"], start=1):
        if not isinstance(message, dict):
            raise InputError(f"{where}, message {index} is not an object.")
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            raise InputError(f"{where}, message {index}: unknown role {message.get('role')!r}.")
        if not isinstance(message.get("content"), str):
            raise InputError(f"{where}, message {index}: content must be text.")
        said = f"{where}, message {index}"
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise InputError(f"{said}: tool_calls must be a list or null.")
        messages.append(
            {
                "id": message.get("id") if isinstance(message.get("id"), int) else None,
                "role": message["role"],
                "name": _text(message, "name", said),
                "content": message["content"],
                "created_at": _time(message.get("created_at"), said),
                "model_profile": _text(message, "model_profile", said),
                "prompt_tokens": _count(message, "prompt_tokens", said),
                "completion_tokens": _count(message, "completion_tokens", said),
                "interrupted": bool(message.get("interrupted")),
                "tool_calls": tool_calls,
                "tool_call_id": _text(message, "tool_call_id", said),
            }
        )
    created = _time(raw.get("created_at"), where)
    return {
        "title": _text(raw, "title", where),
        "model_profile": _text(raw, "model_profile", where),
        "created_at": created,
        "updated_at": _time(raw.get("updated_at") or raw.get("created_at"), where),
        "messages": messages,
    }


def _text(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}: {key} must be text or null.")
    return value


def _count(raw: dict[str, Any], key: str, where: str) -> int:
    value = raw.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise InputError(f"{where}: {key} must be a whole number of tokens.")
    return value


def _time(value: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not an ISO-8601 time.") from None
    if moment.tzinfo is None:
        raise InputError(f"{where}: {value!r} has no timezone.")
    return moment


def reindex(memory: Memory, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild every keyword document and vector from the stored episodes; repairs an index
    left half-built by a crash and follows a change of embedder. Returns episodes embedded."""
    memory.index_pending(embed=False)
    for conversation_id in memory.episodes.conversation_ids():
        rewrite_windows(memory, conversation_id)
    memory.episodes.clear_vectors()
    memory.invalidate()
    return memory.embed_pending(progress)
