"""`psi docs add|list|sync|search|remove` through Typer's runner, as a person uses them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from psi.cli.main import app

runner = CliRunner()


def psi(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_add_list_edit_sync_search_remove(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "boiler.md").write_text("# Boiler\n\nServiced on 3 May by Ana.\n")
    (notes / "old.txt").write_bytes("Caf\xe9".encode("cp1252"))

    code, out, _ = psi("docs", "add", str(notes))
    assert code == 0
    assert "1 added" in out and "1 skipped" in out
    assert f"skipped {notes / 'old.txt'}: not UTF-8 text" in out

    code, out, _ = psi("docs", "list")
    assert code == 0 and "Boiler" in out and "markdown" in out

    code, out, _ = psi("docs", "search", "--keyword-only", "boiler", "serviced")
    assert code == 0
    assert out.splitlines()[0] == f"[1] {notes / 'boiler.md'} — Boiler"
    assert "Serviced on 3 May by Ana." in out

    (notes / "boiler.md").write_text("# Boiler\n\nServiced on 9 June by Rui.\n")
    code, out, _ = psi("docs", "sync", "-v")
    assert code == 0 and "1 updated" in out
    code, out, _ = psi("docs", "search", "boiler")  # with vectors (the hashing embedder)
    assert "9 June by Rui" in out and "3 May" not in out

    code, out, _ = psi("docs", "remove", str(notes / "boiler.md"))
    assert code == 0 and "Removed 1 document." in out
    code, out, _ = psi("docs", "search", "--keyword-only", "boiler")
    assert "Nothing in your documents matches that." in out


def test_bad_paths_get_a_clear_message_and_a_non_zero_exit(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("Real note about tulips.")
    code, out, err = psi("docs", "add", str(tmp_path / "real.md"), str(tmp_path / "nope"))
    assert code == 2
    assert "1 added" in out  # the rest is read
    assert f"Not found: {tmp_path / 'nope'}" in err
    assert "Traceback" not in out + err

    code, _, err = psi("docs", "remove", str(tmp_path / "other.md"))
    assert code == 2
    assert "is not among your documents" in err and "psi docs list" in err

    code, out, _ = psi("docs", "sync")
    assert code == 0 and "1 unchanged" in out


SCRIPTED = """
default_model = "demo"
[models.demo]
backend = "scripted"
model = "demo"
replies = ["Bring the blue raincoat [1].", "Bring the blue raincoat [1]."]
"""


def test_ask_docs_lists_the_cited_sources_under_the_answer(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(SCRIPTED)
    code, _, err = psi("ask", "--docs", "What do I pack?")
    assert code == 2
    assert "no documents" in err and "psi docs add" in err

    note = tmp_path / "Porto.md"
    note.write_text("# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    psi("docs", "add", str(note))
    code, out, _ = psi("ask", "--docs", "What should I pack for Porto?")
    assert code == 0
    assert out.splitlines() == [
        "Bring the blue raincoat [1].",
        "Sources:",
        f"  [1] {note} — Porto trip > Packing",
    ]
    code, out, _ = psi("ask", "--docs", "--json", "What should I pack for Porto?")
    payload = json.loads(out)
    assert payload["sources"] == [
        {
            "number": 1,
            "path": str(note),
            "title": "Porto trip",
            "heading": "Porto trip > Packing",
            "page": None,
            "uri": note.as_uri(),
            "passage_id": 1,
        }
    ]


def test_chat_answers_from_documents_once_there_are_any(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(SCRIPTED)
    note = tmp_path / "Porto.md"
    note.write_text("# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    psi("docs", "add", str(note))
    code, out, _ = psi("chat", input="What should I pack for Porto?\n")
    assert code == 0
    assert out.splitlines()[-2:] == ["Sources:", f"  [1] {note} — Porto trip > Packing"]
    write_config(SCRIPTED.replace("[models.demo]", "[docs]\nchat = false\n[models.demo]"))
    code, out, _ = psi("chat", input="What should I pack for Porto?\n")
    assert code == 0 and "Sources:" not in out
