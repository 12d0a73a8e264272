"""Showing stored messages in the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape

from psi.cli.output import out
from psi.store.conversations import StoredMessage


def print_messages(messages: Sequence[StoredMessage]) -> None:
    for message in messages:
        when = message.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if message.role == "user":
            out.print(f"[bold cyan]you[/] [dim]{when}[/]")
        else:
            marks = []
            if message.model_profile:
                marks.append(message.model_profile)
            if message.interrupted:
                marks.append("interrupted")
            label = f" [dim]({escape(', '.join(marks))})[/]" if marks else ""
            out.print(f"[bold green]psi[/] [dim]{when}[/]{label}")
        out.print(message.content, markup=False)
        out.print()
