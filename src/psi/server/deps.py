"""What every route takes: the caller (`CurrentUser`), the process's services (`Psi`),
bounded ids, one shape of page, and one shape of error.

    def route(who: CurrentUser, psi: Psi, limit: Limit = 20, offset: Offset = 0) -> ...:
        rows = Repo(psi.store, user_id=who.user_id).list(limit=limit + 1, offset=offset)
        return page(rows, limit=limit, offset=offset, render=plain)

A page is `{"data": [...], "limit", "offset", "next_offset"}`; `next_offset` is null on
the last page. Errors are `{"error": {"message", "hint", "type"}}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi import Path as FastAPIPath

from psi.errors import (
    InvalidSetting,
    ModelError,
    NotFound,
    OfflineRefusal,
    PsiError,
    RequestTimeout,
    UserError,
)
from psi.server.state import Services
from psi.server.streams import timed_out
from psi.store.models import MAX_ROW_ID

T = TypeVar("T")

# Row ids and offsets stay within what every database's integer holds.
MAX_ID = MAX_ROW_ID
RowId = Annotated[int, FastAPIPath(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip (next_offset).")]

STATUS = {
    InvalidSetting: 422,
    NotFound: 404,
    OfflineRefusal: 403,
    UserError: 400,
    ModelError: 502,
    RequestTimeout: 504,
}


def status_of(error: PsiError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 500)


def error_body(message: str, *, hint: str | None = None, kind: str = "error") -> dict[str, Any]:
    return {"error": {"message": message, "hint": hint, "type": kind}}


def page(
    rows: Sequence[T], *, limit: int, offset: int, render: Callable[[T], Any]
) -> dict[str, Any]:
    """One page of `rows`, fetched with one row more than `limit` to tell if another follows."""
    more = len(rows) > limit
    return {
        "data": [render(row) for row in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def plain(row: Any) -> dict[str, Any]:
    """A dataclass row as JSON-ready data (times in ISO 8601)."""
    items = row.items() if isinstance(row, dict) else vars(row).items()
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in items}


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    is_admin: bool


async def principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The user the bearer token belongs to; 401 without a valid one. A dependency of
    every route, so it runs on the event loop (a plain function would cost each request
    a thread hand-off): a token this process verified lately is known at once; one to
    check (scrypt and a query, tens of milliseconds) is checked on a worker thread."""
    psi: Services = request.app.state.psi
    token = (authorization or "").removeprefix("Bearer ").strip()
    user_id = psi.tokens.remembered(token) if token else None
    if user_id is None and token:
        user_id = await to_thread.run_sync(psi.tokens.verify, token)
    if user_id is None:
        raise HTTPException(
            status_code=401,
            detail="A valid API token is needed: `Authorization: Bearer psi_...` "
            "(`psi user add NAME` makes one).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # A user's name and admin flag are set before their first token and never change.
    found = psi.principals.get(user_id)
    if found is None:
        found = await to_thread.run_sync(_principal_of, psi, user_id)
        psi.principals[user_id] = found
    return found


def _principal_of(psi: Services, user_id: int) -> Principal:
    from psi.store.models import User

    with psi.store.session() as session:
        user = session.get(User, user_id)
        assert user is not None  # tokens go with their user
        return Principal(user.id, user.name, bool(user.is_admin))


async def services(request: Request) -> Services:
    psi: Services = request.app.state.psi
    return psi


CurrentUser = Annotated[Principal, Depends(principal)]
Psi = Annotated[Services, Depends(services)]


def require_admin(who: Principal, what: str) -> None:
    if not who.is_admin:
        raise HTTPException(status_code=403, detail=f"Only an admin {what}.")


def deadline_of(request: Request) -> float | None:
    """When this request's time runs out (time.monotonic()), set by the timeout middleware."""
    found = request.scope.get("state", {}).get("deadline")
    return float(found) if found is not None else None


def check_deadline(request: Request) -> None:
    """Before a write at the end of a slow request: a request already answered 504 must not
    change anything afterwards."""
    deadline = deadline_of(request)
    if deadline is not None and time.monotonic() >= deadline:
        raise timed_out(request.scope.get("state", {}).get("timeout"))
