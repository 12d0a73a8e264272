"""`psi chat` at a real terminal (a pseudo-terminal driven by pexpect), on the scripted model."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

PSI = shutil.which("psi", path=str(Path(sys.executable).parent)) or "psi"

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
replies = ["Hi! I am psi.", "Line one and line two, got it."]
"""


@pytest.fixture
def terminal(write_config: Callable[[str], Path]) -> pexpect.spawn:
    write_config(CONFIG)
    env = dict(os.environ, TERM="dumb", COLUMNS="100", LINES="30")
    child = pexpect.spawn(PSI, ["chat"], env=env, encoding="utf-8", timeout=30)
    child.expect("you> ")
    yield child
    child.close(force=True)


def test_repl_chats_shows_history_and_exits(terminal: pexpect.spawn) -> None:
    terminal.sendline("hello")
    terminal.expect("Hi! I am psi.")
    terminal.expect("you> ")
    # A trailing backslash continues the message on the next line.
    terminal.send("line one\\\r")
    terminal.send("line two\r")
    terminal.expect("Line one and line two, got it.")
    terminal.expect("you> ")
    terminal.sendline("/history")
    terminal.expect("line one\r?\n\\s*line two")
    terminal.expect("you> ")
    terminal.sendline("/model nope")
    terminal.expect("No model profile named 'nope'")
    terminal.expect("you> ")
    terminal.sendline("/exit")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0


def test_ctrl_c_at_the_prompt_does_not_leave_and_ctrl_d_does(terminal: pexpect.spawn) -> None:
    terminal.sendintr()
    terminal.expect("you> ")
    # Let prompt_toolkit take the terminal back before the next key arrives.
    time.sleep(0.5)
    terminal.sendcontrol("d")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0


@pytest.mark.slow
def test_ctrl_c_during_a_reply_returns_to_the_prompt(psi_home: Path) -> None:
    # The real embedded model: long enough a reply to interrupt half-way.
    env = dict(os.environ, TERM="dumb", COLUMNS="100", LINES="30")
    child = pexpect.spawn(PSI, ["chat"], env=env, encoding="utf-8", timeout=60)
    try:
        child.expect("you> ")
        child.sendline("Write a long story about a lighthouse keeper and her cat.")
        child.expect("psi> ")
        child.expect(r"\w+ \w+")  # a few words have streamed
        child.sendintr()
        child.expect("interrupted")
        child.expect("you> ")
        child.sendline("/history")
        child.expect(r"\(local, interrupted\)")
        child.expect("you> ")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
