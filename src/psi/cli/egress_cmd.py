"""`psi egress log|show ID|stats`: what left the machine, from the egress ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer

from psi.cli.output import friendly, out

if TYPE_CHECKING:
    from psi.egress.ledger import Ledger

app = typer.Typer(
    help="What left this machine: every request to a remote model, as the egress ledger has it.",
    no_args_is_help=False,
    invoke_without_command=True,
)


@app.callback()
def default(ctx: typer.Context) -> None:
    """What left this machine (`log` when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        log(limit=20)


def _ledger() -> Ledger:
    from psi.config import load_settings
    from psi.egress.ledger import Ledger
    from psi.store.db import open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return Ledger(store, user_id=store.ensure_user(settings.user))


def _redactions(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"


@app.command("log")
@friendly
def log(limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many to show.")) -> None:
    """Requests that left, newest first."""
    from rich.markup import escape
    from rich.table import Table

    entries = _ledger().recent(limit)
    if not entries:
        out.print("Nothing has left this machine: no request to a remote model so far.")
        return
    table = Table("id", "when", "to", "purpose", "model", "bytes", "tokens", "cost $",
                  "redacted", box=None)  # fmt: skip
    for e in entries:
        tokens = "" if e.tokens_in is None else f"{e.tokens_in}+{e.tokens_out or 0}"
        table.add_row(
            str(e.id),
            e.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            escape(e.host),
            escape(e.purpose),
            escape(e.model or ""),
            f"{e.payload_bytes:,}",
            tokens,
            "" if e.cost_usd is None else f"{e.cost_usd:.4f}",
            _redactions(e.redactions),
        )
    out.print(table)


@app.command("show")
@friendly
def show(
    entry_id: int = typer.Argument(..., help="The record's id, from `psi egress log`."),
) -> None:
    """One request: where it went, what it carried and cost, and the payload if kept."""
    from rich.markup import escape

    e = _ledger().get(entry_id)
    out.print(f"[bold]egress {e.id}[/]  {e.at.astimezone():%Y-%m-%d %H:%M:%S %Z}")
    out.print(f"  to: {escape(e.method)} {escape(e.host)}{escape(e.path)}")
    out.print(f"  purpose: {escape(e.purpose)}   model: {escape(e.model or '-')}")
    if e.tokens_in is not None:
        cost = "unpriced" if e.cost_usd is None else f"${e.cost_usd:.4f}"
        out.print(f"  tokens: {e.tokens_in} in, {e.tokens_out or 0} out   cost: {cost}")
    out.print(f"  personal data replaced: {_redactions(e.redactions)}")
    out.print(f"  payload: {e.payload_bytes:,} bytes, sha256 {e.payload_sha256}")
    if e.payload is None:
        out.print(
            "  [dim]The payload itself was not kept; `psi config set egress.keep_payloads "
            "true` keeps future ones.[/]"
        )
    else:
        out.print(escape(e.payload), markup=False)


@app.command("stats")
@friendly
def stats(
    days: int = typer.Option(30, "--days", min=1, help="Over the last DAYS days."),
) -> None:
    """Totals: requests, bytes, tokens, cost and redactions, by destination and model."""
    since = datetime.now(UTC) - timedelta(days=days)
    totals = _ledger().totals(since=since)
    if totals.requests == 0:
        out.print(f"Nothing has left this machine in the last {days} days.")
        return
    out.print(f"[bold]Last {days} days[/]: {totals.requests} requests, "
              f"{totals.payload_bytes:,} bytes sent")  # fmt: skip
    out.print(f"  tokens: {totals.tokens_in:,} in, {totals.tokens_out:,} out; "
              f"cost ${totals.cost_usd:.4f}")  # fmt: skip
    out.print(f"  personal data replaced: {_redactions(totals.redactions)}")
    for host, n in sorted(totals.by_host.items(), key=lambda item: -item[1]):
        out.print(f"  to {host}: {n}")
    for model, n in sorted(totals.by_model.items(), key=lambda item: -item[1]):
        out.print(f"  model {model}: {n}")
