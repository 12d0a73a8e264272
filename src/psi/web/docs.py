"""A cited passage in the browser: `GET /docs/passage/{id}` shows what psi read and where
(the file, its heading or page), for the viewer's own documents only (404 otherwise).

The chat's sources link here: a browser does not open file:// links from a web page."""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from psi.errors import PsiError
from psi.knowledge.citing import source_of
from psi.knowledge.index import DocIndex
from psi.web.base import Viewer, Web

MAX_ID = 2**31 - 1


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]

    @router.get("/docs/passage/{passage_id}", response_class=HTMLResponse)
    def passage(
        request: Request, viewer: Who, passage_id: Annotated[int, Path(ge=1, le=MAX_ID)]
    ) -> HTMLResponse:
        try:
            found = DocIndex(web.store, user_id=viewer.user_id).passage(passage_id)
        except PsiError as error:
            return web.error_page(request, viewer, error)
        return web.page(
            request, "doc_passage.html", viewer, passage=found, source=source_of(1, found)
        )

    return router
