"""Every test gets its own PSI_HOME and no way to reach a real model by accident."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from psi.config import load_settings
from psi.llm import registry
from psi.store.conversations import Conversations
from psi.store.db import Store, open_store


@pytest.fixture(autouse=True)
def psi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "psi-home"
    monkeypatch.setenv("PSI_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("PSI_") and name != "PSI_HOME":
            monkeypatch.delenv(name)
    # The hashing embedder keeps tests fast; the tests of MiniLM itself build it directly.
    monkeypatch.setenv("PSI_EMBEDDER__BACKEND", "hashing")
    yield home
    registry.clear_cache()


@pytest.fixture
def write_config(psi_home: Path) -> Callable[[str], Path]:
    """Write $PSI_HOME/config.toml."""

    def write(text: str) -> Path:
        psi_home.mkdir(parents=True, exist_ok=True)
        path = psi_home / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def store(psi_home: Path) -> Iterator[Store]:
    opened = open_store(load_settings().db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def conversations(store: Store) -> Conversations:
    return Conversations(store, user_id=store.ensure_user("local"))
