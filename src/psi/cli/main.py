"""`psi`: the entry point. Commands import what they need when they run, so start-up stays fast."""

from __future__ import annotations

import gc

import typer

from psi import __version__
from psi.cli import (
    bench,
    calendar_cmd,
    chat,
    config_cmd,
    daemon,
    docs_cmd,
    doctor,
    egress_cmd,
    goals_cmd,
    history,
    mcp_cmd,
    memory_cmd,
    migrate_cmd,
    models,
    review_cmd,
    route_cmd,
    safety_cmd,
    serve_cmd,
)

app = typer.Typer(
    name="psi",
    help="psi: a personal assistant that runs on your own machine and that you own.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"psi {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """psi: a personal assistant that runs on your own machine and that you own."""


app.command("chat")(chat.chat)
app.command("ask")(chat.ask)
app.command("doctor")(doctor.doctor)
app.add_typer(history.app, name="history")
app.add_typer(egress_cmd.app, name="egress")
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(docs_cmd.app, name="docs")
app.add_typer(calendar_cmd.app, name="calendar")
app.add_typer(models.app, name="models")
app.add_typer(config_cmd.app, name="config")
app.add_typer(route_cmd.app, name="route")
app.add_typer(bench.app, name="bench")
app.add_typer(goals_cmd.app, name="goal")
app.command("today")(goals_cmd.today)
app.command("week")(goals_cmd.week)
app.command("done")(goals_cmd.done)
app.command("log")(goals_cmd.log)
app.command("review")(review_cmd.review)
app.command("daemon")(daemon.daemon)
app.command("audit")(safety_cmd.audit)
app.add_typer(safety_cmd.approvals_app, name="approvals")
app.command("serve")(serve_cmd.serve)
app.add_typer(serve_cmd.user_app, name="user")
app.command("mcp")(mcp_cmd.mcp)
app.command("migrate")(migrate_cmd.migrate)


def run() -> None:
    try:
        app()
    finally:
        # Everything imported lives until exit anyway; freezing it spares the
        # collector a walk over the whole import graph at shutdown (~80 ms).
        gc.freeze()
