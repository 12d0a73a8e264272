"""`/api/docs`: the token's user's documents over the API (list, search, remove).

Thin over psi.knowledge.library, as `psi docs` is: every route builds the library of the
token's user, so another user's documents are not found (404). Adding by path is left
to `psi docs add` on the machine: a server path named over the API would let one user
of a shared psi read files that are not theirs.

No `from __future__ import annotations` here: FastAPI reads the dependencies from the
annotations of routes defined inside `docs_router`, which must not be strings.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from psi.config import Settings
from psi.knowledge.citing import source_of
from psi.knowledge.library import Library
from psi.store.db import Store


def docs_router(
    settings: Settings,
    store: Store,
    *,
    principal: Callable[..., Any],
    embedder_of: Callable[[int], Callable[[], Any]],
    row_id: Any,
) -> APIRouter:
    """The routes; `principal` is the app's token dependency, `embedder_of(user)` the
    user's memory embedder (loaded once per process), `row_id` the app's id type."""
    router = APIRouter(prefix="/api/docs")
    Who = Annotated[Any, Depends(principal)]

    def library(user_id: int) -> Library:
        return Library(
            store, user_id=user_id, settings=settings.docs, embedder=embedder_of(user_id)
        )

    @router.get("")
    def documents(who: Who) -> dict[str, Any]:
        found = library(who.user_id).index
        return {
            "roots": [{"path": p, "excluded": out} for _, p, out in found.roots()],
            "data": [
                {
                    "id": d.id,
                    "path": d.path,
                    "kind": d.kind,
                    "title": d.title,
                    "tags": d.tags,
                    "pages": d.pages,
                    "passages": d.chunks,
                    "indexed_at": d.indexed_at.isoformat(),
                }
                for d in found.listed()
            ],
        }

    @router.get("/search")
    def search(
        who: Who,
        q: Annotated[str, Query(min_length=1, max_length=2000)],
        limit: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> dict[str, Any]:
        hits = library(who.user_id).search(q, limit=limit)
        return {
            "data": [
                {**source_of(n, hit.passage).as_dict(), "text": hit.passage.text}
                for n, hit in enumerate(hits, start=1)
            ]
        }

    @router.delete("/{document_id}", status_code=204)
    def remove(document_id: row_id, who: Who) -> None:
        library(who.user_id).remove(str(document_id))

    return router
