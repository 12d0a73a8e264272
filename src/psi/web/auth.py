"""Logging in with an API token, and out.

GET  /login     the form: paste the token `psi user add` printed (or PSI_HOME/api-token)
POST /login     checks it with the API's Tokens.verify; sets the session cookie
POST /logout    clears it
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from psi.web.base import COOKIE, SESSION_SECONDS, Web, local_path, redirect
from psi.web.forms import Fields, fields


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return web.page(request, "login.html", web.who(request), next=local_path(next))

    @router.post("/login", dependencies=[Depends(web.same_origin)])
    def login(request: Request, form: Annotated[Fields, Depends(fields)]) -> Response:
        token = form.text("token", limit=200)
        back = local_path(form.text("next", limit=500))
        if not token or web.tokens.verify(token) is None:
            return web.page(
                request,
                "login.html",
                None,
                status=401,
                next=back,
                error="That token is not valid (or was revoked).",
            )
        response = redirect(back)
        secure = request.url.scheme == "https" or (
            request.headers.get("x-forwarded-proto") == "https"
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    @router.post("/logout", dependencies=[Depends(web.same_origin)])
    def logout() -> Response:
        response = redirect("/login", flash=("ok", "Logged out."))
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
