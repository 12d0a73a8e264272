"""`psi docs sync --watch` as a person runs it: a real process that picks up an edit and
a new note while it watches, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from psi.config import load_settings
from psi.knowledge.library import Library
from psi.store.db import open_store


def read_until(process: subprocess.Popen[bytes], wanted: str, timeout: float = 60) -> str:
    """Standard output until `wanted` shows (read from the pipe itself: a buffered
    reader would hold lines that `select` then never reports)."""
    assert process.stdout is not None
    seen = b""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen and time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
    text = seen.decode()
    assert wanted in text, text
    return text


def test_watch_picks_up_edits_and_new_notes(tmp_path: Path, psi_home: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "boiler.md").write_text("# Boiler\n\nServiced on 3 May.\n")
    store = open_store(load_settings().db_url)
    Library(store, user_id=store.ensure_user("local")).add([notes])
    store.dispose()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from psi.cli.main import run; run()", "docs", "sync",
         "--watch", "--interval", "0.3", "--no-embed"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        read_until(process, "1 unchanged")
        (notes / "boiler.md").write_text("# Boiler\n\nServiced again on 9 June.\n")
        (notes / "garden.md").write_text("# Garden\n\nPlant tulips in October.\n")
        seen = read_until(process, f"~ {notes / 'boiler.md'}")  # listed after the added
        assert f"~ {notes / 'boiler.md'}" in seen and f"+ {notes / 'garden.md'}" in seen
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    store = open_store(load_settings().db_url)
    library = Library(store, user_id=store.ensure_user("local"))
    assert library.search("tulips", limit=1, dense=False)[0].passage.path.endswith("garden.md")
    store.dispose()
