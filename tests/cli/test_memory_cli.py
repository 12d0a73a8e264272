"""`psi memory ...` through Typer's runner, on memories made by chats with the scripted model."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psi.cli.main import app

runner = CliRunner()

CONFIG = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
replies = ["Noted.", "Sounds lovely."]
"""


def psi(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def chatted(write_config: Callable[[str], Path]) -> None:
    write_config(CONFIG)
    # Letters in the code: plain digits turn up by chance in a timestamp's bytes.
    psi("chat", input="My locker code at the gym is QX4711.\n/new\nI love hiking in the Alps.\n")


def test_list_search_show(chatted: None) -> None:
    code, out, _ = psi("memory", "list")
    assert code == 0
    assert "locker code" in out and "hiking" in out
    code, out, _ = psi("memory", "search", "--keyword-only", "gym", "locker")
    assert code == 0
    first = out.splitlines()[0]
    assert "locker code at the gym is QX4711" in first
    memory_id = first.split()[0]
    code, out, _ = psi("memory", "show", memory_id)
    assert code == 0
    assert "Source: message" in out and "psi history show" in out


def test_forget_one_then_everything(chatted: None, psi_home: Path) -> None:
    _, out, _ = psi("memory", "search", "--keyword-only", "locker")
    memory_id = out.splitlines()[0].split()[0]
    code, out, _ = psi("memory", "forget", memory_id)
    assert code == 0 and f"Forgot memory {memory_id}" in out
    assert b"QX4711" not in (psi_home / "psi.db").read_bytes()
    _, out, _ = psi("memory", "search", "--keyword-only", "locker")
    assert "QX4711" not in out
    code, _, err = psi("memory", "forget")
    assert code == 2 and "one memory id, or --all" in err
    code, _, _ = psi("memory", "forget", "--all", input="n\n")
    assert code == 1
    _, out, _ = psi("memory", "list")
    assert "hiking" in out
    code, out, _ = psi("memory", "forget", "--all", "--yes")
    assert code == 0
    _, out, _ = psi("memory", "list")
    assert "Nothing remembered yet" in out


def test_export_and_import(chatted: None, tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    code, out, _ = psi("memory", "export", str(path))
    assert code == 0 and "Exported 4 messages" in out
    assert json.loads(path.read_text())["format"] == "psi-memory"
    psi("memory", "forget", "--all", "--yes")
    code, out, _ = psi("memory", "import", str(path))
    assert code == 0 and "Imported 4 messages" in out
    _, out, _ = psi("memory", "search", "--keyword-only", "Alps")
    assert "hiking in the Alps" in out
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = psi("memory", "import", str(bad))
    assert code == 2 and "not a psi memory export" in err


def test_show_unknown_id(chatted: None) -> None:
    code, _, err = psi("memory", "show", "9999")
    assert code == 2 and "No memory 9999" in err


def test_changing_the_embedder_reembeds_every_memory(chatted: None, psi_home: Path) -> None:
    code, out, err = psi("config", "set", "embedder.dim", "64")
    assert code == 0, err
    assert "re-embedding your memories" in out and "Reindexed 4 memories" in out
    database = sqlite3.connect(psi_home / "psi.db")
    names = {row[0] for row in database.execute("SELECT embedder FROM memory_items")}
    sizes = {len(row[0]) for row in database.execute("SELECT vector FROM memory_items")}
    assert names == {"hashing-64"} and sizes == {64 * 4}


def test_facts_and_profile_commands(chatted: None) -> None:
    psi("chat", input="Remember that my sister Grace lives in Lisbon.\n")
    code, out, _ = psi("memory", "list")
    assert code == 0 and "Facts" in out and "Your sister Grace lives in Lisbon." in out
    fact_id = next(line.split()[0] for line in out.splitlines() if "Grace" in line)
    assert fact_id.startswith("f")
    code, out, _ = psi("memory", "show", fact_id)
    assert "Learnt from messages" in out and "origin: explicit" in out
    code, out, _ = psi("memory", "edit", fact_id, "Your sister Grace lives in Porto.")
    assert code == 0 and "Porto" in out
    code, out, _ = psi("memory", "search", "--keyword-only", "Grace")
    assert "Porto" in out
    code, _, err = psi("memory", "edit", "12", "something")
    assert code == 2 and "Only facts can be edited" in err
    code, _, err = psi("memory", "show", "x7")
    assert code == 2 and "not a memory id" in err
    code, out, _ = psi("memory", "profile")
    assert "built from facts" in out and "Porto" in out
    code, out, _ = psi("memory", "profile", "--set", "Ada. Nurse. Vegetarian.")
    assert "written by you" in out
    code, out, _ = psi("memory", "forget", fact_id)
    assert code == 0 and f"Forgot fact {fact_id}" in out
    _, out, _ = psi("memory", "list")
    assert "Porto" not in out
