"""`psi serve` (the HTTP API) and `psi user add|list|tokens|revoke|rotate` (its tokens)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from psi.cli.output import err, friendly, out
from psi.errors import InputError, NotFound

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.server.tokens import Tokens
    from psi.store.db import Store

TOKEN_FILE = "api-token"

user_app = typer.Typer(help="Who may use `psi serve`, and their API tokens.")


def _open() -> tuple[Settings, Store, Tokens]:
    from psi.config import load_settings
    from psi.server.tokens import Tokens
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return settings, store, Tokens(store)


def _user_id(store: Store, name: str) -> int:
    from sqlalchemy import select

    from psi.store.models import User

    with store.session() as session:
        found = session.scalar(select(User.id).where(User.name == name))
    if found is None:
        raise NotFound(f"No user {name!r}.", hint="`psi user list` shows them.")
    return found


@user_app.command("add")
@friendly
def add(
    name: str = typer.Argument(..., help="The new user's name."),
    admin: bool = typer.Option(False, "--admin", help="May manage other users."),
) -> None:
    """Add a user and print their API token (shown this once)."""
    from sqlalchemy import select

    from psi.server.tokens import check_name
    from psi.store.models import User

    name = check_name(name)
    _, store, tokens = _open()
    with store.session() as session:
        if session.scalar(select(User.id).where(User.name == name)) is not None:
            raise InputError(
                f"There is a user {name!r} already.",
                hint=f"`psi user rotate {name}` gives them a new token.",
            )
    user_id = store.ensure_user(name)
    if admin:
        with store.session() as session:
            row = session.get(User, user_id)
            assert row is not None
            row.is_admin = True
    token = tokens.issue(user_id)
    out.print(f"Added {name}{' (admin)' if admin else ''}. Their API token, shown only now:")
    out.print(token, markup=False, highlight=False)


@user_app.command("list")
@friendly
def list_users() -> None:
    """Users, whether they are admins, and how many live tokens they have."""
    from sqlalchemy import select

    from psi.store.models import User

    _, store, tokens = _open()
    with store.session() as session:
        users = [(u.id, u.name, bool(u.is_admin)) for u in session.scalars(select(User))]
    for user_id, name, is_admin in users:
        live = sum(t.revoked_at is None for t in tokens.list(user_id))
        out.print(f"{name}{' (admin)' if is_admin else ''}: {live} live token(s)")


@user_app.command("tokens")
@friendly
def list_tokens(name: str = typer.Argument(..., help="Whose tokens.")) -> None:
    """A user's tokens by id and prefix (the token text itself is never kept)."""
    _, store, tokens = _open()
    for t in tokens.list(_user_id(store, name)):
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "live"
        used = f", last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else ""
        out.print(f"{t.id}  psi_{t.prefix}_…  {t.label}  {state}{used}")


@user_app.command("revoke")
@friendly
def revoke(token_id: int = typer.Argument(..., help="From `psi user tokens NAME`.")) -> None:
    """Revoke one token: requests with it get 401 from now on."""
    _, _, tokens = _open()
    tokens.revoke(token_id)
    out.print(f"Revoked token {token_id}.")


@user_app.command("rotate")
@friendly
def rotate(name: str = typer.Argument(..., help="Whose tokens.")) -> None:
    """Revoke a user's tokens and print a new one (shown this once)."""
    _, store, tokens = _open()
    token = tokens.rotate(_user_id(store, name))
    out.print(f"{name}'s old tokens are revoked. The new one, shown only now:")
    out.print(token, markup=False, highlight=False)


def local_token(settings: Settings, store: Store, tokens: Tokens) -> Path | None:
    """Single-user mode: a token for the local user in PSI_HOME/api-token (mode 600),
    made once; returns the file when it was made now."""
    path = settings.home / TOKEN_FILE
    user_id = store.ensure_user(settings.user)
    if path.exists() and any(t.revoked_at is None for t in tokens.list(user_id)):
        return None
    token = tokens.issue(user_id, label="local")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return path


def server_config(settings: Settings, store: Store, *, host: str, port: int) -> Any:
    """The uvicorn server `psi serve` runs. On Ctrl-C or SIGTERM it stops accepting and
    gives running requests server.shutdown_timeout seconds; a stream still running then
    is stored as far as it came, marked interrupted (psi.server.streams)."""
    from psi.server.app import create_app
    from psi.server.worker import uvicorn_config

    app = create_app(settings, store=store, schedule=settings.server.scheduler)
    return uvicorn_config(app, settings, host=host, port=port)


@friendly
def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default server.host: 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default server.port: 8765)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64, help="Processes (default server.workers: 1)."
    ),
) -> None:
    """Serve the OpenAI-compatible API, psi's REST API and MCP (at /mcp)."""
    import uvicorn

    settings, store, tokens = _open()
    host = host or settings.server.host
    port = port or settings.server.port
    made = local_token(settings, store, tokens)
    if made is not None:
        err.print(f"Made an API token for {settings.user}: it is in {made}")
    else:
        err.print(f"API token for {settings.user}: {settings.home / TOKEN_FILE}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]Listening on {host}: other machines can reach psi.[/]")
    workers = workers or settings.server.workers
    if workers > 1:
        from psi.server.worker import serve_workers

        store.dispose()
        serve_workers(settings, host=host, port=port, workers=workers)
        return
    if settings.server.pin_cores:
        from psi import cores

        cores.pin(0)  # before the app starts its threads, which inherit the core
    uvicorn.Server(server_config(settings, store, host=host, port=port)).run()
