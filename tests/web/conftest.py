"""psi serve with the scripted model, two users (alice an admin), and a real Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from typer.testing import CliRunner

from psi.cli.main import app as cli
from psi.config import load_settings
from psi.server.app import create_app
from support.browser import chromium
from support.serving import serving

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


@dataclass
class Psi:
    url: str
    tokens: dict[str, str]


def add_user(name: str, *, admin: bool = False) -> str:
    result = CliRunner().invoke(cli, ["user", "add", name, *(["--admin"] if admin else [])])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def psi(write_config: Callable[[str], Path]) -> Iterator[Psi]:
    write_config(CONFIG)
    tokens = {"alice": add_user("alice", admin=True), "bob": add_user("bob")}
    with serving(create_app(load_settings())) as url:
        yield Psi(url, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched
