"""`psi history list|show`: conversations stored in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from psi.cli.output import friendly, out

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.store.conversations import Conversations

app = typer.Typer(help="Past conversations.", no_args_is_help=False, invoke_without_command=True)


@app.callback()
def default(ctx: typer.Context) -> None:
    """Past conversations (`list` when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        list_(limit=20)


def _conversations(settings: Settings) -> Conversations:
    from psi.store.conversations import Conversations
    from psi.store.db import open_store

    store = open_store(settings.db_url)
    return Conversations(store, user_id=store.ensure_user(settings.user))


@app.command("list")
@friendly
def list_(limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many to show.")) -> None:
    """Conversations, newest first."""
    from rich.table import Table

    from psi.config import load_settings
    from psi.store.quickread import list_conversations

    settings = load_settings()
    # The stdlib fast path when it applies; otherwise the repository (which also migrates).
    rows = list_conversations(settings.db_url, user=settings.user, limit=limit)
    if rows is None:
        rows = _conversations(settings).list(limit=limit)
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
    from psi.config import load_settings
    from psi.errors import NotFound

    conversations = _conversations(load_settings())
    if conversation_id is None:
        conversation_id = conversations.latest()
        if conversation_id is None:
            raise NotFound("No conversations yet.", hint="Start one with `psi chat`.")
    from psi.cli.render import print_messages

    print_messages(conversations.messages(conversation_id))
