"""`psi config path|show|set|unset`."""

from __future__ import annotations

import typer

from psi.cli.output import friendly, out

app = typer.Typer(help="Show and change settings ($PSI_HOME/config.toml).", no_args_is_help=True)


@app.command("path")
@friendly
def path() -> None:
    """Print where config.toml lives."""
    from psi.config import config_path

    out.print(str(config_path()))


@app.command("show")
@friendly
def show() -> None:
    """Print the effective settings (file, environment and built-in profiles merged)."""
    from psi.config import load_settings, settings_as_toml

    out.print(settings_as_toml(load_settings()), markup=False)


@app.command("set")
@friendly
def set_(
    key: str = typer.Argument(..., help="Dotted name, e.g. default_model or models.gpt.backend."),
    value: str = typer.Argument(..., help='A TOML value (true, 42, ["a"]) or plain text.'),
) -> None:
    """Set a value in config.toml; refused (file unchanged) if the result would be invalid."""
    from psi.config import config_path, load_settings, set_config_value

    zone_before = load_settings().zone().key if key == "timezone" else None
    written = set_config_value(key, value)
    out.print(f"{key} = {written!r}  ({config_path()})", markup=False)
    if key.split(".")[0] == "embedder":
        _reembed()
    if zone_before is not None:
        _move_zone(zone_before)


@app.command("unset")
@friendly
def unset(key: str = typer.Argument(..., help="Dotted name to remove.")) -> None:
    """Remove a value from config.toml, going back to the default."""
    from psi.config import load_settings, unset_config_value

    zone_before = load_settings().zone().key if key == "timezone" else None
    unset_config_value(key)
    out.print(f"{key} removed", markup=False)
    if key.split(".")[0] == "embedder":
        _reembed()
    if zone_before is not None:
        _move_zone(zone_before)


def _move_zone(before: str) -> None:
    """A new timezone: habits and recurring tasks keep their wall time ("07:00") there."""
    from psi.cli.goals_cmd import open_goals
    from psi.goals.store import move_every_zone

    goals = open_goals()
    if goals.zone.key == before:
        return
    moved = move_every_zone(goals.store, goals.zone.key)
    if moved:
        out.print(
            f"{moved} recurring item{'s' if moved != 1 else ''} moved from {before} to "
            f"{goals.zone.key}, at the same local times.",
            markup=False,
        )


def _reembed() -> None:
    """A new embedding model means new vectors for every memory; make them now, visibly."""
    from psi.cli.memory_cmd import reindex_

    out.print("The embedding model changed; re-embedding your memories.", markup=False)
    reindex_()
