"""What `psi approvals`, `psi audit` and `psi egress log` show: `/api/approvals` (list,
approve, deny), `/api/audit`, `/api/egress`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from psi.server.deps import CurrentUser, Limit, Offset, Psi, RowId, page, plain

router = APIRouter(prefix="/api")


@router.get("/approvals")
def approvals(
    who: CurrentUser,
    psi: Psi,
    status: Literal["pending", "approved", "denied", "all"] = "pending",
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    from psi.safety.approval import Approvals

    rows = Approvals(psi.store, user_id=who.user_id).list(
        status=None if status == "all" else status, limit=limit + 1, offset=offset
    )
    return page(rows, limit=limit, offset=offset, render=plain)


@router.post("/approvals/{approval_id}/{decision}")
def decide(
    approval_id: RowId, decision: Literal["approve", "deny"], who: CurrentUser, psi: Psi
) -> dict[str, Any]:
    from psi.agent.acting import settle

    status, output = settle(
        approval_id,
        approve=decision == "approve",
        settings=psi.settings,
        store=psi.store,
        user_id=who.user_id,
    )
    return {"id": approval_id, "status": status, "result": output}


@router.get("/audit")
def audit(
    who: CurrentUser,
    psi: Psi,
    since: datetime | None = None,
    type: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    from psi.safety.audit import Audit

    entries = Audit(psi.store, user_id=who.user_id).entries(
        since=since, kinds=type, limit=limit + 1, offset=offset
    )
    return page(entries, limit=limit, offset=offset, render=plain)


@router.get("/egress")
def egress_log(who: CurrentUser, psi: Psi, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    from psi.egress.ledger import Ledger

    rows = Ledger(psi.store, user_id=who.user_id).recent(limit + 1, offset=offset)
    return page(rows, limit=limit, offset=offset, render=plain)
