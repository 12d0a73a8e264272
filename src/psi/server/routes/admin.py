"""Who may use psi serve, and how it is set: `/api/users` (admins list and add), `/api/tokens`
(everyone their own: list, rotate, revoke), `/api/settings` (everyone reads them, secrets
masked; an admin changes them as `psi config set` does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, JsonValue

from psi.errors import InvalidSetting, UserError
from psi.server.deps import CurrentUser, Limit, Offset, Psi, RowId, page, plain, require_admin
from psi.server.state import Services

router = APIRouter(prefix="/api")


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    admin: bool = False


@router.get("/users")
def users(who: CurrentUser, psi: Psi, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    from sqlalchemy import select

    from psi.store.models import User

    require_admin(who, "manages users")
    query = select(User).order_by(User.id).limit(limit + 1).offset(offset)
    with psi.store.session() as session:
        rows = [
            {"id": u.id, "name": u.name, "admin": bool(u.is_admin)} for u in session.scalars(query)
        ]
    return page(rows, limit=limit, offset=offset, render=dict)


@router.post("/users", status_code=201)
def add_user(body: NewUser, who: CurrentUser, psi: Psi) -> dict[str, Any]:
    from sqlalchemy import select

    from psi.server.tokens import check_name
    from psi.store.models import User

    require_admin(who, "manages users")
    name = check_name(body.name)
    with psi.store.session() as session:
        if session.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserError(f"There is a user {name!r} already.")
    user_id = psi.store.ensure_user(name)
    with psi.store.session() as session:
        row = session.get(User, user_id)
        assert row is not None
        row.is_admin = body.admin
    # The token's only appearance: the caller hands it on.
    token = psi.tokens.issue(user_id)
    return {"id": user_id, "name": name, "admin": body.admin, "token": token}


@router.get("/tokens")
def my_tokens(who: CurrentUser, psi: Psi, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    rows = psi.tokens.list(who.user_id)[offset : offset + limit + 1]
    return page(rows, limit=limit, offset=offset, render=plain)


@router.post("/tokens/rotate")
def rotate_token(who: CurrentUser, psi: Psi) -> dict[str, Any]:
    return {"token": psi.tokens.rotate(who.user_id)}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, who: CurrentUser, psi: Psi) -> None:
    psi.tokens.revoke(token_id, user_id=None if who.is_admin else who.user_id)


# -- settings ------------------------------------------------------------------------


@router.get("/settings")
def get_settings(who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """The settings this server runs with (`psi config show`), secrets masked, and the
    saved ones that wait for a restart."""
    return _shown(psi)


@router.patch("/settings")
def patch_settings(changes: dict[str, JsonValue], who: CurrentUser, psi: Psi) -> dict[str, Any]:
    """Change settings in config.toml as `psi config set` does: a JSON merge patch (null
    removes a key, going back to its default; dotted keys work too). Checked together;
    a refused change stores nothing (422, naming each field). psi serve takes the new
    values when it restarts; a new timezone moves recurring items at once, as the CLI does."""
    from psi.config import load_settings, set_config_values

    require_admin(who, "changes settings")
    flat = _flatten(changes)
    if not flat:
        raise UserError("No settings to change.", hint='Send e.g. {"timezone": "Europe/Berlin"}.')
    if any(key.split(".")[0] == "home" for key in flat):
        raise InvalidSetting(
            "Not saved: home is where config.toml lives.",
            hint="Set PSI_HOME for psi serve instead.",
            problems=[(["home"], "cannot be changed here; set PSI_HOME")],
        )
    before = load_settings()
    set_config_values(flat)
    after = load_settings()
    shown = _shown(psi)
    if after.zone().key != before.zone().key:
        shown["moved"] = _move_zone(psi, before.zone().key, after.zone().key)
    return shown


def _shown(psi: Services) -> dict[str, Any]:
    from psi.config import load_settings, settings_data

    running = settings_data(psi.settings)
    saved = _flatten(settings_data(load_settings()))
    now = _flatten(running)
    waiting = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    return {"settings": running, "pending_restart": waiting}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"server": {"port": 1}} -> {"server.port": 1}; an empty table stays as it is."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _move_zone(psi: Services, before: str, after: str) -> int:
    """Every user's habits and recurring tasks keep their wall time in the new zone."""
    from psi.goals.store import move_every_zone

    return move_every_zone(psi.store, after) if after != before else 0
