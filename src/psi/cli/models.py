"""`psi models list|test`: the configured model profiles, and whether each one answers."""

from __future__ import annotations

import time

import typer

from psi.cli.output import friendly, out

app = typer.Typer(help="Model profiles.", no_args_is_help=False, invoke_without_command=True)


@app.callback()
def default(ctx: typer.Context) -> None:
    """Model profiles (`list` when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        list_()


@app.command("list")
@friendly
def list_() -> None:
    """Every profile: backend, model, where it runs, and whether its key is set."""
    import os

    from rich.table import Table

    from psi.config import load_settings

    settings = load_settings()
    table = Table("", "name", "backend", "model", "runs", "weights", "window", "key", box=None)
    table.columns[3].overflow = "fold"
    for profile in settings.profiles().values():
        if profile.api_key_env is None:
            key = "-"
        elif os.environ.get(profile.api_key_env):
            key = f"${profile.api_key_env} set"
        else:
            key = f"${profile.api_key_env} MISSING"
        table.add_row(
            "*" if profile.name == settings.default_model else "",
            profile.name,
            profile.backend.value,
            profile.model,
            "local" if profile.local else "remote",
            "open" if profile.open_weight else "closed",
            f"{profile.context_window:,}",
            key,
        )
    out.print(table)
    out.print("[dim]* default; change it with `psi config set default_model NAME`[/]")


@app.command("test")
@friendly
def test(
    names: list[str] | None = typer.Argument(None, help="Profiles to test (default: all)."),
) -> None:
    """Send a short prompt to each profile; report latency or the exact error."""
    from rich.markup import escape

    from psi.config import load_settings
    from psi.errors import PsiError
    from psi.llm import ChatOptions, Message, get_model

    settings = load_settings()
    profiles = [settings.profile(name) for name in names] if names else settings.profiles().values()
    failed = 0
    for profile in profiles:
        started = time.perf_counter()
        try:
            model = get_model(profile, settings)
            loaded = time.perf_counter()
            reply = model.chat(
                [Message.user("Reply with one word: ready")],
                options=ChatOptions(max_tokens=8, temperature=0),
            )
        except PsiError as error:
            failed += 1
            hint = f" [dim]{escape(error.hint)}[/]" if error.hint else ""
            out.print(f"[red]✗[/] {escape(profile.name)}: {escape(error.message)}{hint}")
            continue
        done = time.perf_counter()
        answer = " ".join(reply.text.split())[:40]
        out.print(
            f"[green]✓[/] {escape(profile.name)}: {done - started:.2f} s "
            f"(load {loaded - started:.2f} s, answer {done - loaded:.2f} s, "
            f"{reply.usage.completion_tokens} tokens) {escape(repr(answer))}"
        )
    if failed:
        raise typer.Exit(1)
