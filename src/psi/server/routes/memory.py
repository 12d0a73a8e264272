"""What psi remembers, as `psi history` and `psi memory` show it: `/api/conversations`,
`/api/memories` (list, search, show, edit, forget, export, import), `/api/profile`.

A memory is named as in the CLI: `42` (or `e42`) something said, `f7` a fact. Only facts
can be edited; what was said is a record, forgotten whole or kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field

from psi.errors import InputError, NotFound
from psi.server.deps import (
    CurrentUser,
    Limit,
    Offset,
    Psi,
    RowId,
    page,
    plain,
)

router = APIRouter(prefix="/api")

MemoryRef = Annotated[
    str,
    FastAPIPath(
        pattern=r"^[eEfF]?[0-9]{1,15}$",
        description="42 (or e42): something said; f7: a fact.",
    ),
]
Category = Literal["profile", "preference", "relationship", "event", "plan"]


class ProfileText(BaseModel):
    text: str = Field(max_length=20_000)


class FactEdit(BaseModel):
    """A correction of a fact, in your own words (as `psi memory edit`)."""

    statement: str | None = Field(default=None, min_length=1, max_length=300)
    category: Category | None = None


class MemoryExport(BaseModel):
    """A "psi-memory" document, as `psi memory export` writes and GET /api/memories/export
    returns; checked whole before anything is stored."""

    format: Literal["psi-memory"]
    version: int
    exported_at: str | None = None
    conversations: list[dict[str, Any]] = Field(default_factory=list)
    facts: list[dict[str, Any]] = Field(default_factory=list)
    profile: str | None = None


# -- conversations -----------------------------------------------------------------------


@router.get("/conversations")
def conversations(
    who: CurrentUser, psi: Psi, limit: Limit = 20, offset: Offset = 0
) -> dict[str, Any]:
    from psi.store.conversations import Conversations

    rows = Conversations(psi.store, user_id=who.user_id).list(limit=limit + 1, offset=offset)
    return page(rows, limit=limit, offset=offset, render=plain)


@router.get("/conversations/{conversation_id}/messages")
def messages(
    conversation_id: RowId, who: CurrentUser, psi: Psi, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    from psi.store.conversations import Conversations

    said = Conversations(psi.store, user_id=who.user_id).messages(
        conversation_id, limit=limit + 1, offset=offset
    )
    return page(said, limit=limit, offset=offset, render=_message)


def _message(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "role": m.role,
        "content": m.content,
        "at": m.created_at.isoformat(),
        "model": m.model_profile,
        "interrupted": m.interrupted,
    }


# -- memories ----------------------------------------------------------------------------


@router.get("/memories")
def list_memories(
    who: CurrentUser,
    psi: Psi,
    kind: Literal["said", "facts"] = "said",
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first: what was said (`said`), or the facts true now (`facts`)."""
    from psi.memory.facts import Facts

    memory, _ = psi.memories.get(who.user_id)
    if kind == "facts":
        facts = Facts(psi.store, user_id=who.user_id).current()[offset : offset + limit + 1]
        return page(facts, limit=limit, offset=offset, render=_fact)
    said = memory.episodes.recent(limit=limit + 1, offset=offset)
    return page(said, limit=limit, offset=offset, render=_episode)


@router.get("/memories/search")
async def search_memories(
    who: CurrentUser,
    psi: Psi,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 6,
) -> dict[str, Any]:
    """What psi would recall for `q`, best first (a ranking, so no further pages)."""
    memory, _ = psi.memories.get(who.user_id)

    # As many at once as chat turns (server.turn_threads): recall is the same work.
    leave = await psi.turns.enter()
    try:
        found = await to_thread.run_sync(lambda: memory.recall(q, limit=limit))
    finally:
        leave()
    return {"data": [_episode(r.episode) for r in found]}


@router.get("/memories/export")
def export_memories(who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Every conversation, fact and your own profile: the file `psi memory export` writes."""
    from psi.memory.control import export_document

    return export_document(psi.memories.get(who.user_id)[0])


@router.post("/memories/import", status_code=201)
def import_memories(body: MemoryExport, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Add the conversations, facts and profile of an export (`psi memory import`)."""
    from psi.memory.control import import_document

    memory, indexer = psi.memories.get(who.user_id)
    added = import_document(memory, body.model_dump(), where="the document", embed=False)
    indexer.notify()
    return {"imported": added}


@router.get("/memories/{ref}")
def show_memory(ref: MemoryRef, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """One memory with where it came from: the turns around it, or a fact's history."""
    from psi.memory.control import parse_ref
    from psi.memory.facts import Facts

    kind, number = parse_ref(ref)
    memory, _ = psi.memories.get(who.user_id)
    if kind == "fact":
        facts = Facts(psi.store, user_id=who.user_id)
        return {**_fact(facts.get(number)), "history": [_fact(f) for f in facts.history(number)]}
    episode = memory.episodes.get([number]).get(number)
    if episode is None:
        raise NotFound(f"No memory {number}.", hint="GET /api/memories lists them.")
    around = memory.episodes.neighbours(episode, before=2, after=2)
    return {**_episode(episode), "around": [_episode(e) for e in around]}


@router.patch("/memories/{ref}")
def edit_memory(ref: MemoryRef, body: FactEdit, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Correct a fact (f7): it becomes yours (origin "edited")."""
    from psi.memory.control import parse_ref
    from psi.memory.facts import Facts

    kind, number = parse_ref(ref)
    facts = Facts(psi.store, user_id=who.user_id)
    if kind != "fact":
        memory, _ = psi.memories.get(who.user_id)
        if memory.episodes.get([number]).get(number) is None:
            raise NotFound(f"No memory {number}.", hint="GET /api/memories lists them.")
        raise InputError(
            "Only facts can be edited; what was said is a record.",
            hint="Forget it with DELETE /api/memories/ID, or edit a fact (f7).",
        )
    if body.statement is None and body.category is None:
        facts.get(number)
        raise InputError("Nothing to change.", hint='Send {"statement": "..."} or a category.')
    return _fact(facts.edit(number, body.statement, category=body.category))


@router.delete("/memories/{ref}", status_code=204)
def forget_memory(ref: MemoryRef, who: CurrentUser, psi: Psi) -> None:
    """Delete for real: something said with its message, index entries and the facts
    learnt from it; or a fact with every version of it."""
    from psi.memory.control import forget_episode, parse_ref
    from psi.memory.facts import Facts

    kind, number = parse_ref(ref)
    if kind == "fact":
        Facts(psi.store, user_id=who.user_id).forget(number)
        return
    forget_episode(psi.memories.get(who.user_id)[0], number)


def _episode(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "ref": str(e.id),
        "kind": "said",
        "speaker": e.speaker,
        "text": e.text,
        "at": e.at.isoformat(),
        "conversation_id": e.conversation_id,
        "message_id": e.message_id,
    }


def _fact(f: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "ref": f"f{f.id}",
        "kind": "fact",
        "subject": f.subject,
        "statement": f.statement,
        "category": f.category,
        "valid_from": f.valid_from.isoformat(),
        "valid_to": f.valid_to.isoformat() if f.valid_to else None,
        "origin": f.origin,
        "source_message_ids": list(f.source_message_ids),
    }


# -- profile -----------------------------------------------------------------------------


@router.get("/profile")
def get_profile(who: CurrentUser, psi: Psi) -> dict[str, Any]:
    from psi.memory.profile import Profiles

    return {"text": Profiles(psi.store, user_id=who.user_id).get().text}


@router.put("/profile")
def put_profile(body: ProfileText, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    from psi.memory.profile import Profiles

    return {"text": Profiles(psi.store, user_id=who.user_id).set(body.text).text}
