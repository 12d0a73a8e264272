"""The user's documents, as `psi docs` shows them: `/api/docs` (list, search, remove).

Every route builds the library of the token's user, so another user's documents are not
found (404). Adding by path stays with `psi docs add` on the machine: a server path named
over the API would let one user of a shared psi read files that are not theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from psi.knowledge.citing import source_of
from psi.knowledge.library import Library
from psi.server.deps import CurrentUser, Limit, Offset, Psi, RowId, page

router = APIRouter(prefix="/api/docs")


def _library(psi: Psi, user_id: int) -> Library:
    memory, _ = psi.memories.get(user_id)
    return Library(psi.store, user_id=user_id, settings=psi.settings.docs, embedder=memory.embedder)


@router.get("")
def documents(who: CurrentUser, psi: Psi, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """A page of the user's documents by path, and the files and folders they added."""
    index = _library(psi, who.user_id).index
    rows = index.listed(limit=limit + 1, offset=offset)
    listed = page(rows, limit=limit, offset=offset, render=_document)
    listed["roots"] = [{"path": path, "excluded": out} for _, path, out in index.roots()]
    return listed


def _document(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "path": d.path,
        "kind": d.kind,
        "title": d.title,
        "tags": d.tags,
        "pages": d.pages,
        "passages": d.chunks,
        "indexed_at": d.indexed_at.isoformat(),
    }


@router.get("/search")
def search(
    who: CurrentUser,
    psi: Psi,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    hits = _library(psi, who.user_id).search(q, limit=limit)
    return {
        "data": [
            {**source_of(n, hit.passage).as_dict(), "text": hit.passage.text}
            for n, hit in enumerate(hits, start=1)
        ]
    }


@router.delete("/{document_id}", status_code=204)
def remove(document_id: RowId, who: CurrentUser, psi: Psi) -> None:
    _library(psi, who.user_id).remove(str(document_id))
