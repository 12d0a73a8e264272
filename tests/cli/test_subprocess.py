"""`psi` as a real process on the real embedded model: what a person at a terminal gets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PSI = shutil.which("psi", path=str(Path(sys.executable).parent)) or "psi"


def run_psi(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PSI, *args], input=input, capture_output=True, text=True, timeout=120, env=os.environ
    )


def test_ask_answers_offline_on_the_embedded_model(psi_home: Path) -> None:
    done = run_psi("ask", "--json", "What is the capital of France? Answer in one word.")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["model"] == "local"
    assert payload["reply"].strip()
    assert payload["usage"]["completion_tokens"] > 0
    listing = run_psi("history", "list")
    assert "capital of France" in listing.stdout


def test_piped_chat_answers_and_exits(psi_home: Path) -> None:
    done = run_psi("chat", input="hello\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_ctrl_c_stops_the_reply_and_keeps_it_marked_interrupted(psi_home: Path) -> None:
    process = subprocess.Popen(
        [PSI, "ask", "Write a very long story about a dragon who learns to bake bread."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ,
    )
    assert process.stdout is not None
    first = process.stdout.read(1)  # the reply has started streaming
    assert first
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    assert b"interrupted" in err
    shown = run_psi("history", "show")
    assert "interrupted" in shown.stdout
    assert "dragon" in shown.stdout
