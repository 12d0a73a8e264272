"""`psi audit` (what the guards judged and which actions ran or waited) and `psi approvals`
(actions held for the user: list, approve, deny)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer

from psi.cli.output import friendly, out
from psi.errors import InputError

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.safety.approval import Approvals
    from psi.safety.audit import Audit
    from psi.store.db import Store

KINDS = ("verdict", "tool_call", "approval_request", "approval_decision")
_SPAN = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """`30m`, `24h`, `7d`, `2w` ago, or a date or time (`2026-11-01`, `2026-11-01 08:00`)."""
    now = now or datetime.now(UTC)
    span = _SPAN.match(text.strip().lower())
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    from dateutil import parser  # type: ignore[import-untyped]

    try:
        moment: datetime = parser.isoparse(text.strip())
    except ValueError:
        raise InputError(
            f"--since {text!r} is neither a span nor a date.",
            hint="Write 24h, 7d or 2w, or a date like 2026-11-01.",
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def _open() -> tuple[Settings, Store, int]:
    from psi.config import load_settings
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return settings, store, store.ensure_user(settings.user)


def _audit() -> Audit:
    from psi.safety.audit import Audit

    _, store, user_id = _open()
    return Audit(store, user_id=user_id)


@friendly
def audit(
    since: str | None = typer.Option(None, "--since", help="Only after this: 24h, 7d, 2026-11-01."),
    kind: list[str] = typer.Option(
        [], "--type", "-t", help=f"Only these kinds: {', '.join(KINDS)} (repeatable)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many to show."),
) -> None:
    """What the guards judged, which tool calls ran, and the approvals asked and given."""
    from rich.markup import escape

    unknown = [k for k in kind if k not in KINDS]
    if unknown:
        raise InputError(f"No audit type {unknown[0]!r}.", hint=f"Types: {', '.join(KINDS)}.")
    entries = _audit().entries(
        since=parse_since(since) if since else None, kinds=kind or None, limit=limit
    )
    if not entries:
        out.print("The audit log has nothing to show for that.")
        return
    for e in entries:
        style = {"block": "red", "held": "yellow", "denied": "red", "warn": "yellow"}.get(e.action)
        action = f"[{style}]{e.action}[/]" if style else e.action
        scored = f" {','.join(e.categories)}" if e.categories else ""
        if e.score:
            scored += f" {e.score:.2f}"
        where = f" {e.channel}" if e.channel else ""
        conversation = f" (conversation {e.conversation_id})" if e.conversation_id else ""
        out.print(
            f"[bold]{e.id}[/] {e.at.astimezone():%Y-%m-%d %H:%M:%S} {e.kind}{where} "
            f"{action}{scored}{conversation}\n  {escape(e.subject)}\n  [dim]{escape(e.reason)}[/]"
        )


approvals_app = typer.Typer(
    help="Actions psi held for your approval: list them, approve or deny.",
    invoke_without_command=True,
)


def _approvals() -> tuple[Settings, Store, int, Approvals]:
    from psi.safety.approval import Approvals

    settings, store, user_id = _open()
    return settings, store, user_id, Approvals(store, user_id=user_id)


@approvals_app.callback()
def approvals_default(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Decided ones too."),
) -> None:
    """Pending approvals (`list` when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        list_approvals(all_=all_)


@approvals_app.command("list")
@friendly
def list_approvals(
    all_: bool = typer.Option(False, "--all", help="Decided ones too."),
) -> None:
    """Actions waiting for your yes or no (with --all, what became of earlier ones)."""
    from rich.markup import escape

    *_, approvals = _approvals()
    held = approvals.list(status=None if all_ else "pending")
    if not held:
        out.print("No action waits for your approval." if not all_ else "No approvals yet.")
        return
    from psi.safety.audit import call_text

    for a in held:
        when = a.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        out.print(
            f"[bold]{a.id}[/] [{'yellow' if a.status == 'pending' else 'dim'}]{a.status}[/] "
            f"{when} ({a.origin}, {a.risk})\n  {escape(call_text(a.tool, a.arguments))}\n"
            f"  [dim]why: {escape(a.reason)}[/]"
        )


def _settle(approval_id: int, *, approve: bool) -> None:
    from rich.markup import escape

    from psi.agent.acting import settle

    settings, store, user_id = _open()
    status, output = settle(
        approval_id, approve=approve, settings=settings, store=store, user_id=user_id
    )
    if status == "denied":
        out.print(f"Denied approval {approval_id}: the action will not run.")
        return
    out.print(f"Approved {approval_id} and ran it:")
    out.print(escape(output or ""), markup=False)


@approvals_app.command("approve")
@friendly
def approve(approval_id: int = typer.Argument(..., help="From `psi approvals`.")) -> None:
    """Run a held action now."""
    _settle(approval_id, approve=True)


@approvals_app.command("deny")
@friendly
def deny(approval_id: int = typer.Argument(..., help="From `psi approvals`.")) -> None:
    """Drop a held action; it will not run."""
    _settle(approval_id, approve=False)
