"""What the web app's browser tests share: psi's config with the scripted model, and users
made as a person makes them (`psi user add NAME [--admin]`)."""

from __future__ import annotations

from typer.testing import CliRunner

from psi.cli.main import app as cli

CONFIG = """
default_model = "demo"
timezone = "Europe/Berlin"
[server]
rate_limit = "1000/minute"
[goals]
desktop = false
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
chunk_delay = 0.02
[models.slow]
backend = "scripted"
model = "slow"
local = true
open_weight = true
chunk_delay = 0.25
replies = ["One two three four five six seven eight nine ten eleven twelve twenty."]
"""


def add_user(name: str, *, admin: bool = False) -> str:
    result = CliRunner().invoke(cli, ["user", "add", name, *(["--admin"] if admin else [])])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]
