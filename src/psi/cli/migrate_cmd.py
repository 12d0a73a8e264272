"""`psi migrate --to URL`: copy this home's database into another (SQLite into PostgreSQL)."""

from __future__ import annotations

import typer

from psi.cli.output import err, friendly, out
from psi.errors import InputError


@friendly
def migrate(
    to: str = typer.Option(
        ...,
        "--to",
        help="The empty database to copy into, e.g. postgresql://psi@127.0.0.1/psi.",
    ),
    source: str | None = typer.Option(
        None, "--from", help="The database to copy (default: this home's, database_url)."
    ),
    switch: bool = typer.Option(
        False, "--switch", help="Then set database_url in config.toml to the new database."
    ),
) -> None:
    """Copy every user, conversation, memory, goal, token and ledger row into another
    database, e.g. a SQLite home into PostgreSQL + pgvector for `psi serve`."""
    from rich.table import Table

    from psi.config import load_settings, set_config_value
    from psi.store.copy import copy_database
    from psi.store.db import open_store

    settings = load_settings()
    origin = open_store(source or settings.db_url)
    target = open_store(to)
    if origin.where == target.where:
        raise InputError(
            "--to names the database being copied.", hint="Name a new, empty database."
        )
    err.print(f"Copying {origin.where} into {target.where} ...")
    copied = copy_database(origin, target)
    table = Table("table", "rows", box=None)
    for name, rows in copied.items():
        if rows:
            table.add_row(name, str(rows))
    out.print(table)
    out.print(f"Copied {sum(copied.values())} rows; {origin.where} is unchanged.")
    if switch:
        set_config_value("database_url", target.url)
        out.print(f"psi now uses {target.where}.")
    else:
        out.print(
            f"To use it: psi config set database_url '{target.where}' "
            "(with its password, if it has one), or run again with --switch."
        )
    origin.dispose()
    target.dispose()
