"""`psi route explain`: which model the routing policy picks for a message, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from psi.cli.output import friendly, out

if TYPE_CHECKING:
    from psi.config import Settings
    from psi.routing import Route

app = typer.Typer(help="Routing between local and remote models.", no_args_is_help=True)


@app.command("explain")
@friendly
def explain(
    text: list[str] | None = typer.Argument(None, help="The message (default: empty)."),
    task: str | None = typer.Option(None, "--task", help="A task of routing.tasks."),
    level: str | None = typer.Option(
        None,
        "--level",
        help="public, personal or sensitive (default: the message's own, as a user message).",
    ),
    tools: bool = typer.Option(False, "--tools", help="The call offers tools."),
) -> None:
    """Print the route for a message: the models to try in order, redaction, reasons."""
    from psi.agent.routes import CHARS_PER_TOKEN
    from psi.config import load_settings
    from psi.errors import InputError
    from psi.routing import decide
    from psi.sensitivity import Level, Source, Span

    settings = load_settings()
    message = " ".join(text or [])
    if level is None:
        found = Span.of(message, Source.user_message).level
        how = "a user message" + (", on health or money" if found is Level.sensitive else "")
    elif level in Level.__members__:
        found, how = Level[level], "--level"
    else:
        raise InputError(
            f"No sensitivity level {level!r}.", hint="Use public, personal or sensitive."
        )
    default = settings.routing.default or settings.default_model
    route = decide(
        task=task,
        level=found,
        policy=settings.routing,
        profiles=settings.profiles(),
        spent_usd=spent_this_month(settings),
        default_model=settings.default_model,
        tokens_in=len(message) // CHARS_PER_TOKEN,
        tokens_out=settings.profile(default).max_tokens,
        needs_tools=tools,
    )
    out.print(f"level: {found} ({how})", markup=False)
    print_route(route)


def print_route(route: Route) -> None:
    chain = " -> ".join(
        f"{name} (remote)" if name in route.remote else name for name in route.chain
    )
    out.print(f"privacy: {route.privacy}{', redacted' if route.redact else ''}", markup=False)
    out.print(f"route: {chain or 'none'}", markup=False)
    for reason in route.reasons:
        out.print(f"  - {reason}", markup=False)


def spent_this_month(settings: Settings) -> float:
    """This calendar month's remote spend in USD, from the egress ledger."""
    from psi.agent.routes import month_spend
    from psi.clock import system_clock
    from psi.store.db import open_store

    store = open_store(settings.db_url)
    try:
        user_id = store.ensure_user(settings.user)
        return month_spend(store, user_id, zone=settings.zone(), clock=system_clock)()
    finally:
        store.dispose()
