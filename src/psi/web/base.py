"""What every page of the web app shares: who is looking, the templates, flash messages,
the same-origin check on forms, and friendly error pages.

Login keeps the user's API token in an HttpOnly, SameSite=Strict cookie; every request
checks it with the same `Tokens.verify` as the API, so revoking a token logs its browser
out too, and several `psi serve` processes behind a load balancer need no shared session
store. Every form that changes something must come from this site (its Origin, or its
Referer where a browser sends no Origin); SameSite=Strict already keeps the cookie off
requests other sites start, and the check is the second lock.

Settings in config.toml belong to the machine, not to one user: the owner (the user
psi's `user` setting names, whose token `psi serve` writes to PSI_HOME) and admins may
change them; everyone else sees them read-only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from psi.config import Settings, load_settings
from psi.errors import ModelError, NotFound, OfflineRefusal, PsiError
from psi.server.tokens import Tokens
from psi.store.db import Store
from psi.web.render import badge, markdown, when

if TYPE_CHECKING:
    from psi.server.state import Memories, Models

COOKIE = "psi_session"
FLASH = "psi_flash"
# A week: the token itself may live longer; logging out or revoking it ends the session.
SESSION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    is_admin: bool
    may_configure: bool


class Web:
    """The web app's state: the current settings (reloaded after a change made here), the
    store, the API's token checker, and the server's models and memories."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        tokens: Tokens,
        models: Models,
        memories: Memories,
        notice_every: float = 2.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.models = models
        self.memories = memories
        self.notice_every = notice_every
        self.env = Environment(
            loader=PackageLoader("psi.web", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["markdown"] = markdown
        self.env.filters["when"] = when
        self.env.globals["badge"] = badge
        # Replies being streamed, by id, so a stop button can end one.
        self.streams: dict[str, tuple[int, threading.Event]] = {}
        self.lock = threading.Lock()

    def reload(self, request: Request) -> Settings:
        """Read config.toml again after a change made here: the chat uses the new profiles
        at once, and this process's scheduler the new times and channels from its next
        round (another process's scheduler reads them when it starts)."""
        self.settings = load_settings()
        self.models.settings = self.settings
        scheduler = getattr(request.app.state, "scheduler", None)
        if scheduler is not None:
            scheduler.settings = self.settings
        return self.settings

    # -- who is looking ------------------------------------------------------------------

    def who(self, request: Request) -> Viewer | None:
        from psi.store.models import User

        token = request.cookies.get(COOKIE, "")
        user_id = self.tokens.verify(token) if token else None
        if user_id is None:
            return None
        with self.store.session() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            name, admin = user.name, bool(user.is_admin)
        return Viewer(user_id, name, admin, admin or name == self.settings.user)

    def viewer(self, request: Request) -> Viewer:
        """The logged-in user; anyone else is sent to the login page (a 401 for scripts)."""
        found = self.who(request)
        if found is not None:
            return found
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, headers={"Location": f"/login?next={quote(back)}"})
        raise HTTPException(401, detail="Log in at /login with your API token.")

    def same_origin(self, request: Request) -> None:
        """Refuse a state-changing request that another site's page sent."""
        source = request.headers.get("origin") or request.headers.get("referer") or ""
        host = request.headers.get("host", "")
        if not source or source == "null" or urlsplit(source).netloc != host:
            raise HTTPException(403, detail="That form did not come from this psi.")

    def configurer(self, viewer: Viewer) -> None:
        if not viewer.may_configure:
            raise PsiError(
                "Only psi's owner or an admin changes its settings.",
                hint="Ask them, or run `psi config set` on the machine psi runs on.",
            )

    # -- pages ---------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        *,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        flash = _read_flash(request)
        html = self.env.get_template(template).render(
            viewer=viewer, flash=flash, path=request.url.path, settings=self.settings, **values
        )
        response = HTMLResponse(html, status_code=status)
        if flash is not None:
            response.delete_cookie(FLASH, path="/")
        return response

    def error_page(self, request: Request, viewer: Viewer | None, error: PsiError) -> HTMLResponse:
        status = 404 if isinstance(error, NotFound) else 400
        if isinstance(error, OfflineRefusal):
            status = 403
        elif isinstance(error, ModelError):
            status = 502
        return self.page(
            request, "error.html", viewer, status=status, message=error.message, hint=error.hint
        )

    def act(self, request: Request, back: str, action: Callable[[], str | None]) -> Response:
        """Run a form's action, then back to `back` with what happened (or what went wrong,
        and how to fix it) as a message on that page."""
        try:
            said = action()
        except PsiError as error:
            text = error.message + (f" {error.hint}" if error.hint else "")
            return redirect(back, flash=("error", text))
        return redirect(back, flash=("ok", said) if said else None)


def redirect(to: str, *, flash: tuple[str, str] | None = None) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    if flash is not None:
        kind, text = flash
        response.set_cookie(
            FLASH,
            quote(json.dumps({"kind": kind, "text": text[:1000]})),
            max_age=60,
            path="/",
            httponly=True,
            samesite="strict",
        )
    return response


def _read_flash(request: Request) -> dict[str, str] | None:
    from urllib.parse import unquote

    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    try:
        found = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("text"), str):
        return None
    return {"kind": "error" if found.get("kind") == "error" else "ok", "text": found["text"]}


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site (after login), else `default`: never a
    redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def number(raw: Any, what: str) -> float:
    """A number a person typed ("12", "12,5"); InputError saying which field otherwise."""
    from psi.errors import InputError

    text = str(raw or "").strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what} must be a number, not {text!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{what} must be a finite number.")
    return value
