"""`psi serve --workers 2` as real processes on one database: every request answered, each
message made an episode exactly once (indexing runs one pass at a time per user across
processes), and the scheduler in one process only (its lease)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import func, select

from psi.config import load_settings
from psi.store.db import open_store
from psi.store.models import MemoryItem, Message

pytestmark = pytest.mark.databases

PSI = shutil.which("psi", path=str(Path(sys.executable).parent)) or "psi"

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
local = true
open_weight = true
"""


def test_two_workers_answer_and_index_each_message_once(
    psi_home: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(CONFIG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [PSI, "serve", "--port", str(port), "--workers", "2"],
        env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        token = psi_home / "api-token"
        while time.monotonic() < deadline:
            try:
                if token.exists() and httpx2.get(f"{base}/v1/models").status_code == 401:
                    break
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {token.read_text().strip()}"}

        def ask(n: int) -> int:
            body = {"model": "psi", "messages": [{"role": "user", "content": f"note {n}"}]}
            reply = httpx2.post(f"{base}/v1/chat/completions", json=body, headers=auth, timeout=60)
            return reply.status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(ask, range(24))) == [200] * 24
        # What the workers' indexers have done after the replies: wait for it.
        store = open_store(load_settings().db_url)
        said = select(func.count(Message.id)).where(Message.role.in_(("user", "assistant")))
        indexed = select(func.count(MemoryItem.id), func.count(MemoryItem.message_id.distinct()))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with store.session() as session:
                messages = session.scalar(said)
                episodes, distinct = session.execute(indexed).one()
            if episodes >= messages:
                break
            time.sleep(0.2)
        assert messages == 48
        assert episodes == distinct == 48
        store.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
