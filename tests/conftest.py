"""Every test gets its own PSI_HOME and no way to reach a real model by accident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from psi.llm import registry


@pytest.fixture(autouse=True)
def psi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "psi-home"
    monkeypatch.setenv("PSI_HOME", str(home))
    for name in list(__import__("os").environ):
        if name.startswith("PSI_") and name != "PSI_HOME":
            monkeypatch.delenv(name)
    yield home
    registry.clear_cache()
