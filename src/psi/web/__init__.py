"""The web app `psi serve` shows at `/`: chat, today and goals, memory, privacy and safety,
settings, with live notices. Server-rendered Jinja2 templates and one small script of our
own (streaming, the stop button, notices); nothing is fetched from another site, so it
works with no network.

    app.include_router(web_router(Web(settings, store, tokens=..., models=..., memories=...)))

Every page acts as the logged-in user (psi.web.base), through the same library calls
as the CLI and the REST API. The routes stay out of the OpenAPI schema: it describes
the API.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from psi.web.base import Web

__all__ = ["Web", "web_router"]

_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def web_router(web: Web) -> APIRouter:
    from psi.web import auth, chat, docs, goals, memory, notices, privacy, settings_page

    router = APIRouter(include_in_schema=False)
    for module in (auth, chat, docs, goals, memory, privacy, settings_page, notices):
        router.include_router(module.routes(web))
    static = {
        item.name: item.read_bytes()
        for item in resources.files("psi.web").joinpath("static").iterdir()
        if item.is_file()
    }

    @router.get("/static/{name}")
    def asset(name: str) -> Response:
        body = static.get(name)
        if body is None:
            return Response(status_code=404)
        kind = _TYPES.get(name[name.rfind(".") :], "application/octet-stream")
        return Response(body, media_type=kind, headers={"Cache-Control": "no-cache"})

    return router
