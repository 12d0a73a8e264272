"""psi serve with the scripted model, two users (alice an admin), and a real Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from psi.config import load_settings
from psi.server.app import create_app
from support.browser import chromium
from support.serving import serving
from support.webapp import CONFIG, add_user


@dataclass
class Psi:
    url: str
    tokens: dict[str, str]


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
