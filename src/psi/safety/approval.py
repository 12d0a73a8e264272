"""Approval of actions: which tool calls need the user's yes, and who gives it.

    reason = needs_confirmation("outward", untrusted={"web"}, private=True)
    # "the rule of two: ..." -> ask; None -> run

The rule of two: a call needs the user's yes when untrusted content is in the context
(a web page, a document, a tool's output, a recalled memory), the user's private data is
in reach, and the action is outward (sends something off the machine) or irreversible
(destroys something). A write to the user's own data is confirmed when untrusted content
is in the context, since the instruction may have come from it. Reads never ask.

An `Approver` answers: the CLI asks y/n with the exact action (`AskUser`); the API and
scheduled or unattended runs hold the call for the user (`HoldForUser`: a pending row in
`approvals`, decided later with `psi approvals approve|deny ID` or the API); `[safety]
confirm = "deny"` refuses them outright. Nothing here approves by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import select

from psi.clock import Clock, system_clock
from psi.errors import NotFound, UserError
from psi.store.db import Store
from psi.store.models import Approval

Decision = Literal["approved", "denied", "held"]
Status = Literal["pending", "approved", "denied"]


def needs_confirmation(risk: str, *, untrusted: Collection[str], private: bool) -> str | None:
    """Why a call of `risk` needs the user's yes in this context, or None."""
    sources = ", ".join(sorted(untrusted))
    if risk in ("outward", "irreversible") and untrusted and private:
        kind = "sends data off this machine" if risk == "outward" else "cannot be undone"
        return (
            f"it {kind}, while untrusted content ({sources}) is in the conversation and "
            "your private data is in reach"
        )
    if risk == "write" and untrusted:
        return f"it changes your data, and untrusted content ({sources}) is in the conversation"
    return None


@dataclass(frozen=True)
class Request:
    """A tool call waiting for the user's word."""

    tool: str
    arguments: dict[str, Any]
    risk: str
    reason: str
    action: str  # the exact call, as the user reads it
    origin: str = "chat"  # chat | api | scheduler
    conversation_id: int | None = None
    untrusted: tuple[str, ...] = field(default=())


class Approver(Protocol):
    def decide(self, request: Request) -> Decision: ...


@dataclass
class AskUser:
    """Ask the person at the keyboard; `confirm` shows the request and returns yes or no."""

    confirm: Callable[[Request], bool]

    def decide(self, request: Request) -> Decision:
        return "approved" if self.confirm(request) else "denied"


class HoldForUser:
    """Nobody is there to ask (the API, the scheduler): keep the call pending."""

    def decide(self, request: Request) -> Decision:
        return "held"


class Refuse:
    """`confirm = "deny"`: calls that need a yes are not run."""

    def decide(self, request: Request) -> Decision:
        return "denied"


@dataclass(frozen=True)
class Pending:
    id: int
    created_at: datetime
    decided_at: datetime | None
    status: str
    tool: str
    arguments: dict[str, Any]
    risk: str
    reason: str
    origin: str
    conversation_id: int | None
    result: str | None


class Approvals:
    """The calls held for the user, one user's rows only."""

    def __init__(self, store: Store, *, user_id: int, clock: Clock = system_clock) -> None:
        self.store = store
        self.user_id = user_id
        self.clock = clock

    def hold(self, request: Request) -> int:
        row = Approval(
            user_id=self.user_id,
            created_at=self.clock(),
            status="pending",
            tool=request.tool,
            arguments=dict(request.arguments),
            risk=request.risk,
            reason=request.reason,
            origin=request.origin,
            conversation_id=request.conversation_id,
        )
        with self.store.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def list(
        self, *, status: str | None = "pending", limit: int = 50, offset: int = 0
    ) -> list[Pending]:
        """Newest first."""
        query = select(Approval).where(Approval.user_id == self.user_id)
        if status is not None:
            query = query.where(Approval.status == status)
        query = query.order_by(Approval.id.desc()).limit(limit).offset(offset)
        with self.store.session() as session:
            return [_pending(row) for row in session.scalars(query)]

    def get(self, approval_id: int) -> Pending:
        with self.store.session() as session:
            row = session.get(Approval, approval_id)
            if row is None or row.user_id != self.user_id:
                raise NotFound(
                    f"No approval {approval_id}.", hint="`psi approvals` lists pending ones."
                )
            return _pending(row)

    def decide(self, approval_id: int, status: Status, *, result: str | None = None) -> Pending:
        """Settle a pending call; UserError if it was settled already."""
        with self.store.session() as session:
            row = session.get(Approval, approval_id)
            if row is None or row.user_id != self.user_id:
                raise NotFound(
                    f"No approval {approval_id}.", hint="`psi approvals` lists pending ones."
                )
            if row.status != "pending":
                raise UserError(
                    f"Approval {approval_id} was {row.status} already.",
                    hint="`psi approvals --all` shows what became of each.",
                )
            row.status = status
            row.decided_at = self.clock()
            row.result = result
            return _pending(row)


def _pending(row: Approval) -> Pending:
    return Pending(
        id=row.id,
        created_at=row.created_at,
        decided_at=row.decided_at,
        status=row.status,
        tool=row.tool,
        arguments=dict(row.arguments),
        risk=row.risk,
        reason=row.reason,
        origin=row.origin,
        conversation_id=row.conversation_id,
        result=row.result,
    )
