"""`psi history list|show`: conversations stored in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from psi.cli.output import friendly, out

if TYPE_CHECKING:
    from psi.store import Conversations

app = typer.Typer(help="Past conversations.", no_args_is_help=False, invoke_without_command=True)


@app.callback()
def default(ctx: typer.Context) -> None:
    """Past conversations (`list` when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        list_(limit=20)


def _conversations() -> Conversations:
    from psi.config import load_settings
    from psi.store import Conversations, open_store

    settings = load_settings()
    store = open_store(settings.db_url)
    return Conversations(store, user_id=store.ensure_user(settings.user))


@app.command("list")
@friendly
def list_(limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many to show.")) -> None:
    """Conversations, newest first."""
    from rich.table import Table

    conversations = _conversations()
    rows = conversations.list(limit=limit)
    if not rows:
        out.print("No conversations yet. Start one with `psi chat`.", markup=False)
        return
    table = Table("id", "updated", "messages", "model", "title", box=None)
    for row in rows:
        table.add_row(
            str(row.id),
            row.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            str(row.message_count),
            row.model_profile or "",
            row.title,
        )
    out.print(table)


@app.command("show")
@friendly
def show(
    conversation_id: int | None = typer.Argument(None, help="Conversation id (default: latest)."),
) -> None:
    """Every message of one conversation."""
    from psi.errors import NotFound

    conversations = _conversations()
    if conversation_id is None:
        conversation_id = conversations.latest()
        if conversation_id is None:
            raise NotFound("No conversations yet.", hint="Start one with `psi chat`.")
    from psi.cli.render import print_messages

    print_messages(conversations.messages(conversation_id))
