"""`psi serve --workers 2` as real processes on one database: every request answered, each
message made an episode exactly once (indexing runs one pass at a time per user across
processes), and the scheduler in one process only (its lease)."""

from __future__ import annotations

import contextlib
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


def serve_two_workers() -> tuple[subprocess.Popen[str], int]:
    """`psi serve --workers 2` on a free port of 127.0.0.1, and the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [PSI, "serve", "--port", str(port), "--workers", "2"],
        env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return server, port


def test_two_workers_answer_and_index_each_message_once(
    psi_home: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(CONFIG)
    server, port = serve_two_workers()
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


def cores_of(pid: int) -> frozenset[int]:
    """The cores the threads of process `pid` may run on, all together."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found |= os.sched_getaffinity(int(task.name))
    return frozenset(found)


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found |= {int(child) for child in children}
    return found


@pytest.mark.sqlite_only
@pytest.mark.skipif(sys.platform != "linux", reason="per-worker sockets are Linux's")
def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(
    psi_home: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(CONFIG)
    server, port = serve_two_workers()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx2.get(f"{base}/v1/models", timeout=5).status_code == 401
        except httpx2.HTTPError:
            return False

    def workers() -> set[int]:
        # The parent's children, less multiprocessing's resource tracker.
        return {
            pid for pid in _children(server.pid)
            if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()
        }  # fmt: skip

    try:
        deadline = time.monotonic() + 60
        while not (up() and len(workers()) == 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        first = workers()
        assert len(first) == 2
        # Each worker keeps its Python threads on a core of its own (server.pin_cores).
        every = sorted(os.sched_getaffinity(0))
        own = {frozenset({every[0]}), frozenset({every[1 % len(every)]})}
        assert {cores_of(pid) for pid in first} == own
        victim = min(first)
        os.kill(victim, 9)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = workers()
            # Up, and on its core: the new worker takes the core of the one it replaces.
            if len(now) == 2 and victim not in now and {cores_of(p) for p in now} == own:
                break
            time.sleep(0.2)
        assert len(now) == 2 and victim not in now
        assert {cores_of(pid) for pid in now} == own
        # Every connection is answered, whichever worker's socket the kernel picks.
        assert all(up() for _ in range(20))
        # A second psi serve on the same port is refused, not quietly let in beside it.
        second = subprocess.run(
            [PSI, "serve", "--port", str(port), "--workers", "2"],
            env=os.environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0


@pytest.mark.sqlite_only
@pytest.mark.skipif(sys.platform != "linux", reason="CPU affinity is Linux's")
@pytest.mark.parametrize("pin", [True, False])
def test_one_process_keeps_its_threads_on_one_core_unless_told_not_to(
    psi_home: Path, write_config: Callable[[str], Path], pin: bool
) -> None:
    write_config(CONFIG + f"[server]\npin_cores = {str(pin).lower()}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [PSI, "serve", "--port", str(port)],
        env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401:
                    break
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        every = frozenset(os.sched_getaffinity(0))
        assert cores_of(server.pid) == (frozenset({min(every)}) if pin else every)
    finally:
        server.terminate()
        server.wait(timeout=60)
