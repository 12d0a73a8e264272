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
    """Every profile: where it runs, its weights, tier, window, prices, native tools and
    schema, its key, and what the routing policy allows it for your messages."""
    import os

    from rich.table import Table

    from psi.cli.route_cmd import spent_this_month
    from psi.config import load_settings
    from psi.routing import is_remote, provider_of, status
    from psi.sensitivity import Level

    settings = load_settings()
    spent = spent_this_month(settings)
    table = Table(
        "", "name", "model", "runs", "weights", "tier", "window", "$/M in/out",
        "tools/schema", "key", "policy", box=None,
    )  # fmt: skip
    table.columns[2].overflow = "fold"
    for profile in settings.profiles().values():
        if profile.api_key_env is None:
            key = "-"
        elif os.environ.get(profile.api_key_env):
            key = f"${profile.api_key_env} set"
        else:
            key = f"${profile.api_key_env} MISSING"
        where = f"remote: {provider_of(profile)}" if is_remote(profile) else "local"
        table.add_row(
            "*" if profile.name == settings.default_model else "",
            profile.name,
            profile.model,
            where,
            "open" if profile.open_weight else "closed",
            str(profile.tier),
            f"{profile.context_window:,}",
            f"{profile.price_in:g}/{profile.price_out:g}",
            f"{'yes' if profile.native_tools else 'no'}/{'yes' if profile.native_schema else 'no'}",
            key,
            status(profile, level=Level.personal, policy=settings.routing, spent_usd=spent),
        )
    out.print(table)
    out.print(
        "[dim]* default; change it with `psi config set default_model NAME`. policy: for "
        f"personal data under routing.privacy = {settings.routing.privacy}, "
        f"${spent:.2f} of ${settings.routing.monthly_budget_usd:.2f} spent this month; "
        "`psi route explain` for details.[/]"
    )


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
